"""Starting a child and reaping it with its resource usage.

subprocess.Popen.wait() reaps the child but discards its rusage, so children started here are
reaped with os.wait4, which returns the child's own CPU time, peak RSS (ru_maxrss) and faults."""
import os
import signal
import subprocess
import threading
import time


_live = set()


def kill_all():
    """Kills every child still running (their own process groups): used when the driver is
    interrupted, so no server or workload outlives it."""
    for child in list(_live):
        child.kill()


class Child:
    """A started process. stdout/stderr are collected by reader threads into text."""

    def __init__(self, argv, env, stdout=subprocess.PIPE, cwd=None):
        self.argv = argv
        self.t0 = time.monotonic()
        self.popen = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        self.pid = self.popen.pid
        _live.add(self)
        self._out, self._err = [], []
        self._readers = []
        for stream, sink in ((self.popen.stdout, self._out), (self.popen.stderr, self._err)):
            if stream is not None:
                t = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
                t.start()
                self._readers.append(t)
        self.rusage = None
        self.status = None
        self.wall_s = None

    @staticmethod
    def _drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)
        stream.close()

    @property
    def stdout(self):
        return b"".join(self._out).decode(errors="replace")

    @property
    def stderr(self):
        return b"".join(self._err).decode(errors="replace")

    def alive(self):
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def kill(self, sig=signal.SIGKILL):
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def reap(self, timeout):
        """Waits up to timeout seconds, then kills the process group; returns the exit code (negative
        for a signal) and keeps rusage and wall time."""
        timer = threading.Timer(timeout, self.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(self.pid, 0)
        finally:
            timer.cancel()
        self.wall_s = time.monotonic() - self.t0
        _live.discard(self)
        self.rusage = ru
        self.status = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.status  # keep Popen from reaping again
        for t in self._readers:
            t.join(5)
        return self.status

    def usage(self):
        ru = self.rusage
        return {"wall_s": round(self.wall_s, 4), "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
                "cpu_s": round(ru.ru_utime + ru.ru_stime, 4), "maxrss_kb": ru.ru_maxrss,
                "minflt": ru.ru_minflt, "majflt": ru.ru_majflt, "nvcsw": ru.ru_nvcsw,
                "nivcsw": ru.ru_nivcsw}
