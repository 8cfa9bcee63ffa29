"""No kernel reads or writes outside the arrays it was given -- checked without a sanitizer.

Every input and output array is placed flush against an inaccessible guard page (PROT_NONE),
once ending at it (catches reads/writes past the end, e.g. a full SIMD vector loaded from a
plane shorter than the vector) and once starting right after it (catches accesses before the
start). A stray access is a SIGSEGV: each ISA path runs in its own child process, which reports
the call in flight when it dies. Shapes are small and odd on purpose: tails shorter than a
vector are where such bugs live. tools/sanitize.sh finds the same bugs (and more) under ASan;
this test finds them in every ordinary CI run.
"""
import json
import os
import subprocess
import sys

import pytest

import fastconv

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
ISAS = [i for i in ("scalar", "avx2", "avx512")
        if ("scalar", "avx2", "avx512").index(i) <= ("scalar", "avx2", "avx512").index(fastconv.cpu_isa())]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses mmap/mprotect guard pages")


# ---- child side ------------------------------------------------------------------------------

class Guarded:
    """Hands out arrays whose data ends at (or starts right after) a PROT_NONE page."""

    def __init__(self):
        import ctypes
        import mmap
        self.ctypes, self.mmap = ctypes, mmap
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self.page = mmap.PAGESIZE
        self.keep = []

    def array(self, src, where):
        import numpy as np
        src = np.ascontiguousarray(src)
        nbytes = src.nbytes
        data_pages = (nbytes + self.page - 1) // self.page or 1
        mm = self.mmap.mmap(-1, (data_pages + 2) * self.page)
        base = self.ctypes.addressof(self.ctypes.c_char.from_buffer(mm))
        for guard in (base, base + (data_pages + 1) * self.page):
            if self.libc.mprotect(guard, self.page, 0) != 0:
                raise OSError(self.ctypes.get_errno(), "mprotect failed")
        if where == "end":       # last byte of the array is the last byte before the upper guard
            offset = (data_pages + 1) * self.page - nbytes
        else:                    # first byte right after the lower guard
            offset = self.page
        out = np.frombuffer(mm, dtype=src.dtype, count=src.size, offset=offset).reshape(src.shape)
        out[...] = src
        self.keep.append(mm)
        return out

    def empty(self, shape, dtype, where):
        import numpy as np
        return self.array(np.zeros(shape, dtype), where)


