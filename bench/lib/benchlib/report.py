"""Markdown report of a run: docs/results/README.md, generated from results.json."""
import os

from . import stats


def _si(x):
    if x is None:
        return "–"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3g} {unit}"
    return f"{x:.3g}"


def _mib(kb):
    return "–" if kb is None else f"{kb / 1024:.1f}"


def _range(s, fmt):
    if not s:
        return "–"
    if s["n"] == 1:
        return fmt(s["median"])
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def _ratio(x):
    return f"{x:.3f}"


def _pct(x):
    return f"{100 * x:.1f}%"


def workload_table(idx, w, allocators, ref):
    head = (f"| allocator | ops/s | {ref} wall time ÷ this | {ref} CPU time ÷ this | CPU s (process) | "
            "peak RSS MiB | RSS steady MiB | RSS freed MiB | RSS after idle MiB | THP coverage | minor faults |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for a in allocators:
        recs = list(idx.get((w, a), {}).values())
        if not recs:
            continue
        wall = stats.summary(stats.pair_ratios(idx, w, ref, a)) if a != ref else None
        cpu = stats.summary(stats.pair_ratios(idx, w, ref, a, stats.cpu)) if a != ref else None
        cells = [
            f"**{a}**" if a == ref else a,
            _range(stats.summary([r["ops_per_s"] for r in recs]), _si),
            "(reference)" if a == ref else _range(wall, _ratio),
            "(reference)" if a == ref else _range(cpu, _ratio),
            _range(stats.summary([r["cpu_s"] for r in recs]), lambda x: f"{x:.2f}"),
            _range(stats.summary([stats.peak_rss_kb(r) for r in recs]), _mib),
            _range(stats.summary([stats.mem(r, "steady") for r in recs]), _mib),
            _range(stats.summary([stats.mem(r, "freed") for r in recs]), _mib),
            _range(stats.summary([stats.mem(r, "idle_end") for r in recs]), _mib),
            _range(stats.summary([stats.thp_coverage(r) for r in recs]), _pct),
            _range(stats.summary([r["minflt"] for r in recs]), _si),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def numa_table(idx, w, allocators):
    rows = []
    for a in allocators:
        recs = list(idx.get((w, a), {}).values())
        nodes = [((r.get("mem") or {}).get("steady") or {}).get("node_kb") for r in recs]
        nodes = [n for n in nodes if n]
        if not nodes:
            continue
        keys = sorted(set().union(*nodes), key=int)
        rows.append((a, {k: stats.median([n.get(k, 0) for n in nodes]) for k in keys}))
    if not rows:
        return ""
    keys = sorted(set().union(*(r[1] for r in rows)), key=int)
    out = ["| allocator | " + " | ".join(f"node {k} MiB" for k in keys) + " |",
           "|---|" + "---|" * len(keys)]
    for a, n in rows:
        out.append(f"| {a} | " + " | ".join(_mib(n.get(k)) for k in keys) + " |")
    return "Per-node residency at steady state (numa_maps, median):\n\n" + "\n".join(out)


def detail_table(idx, w, allocators):
    """A second table for workloads whose own numbers say more than the common columns."""
    def med(a, f):
        return stats.median([x for x in (f(r) for r in idx.get((w, a), {}).values()) if x is not None])

    present = [a for a in allocators if idx.get((w, a))]
    if not present:
        return ""
    if w == "sizeclass":
        any_rec = next(iter(idx[(w, present[0])].values()))
        sizes = list(any_rec["extra"]["ns_per_op_pair"].keys())
        out = ["ns per malloc or free, best of 5 slices (median of rounds), pairs / batches of 64:", "",
               "| size B | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
        for s in sizes:
            cells = []
            for a in present:
                p = med(a, lambda r: r["extra"]["ns_per_op_pair"].get(s))
                b = med(a, lambda r: r["extra"]["ns_per_op_batch"].get(s))
                cells.append(f"{p:.1f} / {b:.1f}")
            out.append(f"| {s} | " + " | ".join(cells) + " |")
        return "\n".join(out)
    if w == "frag":
        out = ["RSS ÷ live bytes after each phase (median; 1.0 = no overhead):", "",
               "| allocator | filled | after freeing 90% | refilled with larger objects |", "|---|---|---|---|"]
        for a in present:
            out.append(f"| {a} | " + " | ".join(f"{med(a, lambda r: r['extra'][k]):.2f}" for k in (
                "rss_over_live_filled", "rss_over_live_after_free", "rss_over_live_refilled")) + " |")
        return "\n".join(out)
    if w == "cache":
        out = ["| allocator | live data MiB | RSS steady ÷ live | RSS after idle ÷ live-at-steady |",
               "|---|---|---|---|"]
        for a in present:
            live = med(a, lambda r: r["extra"]["live_bytes"])
            st = med(a, lambda r: stats.mem(r, "steady"))
            ie = med(a, lambda r: stats.mem(r, "idle_end"))
            out.append(f"| {a} | {live / 2**20:.1f} | {st * 1024 / live:.2f} | "
                       f"{(ie * 1024 / live) if ie else float('nan'):.2f} |")
        return "\n".join(out)
    if w == "redis":
        tests = list(next(iter(idx[(w, present[0])].values()))["extra"]["rps"].keys())
        out = ["Requests per second by redis-benchmark test (median of rounds):", "",
               "| test | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
        for t in tests:
            out.append(f"| {t} | " + " | ".join(_si(med(a, lambda r: r["extra"]["rps"].get(t)))
                                               for a in present) + " |")
        return "\n".join(out)
    return ""


def micro_table(micro):
    if not micro or not micro.get("benchmarks"):
        return ""
    rows = {}
    for b in micro["benchmarks"]:
        name, agg = b.get("run_name", b["name"]), b.get("aggregate_name")
        items = b.get("items_per_second")
        if agg == "median" and items:
            rows.setdefault(name, {})["ns"] = 1e9 / items
            extra = {k: v for k, v in b.items() if k.endswith("_ns_per_object")}
            if extra:
                rows[name]["extra"] = ", ".join(f"{k} {v:.1f}" for k, v in extra.items())
        elif agg == "cv" and items is not None:
            rows.setdefault(name, {})["cv"] = items
    out = ["## Microbenchmarks of tieralloc's pieces", "",
           "bench/micro (Google Benchmark, linked to the layer libraries): ns per item (one lookup, one "
           "push or pop, one object freed) from items per second, which Google Benchmark computes from CPU "
           "time (from the timed call alone for BM_FlushToBin and BM_RemoteFree), median of 3 repetitions, with the "
           "coefficient of variation. Debian's libbenchmark warns that it was built as DEBUG; that "
           "affects its own bookkeeping, not the timed code.", "",
           "| benchmark | ns per item | cv | also measured |", "|---|---|---|---|"]
    for name, r in rows.items():
        if "ns" in r:
            out.append(f"| {name} | {r['ns']:.2f} | {100 * r.get('cv', 0):.1f}% | {r.get('extra', '')} |")
    return "\n".join(out)


def behind(idx, workloads, allocators, ref):
    """Plain list of where ref is slower or uses more memory than a peer (median of same-round ratios)."""
    lines = []
    for w in workloads:
        for p in allocators:
            if p == ref:
                continue
            w_s = stats.summary(stats.pair_ratios(idx, w, ref, p))
            c_s = stats.summary(stats.pair_ratios(idx, w, ref, p, stats.cpu))
            slower = [(label, s) for label, s in (("wall", w_s), ("CPU", c_s)) if s and s["median"] > 1.0]
            if slower:
                parts = []
                for label, s in slower:
                    noise = ", within the round-to-round range" if s["min"] <= 1.0 else ""
                    parts.append(f"{100 * (s['median'] - 1):.0f}% more {label} time (ratio {s['median']:.2f}, "
                                 f"{s['min']:.2f}–{s['max']:.2f}{noise})")
                lines.append(f"- **{w}** vs {p}: " + "; ".join(parts) + ".")
            for label, metric in (("peak RSS", stats.peak_rss_kb),
                                  ("RSS after free + idle", lambda r: stats.mem(r, "idle_end"))):
                m = stats.summary(stats.pair_ratios(idx, w, ref, p, metric))
                if m and m["median"] > 1.05:
                    lines.append(f"- **{w}** vs {p}: {label} {m['median']:.2f}× the peer's.")
    return lines


def write(outdir, results, workloads, allocators, ref, plots, notes_path, descriptions):
    idx = stats.index(results["runs"])
    meta, cfg = results["machine"], results["config"]
    argv = list(cfg["argv"])
    if "--out" in argv:  # where the files went is not part of how they were made
        i = argv.index("--out")
        del argv[i:i + 2]
    out = [
        "# Benchmark results",
        "",
        f"Generated by `bench/run {' '.join(argv)}` on {meta['date']}: {cfg['mode']} mode, "
        f"{cfg['rounds']} rounds, allocators run in rotated order within each round. Raw data: "
        "[results.json](results.json). Every cell is the median over rounds with the min–max in "
        "parentheses; ratios are computed pair by pair within a round (two runs made back to back), "
        "then summarised.",
        "",
        "Reproduce: `bench/run --quick` (about 5 minutes) or `bench/run --full` (about 30 minutes); "
        "`bench/run --help` lists the options. `bench/run compare A.json B.json` compares two runs; "
        "[reproducibility.md](reproducibility.md), where present, is such a comparison of two quick runs. "
        "[changes.md](changes.md), where present, says what changed in tieralloc since the previous "
        "report, with a before/after run of the two builds side by side (`bench/run --extra`), and "
        "where tieralloc's memory goes against the targets.",
        "",
    ]
    for msg in results.get("skipped", []):
        out.append(f"> **{msg}**")
        out.append("")
    failed = [r for r in results["runs"] if not r.get("ok")]
    if failed:
        out.append(f"> {len(failed)} run(s) failed: " + "; ".join(
            f"{r['workload']}/{r['allocator']} round {r['round']}: {r.get('error', '?')[:160]}" for r in failed[:8]))
        out.append("")

    peers = [a for a in allocators if a != ref]
    out += [f"## Summary: {ref} time ÷ peer time", "",
            f"Geometric mean over workloads of the per-workload median ratio; below 1 means {ref} is faster. "
            "Wall time is the workload's timed phase (for the servers: requests ÷ the load tool's rate); CPU "
            "time is the process's user + system time over the same phase (for the servers: the server's "
            "alone). CPU time is the steadier of the two on a shared machine, but it does not see time spent "
            "waiting on a lock.",
            "", "| peer | wall: geometric mean | best | worst | CPU: geometric mean | best | worst |",
            "|---|---|---|---|---|---|---|"]
    for p in peers:
        cells = []
        for metric in (stats.wall, stats.cpu):
            per = {w: stats.median(stats.pair_ratios(idx, w, ref, p, metric)) for w in workloads}
            per = {w: v for w, v in per.items() if v}
            if not per:
                cells += ["–", "–", "–"]
                continue
            best, worst = min(per, key=per.get), max(per, key=per.get)
            cells += [f"{stats.geomean(per.values()):.3f}", f"{best} {per[best]:.2f}", f"{worst} {per[worst]:.2f}"]
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out.append("")

    out += [f"## Where {ref} is behind", ""]
    lag = behind(idx, workloads, allocators, ref)
    out += lag if lag else [f"Nowhere in this run: {ref} was at least as fast and as small as every peer."]
    out.append("")

    if plots:
        out += ["## Plots", ""]
        for p in plots:
            out += [f"![{p[:-4]}]({p})", ""]

    out += ["## Workloads", ""]
    for w in workloads:
        out += [f"### {w}", "", descriptions.get(w, ""), "", workload_table(idx, w, allocators, ref), ""]
        for extra in (detail_table(idx, w, allocators), numa_table(idx, w, allocators)):
            if extra:
                out += [extra, ""]

    micro = micro_table(results.get("micro"))
    if micro:
        out += [micro, ""]

    out += ["## Machine", "", "| | |", "|---|---|"]
    for k in ("arch", "cpu", "cpus_online", "mem_total_mib", "numa_nodes", "kernel", "thp_enabled",
              "thp_defrag", "thp_khugepaged_defrag", "thp_max_ptes_none", "loadavg_start", "loadavg_end",
              "glibc", "gcc", "redis_server", "memcached"):
        out.append(f"| {k} | {meta.get(k, '–')} |")
    out += ["", "## Allocators", "", "| allocator | package | version | library | note |", "|---|---|---|---|---|"]
    for a in results["allocators"]:
        out.append(f"| {a['name']} | {a['package'] or '–'} | {a['version'] or '–'} | "
                   f"`{a['lib'] or '(none: the C library)'}` | {a['note']} |")
    out.append("")
    if notes_path and os.path.exists(notes_path):
        with open(notes_path) as f:
            out += [f.read().rstrip(), ""]
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write("\n".join(out))
