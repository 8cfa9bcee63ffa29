"""Helpers the benchmark modes share: a progress bar on stderr, and how busy the other processes kept
the machine while a benchmark ran (the machines are shared: a 2-thread timing with one core taken
by someone's compiler is not a measurement of fastconv)."""
import json
import os
import sys
import time

# average CPUs used by other processes above which a timing table gets a warning line
BUSY_WARNING_CPUS = 0.25
# pause after timing another runtime, long enough for its idle worker threads to stop spinning
# on our cores: OpenBLAS's spin ~2^28 cycles (~0.1 s) after a matmul, libgomp's a few ms
SETTLE_SECONDS = 0.15


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


def time_interleaved(impls, rounds=3, min_time=0.25, on_round=None, settle_after=None):
    """Best wall time (s) per implementation, and each one's warm-up result.

    One warm-up call each, then ``rounds`` rounds; round r starts with implementation r (mod n) so
    none always runs first or after the same neighbour; within a round each repeats its call for
    ``min_time / rounds`` seconds (at least once). ``SETTLE_SECONDS`` of sleep separate two different
    implementations (only after those named in ``settle_after``, when given: the ones that leave
    another runtime's threads spinning). ``on_round()`` is called after each round (progress bars)."""
    names = list(impls)
    outputs, best = {}, {n: float("inf") for n in names}
    previous = None

    def settle(name):
        nonlocal previous
        if previous is not None and previous != name and (settle_after is None or previous in settle_after):
            time.sleep(SETTLE_SECONDS)
        previous = name

    for name in names:
        settle(name)
        outputs[name] = impls[name]()
    budget = min_time / max(1, rounds)
    for r in range(rounds):
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            settle(name)
            start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                impls[name]()
                t1 = time.perf_counter()
                best[name] = min(best[name], t1 - t0)
                if t1 - start >= budget:
                    break
        if on_round is not None:
            on_round()
    return best, outputs


def write_json(path, result):
    """A benchmark's measurements as indented JSON, written atomically (a cut-off run leaves the
    previous file whole)."""
    from ._atomic import atomic_write_bytes
    atomic_write_bytes(path, json.dumps(result, indent=1).encode())
