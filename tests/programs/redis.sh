#!/bin/bash
# Debian's redis-server, started on 127.0.0.1 by this test, driven by redis-benchmark (several
# commands, bounded request counts, values of 100 B to 100 KB) and by redis-cli writes and reads of
# values of many sizes whose read-back is checked byte for byte; DEBUG DIGEST of the final dataset
# must match the reference run's. The server is shut down by the test and must exit cleanly.
#
# Debian's redis-server links libjemalloc.so.2 and calls its non-standard API: mallctl (INFO
# memory's allocator_* fields, MEMORY STATS/PURGE, the jemalloc-bg-thread option),
# malloc_stats_print (MEMORY MALLOC-STATS) and nallocx (sdsResize skips realloc when
# nallocx(newlen) == malloc_usable_size(old)). Under LD_PRELOAD the standard calls (malloc, free,
# realloc, calloc, malloc_usable_size) bind to the preloaded library, while those jemalloc-only
# symbols still bind to jemalloc, which stays loaded but owns no application memory. So:
# - mallctl and malloc_stats_print describe jemalloc's empty heap: INFO's allocator_allocated and
#   allocator_active are a few tens of KiB whatever the dataset (printed below), MEMORY PURGE purges
#   nothing; harmless, only misleading. used_memory stays right: redis counts it itself with
#   malloc_usable_size, which is the preloaded allocator's.
# - nallocx: the use we found (sdsResize, redis PR 11766) compares it with malloc_usable_size of the
#   old block to skip a realloc; when they are equal the block (the preloaded allocator's) already
#   holds newlen bytes, so a disagreement between the two allocators costs a realloc, never safety.
#   Measured with tieralloc preloaded: used_memory 17.3 MB against 20.8 MB on jemalloc for the same
#   dataset, allocator_allocated 28 KiB (jemalloc's empty heap) against 21 MB.
# - No jemalloc-only allocation call (mallocx, rallocx, sdallocx, dallocx) is imported by this
#   build (active defrag, which would use them, needs redis's bundled jemalloc), so no block crosses
#   from one heap to the other.
. "$(dirname "$0")/lib.sh"
SERVER=/usr/bin/redis-server
CLI=/usr/bin/redis-cli
BENCH=/usr/bin/redis-benchmark
for b in $SERVER $CLI $BENCH; do [ -x "$b" ] || fail "$b missing (Debian redis-server, redis-tools)"; done
require_preloadable "$SERVER"

# Values of many sizes, written once and used by both runs.
SIZES="1 7 8 9 15 16 17 100 1000 4095 4096 8192 8196 16385 65536 100000 524288 1048581 4194304 8388611"
$PY - "$WORK" $SIZES <<'PYEOF' || fail "generating values failed"
import random, string, sys
rng = random.Random(7)
for s in sys.argv[2:]:
    with open("%s/value.%s" % (sys.argv[1], s), "w") as f:
        f.write("".join(rng.choice(string.ascii_letters + string.digits) for _ in range(int(s))))
PYEOF

# Commands that grow and shrink strings, lists, hashes, sets and sorted sets, run after the values.
$PY - >"$WORK/bulk.txt" <<'PYEOF' || fail "generating commands failed"
for i in range(1, 61):
    print("APPEND grow " + "x" * (i * 7))
print("SETRANGE grow 100000 tail")
for i in range(1, 3001):
    print("RPUSH list item-%d-%s" % (i, "y" * (i % 300)))
    print("HSET hash f%d %d" % (i, i * i))
    print("SADD set m%d" % (i * 7 % 2000))
    print("ZADD zset %d z%d" % (i * 13 % 1000, i))
for i in range(1, 501):
    print("LPOP list")
for i in range(1, 1001):
    print("HDEL hash f%d" % (i * 3))
PYEOF

