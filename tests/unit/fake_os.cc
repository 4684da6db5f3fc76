// fake_os.cc: see fake_os.h. Purge zeroes the range, as MADV_DONTNEED does for anonymous memory.
#include "fake_os.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

FakeOs *FakeOs::current = nullptr;

struct FakeOpsImpl {
  static int map(void **out, size_t size, size_t align) {
    FakeOs *f = FakeOs::current;
    if (f->map_fail_count > 0) {
      f->map_fail_count--;
      return f->map_fail_errno ? f->map_fail_errno : ENOMEM;
    }
    uintptr_t base = (uintptr_t)f->arena_ + f->used_;
    uintptr_t a = (base + align - 1) & ~(uintptr_t)(align - 1);
    if (a + size > (uintptr_t)f->arena_ + f->arena_size_) return ENOMEM;
    f->used_ = a + size - (uintptr_t)f->arena_;
    f->maps++;
    *out = (void *)a;
    return 0;
  }
  static int unmap(void *, size_t) {
    FakeOs::current->unmaps++;
    return 0;
  }
  static int purge(void *addr, size_t size) {
    FakeOs *f = FakeOs::current;
    if (f->purge_fail_errno) return f->purge_fail_errno;
    memset(addr, 0, size);
    f->purge_ranges.push_back({(uintptr_t)addr, size});
    // Dropped pages refault by the range's policy: node 0 in this fake.
    f->page_node.erase(f->page_node.lower_bound((uintptr_t)addr), f->page_node.lower_bound((uintptr_t)addr + size));
    f->purges++;
    f->purged_bytes += size;
    return 0;
  }
  static int advise_huge(void *addr, size_t size, bool on) {
    FakeOs *f = FakeOs::current;
    if (f->advise_fail_errno) return f->advise_fail_errno;
    if (on) {
      f->huge_on++;
    } else {
      f->huge_off++;
      f->huge_off_ranges.push_back({(uintptr_t)addr, size});
    }
    return 0;
  }
  static int bind(void *, size_t, int, const unsigned long *, unsigned long, unsigned) {
    FakeOs::current->binds++;
    return 0;
  }
  static int move_pages(unsigned long count, void **pages, const int *nodes, int *status, int) {
    FakeOs *f = FakeOs::current;
    for (unsigned long i = 0; i < count; i++) {
      uintptr_t page = (uintptr_t)pages[i] & ~(uintptr_t)(ta_os_info.page_size - 1);
      if (!nodes) {
        status[i] = f->node_of(pages[i]);
        continue;
      }
      auto cap = f->node_capacity_pages.find(nodes[i]);
      if (cap != f->node_capacity_pages.end() && f->node_of(pages[i]) != nodes[i]) {
        size_t used = 0;
        for (auto &pn : f->page_node) used += pn.second == nodes[i];
        if (used >= cap->second) {
          status[i] = -ENOMEM;
          continue;
        }
      }
      if (f->node_of(pages[i]) != nodes[i]) f->moves++;
      f->page_node[page] = nodes[i];
      status[i] = nodes[i];
    }
    return 0;
  }
  static int access_open(int) { return FakeOs::current->access_kind; }
  static int access_sample(void *const *pages, unsigned n, int8_t *state) {
    FakeOs *f = FakeOs::current;
    for (unsigned i = 0; i < n; i++) {
      uintptr_t page = (uintptr_t)pages[i] & ~(uintptr_t)(ta_os_info.page_size - 1);
      /* Idle tracking re-arms the page it reads; soft-dirty bits stay until the next rearm. */
      if (f->access_kind == TA_OS_ACCESS_SOFTDIRTY) state[i] = f->touched.count(page) ? TA_OS_ACCESS_FULL : 0;
      else state[i] = f->touched.erase(page) ? TA_OS_ACCESS_FULL : 0;
    }
    return 0;
  }
  static int access_rearm() {
    FakeOs *f = FakeOs::current;
    f->rearms++;
    if (f->access_kind == TA_OS_ACCESS_SOFTDIRTY) f->touched.clear(); /* clear_refs: every page */
    return 0;
  }
  static int split_huge(void *addr, size_t size) {
    FakeOs::current->splits.push_back({(uintptr_t)addr, size});
    return 0;
  }
  static int populate(void *addr, size_t size) {
    FakeOs *f = FakeOs::current;
    if (f->populate_errno) return f->populate_errno;
    f->populated.push_back({(uintptr_t)addr, size});
    if (f->on_populate) f->on_populate((uintptr_t)addr, size);
    return 0;
  }
  static int collapse(void *addr, size_t size) {
    FakeOs *f = FakeOs::current;
    f->collapse_calls++;
    if (f->collapse_errno && f->collapse_fails != 0) {
      if (f->collapse_fails > 0) f->collapse_fails--;
      return f->collapse_errno;
    }
    f->collapsed.push_back({(uintptr_t)addr, size});
    return 0;
  }
  static uint64_t now_ns() { return FakeOs::current->now; }
  static int task_policy(int *mode) {
    *mode = FakeOs::current->task_mode;
    return 0;
  }
};

