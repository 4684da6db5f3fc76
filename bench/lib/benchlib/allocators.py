"""The allocators compared, where their libraries are, and which versions are installed.

An allocator is a shared library given to LD_PRELOAD (glibc is the absence of one). Peers come from
Debian packages, found in the multiarch library directory so the same names work on amd64 and arm64.
tieralloc is the library built in the benchmark's build directory."""
import os
import subprocess


def multiarch():
    """The Debian multiarch triplet, e.g. x86_64-linux-gnu or aarch64-linux-gnu."""
    for cmd in (["gcc", "-print-multiarch"], ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    machine = os.uname().machine
    return {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(machine, machine + "-linux-gnu")


def dpkg_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


class Allocator:
    """name: short name used everywhere; lib: the library to preload (None for glibc); package: the
    Debian package that provides it; tiers_only: run only on workloads about memory tiers; env: extra
    environment the library needs."""

    def __init__(self, name, lib, package, tiers_only=False, env=None, note=""):
        self.name = name
        self.lib = lib
        self.package = package
        self.tiers_only = tiers_only
        self.env = env or {}
        self.note = note
        self.version = dpkg_version(package) if package else None

    def available(self):
        return self.lib is None or os.path.exists(self.lib)

    def environ(self, base, preload_override=None):
        """The environment of a run: base plus LD_PRELOAD of this allocator (or of preload_override,
        used by servers linked to another allocator, see servers.py)."""
        env = dict(base)
        env.pop("LD_PRELOAD", None)
        lib = preload_override or self.lib
        if lib:
            env["LD_PRELOAD"] = lib
        env.update(self.env)
        return env

    def describe(self):
        return {"name": self.name, "lib": self.lib, "package": self.package, "version": self.version,
                "tiers_only": self.tiers_only, "note": self.note}


def all_allocators(build_dir):
    libdir = os.path.join("/usr/lib", multiarch())
    tieralloc = Allocator("tieralloc", os.path.join(os.path.abspath(build_dir), "libtieralloc.so"), None,
                          note="built from this tree (Release)")
    tieralloc.version = _tree_version()
    return [
        tieralloc,
        Allocator("glibc", None, "libc6", note="ptmalloc2, no preload"),
        Allocator("jemalloc", os.path.join(libdir, "libjemalloc.so.2"), "libjemalloc2"),
        Allocator("tcmalloc", os.path.join(libdir, "libtcmalloc_minimal.so.4"), "libtcmalloc-minimal4",
                  note="gperftools tcmalloc (not Google's newer tcmalloc with hugepage-aware allocator)"),
        Allocator("mimalloc", os.path.join(libdir, "libmimalloc.so.2"), "libmimalloc2.0"),
        # memkind's malloc interposer; only meaningful where a workload is about tiers.
        Allocator("memkind", os.path.join(libdir, "libmemtier.so.0"), "libmemkind0", tiers_only=True,
                  env={"MEMKIND_MEM_TIERS": "KIND:DRAM,RATIO:1"},
                  note="libmemtier interposer, DRAM tier only; used for tier workloads only"),
    ]


def _tree_version():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
        return "git " + out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None
