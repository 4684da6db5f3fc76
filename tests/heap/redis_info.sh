#!/bin/sh
# redis-server (Debian's, linked against jemalloc) with tieralloc preloaded: the allocator
# numbers redis reports (INFO memory, read through mallctl) are tieralloc's, matching its own
# live snapshot, and MEMORY PURGE returns tieralloc's free memory.
set -eu
lib=$1
server=/usr/bin/redis-server
cli=/usr/bin/redis-cli
[ -x $server ] && [ -x $cli ] || { echo "redis-server/redis-cli missing"; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TIERALLOC_CONF=stats_live:100 LD_PRELOAD=$lib $server --port $port --bind 127.0.0.1 \
  --save "" --appendonly no --dir "$work" --enable-debug-command local >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do $cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
$cli -p $port debug populate 100000 key 300 >/dev/null
sleep 1  # quiet server; several snapshots published since
info=$($cli -p $port info memory | tr -d '\r')
alloc=$(echo "$info" | sed -n 's/^allocator_allocated://p')
python3 - "$alloc" "/dev/shm/tieralloc-$(id -u)-$pid.json" <<'PY'
import json, sys
redis_alloc = int(sys.argv[1])
snap = json.load(open(sys.argv[2]))["heap"]["allocated"]
print("redis INFO allocator_allocated %d, tieralloc snapshot heap.allocated %d" % (redis_alloc, snap))
assert redis_alloc > 30e6, "redis reports jemalloc's empty heap, not tieralloc's"
assert abs(redis_alloc - snap) <= 0.02 * snap, "redis and tieralloc disagree"
PY
$cli -p $port flushall >/dev/null
r1=$($cli -p $port info memory | tr -d '\r' | sed -n 's/^allocator_resident://p')
# MEMORY PURGE (redis: mallctl arena.<narenas>.purge) until the data's memory is gone from
# tieralloc's resident count; redis may still be releasing the keys for a moment.
r2=$r1
for _ in $(seq 20); do
  out=$($cli -p $port memory purge | tr -d '\r')
  [ "$out" = OK ] || { echo "MEMORY PURGE said: $out"; exit 1; }
  r2=$($cli -p $port info memory | tr -d '\r' | sed -n 's/^allocator_resident://p')
  [ "$r2" -lt 10000000 ] && break
  sleep 0.5
done
echo "allocator_resident after FLUSHALL $r1, after MEMORY PURGE $r2"
[ "$r2" -lt 10000000 ] || { echo "memory not returned"; exit 1; }
echo "redis reports tieralloc's numbers: PASS"
