#!/usr/bin/env python3
"""Stands in for the allocator's live-stats writer, to test tieralloc-stat on its own.

Publishes /dev/shm/tieralloc-<uid>-<pid>.json for PID the way the contract (tieralloc-stat(1),
FILES) says: a temp file created O_CREAT|O_EXCL|O_NOFOLLOW mode 0600 in /dev/shm, renamed over
the final name, every --interval-ms. Every counter is a linear function of the snapshot's own
time_ns, so the rate between any two snapshots is known exactly:
  heap.purged and nodes[0].purged grow by 1 MiB/s, nodes[1].purged by 256 KiB/s,
  purges.count by 10/s, migrations.in by 4/s, migrations.bytes by 64 KiB/s,
  nodes[1].remote_frees_in by 100/s.
Fixed values: heap.active 8 MiB, heap.dirty 2 MiB, heap.mapped 1 GiB, node 0 active 6 MiB,
node 1 (kind cxl, tier 1) active 2 MiB.

Usage: fake_writer.py PID [--interval-ms MS] [--once] [--age-s S] [--file-pid N] [--version V]
                          [--garbage] [--path-uid UID]
"""
import argparse
import json
import os
import sys
import time

MIB = 1 << 20


def snapshot(pid, t_ns, t0, interval_ms, version, file_pid):
    dt = t_ns - t0  # ns since the writer started

    def rate(per_s):
        return dt * per_s // 1_000_000_000

    return {
        "version": version,
        "pid": file_pid if file_pid is not None else pid,
        "time_ns": t_ns,
        "interval_ms": interval_ms,
        "profile": "x86-64",
        "conf": {"dirty_decay_ms": 5000, "stats_live": interval_ms, "thp": True},
        "heap": {"allocated": 7 * MIB, "active": 8 * MIB, "mapped": 1024 * MIB, "dirty": 2 * MIB,
                 "purged": rate(MIB) + rate(256 * 1024), "metadata": 512 * 1024,
                 "hugepage_units": 3, "broken_units": 1},
        "nodes": [
            {"node": 0, "kind": "dram", "cpus": "0-1", "tier": 0, "mapped": 512 * MIB,
             "active": 6 * MIB, "dirty": MIB, "purged": rate(MIB), "hugepage_units": 3,
             "broken_units": 1, "remote_frees_in": 0, "bind_failures": 0},
            {"node": 1, "kind": "cxl", "cpus": "", "tier": 1, "mapped": 512 * MIB,
             "active": 2 * MIB, "dirty": MIB, "purged": rate(256 * 1024), "hugepage_units": 0,
             "broken_units": 0, "remote_frees_in": rate(100), "bind_failures": 2},
        ],
        "classes": [{"size": 16, "nmalloc": 10, "nfree": 4, "live": 6, "slabs": 1,
                     "utilization": 0.0234}],
        "large": {"nmalloc": 3, "nfree": 1, "live_bytes": 3 * MIB},
        "migrations": {"in": rate(4), "out": 0, "bytes": rate(64 * 1024), "failures": 0},
        "purges": {"count": rate(10), "pages": rate(256 + 64)},
        "future_field": {"ignored": [1, 2, {"x": None}]},
    }


def publish(final, text):
    tmp = "%s.tmp.%d" % (final, os.getpid())
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.rename(tmp, final)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("--interval-ms", type=int, default=200)
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--age-s", type=float, default=0, help="publish time this far in the past")
    ap.add_argument("--file-pid", type=int)
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--garbage", action="store_true", help="write a truncated document")
    ap.add_argument("--path-uid", type=int, default=os.getuid())
    a = ap.parse_args()
    final = "/dev/shm/tieralloc-%d-%d.json" % (a.path_uid, a.pid)
    t0 = time.monotonic_ns()
    while True:
        t = time.monotonic_ns() - int(a.age_s * 1e9)
        text = json.dumps(snapshot(a.pid, t, t0, a.interval_ms, a.version, a.file_pid), indent=1)
        publish(final, text[: len(text) // 2] if a.garbage else text)
        if a.once:
            return 0
        time.sleep(a.interval_ms / 1000)
        if not os.path.exists("/proc/%d" % a.pid):
            os.unlink(final)  # like the allocator at exit
            return 0


if __name__ == "__main__":
    sys.exit(main())
