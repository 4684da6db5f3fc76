/* atomic.h: the only spelling of atomics in tieralloc. C11 <stdatomic.h> in C, std::atomic in C++
 * (g++ -std=c++17 rejects _Atomic), so every header compiles in both. */
#ifndef TA_ATOMIC_H
#define TA_ATOMIC_H

#ifdef __cplusplus
#include <atomic>
#define ta_atomic(T) std::atomic<T>
#define ta_mo_relaxed std::memory_order_relaxed
#define ta_mo_acquire std::memory_order_acquire
#define ta_mo_release std::memory_order_release
#define ta_mo_acq_rel std::memory_order_acq_rel
#define ta_mo_seq_cst std::memory_order_seq_cst
#define ta_atomic_load(p, mo) std::atomic_load_explicit(p, mo)
#define ta_atomic_store(p, v, mo) std::atomic_store_explicit(p, v, mo)
#define ta_atomic_fetch_add(p, v, mo) std::atomic_fetch_add_explicit(p, v, mo)
#define ta_atomic_fetch_sub(p, v, mo) std::atomic_fetch_sub_explicit(p, v, mo)
#define ta_atomic_exchange(p, v, mo) std::atomic_exchange_explicit(p, v, mo)
#define ta_atomic_cas(p, expected, desired) std::atomic_compare_exchange_strong(p, expected, desired)
#else
#include <stdatomic.h>
#define ta_atomic(T) _Atomic(T)
#define ta_mo_relaxed memory_order_relaxed
#define ta_mo_acquire memory_order_acquire
#define ta_mo_release memory_order_release
#define ta_mo_acq_rel memory_order_acq_rel
#define ta_mo_seq_cst memory_order_seq_cst
#define ta_atomic_load(p, mo) atomic_load_explicit(p, mo)
#define ta_atomic_store(p, v, mo) atomic_store_explicit(p, v, mo)
#define ta_atomic_fetch_add(p, v, mo) atomic_fetch_add_explicit(p, v, mo)
#define ta_atomic_fetch_sub(p, v, mo) atomic_fetch_sub_explicit(p, v, mo)
#define ta_atomic_exchange(p, v, mo) atomic_exchange_explicit(p, v, mo)
#define ta_atomic_cas(p, expected, desired) atomic_compare_exchange_strong(p, expected, desired)
/* AArch64 without LSE at compile time: the read-modify-write operations pick inline LSE or
 * LL/SC at run time (atomic_aarch64.h says why). Loads and stores are ARMv8.0 either way. */
#if defined(__aarch64__) && !defined(__ARM_FEATURE_ATOMICS)
#include "atomic_aarch64.h"
#undef ta_atomic_fetch_add
#undef ta_atomic_fetch_sub
#undef ta_atomic_exchange
#undef ta_atomic_cas
#define ta_atomic_fetch_add(p, v, mo) ta_lse_fetch_add_(p, v, mo, 0)
#define ta_atomic_fetch_sub(p, v, mo) ta_lse_fetch_add_(p, v, mo, 1)
#define ta_atomic_exchange(p, v, mo) ta_lse_exchange_(p, v, mo)
#define ta_atomic_cas(p, expected, desired) ta_lse_cas_(p, expected, desired)
#endif
#endif

#endif
