// Misuse detection, as a program with the bug sees it: misuse_case commits one bug under
// LD_PRELOAD=libtieralloc.so, in default mode and in debug mode (TIERALLOC_CONF=debug:true),
// and each test checks what happens: an abort at the call with the one-line message (address,
// size class, what was wrong), or, where no mode can catch the bug, exactly what the program
// gets instead. docs/reliability.md has the same table; a change of behaviour fails here first.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>

namespace {

struct Outcome {
  int signal = 0;  // terminating signal, 0 when it exited
  int status = 0;  // exit status
  std::string output;
};

Outcome run_case(const std::string &name, bool debug) {
  int fds[2];
  if (pipe(fds) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    alarm(20);
    std::string preload = "LD_PRELOAD=" TIERALLOC_LIB;
    std::string conf = debug ? "TIERALLOC_CONF=debug:true" : "TIERALLOC_CONF=";
    char *env[] = {preload.data(), conf.data(), nullptr};
    char *args[] = {(char *)MISUSE_CASE, (char *)name.c_str(), nullptr};
    execve(MISUSE_CASE, args, env);
    _exit(127);
  }
  close(fds[1]);
  Outcome o;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) o.output.append(buf, (size_t)n);
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) o.signal = WTERMSIG(st);
  else o.status = WEXITSTATUS(st);
  return o;
}

const char *kAddr = "0x[0-9a-f]+";

// The case must abort (SIGABRT) after printing a line matching `message`.
void expect_abort(const std::string &name, bool debug, const std::string &message) {
  Outcome o = run_case(name, debug);
  SCOPED_TRACE(name + (debug ? " (debug mode)" : " (default mode)") + ", output:\n" + o.output);
  EXPECT_EQ(o.signal, SIGABRT);
  EXPECT_TRUE(std::regex_search(o.output, std::regex("tieralloc: " + message))) << "expected /" << message << "/";
  EXPECT_EQ(o.output.find("survived"), std::string::npos);
}

// The case must not be caught: it runs to the end and prints `observed`.
void expect_missed(const std::string &name, bool debug, const std::string &observed) {
  Outcome o = run_case(name, debug);
  SCOPED_TRACE(name + (debug ? " (debug mode)" : " (default mode)") + ", output:\n" + o.output);
  EXPECT_EQ(o.signal, 0);
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.output.find(observed), std::string::npos) << "expected \"" << observed << "\"";
  EXPECT_NE(o.output.find("survived"), std::string::npos);
}

std::string small_msg(const char *what) {
  return std::string("free of ") + kAddr + " \\(size class 3, 64 bytes\\): " + what;
}
std::string invalid(const char *fn) {
  return std::string(fn) + "\\(\\): invalid pointer " + kAddr +
         " \\(not allocated by tieralloc, already freed, or not the start of a block\\)";
}

// ---- caught in both modes, at the call ----

TEST(Misuse, DoubleFreeBackToBack) {
  for (bool debug : {false, true}) expect_abort("double-free-small", debug, small_msg("double free"));
}

TEST(Misuse, DoubleFreeLarge) {
  for (bool debug : {false, true}) expect_abort("double-free-large", debug, invalid("free"));
}

// A block the large cache keeps is still mapped: its record says it is free.
TEST(Misuse, DoubleFreeLargeCached) {
  for (bool debug : {false, true})
    expect_abort("double-free-large-cached", debug,
                 std::string("free of ") + kAddr + " \\(large block, 262144 bytes\\): double free");
}

TEST(Misuse, ReallocOfFreedLargeCached) {
  for (bool debug : {false, true})
    expect_abort("realloc-freed-large-cached", debug,
                 std::string("realloc of ") + kAddr + " \\(large block, 262144 bytes\\): already freed");
}

TEST(Misuse, ForeignPointer) {
  for (bool debug : {false, true}) {
    expect_abort("foreign-pointer", debug, invalid("free"));
    expect_abort("foreign-stack-pointer", debug, invalid("free"));
  }
}

TEST(Misuse, InteriorPointerLarge) {
  for (bool debug : {false, true}) expect_abort("interior-large", debug, invalid("free"));
}

TEST(Misuse, FreeSizedWrongSize) {
  for (bool debug : {false, true}) {
    expect_abort("free-sized-larger", debug,
                 std::string("free_sized\\(") + kAddr + ", 1000\\): the block holds 112 bytes; the size is not the one it was allocated with");
    expect_abort("free-sized-smaller-class", debug,
                 std::string("free_sized\\(") + kAddr + ", 10\\): the block holds 112 bytes");
    expect_abort("free-sized-large", debug,
                 std::string("free_sized\\(") + kAddr + ", 100000\\): the block holds 1048576 bytes");
    expect_missed("free-sized-right", debug, "survived");
  }
}

TEST(Misuse, ReallocOfFreedLarge) {
  for (bool debug : {false, true}) expect_abort("realloc-freed-large", debug, invalid("realloc"));
}

// ---- caught in both modes, at the call, before any state changes ----
// These are the bugs that land in a thread cache in default mode; free's fast path refuses them
// (object-start test, free mark), and the test checks, from a SIGABRT handler, that the heap
// the abort left behind hands out no block twice and none overlapping a live one.