scenario() {  # scenario LIBRARY TRANSCRIPT
  local lib=$1 out=$2 port pid st
  port=$(free_port)
  local cli="timeout 30 $CLI -h 127.0.0.1 -p $port"
  env ${lib:+LD_PRELOAD=$lib} "$SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis.$port.log" --enable-debug-command local \
    --jemalloc-bg-thread yes &
  pid=$!
  CLEANUP_PIDS="$CLEANUP_PIDS $pid"
  wait_for 15 $cli ping || fail "redis-server on $(label "$lib") did not answer (log: $(tail -3 "$WORK/redis.$port.log"))"
  [ -n "$lib" ] && require_mapped "$pid"

  # Load: several commands, fixed request counts, small to large values.
  timeout 90 $BENCH -h 127.0.0.1 -p "$port" -q -n 10000 -c 16 -r 5000 -d 100 \
    -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset >"$WORK/bench.txt" 2>&1
  st=$?
  check_status "redis-benchmark (100 B) on $(label "$lib")" $st
  timeout 90 $BENCH -h 127.0.0.1 -p "$port" -q -n 4000 -c 8 -r 1000 -d 8196 -t set,get,lpush,lpop >>"$WORK/bench.txt" 2>&1
  st=$?
  check_status "redis-benchmark (8196 B) on $(label "$lib")" $st
  timeout 90 $BENCH -h 127.0.0.1 -p "$port" -q -n 600 -c 4 -r 100 -d 100000 -t set,get >>"$WORK/bench.txt" 2>&1
  st=$?
  check_status "redis-benchmark (100 KB) on $(label "$lib")" $st
  kill -0 "$pid" 2>/dev/null || fail "redis-server on $(label "$lib") died under redis-benchmark"

  # Deterministic part: start from an empty dataset.
  $cli flushall >/dev/null || fail "FLUSHALL failed"
  for s in $SIZES; do
    $cli -x set "v$s" <"$WORK/value.$s" >/dev/null || fail "SET of $s bytes failed"
  done
  for s in $SIZES; do  # read back after all writes, so later writes cannot hide a corruption
    $cli --no-raw strlen "v$s" | grep -qx "(integer) $s" || fail "STRLEN v$s on $(label "$lib")"
    $cli get "v$s" | head -c "$s" | cmp -s - "$WORK/value.$s" ||
      fail "value of $s bytes read back wrong on $(label "$lib")"
    echo "value $s ok" >>"$out"
  done
  # Growth in place and across classes: APPEND, SETRANGE, lists, hashes, sets, sorted sets.
  timeout 60 $CLI -h 127.0.0.1 -p "$port" <"$WORK/bulk.txt" >/dev/null || fail "bulk commands failed"
  for c in "strlen grow" "llen list" "hlen hash" "scard set" "zcard zset" "lindex list 100" \
    "hget hash f1000" "zrange zset 0 4" "dbsize" "debug digest"; do
    echo "$c: $($cli $c | tr '\n' ' ')" >>"$out"
  done

  # Introspection that reaches jemalloc's own API (see the header): must work, not crash.
  $cli info memory >"$WORK/info.txt" || fail "INFO memory failed"
  for c in "memory stats" "memory malloc-stats" "memory purge" "memory doctor" "memory usage v8196"; do
    $cli $c >"$WORK/memcmd.txt" 2>&1 || fail "$c failed on $(label "$lib")"
    echo "$c: answered" >>"$out"
  done
  note "$(label "$lib"): $(grep -E '^(used_memory|allocator_allocated|allocator_active|mem_allocator):' "$WORK/info.txt" | tr -d '\r' | tr '\n' ' ')"

  $cli shutdown nosave >/dev/null 2>&1
  wait_exit "$pid" 20
  st=$?
  grep -E "crashed by signal|BUG REPORT|Assertion" "$WORK/redis.$port.log" >&2 &&
    fail "redis-server on $(label "$lib") crashed"
  check_status "redis-server shutdown on $(label "$lib")" $st
}

scenario "" "$WORK/ref.txt"
scenario "$LIB" "$WORK/out.txt"
compare "$WORK/ref.txt" "$WORK/out.txt" "redis read-backs and dataset digest"