static const ta_os_ops_t fake_ops = {FakeOpsImpl::map,         FakeOpsImpl::unmap,
                                     FakeOpsImpl::purge,       FakeOpsImpl::advise_huge,
                                     FakeOpsImpl::bind,        FakeOpsImpl::move_pages,
                                     FakeOpsImpl::now_ns,      FakeOpsImpl::task_policy,
                                     nullptr,                  nullptr,
                                     nullptr,                  nullptr,
                                     FakeOpsImpl::populate,    nullptr,
                                     FakeOpsImpl::collapse};
static const ta_os_ops_t fake_ops_no_populate = {
    FakeOpsImpl::map,    FakeOpsImpl::unmap,  FakeOpsImpl::purge,       FakeOpsImpl::advise_huge,
    FakeOpsImpl::bind,   FakeOpsImpl::move_pages, FakeOpsImpl::now_ns,  FakeOpsImpl::task_policy,
    nullptr,             nullptr,             nullptr,                  nullptr,
    nullptr,             nullptr,             FakeOpsImpl::collapse};
// The same with an access signal (FakeOs::access_kind decides which it claims to be).
static const ta_os_ops_t fake_ops_access = {FakeOpsImpl::map,         FakeOpsImpl::unmap,
                                            FakeOpsImpl::purge,       FakeOpsImpl::advise_huge,
                                            FakeOpsImpl::bind,        FakeOpsImpl::move_pages,
                                            FakeOpsImpl::now_ns,      FakeOpsImpl::task_policy,
                                            FakeOpsImpl::access_open, FakeOpsImpl::access_sample,
                                            FakeOpsImpl::access_rearm, FakeOpsImpl::split_huge,
                                            FakeOpsImpl::populate, nullptr,
                                            FakeOpsImpl::collapse};

void FakeOs::touch(const void *addr, size_t len) {
  uintptr_t page = ta_os_info.page_size;
  for (uintptr_t a = (uintptr_t)addr & ~(page - 1); a < (uintptr_t)addr + len; a += page) touched.insert(a);
}

int FakeOs::node_of(const void *addr) const {
  auto it = page_node.find((uintptr_t)addr & ~(uintptr_t)(ta_os_info.page_size - 1));
  return it == page_node.end() ? 0 : it->second;
}

FakeOs::FakeOs() {
  arena_size_ = (size_t)8 << 30;  // address space only: pages cost memory once touched
  void *p = mmap(nullptr, arena_size_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("fake os: cannot reserve address space");
  arena_ = (char *)p;
}

FakeOs::~FakeOs() {
  uninstall();
  munmap(arena_, arena_size_);
}

void FakeOs::install() {
  current = this;
  ta_os_set_ops(access_kind ? &fake_ops_access : no_populate ? &fake_ops_no_populate : &fake_ops);
}

void FakeOs::uninstall() {
  if (current == this) {
    ta_os_set_ops(nullptr);
    current = nullptr;
  }
}