// The case must abort at the call with `message`, and allocations made after the abort (from
// the SIGABRT handler) must be sound.
void expect_abort_sound(const std::string &name, bool debug, const std::string &message,
                        const std::string &not_reached) {
  Outcome o = run_case(name, debug);
  SCOPED_TRACE(name + (debug ? " (debug mode)" : " (default mode)") + ", output:\n" + o.output);
  EXPECT_EQ(o.signal, SIGABRT);
  EXPECT_TRUE(std::regex_search(o.output, std::regex("tieralloc: " + message))) << "expected /" << message << "/";
  EXPECT_EQ(o.output.find(not_reached), std::string::npos) << "the call returned";
  EXPECT_NE(o.output.find("after the abort:\nlater allocations look sane"), std::string::npos);
  EXPECT_EQ(o.output.find("handed out"), std::string::npos);
  EXPECT_EQ(o.output.find("survived"), std::string::npos);
}

TEST(Misuse, DoubleFreeNotBackToBack) {
  // free(a); free(b); free(a): a is in the cache, under b.
  for (bool debug : {false, true})
    expect_abort_sound("double-free-small-delayed", debug, small_msg("double free"), "third free returned");
}

TEST(Misuse, DoubleFreeAfterTheFirstWasFlushed) {
  // 200 frees between the two: the first free's block has left the cache for its slab.
  for (bool debug : {false, true})
    expect_abort_sound("double-free-small-far", debug, small_msg("double free"), "second free returned");
}

TEST(Misuse, DoubleFreeWhileTheBlockIsInTheTransferCache) {
  // The first free overflowed the thread cache into the arena's transfer cache, where the
  // block's slab still counts it as taken: the slow path must ask the transfer cache too.
  expect_abort_sound("double-free-small-transfer", false, small_msg("double free"), "second free returned");
  Outcome o = run_case("double-free-small-transfer", false);
  EXPECT_NE(o.output.find("the transfer cache holds blocks of the class"), std::string::npos) << o.output;
  expect_abort_sound("double-free-small-transfer", true, small_msg("double free"), "second free returned");
}

TEST(Misuse, DoubleFreeOfABlockOnAPurgedPage) {
  // The interior purge returned the page under the freed block, erasing its free mark: the page's
  // vacant tag in the pagemap sends the second free to the slow path.
  std::string msg = std::string("free of ") + kAddr + " \\(size class [0-9]+, 4352 bytes\\): double free";
  for (bool debug : {false, true})
    expect_abort_sound("double-free-small-purged", debug, msg, "second free returned");
}

TEST(Misuse, DoubleFreeInAThreadThatThenExits) {
  for (bool debug : {false, true})
    expect_abort_sound("double-free-small-thread-exit", debug, small_msg("double free"), "third free returned");
}

TEST(Misuse, DoubleFreeWhileTheBlockIsInAnotherThreadsCache) {
  // Thread B freed the block into its own cache and is still alive; this thread frees it again.
  for (bool debug : {false, true})
    expect_abort("double-free-small-other-cache", debug, small_msg("double free"));
}

TEST(Misuse, InteriorPointerSmall) {
  for (bool debug : {false, true}) {
    expect_abort_sound("interior-small", debug, small_msg("pointer inside an object, not its start"),
                       "interior free returned");
    expect_abort_sound("interior-small-thread-exit", debug,
                       small_msg("pointer inside an object, not its start"), "interior free returned");
  }
}

TEST(Misuse, InteriorPointerInTheTailOfAShortSlab) {
  // A pointer that would be an object's start in the class's usual slab shape, past the last
  // object of a short one (size_class.h: each slab keeps the bound of its own shape).
  if (sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "the case's offsets assume 4 KiB pages";
  std::string msg = std::string("free of ") + kAddr + " \\(size class [0-9]+, 7936 bytes\\): " +
                    "pointer inside an object, not its start";
  for (bool debug : {false, true}) expect_abort_sound("interior-short-slab-tail", debug, msg, "tail free returned");
}

TEST(Misuse, ReallocOfFreedSmall) {
  for (bool debug : {false, true}) {
    expect_abort_sound("realloc-freed-small", debug,
                       std::string("realloc of ") + kAddr + " \\(size class 3, 64 bytes\\): already freed",
                       "realloc returned");
    expect_abort_sound("realloc-interior-small", debug,
                       std::string("realloc of ") + kAddr +
                           " \\(size class 3, 64 bytes\\): pointer inside an object, not its start",
                       "realloc returned");
  }
}

TEST(Misuse, FreeSizedWrongSizeLeavesTheHeapSound) {
  for (bool debug : {false, true})
    expect_abort_sound("free-sized-larger", debug,
                       std::string("free_sized\\(") + kAddr + ", 1000\\): the block holds 112 bytes",
                       "survived");
}

// ---- beyond any allocator without a quarantine ----

TEST(Misuse, DoubleFreeAfterTheAddressWasReused) {
  for (bool debug : {false, true})
    expect_missed("double-free-large-reused", debug, "the second free released the new block at the same address");
}

// ---- debug mode's junk filling ----

TEST(Misuse, DebugModeJunkFills) {
  Outcome o = run_case("junk", true);
  EXPECT_NE(o.output.find("new byte 0xa5"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("freed byte 0x5a"), std::string::npos) << o.output;
}

}  // namespace
