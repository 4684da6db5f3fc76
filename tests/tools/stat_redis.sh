#!/bin/bash
# tieralloc-stat on a live redis-server (Debian's, preloaded with the library under test and
# TIERALLOC_CONF=stats_live:200): the table and JSON lines show redis's heap beside the kernel's
# numbers, the counters move when redis frees its data, another user (nobody) is refused with no
# data, and the snapshot goes away with the server. Skips (77) while the library has no
# stats_live option.
# Usage: stat_redis.sh TIERALLOC-STAT LIBRARY
. "$(dirname "$0")/lib.sh"
STAT=$1
LIB=$(readlink -f "$2")
SERVER=/usr/bin/redis-server
CLI=/usr/bin/redis-cli
[ -x "$STAT" ] || fail "no tieralloc-stat at $STAT"
[ -f "$LIB" ] || fail "no library at $LIB"
for b in $SERVER $CLI; do [ -x "$b" ] || fail "$b missing (Debian redis-server, redis-tools)"; done
if TIERALLOC_CONF=stats_live:200 LD_PRELOAD=$LIB /bin/echo 2>&1 | grep -q "unknown key 'stats_live'"; then
  skip "$LIB does not publish live statistics yet (no stats_live option)"
fi

PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cli() { timeout 30 "$CLI" -h 127.0.0.1 -p "$PORT" "$@"; }
TIERALLOC_CONF=stats_live:200,dirty_decay_ms:200 LD_PRELOAD=$LIB "$SERVER" --port "$PORT" \
  --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" \
  --enable-debug-command local &
PID=$!
CLEANUP_PIDS="$CLEANUP_PIDS $PID"
SNAP=/dev/shm/tieralloc-$(id -u)-$PID.json
CLEANUP_FILES="$CLEANUP_FILES $SNAP"
wait_for 15 cli ping || fail "redis-server did not answer (log: $(tail -3 "$WORK/redis.log"))"
grep -qF "$LIB" "/proc/$PID/maps" || fail "redis-server does not have $LIB mapped"

cli debug populate 200000 key 200 >/dev/null || fail "DEBUG POPULATE failed"
wait_for 10 test -s "$SNAP" || fail "no snapshot at $SNAP within 10 s of starting redis with stats_live:200"
# The snapshot is published every 200 ms by the server's background thread: wait for one taken
# after DEBUG POPULATE returned (a loaded machine can delay a publication by seconds).
snapshot_has_data() {
  $PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["heap"]["allocated"] > 40e6 else 1)' "$SNAP" 2>/dev/null
}
wait_for 20 snapshot_has_data || fail "no snapshot showed redis's data within 20 s"
[ "$(stat -c '%a %u' "$SNAP")" = "600 $(id -u)" ] || fail "$SNAP is $(stat -c '%a %u' "$SNAP"), not 600 owned by $(id -u)"

expect_run 0 "table" "$STAT" --once "$PID"
expect_in "$WORK/out" "^pid $PID \(redis-server\)" "table header"
expect_in "$WORK/out" "^heap +allocated [0-9.]+ MiB" "redis's heap is in MiB"
expect_in "$WORK/out" "^ +0 " "a row for node 0"
cat "$WORK/out"

expect_run 0 "JSON lines" "$STAT" --json -n 2 -i 0.5 "$PID"
$PY - "$WORK/out" "$PID" <<'PYEOF' || fail "JSON lines of redis wrong (above)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
pid = int(sys.argv[2])
assert len(lines) == 2, len(lines)
d = lines[-1]
s, k = d["stats"], d["kernel"]
assert s["pid"] == pid and d["comm"] == "redis-server", d["comm"]
heap = s["heap"]
# 200000 keys of 200-byte values: well over 40 MB live.
assert heap["allocated"] > 40e6, heap
assert heap["active"] >= heap["allocated"], heap
assert heap["mapped"] >= heap["active"], heap
nodes_active = sum(n["active"] for n in s["nodes"])
assert s["nodes"] and abs(nodes_active - heap["active"]) <= 0.01 * heap["active"], (nodes_active, heap)
# Ground truth: what redis wrote is resident, and the per-node sum agrees with smaps_rollup.
assert k["anonymous"] >= 0.8 * heap["allocated"], (k, heap)
if k["nodes"] is not None:
    per_node = sum(n["anon_resident"] for n in k["nodes"])
    assert abs(per_node - k["anonymous"]) < 0.1 * k["anonymous"] + (4 << 20), (per_node, k)
assert d["rates"]["seconds"] is not None and d["rates"]["seconds"] > 0, d["rates"]
print("redis: allocated %.1f MB active %.1f MB mapped %.1f MB; kernel anonymous %.1f MB, on hugepages %.1f MB"
      % (heap["allocated"] / 1e6, heap["active"] / 1e6, heap["mapped"] / 1e6, k["anonymous"] / 1e6,
         k["anon_huge_pages"] / 1e6))
open(sys.argv[1] + ".purged", "w").write(str(heap["purged"]))
PYEOF
PURGED0=$(cat "$WORK/out.purged")

# Free the data: with dirty_decay_ms:200 the allocator returns it, and the snapshot shows it.
cli flushall >/dev/null || fail "FLUSHALL failed"
deadline=$(($(date +%s) + 15))
while :; do
  "$STAT" --json --once "$PID" >"$WORK/after" 2>"$WORK/err" || fail "tieralloc-stat after FLUSHALL: $(cat "$WORK/err")"
  PURGED1=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["heap"]["purged"])' "$WORK/after")
  [ "$PURGED1" -gt $((PURGED0 + 20000000)) ] && break
  [ "$(date +%s)" -lt "$deadline" ] || fail "heap.purged went from $PURGED0 only to $PURGED1 within 15 s of FLUSHALL"
  sleep 0.5
done
note "after FLUSHALL: purged $PURGED0 -> $PURGED1 bytes"

# Another user cannot read redis's statistics.
if [ "$(id -u)" -eq 0 ]; then
  PUB_STAT=$(public_copy "$STAT") || fail "copying tieralloc-stat"
  expect_run 5 "redis's stats as nobody" "${AS_NOBODY[@]}" "$PUB_STAT" --json --once "$PID"
  expect_in "$WORK/err" "permission denied: $SNAP belongs to root" "permission message"
  expect_empty "$WORK/out" "redis's stats as nobody"
  "${AS_NOBODY[@]}" cat "$SNAP" >/dev/null 2>&1 && fail "nobody can read $SNAP"
else
  note "not root: the other-user check needs root to switch users; it did not run"
fi

cli shutdown nosave >/dev/null 2>&1
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "redis-server did not stop"
wait "$PID" 2>/dev/null
[ -e "$SNAP" ] && fail "$SNAP is still there after redis-server exited"
expect_run 3 "after exit" "$STAT" --once "$PID"
expect_in "$WORK/err" "no such process: $PID" "gone message"
note "ok"
