"""Medians, ranges and ratios over rounds; pure functions over the run records."""
import math


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def summary(xs):
    """{"median", "min", "max", "n"} of the numbers in xs that are not None, or None."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def index(runs):
    """{(workload, allocator): {round: record}} of the successful runs."""
    out = {}
    for r in runs:
        if r.get("ok"):
            out.setdefault((r["workload"], r["allocator"]), {})[r["round"]] = r
    return out


def wall(r):
    return r["seconds"]


def cpu(r):
    return r.get("cpu_seconds")


def pair_ratios(idx, workload, ref, peer, metric=wall):
    """metric(ref) / metric(peer) per round where both ran in that round: the ratio of two runs made
    back to back, so a slow minute of the machine hits both."""
    a, b = idx.get((workload, ref), {}), idx.get((workload, peer), {})
    out = []
    for rnd in sorted(set(a) & set(b)):
        x, y = metric(a[rnd]), metric(b[rnd])
        if x is not None and y:
            out.append(x / y)
    return out


def peak_rss_kb(record):
    """Peak RSS of the measured process: the largest VmHWM it reported (the workloads sample it at
    their end, the servers are sampled before they stop). ru_maxrss from wait4 is not used for this:
    it also counts the RSS of the Python parent that forked the child, inherited across exec."""
    hwm = [m.get("hwm_kb", -1) for m in (record.get("mem") or {}).values() if m]
    hwm = [h for h in hwm if h and h > 0]
    return max(hwm) if hwm else record.get("maxrss_kb")


def mem(record, checkpoint, field="rss_kb"):
    m = (record.get("mem") or {}).get(checkpoint)
    if not m or m.get(field) is None or m.get(field, -1) < 0:
        return None
    return m[field]


def thp_coverage(record, checkpoint="steady"):
    m = (record.get("mem") or {}).get(checkpoint)
    if not m or not m.get("anon_kb") or m["anon_kb"] <= 0 or m.get("anon_huge_kb", -1) < 0:
        return None
    return m["anon_huge_kb"] / m["anon_kb"]


def idle_median_series(records):
    """Pointwise median of the idle series of several rounds (by sample index), [[t, rss_kb], ...]."""
    series = [r["idle"] for r in records if r.get("idle")]
    if not series:
        return []
    n = min(len(s) for s in series)
    return [[median([s[i][0] for s in series]), median([s[i][1] for s in series])] for i in range(n)]