def _cases(g, where, family):
    """(name, thunk) pairs: every kernel, with every array guarded, on tail-heavy shapes."""
    import numpy as np
    from fastconv import _ext
    from fastconv._config import state
    import fastconv.functional as F

    rng = np.random.default_rng(0)
    out = []

    def add(name, fn):
        out.append((name, fn))

    shapes = [(1, 1, 1, 1), (1, 1, 2, 2), (1, 2, 3, 5), (2, 3, 7, 9), (1, 1, 5, 17)]
    for dt in (np.float32, np.float64):
        for shape in shapes:
            N, C, H, W = shape
            x = g.array(rng.standard_normal(shape).astype(dt), where)
            tag = f"{dt.__name__}-{'x'.join(map(str, shape))}"
            # pooling: forward through functional (outputs are NumPy's), then through the binding
            # with guarded outputs and indices as well
            for k, s, p in ((1, 1, 0), (2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 1)):
                if family not in ("maxpool", "avgpool") or k > H + 2 * p or k > W + 2 * p:
                    continue
                for ceil in (False, True):
                    Ho, Wo = F.pool_output_size(H, k, s, p, ceil), F.pool_output_size(W, k, s, p, ceil)
                    desc = (N, C, H, W, k, k, s, s, p, p, Ho, Wo)
                    y = g.empty((N * C * Ho * Wo,), dt, where)
                    idx = g.empty((N * C * Ho * Wo,), np.int64, where)
                    name = f"{tag}-k{k}s{s}p{p}{'c' if ceil else ''}"
                    add(f"maxpool-{name}", lambda desc=desc, x=x, y=y, idx=idx: _ext.max_pool2d_forward(
                        state.isa, state.num_threads, desc, x.reshape(-1), y, idx, True))
                    add(f"maxpool-noidx-{name}", lambda desc=desc, x=x, y=y, idx=idx: _ext.max_pool2d_forward(
                        state.isa, state.num_threads, desc, x.reshape(-1), y, idx, False))
                    gx = g.empty((x.size,), dt, where)
                    add(f"maxpool-bwd-{name}", lambda desc=desc, y=y, idx=idx, gx=gx, x=x: (
                        _ext.max_pool2d_forward(state.isa, state.num_threads, desc, x.reshape(-1), y, idx, True),
                        _ext.max_pool2d_backward(state.isa, state.num_threads, desc, y, idx, gx)))
                    for cip in (True, False):
                        add(f"avgpool-{name}-{cip}", lambda desc=desc, x=x, y=y, cip=cip: _ext.avg_pool2d_forward(
                            state.isa, state.num_threads, desc, cip, x.reshape(-1), y))
                        add(f"avgpool-bwd-{name}-{cip}", lambda desc=desc, y=y, gx=gx, cip=cip:
                            _ext.avg_pool2d_backward(state.isa, state.num_threads, desc, cip, y, gx))
            for P, Q in ((1, 1), (2, 3), (H, W), (H + 1, W + 2)) if family == "adaptive" else ():
                desc = (N, C, H, W, 1, 1, 1, 1, 0, 0, P, Q)
                y = g.empty((N * C * P * Q,), dt, where)
                gx = g.empty((x.size,), dt, where)
                add(f"adaptive-{tag}-{P}x{Q}", lambda desc=desc, x=x, y=y: _ext.adaptive_avg_pool2d_forward(
                    state.isa, state.num_threads, desc, x.reshape(-1), y))
                add(f"adaptive-bwd-{tag}-{P}x{Q}", lambda desc=desc, y=y, gx=gx:
                    _ext.adaptive_avg_pool2d_backward(state.isa, state.num_threads, desc, y, gx))
            # convolution, every algorithm, forward and both gradients, guarded everywhere
            for K, R, S, st, pd in ((1, 1, 1, 1, 0), (3, 3, 3, 1, 1), (5, 2, 3, 2, 0), (4, 1, 1, 2, 0)):
                if family != "conv" or R > H + 2 * pd or S > W + 2 * pd:
                    continue
                P, Q = (H + 2 * pd - R) // st + 1, (W + 2 * pd - S) // st + 1
                desc = (N, C, H, W, K, R, S, st, st, pd, pd, P, Q)
                w = g.array(rng.standard_normal(K * C * R * S).astype(dt), where)
                b = g.array(rng.standard_normal(K).astype(dt), where)
                y = g.empty((N * K * P * Q,), dt, where)
                gx = g.empty((x.size,), dt, where)
                gw = g.empty((w.size,), dt, where)
                gb = g.empty((K,), dt, where)
                algos = ["direct", "im2col"] + (["1x1"] if (R, S, st, pd) == (1, 1, 1, 0) else [])
                if "winograd" in F.CONV_ALGOS and (R, S, st) == (3, 3, 1):
                    algos.append("winograd")
                for algo in algos:
                    name = f"{tag}-K{K}R{R}S{S}s{st}p{pd}-{algo}"
                    add(f"conv-{name}", lambda d=desc, x=x, w=w, b=b, y=y, a=algo: _ext.conv2d_forward(
                        a, state.isa, state.num_threads, d, x.reshape(-1), w, b, True, True, y))
                    if algo == "winograd":
                        continue   # forward only
                    add(f"conv-gx-{name}", lambda d=desc, y=y, w=w, gx=gx, a=algo: _ext.conv2d_grad_input(
                        a, state.isa, state.num_threads, d, y, w, gx))
                    add(f"conv-gw-{name}", lambda d=desc, y=y, x=x, gw=gw, a=algo: _ext.conv2d_grad_weight(
                        a, state.isa, state.num_threads, d, y, x.reshape(-1), gw))
                add(f"conv-gb-{tag}-K{K}", lambda d=desc, y=y, gb=gb: _ext.conv2d_grad_bias(
                    state.isa, state.num_threads, d, y, gb))
    # GEMM with every edge of the register blocks
    for dt in (np.float32, np.float64) if family == "gemm" else ():
        for M, K, N in ((1, 1, 1), (3, 5, 7), (17, 9, 33), (31, 1, 2), (65, 40, 13)):
            a = g.array(rng.standard_normal((M, K)).astype(dt), where)
            bm = g.array(rng.standard_normal((K, N)).astype(dt), where)
            c = g.empty((M, N), dt, where)
            for ta, tb in ((False, False), (True, False), (False, True), (True, True)):
                aa = a if not ta else g.array(np.ascontiguousarray(a.T), where)
                bb = bm if not tb else g.array(np.ascontiguousarray(bm.T), where)
                add(f"gemm-{dt.__name__}-{M}x{K}x{N}-{int(ta)}{int(tb)}",
                    lambda aa=aa, bb=bb, c=c, ta=ta, tb=tb: _ext.gemm(state.isa, state.num_threads, ta, tb, aa, bb,
                                                                     c, 1.0, 0.5))
    return out


