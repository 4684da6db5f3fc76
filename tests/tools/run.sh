#!/bin/bash
# tieralloc-run: good and bad configurations (from --conf, --policy and the environment), bad
# library paths, missing and unrunnable commands, exit statuses passed through, arguments and
# LD_PRELOAD kept, the program really running on tieralloc (a ctypes call through the process's
# global symbols), and an installed tree finding its own library.
# Usage: run.sh TIERALLOC-RUN LIBRARY BUILD-DIR
. "$(dirname "$0")/lib.sh"
RUN=$1
LIB=$(readlink -f "$2")
BUILD=$3
[ -x "$RUN" ] || fail "no tieralloc-run at $RUN"
[ -f "$LIB" ] || fail "no library at $LIB"
unset TIERALLOC_CONF LD_PRELOAD

# What the library under test says its version is (ctypes through the global scope, so only a
# preloaded library answers).
SHOW='import ctypes, os, sys
v = ctypes.CDLL(None).tieralloc_version
v.restype = ctypes.c_char_p
print("version", v().decode())
print("conf", os.environ.get("TIERALLOC_CONF", "-"))
print("preload", os.environ.get("LD_PRELOAD", "-"))
print("args", sys.argv[1:])
maps = open("/proc/self/maps").read()
print("mapped", any(l.endswith("/libtieralloc.so.0.1.0") or "libtieralloc" in l for l in maps.splitlines()))'

# --check: the library found in the build tree, its version.
expect_run 0 "--check" "$RUN" --check
expect_in "$WORK/out" "^library +/.*libtieralloc\.so.* \(in this tool's build tree\)" "--check names the build tree's library"
VERSION=$(awk '$1 == "version" {print $2}' "$WORK/out")
[ -n "$VERSION" ] || fail "--check printed no version"
expect_in "$WORK/out" "^TIERALLOC_CONF +\(unset: defaults\)" "--check without configuration"

# A good configuration: the program runs on tieralloc with it.
expect_run 0 "good configuration" "$RUN" --lib "$LIB" --conf dirty_decay_ms:100,thp:false -- \
  "$PY" -c "$SHOW" "two words" '$HOME' ''
expect_in "$WORK/out" "^version $VERSION\$" "the program answers tieralloc_version through its global symbols"
expect_in "$WORK/out" "^conf dirty_decay_ms:100,thp:false\$" "TIERALLOC_CONF reaches the program"
expect_in "$WORK/out" "^preload $LIB\$" "LD_PRELOAD is the library"
expect_in "$WORK/out" "^args \['two words', '\\\$HOME', ''\]\$" "arguments pass unchanged"
expect_in "$WORK/out" "^mapped True" "the library is mapped in the program"
expect_empty "$WORK/err" "good configuration"

