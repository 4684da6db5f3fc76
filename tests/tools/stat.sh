#!/bin/bash
# tieralloc-stat against a stand-in writer (fake_writer.py publishes snapshots per the contract
# with counters that grow at known rates): the table, JSON lines and their rates, and every
# error the tool must explain: stats off, stale files, a pid gone or reused, a bad or foreign
# file, a symbolic link, and another user's stats (run as nobody: permission denied, no data).
# Usage: stat.sh TIERALLOC-STAT
. "$(dirname "$0")/lib.sh"
STAT=$1
[ -x "$STAT" ] || fail "no tieralloc-stat at $STAT"
UID_=$(id -u)
FAKE="$PY $HERE/fake_writer.py"

sleep 120 &
SP=$!
CLEANUP_PIDS="$CLEANUP_PIDS $SP"
SP_START=$(date +%s)
SNAP=/dev/shm/tieralloc-$UID_-$SP.json
CLEANUP_FILES="$CLEANUP_FILES $SNAP"

# Usage errors.
expect_run 2 "a pid that is not a number" "$STAT" --once abc
expect_run 2 "-i 0" "$STAT" -i 0 "$SP"
expect_run 2 "no pid" "$STAT"

# Stats off: the process exists, no snapshot.
expect_run 4 "stats not enabled" "$STAT" --once "$SP"
expect_in "$WORK/err" "stats_live:1000" "the stats-off message tells how to turn them on"
expect_in "$WORK/err" "does not have libtieralloc.so loaded" "the stats-off message sees no tieralloc in sleep"
expect_empty "$WORK/out" "stats off"

# A live writer, every 100 ms.
$FAKE "$SP" --interval-ms 100 &
FW=$!
CLEANUP_PIDS="$CLEANUP_PIDS $FW"
wait_for 10 test -s "$SNAP" || fail "the fake writer published nothing"
[ "$(stat -c %a "$SNAP")" = 600 ] || fail "the fake writer's file is not 0600"

expect_run 0 "--once" "$STAT" --once "$SP"
expect_in "$WORK/out" "^pid $SP \(sleep\)" "table header"
expect_in "$WORK/out" "^heap +allocated 7.0 MiB +active 8.0 MiB +dirty 2.0 MiB +mapped 1.0 GiB" "heap line"
expect_in "$WORK/out" "^ +0 dram +0 0-1 +6.0 MiB +1.0 MiB +512.0 MiB +- +3 +1 +- \| " "node 0 row, no rate yet"
expect_in "$WORK/out" "^ +1 cxl +1 - +2.0 MiB " "node 1 row (no CPUs)"
expect_in "$WORK/out" "node 1: 2 regions could not be bound" "bind failures are called out"
expect_in "$WORK/out" "^kernel +rss [0-9.]+ [KMG]iB" "kernel line"

# Rates between two snapshots: the table, then JSON lines checked to the byte rate.
expect_run 0 "table, 2 samples" "$STAT" -n 2 -i 0.3 "$SP"
expect_in "$WORK/out" "^ +0 dram .* 1.0 MiB/s " "node 0 purge rate in the table"
expect_in "$WORK/out" "purged .*\(1\.[23] MiB/s\)" "heap purge rate in the table"
expect_run 0 "--json" "$STAT" --json -n 3 -i 0.3 "$SP"
$PY - "$WORK/out" "$SP" <<'PYEOF' || fail "JSON lines wrong (above)"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
pid = int(sys.argv[2])
assert len(lines) == 3, "want 3 lines, got %d" % len(lines)
docs = [json.loads(l) for l in lines]
MIB = 1 << 20
for i, d in enumerate(docs):
    assert d["pid"] == pid and d["comm"] == "sleep", d
    s = d["stats"]
    assert s["version"] == 1 and s["pid"] == pid and s["heap"]["active"] == 8 * MIB, s
    assert s["future_field"]["ignored"][2] == {"x": None}, "unknown fields must pass through"
    assert d["kernel"]["rss"] > 0 and d["kernel"]["anonymous"] > 0, d["kernel"]
    assert d["stale"] is False and d["age_ms"] < 2000, d
    r = d["rates"]
    if i == 0:
        assert r["seconds"] is None and r["purged_bytes"] is None, r
        continue
    dt = r["seconds"]
    assert 0.1 < dt < 2, r
    def near(got, want, per_count=0):
        # counters are whole numbers: a rate can be off by one count over the span
        slack = want * 0.001 + (per_count / dt) + 1e-9
        assert abs(got - want) <= slack, (got, want, r)
    near(r["purged_bytes"], MIB + 256 * 1024, 2)
    near(r["migrated_bytes"], 64 * 1024, 1)
    near(r["purges"], 10, 1)
    near(r["migrations_in"], 4, 1)
    assert r["migrations_out"] == 0, r
    n0, n1 = r["nodes"]
    near(n0["purged_bytes"], MIB, 1)
    near(n1["purged_bytes"], 256 * 1024, 1)
    near(n1["remote_frees_in"], 100, 1)
    assert n0["remote_frees_in"] == 0
