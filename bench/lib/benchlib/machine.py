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
        "glibc": _cmd(["ldd", "--version"]),
        "gcc": _cmd(["gcc", "--version"]),
        "redis_server": _cmd(["redis-server", "--version"]),
        "memcached": _cmd(["memcached", "--version"]),
        "python": platform.python_version(),
    }
