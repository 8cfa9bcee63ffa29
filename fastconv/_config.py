"""Run-time configuration: which SIMD path the kernels use and how many threads.

Both live here, in Python, and are passed to every kernel call (the C code keeps no global state).
`FASTCONV_ISA=avx512|avx2|scalar` forces a path (capped at what the CPU has); the thread count
starts from `OMP_NUM_THREADS` if set, else the CPUs this process may run on.
"""
import os
import warnings

import numpy as np

from . import _ext

ISA_NAMES = ("scalar", "avx2", "avx512")
# OpenMP runtimes die (libgomp segfaults) when asked for more threads than the OS lets them start
# (e.g. 100000 on a 96k-process ulimit): refuse absurd counts up front instead.
MAX_THREADS = 1024
_ISA_LEVEL = {name: level for level, name in enumerate(ISA_NAMES)}


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env:
        try:
            n = int(env)
            if 1 <= n <= MAX_THREADS:
                return n
        except ValueError:
            pass
        warnings.warn(f"ignoring OMP_NUM_THREADS={env!r}: expected an integer in [1, {MAX_THREADS}]",
                      RuntimeWarning)
    try:
        return min(MAX_THREADS, max(1, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):
        return min(MAX_THREADS, max(1, os.cpu_count() or 1))


def _level_from_name(name, source):
    if not isinstance(name, str) or name.lower() not in (*ISA_NAMES, "auto"):
        raise ValueError(f"{source} must be one of 'auto', 'avx512', 'avx2', 'scalar', got {name!r}")
    name = name.lower()
    if name == "auto":
        return _ext.CPU_ISA
    level = _ISA_LEVEL[name]
    if level > _ext.CPU_ISA:
        warnings.warn(f"{source}={name!r} is not supported by this CPU; using {ISA_NAMES[_ext.CPU_ISA]!r}",
                      RuntimeWarning)
        return _ext.CPU_ISA
    return level


def _winograd_from_env():
    value = os.environ.get("FASTCONV_WINOGRAD", "").strip().lower()
    if value in ("", "1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    warnings.warn(f"ignoring FASTCONV_WINOGRAD={value!r}: expected 0 or 1", RuntimeWarning)
    return True


class _State:
    """The settings; plain values read by every call (assignment is atomic under the GIL)."""

    isa = _level_from_name(os.environ.get("FASTCONV_ISA", "auto") or "auto", "FASTCONV_ISA")
    winograd = _winograd_from_env()   # may algo="auto" pick Winograd (not exact to the last ulp)
    _num_threads = _default_threads()
    threads_read = False        # a kernel may have started OpenMP threads in this process
    forked_after_threads = False  # fork() happened after that: libgomp cannot start threads here

    @property
    def num_threads(self):
        # every kernel call reads this: remember that an OpenMP pool may now exist
        n = self._num_threads
        if n > 1:
            self.threads_read = True
        return n

    @num_threads.setter
    def num_threads(self, n):
        self._num_threads = n


state = _State()


def set_num_threads(n):
    """Use ``n`` threads in every kernel (>= 1). Results are bit-identical run to run for a fixed count."""
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
        raise TypeError(f"n must be a positive integer, got {type(n).__name__}")
    n = int(n)
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"n must be a positive integer at most {MAX_THREADS}, got {n}")
    if n > 1 and state.forked_after_threads and _ext.OPENMP:
        warnings.warn("fastconv: this process was forked after its parent ran multithreaded kernels; "
                      "the OpenMP runtime cannot start threads here (it would hang), so kernels keep "
                      "1 thread. Use the 'spawn' or 'forkserver' start method for multithreaded workers.",
                      RuntimeWarning, stacklevel=2)
        n = 1
    state.num_threads = n


def get_num_threads():
    """Number of threads the kernels use."""
    return state.num_threads


def set_winograd(enabled):
    """Let ``algo="auto"`` use Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions (the default),
    or not: its float32 error is 2-5x the direct method's (docs/winograd.md). Winograd stays
    available with ``algo="winograd"``. ``FASTCONV_WINOGRAD=0`` sets it off at start."""
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
    state.winograd = bool(enabled)


def get_winograd():
    """Whether ``algo="auto"`` may pick Winograd."""
    return state.winograd


def set_isa(name):
    """Force a SIMD path: 'avx512', 'avx2', 'scalar', or 'auto' (the best this CPU has)."""
    state.isa = _level_from_name(name, "name")


def get_isa():
    """Name of the SIMD path in use."""
    return ISA_NAMES[state.isa]


def cpu_isa():
    """Name of the best SIMD path this CPU supports."""
    return ISA_NAMES[_ext.CPU_ISA]


def _after_fork_in_child():
    # GNU libgomp's thread pool does not survive fork(): a child that enters a parallel region
    # with more than one thread hangs if the parent had started the pool. Forked children (e.g.
    # data-loader workers) therefore run the kernels on one thread; set_num_threads() cannot raise
    # it again there (tests/test_reliability_fork.py). A parent that never ran a multithreaded
    # kernel leaves its children free to use threads.
    if state.threads_read:
        state.forked_after_threads = True
    state.threads_read = False
    state.num_threads = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def config_text():
    """Human-readable build and run-time configuration (fastconv.show_config, `fastconv info`)."""
    from . import __version__
    import platform

    lines = [
        f"fastconv {__version__}",
        f"  python      {platform.python_version()} ({platform.machine()})",
        f"  numpy       {np.__version__}",
        f"  cpu isa     {cpu_isa()} (best path this CPU supports)",
        f"  isa in use  {get_isa()}" + ("  (forced by FASTCONV_ISA)" if os.environ.get("FASTCONV_ISA") else ""),
        f"  openmp      {'yes' if _ext.OPENMP else 'no (built without OpenMP: one thread)'}",
        f"  threads     {get_num_threads()}" + ("  (OMP_NUM_THREADS)" if os.environ.get("OMP_NUM_THREADS") else ""),
        f"  winograd    {'on' if get_winograd() else 'off'} (algo='auto' on 3x3 stride-1 layers)"
        + ("  (FASTCONV_WINOGRAD)" if os.environ.get("FASTCONV_WINOGRAD") else ""),
    ]
    return "\n".join(lines)


def show_config():
    """Print the version, the ISA path in use, OpenMP and the thread count."""
    print(config_text())
