"""Memory of a running process, read from /proc from the outside (for the servers; the C workloads
sample themselves with the same fields, see bench/workloads/harness.c)."""
import os
import re

_NODE_RE = re.compile(r"\bN(\d+)=(\d+)")
_PAGE_RE = re.compile(r"kernelpagesize_kB=(\d+)")


def numa_nodes():
    """Number of online NUMA nodes (1 when the file is missing)."""
    try:
        with open("/sys/devices/system/node/online") as f:
            text = f.read().strip()
    except OSError:
        return 1
    count = 0
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            count += int(hi) - int(lo) + 1
        elif part:
            count += 1
    return max(count, 1)


def _fields_kb(path, names):
    out = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in names:
                out[key] = int(rest.split()[0])
    return out


def sample(pid):
    """One sample in KiB: rss, anon, anon_huge, hwm, and node_kb when several nodes exist.
    Returns None when the process is gone."""
    try:
        roll = _fields_kb(f"/proc/{pid}/smaps_rollup", {"Rss", "Anonymous", "AnonHugePages"})
        status = _fields_kb(f"/proc/{pid}/status", {"VmHWM", "VmRSS"})
    except (OSError, ValueError):
        return None
    m = {
        "rss_kb": roll.get("Rss", status.get("VmRSS", -1)),
        "anon_kb": roll.get("Anonymous", -1),
        "anon_huge_kb": roll.get("AnonHugePages", -1),
        "hwm_kb": status.get("VmHWM", -1),
    }
    if numa_nodes() > 1:
        m["node_kb"] = numa_residency(pid)
    return m


def numa_residency(pid):
    """Resident KiB per node from /proc/PID/numa_maps ({"0": kb, ...})."""
    nodes = {}
    try:
        with open(f"/proc/{pid}/numa_maps") as f:
            for line in f:
                pm = _PAGE_RE.search(line)
                page_kb = int(pm.group(1)) if pm else 4
                for node, pages in _NODE_RE.findall(line):
                    nodes[node] = nodes.get(node, 0) + int(pages) * page_kb
    except OSError:
        pass
    return nodes


def cpu_seconds(pid):
    """User + system CPU seconds of every thread of the process so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
