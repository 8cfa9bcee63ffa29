"""Helpers the benchmark modes share: a progress bar on stderr, and how busy the other processes kept
the machine while a benchmark ran (the machines are shared: a 2-thread timing with one core taken
by someone's compiler is not a measurement of fastconv)."""
import os
import sys
import time

# average CPUs used by other processes above which a timing table gets a warning line
BUSY_WARNING_CPUS = 0.25


class _NoBar:
    def update(self, n=1):
        pass

    def set_description(self, desc):
        pass

    def close(self):
        pass


def progress_bar(total, desc, enabled):
    """A tqdm bar on stderr when ``enabled`` (callers pass whether stderr is a terminal), else a no-op."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False)


class OtherLoad:
    """CPU time the rest of the machine used between construction and ``cpus()``, in CPUs on average:
    busy time of all CPUs (/proc/stat, steal included) minus this process's own (os.times). None
    where /proc/stat is missing."""

    def __init__(self):
        self._start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat", "r", encoding="ascii") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
        t = os.times()
        return sum(fields) - idle, t.user + t.system, time.monotonic()

    def cpus(self):
        end = self._sample()
        if end is None or self._start is None:
            return None
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        busy = (end[0] - self._start[0]) / hz
        mine = end[1] - self._start[1]
        wall = end[2] - self._start[2]
        return max(0.0, (busy - mine) / wall) if wall > 0 else None


def busy_warning(other_cpus, consequence):
    """A warning line when other processes kept more than BUSY_WARNING_CPUS CPUs busy, else None."""
    if other_cpus is None or other_cpus <= BUSY_WARNING_CPUS:
        return None
    return (f"warning: other processes kept {other_cpus:.2f} CPUs busy on average during this run; "
            f"{consequence}")
