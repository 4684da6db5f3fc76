"""What the results were measured on: machine, kernel, THP settings, tool and peer versions."""
import os
import platform
import shutil
import subprocess
import time

from . import procmem


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cmd(argv):
    if not shutil.which(argv[0]):
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else None
    except (OSError, subprocess.SubprocessError):
        return None


def settle_memory(mib):
    """Faults `mib` MiB of hugepage-advised memory in and frees it, so the next run starts from
    free memory the host has backed. In a guest whose virtio-balloon reports free pages
    (page_reporting_order), a 2 MiB block freed more than ~2 s ago is handed back to the
    hypervisor and the next hugepage fault on it waits for the host (0.9-1.6 ms instead of
    0.17 ms per 2 MiB here): without this, a THP user's time depended on whether the run before
    it had just freed hugepages (docs/results/changes.md, 2026-11-27). Returns seconds taken."""
    import mmap
    t = time.monotonic()
    size = mib << 20
    if size <= 0:
        return 0.0
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        if hasattr(mmap, "MADV_HUGEPAGE"):
            m.madvise(mmap.MADV_HUGEPAGE)
        for off in range(0, size, 4096):
            m[off] = 1
    finally:
        m.close()
    return time.monotonic() - t


def page_reporting_order():
    """The guest's free page reporting block order, or None where there is no reporting."""
    v = _read("/sys/module/page_reporting/parameters/page_reporting_order")
    return int(v) if v and v.lstrip("-").isdigit() else None


def describe():
    cpu = None
    info = _read("/proc/cpuinfo") or ""
    for line in info.splitlines():
        if line.startswith(("model name", "Model", "CPU part")):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_total = None
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            mem_total = int(line.split()[1]) // 1024
    thp = "/sys/kernel/mm/transparent_hugepage"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "arch": platform.machine(),
        "cpu": cpu,
        "cpus_online": os.cpu_count(),
        "mem_total_mib": mem_total,
        "numa_nodes": procmem.numa_nodes(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "thp_enabled": _read(f"{thp}/enabled"),
        "thp_defrag": _read(f"{thp}/defrag"),
        "thp_khugepaged_defrag": _read(f"{thp}/khugepaged/defrag"),
        "thp_max_ptes_none": _read(f"{thp}/khugepaged/max_ptes_none"),
        "thp_shmem_enabled": _read(f"{thp}/shmem_enabled"),
        "loadavg_start": _read("/proc/loadavg"),
        "page_reporting_order": page_reporting_order(),
        "glibc": _cmd(["ldd", "--version"]),
        "gcc": _cmd(["gcc", "--version"]),
        "redis_server": _cmd(["redis-server", "--version"]),
        "memcached": _cmd(["memcached", "--version"]),
        "python": platform.python_version(),
    }
