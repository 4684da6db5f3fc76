/* LD_PRELOAD shim that routes the malloc family to glibc's own allocator (ptmalloc2).
 *
 * Needed only for programs linked to another allocator: Debian's redis-server depends on
 * libjemalloc.so.2, whose malloc comes before libc's in the lookup order, so "no preload" means
 * jemalloc there. Preloading this shim puts glibc's entry points (__libc_malloc and friends, exported
 * by glibc for exactly this kind of wrapper) first again. jemalloc-only functions (mallctl, nallocx)
 * are not defined here and still reach jemalloc, which allocates nothing through them.
 * malloc_usable_size has no __libc_ alias: it is looked up in libc.so.6 itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t size) { return __libc_malloc(size); }
EXPORT void *calloc(size_t n, size_t size) { return __libc_calloc(n, size); }
EXPORT void *realloc(void *p, size_t size) { return __libc_realloc(p, size); }
EXPORT void free(void *p) { __libc_free(p); }
EXPORT void *memalign(size_t align, size_t size) { return __libc_memalign(align, size); }
EXPORT void *valloc(size_t size) { return __libc_valloc(size); }
EXPORT void *pvalloc(size_t size) { return __libc_pvalloc(size); }

EXPORT void *aligned_alloc(size_t align, size_t size) { return __libc_memalign(align, size); }

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *p = __libc_memalign(align, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_realloc(p, bytes);
}

EXPORT size_t malloc_usable_size(void *p) {
  static size_t (*libc_usable)(void *);
  if (!libc_usable) {
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc) libc_usable = (size_t(*)(void *))dlsym(libc, "malloc_usable_size");
  }
  return libc_usable ? libc_usable(p) : 0;
}