def _child_main(isa, threads, where, start, skip):
    import fastconv as fc
    fc.set_isa(isa)
    fc.set_num_threads(threads)
    g = Guarded()
    cases = [c for fam in FAMILIES if fam not in skip for c in _cases(g, where, fam)
             if c[0].split("-")[0] == fam]
    for i, (name, fn) in enumerate(cases):
        if i < start:
            continue
        sys.stdout.write(f"BEGIN {i} {name}\n")
        sys.stdout.flush()
        try:
            fn()
        except (ValueError, OverflowError) as exc:   # a refused descriptor is fine, a fault is not
            sys.stdout.write(f"REFUSED {name} {exc}\n")
    counts = {}
    for name, _ in cases:
        counts[name.split("-")[0]] = counts.get(name.split("-")[0], 0) + 1
    sys.stdout.write(json.dumps(counts) + "\n")


# ---- parent side -----------------------------------------------------------------------------

_RESULTS = {}
MAX_CRASHES = 3   # per family: enough to name the bug, cheap enough for CI


def run_guarded(isa, threads, where):
    """Every family for one configuration, in as few child processes as possible: after a crash
    the next child resumes after the culprit (and drops a family once it crashed MAX_CRASHES
    times). Returns {family: (cases run, [(case, return code)], [refused lines])}."""
    key = (isa, threads, where)
    if key in _RESULTS:
        return _RESULTS[key]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    crashes = {f: [] for f in FAMILIES}
    refused = {f: [] for f in FAMILIES}
    counts = {}
    start, skip = 0, []
    while True:
        proc = subprocess.run([sys.executable, HERE, "--child", isa, str(threads), where, str(start), ",".join(skip)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        lines = proc.stdout.splitlines()
        for ln in lines:
            if ln.startswith("REFUSED "):
                refused[ln.split()[1].split("-")[0]].append(ln)
        begun = [ln.split(" ", 2) for ln in lines if ln.startswith("BEGIN ")]
        if proc.returncode == 0:
            assert lines and lines[-1].startswith("{"), proc.stdout[-2000:]
            counts.update(json.loads(lines[-1]))
            break
        if not begun:
            raise RuntimeError(f"guarded child failed before any call:\n{proc.stderr[-3000:]}")
        name = begun[-1][2]
        fam = name.split("-")[0]
        crashes[fam].append((name, proc.returncode))
        if len(crashes[fam]) >= MAX_CRASHES:
            # restart without that family: indices shift, so count again from the family after it
            skip.append(fam)
            start = 0
            done_before = [f for f in FAMILIES[:FAMILIES.index(fam)] if f not in skip]
            # families before the dropped one already ran clean up to here: skip them too, but
            # remember that they completed
            for f in done_before:
                counts.setdefault(f, -1)
                skip.append(f)
        else:
            start = int(begun[-1][1]) + 1
    out = {f: (counts.get(f), crashes[f], refused[f]) for f in FAMILIES}
    _RESULTS[key] = out
    return out


FAMILIES = ["maxpool", "avgpool", "adaptive", "conv", "gemm"]
# one thread everywhere; the threaded split of rows and tiles once per SIMD path
CONFIGS = [(isa, 1, where) for isa in ISAS for where in ("end", "start")] + [(ISAS[-1], 2, "end")]


def _params():
    # (SIMD max pooling loaded a whole vector from tiny planes until e91594f: this test and
    # tools/sanitize.sh both caught it)
    return [pytest.param(isa, threads, where, fam, id=f"{fam}-{isa}-t{threads}-{where}")
            for isa, threads, where in CONFIGS for fam in FAMILIES]


@pytest.mark.parametrize("isa,threads,where,family", _params())
def test_no_kernel_touches_memory_outside_its_arrays(isa, threads, where, family):
    done, crashes, refused = run_guarded(isa, threads, where)[family]
    assert not crashes, (f"{family}, {isa}, {threads} thread(s), arrays at the {where} of their pages: "
                         f"call(s) died (-11 is SIGSEGV): " + "; ".join(f"{c} ({rc})" for c, rc in crashes))
    assert done is not None and (done == -1 or done >= 40), done
    assert not refused, refused[:5]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child_main(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]),
                    [f for f in sys.argv[6].split(",") if f])