print("json lines ok: rates", docs[-1]["rates"]["purged_bytes"], "B/s over", docs[-1]["rates"]["seconds"], "s")
PYEOF
kill "$FW" 2>/dev/null
wait "$FW" 2>/dev/null

# A file the writer stopped updating (the process is stopped, or its thread stalled): shown, but
# flagged. The process must be older than the snapshot, else it is a reused pid (below).
while [ $(($(date +%s) - SP_START)) -lt 5 ]; do sleep 0.2; done
$FAKE "$SP" --once --interval-ms 100 --age-s 3 || fail "fake writer"
expect_run 0 "stale snapshot" "$STAT" --once "$SP"
expect_in "$WORK/err" "is 3\.[0-9] s old" "stale warning"
expect_in "$WORK/out" "STALE" "stale flag in the table"

# Written before the process started: an earlier process with the same pid left it.
$FAKE "$SP" --once --age-s 60 || fail "fake writer"
expect_run 3 "snapshot older than the process" "$STAT" --once "$SP"
expect_in "$WORK/err" "before pid $SP \(sleep\) started" "reused-pid message"

# A snapshot naming another pid, a newer version, a truncated file.
$FAKE "$SP" --once --file-pid 1 || fail "fake writer"
expect_run 1 "snapshot of another pid" "$STAT" --once "$SP"
expect_in "$WORK/err" "names pid 1, not $SP" "pid mismatch message"
$FAKE "$SP" --once --version 2 || fail "fake writer"
expect_run 1 "snapshot version 2" "$STAT" --once "$SP"
expect_in "$WORK/err" "version 2; this tieralloc-stat reads version 1" "version message"
$FAKE "$SP" --once --garbage || fail "fake writer"
expect_run 1 "truncated snapshot" "$STAT" --once "$SP"
expect_in "$WORK/err" "not a valid snapshot: unexpected end of text at byte" "truncated-file message"
expect_empty "$WORK/out" "truncated snapshot"

# A symbolic link in /dev/shm (anyone can make one there) is not followed.
rm -f "$SNAP"
ln -s /etc/passwd "$SNAP"
expect_run 1 "symbolic link" "$STAT" --once "$SP"
expect_in "$WORK/err" "symbolic link; refusing" "symlink message"
rm -f "$SNAP"

# A process that is gone: its left-over file is called stale; without one, no such process.
true &
DEAD=$!
wait "$DEAD"
DEAD_SNAP=/dev/shm/tieralloc-$UID_-$DEAD.json
CLEANUP_FILES="$CLEANUP_FILES $DEAD_SNAP"
expect_run 3 "no such process" "$STAT" --once "$DEAD"
expect_in "$WORK/err" "no such process: $DEAD" "no-process message"
$FAKE "$DEAD" --once || fail "fake writer"
expect_run 3 "stale file of a gone process" "$STAT" --once "$DEAD"
expect_in "$WORK/err" "no process $DEAD; $DEAD_SNAP is a stale snapshot" "stale-file message"
rm -f "$DEAD_SNAP"

# Another user's stats: readable by root only through root's own rights; run as nobody, the
# reader gets permission denied and prints no data. A file not owned by the process's user is
# not trusted.
if [ "$UID_" -ne 0 ]; then
  note "not root: the other-user checks need root to switch to nobody; they did not run"
else
  $FAKE "$SP" --once || fail "fake writer"
  PUB_STAT=$(public_copy "$STAT") || fail "copying tieralloc-stat"
  expect_run 5 "another user's stats (as nobody)" "${AS_NOBODY[@]}" "$PUB_STAT" --once "$SP"
  expect_in "$WORK/err" "permission denied: $SNAP belongs to root" "permission message"
  expect_in "$WORK/err" "readable only by its own user" "permission message says why"
  expect_empty "$WORK/out" "another user's stats"
  expect_run 5 "another user's stats as JSON (as nobody)" "${AS_NOBODY[@]}" "$PUB_STAT" --json --once "$SP"
  expect_empty "$WORK/out" "another user's stats as JSON"
  "${AS_NOBODY[@]}" cat "$SNAP" >/dev/null 2>&1 && fail "nobody can read $SNAP directly"
  chown nobody "$SNAP"
  expect_run 1 "a snapshot owned by another user" "$STAT" --once "$SP"
  expect_in "$WORK/err" "owned by nobody, not by the process's user root; not trusting it" "foreign-owner message"
fi
note "ok"
