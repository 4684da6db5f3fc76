#!/bin/sh
# stats_live publishes a JSON snapshot in /dev/shm that only the owner can read, keeps it
# fresh, and removes it at exit.
set -eu
lib=$1
python3=/usr/bin/python3
[ -x "$python3" ] || python3=python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
TIERALLOC_CONF=stats_live:100 LD_PRELOAD="$lib" "$python3" -c '
import json, os, stat, sys, time
path = "/dev/shm/tieralloc-%d-%d.json" % (os.getuid(), os.getpid())
blocks = [bytearray(100000) for _ in range(200)]
time.sleep(0.4)  # a few publication intervals after the allocations
deadline = time.time() + 5
while not os.path.exists(path) and time.time() < deadline: time.sleep(0.05)
st = os.stat(path)
assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
assert st.st_uid == os.getuid()
doc = json.load(open(path))
assert doc["version"] == 1 and doc["pid"] == os.getpid(), doc
assert doc["heap"]["allocated"] >= 200 * 100000, doc["heap"]
t0 = doc["time_ns"]
time.sleep(0.5)
doc2 = json.load(open(path))
assert doc2["time_ns"] > t0, "snapshot not refreshed"
print(path)
' > "$out/path"
path=$(cat "$out/path")
if [ -e "$path" ]; then echo "FAIL: $path left behind after exit"; exit 1; fi
echo "stats_live: 0600 snapshot published, refreshed, removed at exit"
