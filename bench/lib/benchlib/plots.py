"""PNG plots of a run, drawn by gnuplot (package gnuplot-nox) from data files written here."""
import os
import shutil
import subprocess
import tempfile

from . import stats

COLORS = {"tieralloc": "#d62728", "glibc": "#7f7f7f", "jemalloc": "#1f77b4", "tcmalloc": "#2ca02c",
          "mimalloc": "#9467bd", "memkind": "#8c564b"}


def _quote(s):
    return '"' + str(s).replace('"', "'") + '"'


def _histogram(path, title, ylabel, rows, columns, values, logscale=False, errorbars=None, hline=None,
               colors=None):
    """Clustered bars: one cluster per row, one bar per column. values[(row, col)] -> number or None;
    errorbars[(row, col)] -> (lo, hi); colors[col] overrides the allocator colour of a column."""
    tmp = tempfile.mkdtemp(prefix="tabench-plot-")
    try:
        data = os.path.join(tmp, "data")
        with open(data, "w") as f:
            for r in rows:
                cells = []
                for c in columns:
                    v = values.get((r, c))
                    if errorbars is not None:
                        lo, hi = errorbars.get((r, c), (v, v))
                        cells += ["-" if v is None else f"{v:.6g}", "-" if lo is None else f"{lo:.6g}",
                                  "-" if hi is None else f"{hi:.6g}"]
                    else:
                        cells.append("-" if v is None else f"{v:.6g}")
                f.write(_quote(r) + " " + " ".join(cells) + "\n")
        style = "errorbars gap 2 lw 1" if errorbars is not None else "clustered gap 2"
        n = len(columns)
        lines = [
            f"set terminal pngcairo noenhanced size 1100,520 font 'DejaVu Sans,10'",
            f"set output {_quote(path)}",
            f"set title {_quote(title)}",
            f"set ylabel {_quote(ylabel)}",
            "set datafile missing '-'",
            f"set style histogram {style}",
            "set style data histograms",
            "set style fill solid 0.85 border -1",
            "set boxwidth 0.9",
            "set key outside right top",
            "set grid ytics",
            "set xtics rotate by -30",
            "set yrange [0:*]" if not logscale else "set logscale y",
        ]
        if hline is not None:
            lines.append(f"set arrow from graph 0, first {hline} to graph 1, first {hline} nohead dt 2 lw 1.5 lc rgb 'black'")
        plots = []
        for i, c in enumerate(columns):
            color = (colors or {}).get(c) or COLORS.get(c.split(" ")[-1], "#444444")
            if errorbars is not None:
                col = 2 + 3 * i
                plots.append(f"'{data}' using {col}:{col + 1}:{col + 2}:xtic(1) title {_quote(c)} lc rgb '{color}'")
            else:
                plots.append(f"'{data}' using {2 + i}:xtic(1) title {_quote(c)} lc rgb '{color}'")
        lines.append("plot " + ", \\\n     ".join(plots))
        _gnuplot("\n".join(lines) + "\n", tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _gnuplot(script, tmp):
    path = os.path.join(tmp, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    out = subprocess.run(["gnuplot", path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("gnuplot failed: " + out.stderr.strip()[-600:])


def draw(outdir, results, workloads, allocators, ref):
    """Writes time_ratio.png, peak_rss.png, thp_coverage.png and rss_after_burst.png; returns the
    file names written."""
    if not shutil.which("gnuplot"):
        print("bench: gnuplot not installed, no plots")
        return []
    idx = stats.index(results["runs"])
    written = []
    peers = [a for a in allocators if a != ref]

    for name, metric, what in (("time_ratio.png", stats.wall, "wall time"), ("cpu_ratio.png", stats.cpu, "CPU time")):
        values, bars = {}, {}
        for w in workloads:
            for p in peers:
                s = stats.summary(stats.pair_ratios(idx, w, ref, p, metric))
                if s:
                    values[(w, f"vs {p}")] = s["median"]
                    bars[(w, f"vs {p}")] = (s["min"], s["max"])
        if values:
            _histogram(os.path.join(outdir, name),
                       f"{ref} {what} / peer {what}, same round (median, min-max); below 1: {ref} faster",
                       f"ratio (log scale)", workloads, [f"vs {p}" for p in peers], values,
                       errorbars=bars, hline=1, logscale=True)
            written.append(name)

    values = {}
    for w in workloads:
        for a in allocators:
            s = stats.summary([stats.peak_rss_kb(r) / 1024 for r in idx.get((w, a), {}).values()])
            if s:
                values[(w, a)] = s["median"]
    if values:
        _histogram(os.path.join(outdir, "peak_rss.png"), "Peak RSS (VmHWM, median of rounds)",
                   "MiB (log scale)", workloads, allocators, values, logscale=True)
        written.append("peak_rss.png")

    values = {}
    for w in workloads:
        for a in allocators:
            s = stats.summary([stats.thp_coverage(r) for r in idx.get((w, a), {}).values()])
            if s:
                values[(w, a)] = 100 * s["median"]
    if values:
        _histogram(os.path.join(outdir, "thp_coverage.png"),
                   "Hugepage coverage at steady state: AnonHugePages / Anonymous (smaps_rollup)",
                   "% of anonymous RSS", workloads, allocators, values)
        written.append("thp_coverage.png")

    idle_workloads = [w for w in workloads if any(r.get("idle") for a in allocators
                                                  for r in idx.get((w, a), {}).values())]
    if idle_workloads:
        _idle_plot(os.path.join(outdir, "rss_after_burst.png"), idx, idle_workloads, allocators)
        written.append("rss_after_burst.png")
    return written


def _idle_plot(path, idx, workloads, allocators):
    tmp = tempfile.mkdtemp(prefix="tabench-plot-")
    try:
        n = len(workloads)
        lines = [f"set terminal pngcairo noenhanced size {420 * n + 80},500 font 'DejaVu Sans,10'",
                 f"set output {_quote(path)}",
                 f"set multiplot layout 1,{n} title 'RSS after everything is freed (t = 0), process idle; "
                 "dashed: RSS at steady state before the free (median of rounds)'",
                 "set grid", "set key below font ',9'", "set xlabel 'seconds idle'",
                 "set ylabel 'RSS MiB'", "set yrange [0:*]"]
        for w in workloads:
            plots = []
            for a in allocators:
                recs = list(idx.get((w, a), {}).values())
                series = stats.idle_median_series(recs)
                if not series:
                    continue
                data = os.path.join(tmp, f"{w}-{a}")
                with open(data, "w") as f:
                    for t, rss in series:
                        f.write(f"{t} {rss / 1024:.3f}\n")
                steady = stats.median([stats.mem(r, "steady") for r in recs if stats.mem(r, "steady")])
                color = COLORS.get(a, "#444444")
                plots.append(f"'{data}' using 1:2 with linespoints pt 7 ps 0.4 lw 2 lc rgb '{color}' title {_quote(a)}")
                if steady:
                    plots.append(f"{steady / 1024:.3f} with lines dt 2 lw 1 lc rgb '{color}' notitle")
            lines.append(f"set title {_quote(w)}")
            lines.append("plot " + ", \\\n     ".join(plots))
        lines.append("unset multiplot")
        _gnuplot("\n".join(lines) + "\n", tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