# Bad configurations never start the program, and the library's own message is shown.
MARK="$WORK/ran"
for bad in "bogus:1|unknown key 'bogus'" \
           "dirty_decay_ms:99999999|dirty_decay_ms: '99999999' is not an integer in \[0, 3600000\]" \
           "thp:maybe|thp: 'maybe' is not true or false" \
           "numa_bind:sideways|numa_bind: 'sideways' is not one of" \
           "dirty_decay_ms|'dirty_decay_ms' is not key:value" \
           "abort_conf:true,narenas:-1|narenas: '-1' is not an integer"; do
  conf=${bad%%|*}
  msg=${bad#*|}
  expect_run 125 "bad configuration $conf" "$RUN" --lib "$LIB" --conf "$conf" -- touch "$MARK"
  expect_in "$WORK/err" "$msg" "the library's message for $conf"
  expect_in "$WORK/err" "has errors \(from --conf: \"$conf\"\); not starting touch" "refusal for $conf"
  [ ! -e "$MARK" ] || fail "the program ran despite the bad configuration $conf"
done

# The environment's TIERALLOC_CONF comes first, then --policy, then --conf: later items win in
# the library's parser, so the command line wins.
TIERALLOC_CONF=dirty_decay_ms:1000 expect_run 0 "merge with the environment" \
  "$RUN" --lib "$LIB" --policy local --conf dirty_decay_ms:2000 -- "$PY" -c "$SHOW"
expect_in "$WORK/out" "^conf dirty_decay_ms:1000,numa_bind:preferred,dirty_decay_ms:2000\$" "merged configuration"
TIERALLOC_CONF=thp:maybe expect_run 125 "bad configuration in the environment" "$RUN" --lib "$LIB" -- true
expect_in "$WORK/err" "from the environment: \"thp:maybe\"" "the refusal names the environment"
expect_run 0 "policy then conf" "$RUN" --lib "$LIB" --policy local-strict --conf numa_bind:none -- "$PY" -c "$SHOW"
expect_in "$WORK/out" "^conf numa_bind:bind,numa_bind:none\$" "policy items come before --conf"
expect_run 125 "unknown policy" "$RUN" --lib "$LIB" --policy cxl-cold -- true
expect_in "$WORK/err" "unknown policy 'cxl-cold'; the known policies are" "unknown policy message"
expect_in "$WORK/err" "^  local " "unknown policy lists the known ones"

# LD_PRELOAD: ours first, an existing list kept after it, never twice.
LD_PRELOAD=libm.so.6 expect_run 0 "existing LD_PRELOAD" "$RUN" --lib "$LIB" -- "$PY" -c "$SHOW"
expect_in "$WORK/out" "^preload $LIB:libm.so.6\$" "existing LD_PRELOAD kept after ours"
LD_PRELOAD=$LIB expect_run 0 "LD_PRELOAD already ours" "$RUN" --lib "$LIB" -- "$PY" -c "$SHOW"
expect_in "$WORK/out" "^preload $LIB\$" "not preloaded twice"

# Bad library paths.
expect_run 125 "missing library" "$RUN" --lib "$WORK/nope.so" -- true
expect_in "$WORK/err" "no such library: $WORK/nope.so" "missing library message"
expect_run 125 "not a shared object" "$RUN" --lib /etc/hostname -- true
expect_in "$WORK/err" "cannot load the library: .*hostname" "unloadable library message"
LIBM=$(ldconfig -p | awk '/libm\.so\.6 .*x86-64|libm\.so\.6 .*AArch64/ {print $NF; exit}')
if [ -n "$LIBM" ]; then
  expect_run 125 "another library" "$RUN" --lib "$LIBM" -- true
  expect_in "$WORK/err" "is not a tieralloc library: it has no tieralloc_version" "foreign library message"
fi

# Commands: none, not found, not executable, exit statuses and signals passed through.
expect_run 125 "no command" "$RUN" --lib "$LIB"
expect_in "$WORK/err" "no command to run" "no-command message"
expect_run 125 "no command after --" "$RUN" --lib "$LIB" --
expect_run 127 "command not found" "$RUN" --lib "$LIB" -- no-such-command-ta
expect_in "$WORK/err" "no-such-command-ta: command not found" "not-found message"
echo 'echo hi' >"$WORK/noexec.sh"
chmod 644 "$WORK/noexec.sh"
expect_run 126 "not executable" "$RUN" --lib "$LIB" -- "$WORK/noexec.sh"
expect_run 7 "exit status" "$RUN" --lib "$LIB" -- sh -c 'exit 7'
expect_run 143 "death by signal" "$RUN" --lib "$LIB" -- sh -c 'kill -TERM $$'
expect_run 2 "a failing real program" "$RUN" --lib "$LIB" --conf dirty_decay_ms:0 -- "$PY" -c 'import sys; sys.exit(2)'

# Warnings about programs LD_PRELOAD cannot reach.
STATIC=$(for b in /usr/bin/busybox /bin/busybox /usr/sbin/ldconfig /sbin/ldconfig; do
  [ -x "$b" ] && ! LD_TRACE_LOADED_OBJECTS=1 "$b" 2>/dev/null | grep -q '=>' && echo "$b" && break; done)
if [ -n "$STATIC" ] && file -L "$STATIC" 2>/dev/null | grep -q 'statically linked'; then
  expect_run 0 "--check a static program" "$RUN" --lib "$LIB" --check -- "$STATIC"
  expect_in "$WORK/err" "is statically linked: LD_PRELOAD cannot replace its malloc" "static warning"
fi

# An installed tree: the tool finds <prefix>/lib*/libtieralloc.so beside itself.
if command -v cmake >/dev/null && [ -f "$BUILD/cmake_install.cmake" ]; then
  cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" 2>&1 || { tail "$WORK/install.log"; fail "cmake --install"; }
  expect_run 0 "installed --check" "$WORK/prefix/bin/tieralloc-run" --check
  expect_in "$WORK/out" "^library +$WORK/prefix/lib[^ ]*/libtieralloc\.so \(beside this tool\)" "installed tool uses its own library"
  expect_run 0 "installed run" "$WORK/prefix/bin/tieralloc-run" -- "$PY" -c "$SHOW"
  expect_in "$WORK/out" "^preload $WORK/prefix/lib[^ ]*/libtieralloc\.so\$" "installed preload"
  expect_in "$WORK/out" "^version $VERSION\$" "installed run answers"
fi
note "ok"
