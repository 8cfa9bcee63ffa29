#!/usr/bin/env python
"""Coverage-guided fuzzing of fastconv's kernels over their whole argument space (atheris).

Each input is a byte string decoded into one call: which op, array shapes (valid, degenerate or
inconsistent), dtypes, memory layouts, stride/padding/kernel values (from 0 and negatives to
2**63), flags, the SIMD path and the thread count. A call must either

  * raise ValueError / TypeError (MemoryError for sizes beyond memory), or
  * return the result fastconv.reference computes (differential check),

and never crash, hang or return garbage. A second mode ("raw") calls the Cython binding
directly with buffers sized from a fuzzed descriptor, so that the C kernels' own descriptor
checks (the second line of defence behind fastconv.functional) are fuzzed too; there the kernel
must refuse the descriptor or produce the reference result.

    python tests/fuzz/fuzz_kernels.py -runs=20000                # libFuzzer flags via atheris
    python tests/fuzz/fuzz_kernels.py -max_total_time=600 corpus/
    python tests/fuzz/fuzz_kernels.py --random 5000              # no atheris: random inputs
    tools/fuzz.sh                                                # the same, sized by env vars

Without atheris installed the same target runs on seeded random byte strings (no coverage
guidance), so CI always exercises it. Only the Python side is instrumented for coverage (gcc
has no libFuzzer instrumentation); run under tools/sanitize.sh to catch memory errors in C.
"""
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))   # tests/, for helpers
from helpers import limit_address_space  # noqa: E402

try:
    import atheris
except ImportError:   # plain random mode below
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["fastconv"]):
        import fastconv
        import fastconv.functional as F
        import fastconv.reference as R
        from fastconv import _ext
        from fastconv._config import state
else:
    import fastconv
    import fastconv.functional as F
    import fastconv.reference as R
    from fastconv import _ext
    from fastconv._config import state

CLEAN = (ValueError, TypeError, MemoryError)
MAX_ELEMS = 4096          # arrays the harness builds stay tiny: thousands of calls per second
ISAS = ("scalar", "avx2", "avx512")[: ("scalar", "avx2", "avx512").index(fastconv.cpu_isa()) + 1]
STATS = {"calls": 0, "refused": 0, "checked": 0}


class Bytes:
    """Decodes fuzz bytes into choices; past the end every read gives zeros (a valid default)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk + b"\0" * (n - len(chunk))

    def u8(self):
        return self.take(1)[0]

    def int_in(self, lo, hi):
        return lo + struct.unpack("<I", self.take(4))[0] % (hi - lo + 1)

    def pick(self, options):
        return options[self.u8() % len(options)]

    def flag(self):
        return bool(self.u8() & 1)

    def size(self, lo=0, hi=6):
        """Mostly small sizes; sometimes 0, a negative or a huge one."""
        kind = self.u8()
        if kind < 200:
            return self.int_in(lo, hi)
        return self.pick([0, 1, -1, -7, 2**31, 2**31 - 1, 2**32 + 1, 2**62, 2**63 - 1, 2**63, 2**64])

    def param(self, lo=0, hi=4):
        """A stride/padding/kernel argument: int, pair, or something that is not one."""
        kind = self.u8()
        if kind < 150:
            return self.int_in(lo, hi)
        if kind < 220:
            return (self.int_in(lo, hi), self.int_in(lo, hi))
        return self.pick([0, -1, -3, 2**31, 2**63 - 1, 2**63, 2**70, (1,), (1, 2, 3), (1, -1), 1.5, "2",
                          None, True, np.int64(2), np.int8(-1), [2, 2], np.array([1, 2])])

    def seed(self):
        return struct.unpack("<I", self.take(4))[0]


def _array(b, shape, dtype, special=True):
    """An array of `shape` (refused up front if too large to build cheaply), in a fuzzed layout,
    sometimes of a wrong dtype, with NaN/inf/ties sometimes (if `special`)."""
    if any(not isinstance(s, int) or s < 0 or s > 2**40 for s in shape):
        return None
    total = 1
    for s in shape:
        total *= s
    if total > MAX_ELEMS:
        return None
    rng = np.random.default_rng(b.seed())
    kind = b.u8() % 8
    if not special and kind in (2, 3):
        kind = 0
    try:   # empty arrays may still have huge dimensions, which NumPy refuses past its limits
        a = rng.integers(-2, 3, size=shape).astype(dtype) if kind == 1 else rng.standard_normal(shape).astype(dtype)
    except ValueError:
        return None
    if kind == 2 and a.size and a.dtype.kind in "fc":
        a.reshape(-1)[rng.integers(0, a.size, size=max(1, a.size // 5))] = np.nan
    if kind == 3 and a.size and a.dtype.kind in "fc":
        a.reshape(-1)[rng.integers(0, a.size, size=max(1, a.size // 5))] = rng.choice([np.inf, -np.inf])
    layout = b.u8() % 6
    if layout == 1:
        a = np.asfortranarray(a)
    elif layout == 2 and a.ndim and a.shape[-1]:
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 2,), a.dtype)
        big[..., ::2] = a
        a = big[..., ::2]
    elif layout == 3:
        a = a.copy()
        a.flags.writeable = False
    elif layout == 4 and a.size and a.dtype != object:   # misaligned: address not a multiple of itemsize
        raw = np.zeros(a.nbytes + 1, np.uint8)
        view = np.frombuffer(raw.data, a.dtype, count=a.size, offset=1).reshape(a.shape)
        view[...] = a
        a = view
    return a


def _dtype(b):
    return b.pick([np.float32, np.float64, np.float32, np.float64, np.float16, np.int32, np.complex64, object])


def _close(got, ref, dtype):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert np.array_equal(np.isnan(got), np.isnan(ref)), "NaN positions differ"
    fin = np.isfinite(ref)
    assert np.array_equal(np.isinf(got), np.isinf(ref)), "inf positions differ"
    if fin.any():
        scale = np.max(np.abs(ref[fin])) + 1.0
        tol = (2e-4 if dtype == np.float32 else 1e-9) * scale
        err = np.max(np.abs(got[fin] - ref[fin]))
        assert err <= tol, f"error {err} > {tol}"


def _small(*things):
    """The reference pads and builds dense helper matrices from the dimensions: only ask it about
    arrays (empty ones may carry huge dimensions) and parameters that are all modest."""
    for t in things:
        if isinstance(t, np.ndarray):
            vals = t.shape
        elif t is None or isinstance(t, str):
            continue
        else:
            vals = [int(i) for i in (t if isinstance(t, (tuple, list)) else [t])]
        if max(vals, default=0) > 64:
            return False
    return True


def _norm(v):
    """A parameter fastconv accepted, in the plain int / tuple form the reference expects."""
    if v is None:
        return None
    if isinstance(v, (tuple, list, np.ndarray)):
        return tuple(int(i) for i in v)
    return int(v)


def _call(fn, *args, **kw):
    """Run a public call: returns its result, or None if it was refused cleanly."""
    try:
        return fn(*args, **kw)
    except CLEAN:
        STATS["refused"] += 1
        return None


# ---- ops over the public API -------------------------------------------------------------------

def op_conv(b):
    dt = _dtype(b)
    N, C, H, W = b.size(0, 3), b.size(1, 5), b.size(1, 9), b.size(1, 9)
    K, Cw, Rk, Sk = b.size(0, 5), (C if b.u8() < 230 else b.size(0, 5)), b.size(1, 4), b.size(1, 4)
    x = _array(b, (N, C, H, W), dt)
    w = _array(b, (K, Cw, Rk, Sk), dt if b.u8() < 240 else np.float64, special=False)
    bias = _array(b, (K if b.u8() < 240 else K + 1,), dt, special=False) if b.flag() else None
    stride, padding = b.param(1, 3), b.param(0, 2)
    algo = b.pick(["auto", "direct", "im2col", "1x1", "auto", "direct", "im2col", "fft"])
    relu = b.flag()
    backward = b.flag()
    if x is None or w is None:
        return
    y = _call(F.conv2d, x, w, bias, stride, padding, algo=algo, relu=relu)
    if y is None or not _small(x, w, y):
        return
    stride, padding = _norm(stride), _norm(padding)
    if not _small(stride, padding):
        return
    ref = R.conv2d(x, w, bias, stride, padding, relu=relu)
    _close(y, ref, x.dtype)
    STATS["checked"] += 1
    if backward:
        gy = _array(b, y.shape, x.dtype, special=False)
        if gy is None or not np.isfinite(x).all():
            return
        got = _call(F.conv2d_backward, gy, x, w, stride, padding, algo=algo)
        if got is not None:
            for g, r in zip(got, R.conv2d_backward(gy, x, w, stride, padding)):
                _close(g, r, x.dtype)
            STATS["checked"] += 1


def _pool_common(b):
    dt = _dtype(b)
    x = _array(b, (b.size(0, 3), b.size(0, 4), b.size(1, 10), b.size(1, 10)), dt)
    return x, b.param(1, 5), (None if b.flag() else b.param(1, 5)), b.param(0, 2), b.flag()


def op_max_pool(b):
    x, k, s, p, ceil = _pool_common(b)
    if x is None:
        return
    res = _call(F.max_pool2d, x, k, s, p, ceil_mode=ceil, return_indices=True)
    if res is None or not _small(x, res[0]):
        return
    y, idx = res
    k, s, p = _norm(k), _norm(s), _norm(p)
    if not _small(k, s, p):
        return
    ry, ridx = R.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
    assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(idx, ridx), "max_pool2d differs"
    STATS["checked"] += 1
    # backward with the true indices, or with corrupted ones that must be refused
    gy = _array(b, y.shape, x.dtype, special=False)
    if gy is None:
        return
    mode = b.u8() % 4
    if mode == 1 and idx.size:
        idx = idx.copy()
        idx.reshape(-1)[b.int_in(0, idx.size - 1)] = b.pick([-1, x.shape[2] * x.shape[3], 2**62, -2**63])
    elif mode == 2:
        idx = idx.astype(b.pick([np.int32, np.uint16, np.float64, np.int8]))
    shape = x.shape if mode != 3 else b.pick([(x.shape[0], x.shape[1], 1, 1), (1, 2, 3), (-1, 1, 1, 1),
                                              (x.shape[0], x.shape[1], 2**40, 2**40)])
    gx = _call(F.max_pool2d_backward, gy, idx, shape)
    if gx is not None and mode == 0:
        _close(gx, R.max_pool2d_backward(gy, ridx, x.shape), x.dtype)
        STATS["checked"] += 1


def op_avg_pool(b):
    x, k, s, p, ceil = _pool_common(b)
    cip = b.flag()
    if x is None:
        return
    y = _call(F.avg_pool2d, x, k, s, p, ceil_mode=ceil, count_include_pad=cip)
    if y is None or not _small(x, y):   # NaN/inf inputs included: they stay in their windows
        return
    k, s, p = _norm(k), _norm(s), _norm(p)
    if not _small(k, s, p):
        return
    _close(y, R.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip), x.dtype)
    STATS["checked"] += 1
    gy = _array(b, y.shape, x.dtype)   # NaN/inf gradients stay in their windows too
    if gy is not None:
        gx = _call(F.avg_pool2d_backward, gy, x.shape, k, s, p, ceil_mode=ceil, count_include_pad=cip)
        if gx is not None:
            _close(gx, R.avg_pool2d_backward(gy, x.shape, k, s, p, ceil_mode=ceil, count_include_pad=cip), x.dtype)
            STATS["checked"] += 1


def op_adaptive(b):
    dt = _dtype(b)
    x = _array(b, (b.size(0, 3), b.size(0, 4), b.size(0, 10), b.size(0, 10)), dt)
    out = b.param(1, 12) if b.u8() < 230 else (None, b.int_in(1, 5))
    if x is None:
        return
    y = _call(F.adaptive_avg_pool2d, x, out)
    if y is None or not _small(x, y):
        return
    _close(y, R.adaptive_avg_pool2d(x, y.shape[2:]), x.dtype)
    STATS["checked"] += 1
    gy = _array(b, y.shape, x.dtype)
    if gy is not None:
        gx = _call(F.adaptive_avg_pool2d_backward, gy, x.shape)
        if gx is not None:
            _close(gx, R.adaptive_avg_pool2d_backward(gy, x.shape), x.dtype)
            STATS["checked"] += 1


def op_matmul(b):
    dt = _dtype(b)
    M, K, N = b.size(0, 40), b.size(0, 40), b.size(0, 40)
    a = _array(b, (M, K), dt, special=False)
    c = _array(b, (K if b.u8() < 240 else K + 1, N), dt if b.u8() < 240 else np.float64, special=False)
    if a is None or c is None:
        return
    got = _call(F.matmul, a, c)
    if got is not None:
        ref = a.astype(np.float64) @ c.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            _close(got, ref, a.dtype)
        STATS["checked"] += 1


# ---- the binding directly: fuzzed descriptors, buffers sized from them ---------------------------

def _buf(n, dtype, rng):
    return rng.standard_normal(n).astype(dtype) if n else np.empty(0, dtype)


def op_raw_conv(b):
    dt = b.pick([np.float32, np.float64])
    desc = tuple(b.pick([b.int_in(0, 6), b.int_in(0, 6), b.int_in(-2, 9), 0, 1, 2**62]) for _ in range(13))
    N, C, H, W, K, Rk, Sk, sh, sw, ph, pw, P, Q = desc
    sizes = [N * C * H * W, K * C * Rk * Sk, N * K * P * Q]
    if min(desc) < 0 or max(sizes + [K]) > MAX_ELEMS:
        return   # cannot build consistent buffers; overflowing descriptors are tests/test_reliability_large.py's
    rng = np.random.default_rng(b.seed())
    x, w, y = _buf(sizes[0], dt, rng), _buf(sizes[1], dt, rng), np.full(sizes[2], np.nan, dt)
    bias = _buf(K, dt, rng)
    algo = b.pick(["direct", "im2col", "1x1"])
    which = b.u8() % 3
    consistent = (sh >= 1 and sw >= 1 and Rk <= H + 2 * ph and Sk <= W + 2 * pw
                  and P == (H + 2 * ph - Rk) // max(sh, 1) + 1 and Q == (W + 2 * pw - Sk) // max(sw, 1) + 1)
    try:
        if which == 0:
            _ext.conv2d_forward(algo, state.isa, state.num_threads, desc, x, w, bias, True, False, y)
        elif which == 1:
            _ext.conv2d_grad_input(algo, state.isa, state.num_threads, desc, y.copy(), w, x)
        else:
            _ext.conv2d_grad_weight(algo, state.isa, state.num_threads, desc, y.copy(), x, w)
    except (ValueError, OverflowError):
        STATS["refused"] += 1
        return
    # accepted: the descriptor must have been a valid one, and the forward result right
    assert consistent or 0 in (N, K, P, Q, C), f"C accepted an inconsistent descriptor {desc} ({algo})"
    if which == 0 and consistent and sizes[2] and C:
        ref = R.conv2d(x.reshape(N, C, H, W), w.reshape(K, C, Rk, Sk), bias, (sh, sw), (ph, pw))
        _close(y.reshape(N, K, P, Q), ref, dt)
        STATS["checked"] += 1


def op_raw_pool(b):
    dt = b.pick([np.float32, np.float64])
    desc = tuple(b.pick([b.int_in(0, 5), b.int_in(0, 5), b.int_in(-1, 8), 0, 1]) for _ in range(12))
    N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q = desc
    nx, ny = N * C * H * W, N * C * P * Q
    if min(desc) < 0 or max(nx, ny) > MAX_ELEMS:
        return
    rng = np.random.default_rng(b.seed())
    x, y = _buf(nx, dt, rng), np.full(ny, np.nan, dt)
    idx = np.zeros(ny, np.int64)
    which = b.u8() % 5
    try:
        if which == 0:
            _ext.max_pool2d_forward(state.isa, state.num_threads, desc, x, y, idx, True)
        elif which == 1:
            _ext.avg_pool2d_forward(state.isa, state.num_threads, desc, b.flag(), x, y)
        elif which == 2:
            _ext.adaptive_avg_pool2d_forward(state.isa, state.num_threads, desc, x, y)
        elif which == 3:
            idx = rng.integers(-2, max(H * W, 1) + 2, size=ny).astype(np.int64)
            _ext.max_pool2d_backward(state.isa, state.num_threads, desc, y.copy(), idx, x)
            assert not ny or not nx or (idx.min() >= 0 and idx.max() < H * W), \
                f"C accepted out-of-range indices {idx.min()}..{idx.max()} for a {H}x{W} plane"
        else:
            _ext.avg_pool2d_backward(state.isa, state.num_threads, desc, b.flag(), y.copy(), x)
    except (ValueError, OverflowError):
        STATS["refused"] += 1
        return
    if which in (0, 1) and ny and nx:
        # accepted: the window must be one the public API could have asked for
        ok = any(P == F.pool_output_size(H, kh, sh, ph, c) and Q == F.pool_output_size(W, kw, sw, pw, c)
                 for c in (False, True)) and sh >= 1 and sw >= 1 and 2 * ph <= kh and 2 * pw <= kw
        assert ok, f"C accepted an inconsistent pooling descriptor {desc}"


OPS = [op_conv, op_conv, op_max_pool, op_avg_pool, op_adaptive, op_matmul, op_raw_conv, op_raw_pool]


def TestOneInput(data):
    b = Bytes(data)
    fastconv.set_isa(b.pick(ISAS))
    fastconv.set_num_threads(b.pick([1, 1, 2, 3]))
    op = b.pick(OPS)
    STATS["calls"] += 1
    with np.errstate(all="ignore"):
        op(b)


def run_random(runs, seed=0):
    """Seeded random inputs (no coverage guidance): the mode CI uses when atheris is missing."""
    rng = np.random.default_rng(seed)
    for i in range(runs):
        data = rng.integers(0, 256, size=int(rng.integers(8, 160)), dtype=np.uint8).tobytes()
        try:
            TestOneInput(data)
        except BaseException:
            sys.stderr.write(f"failing input (run {i}): {data.hex()}\n")
            raise
    return dict(STATS)


def main(argv):
    limit_address_space()
    if "--random" in argv:
        i = argv.index("--random")
        runs = int(argv[i + 1]) if i + 1 < len(argv) else 1000
        seed = int(os.environ.get("FASTCONV_FUZZ_SEED", "0"))
        stats = run_random(runs, seed)
        print(f"random fuzz: {stats}")
        return 0
    if "--replay" in argv:   # re-run saved inputs (hex or raw files) without atheris
        for path in argv[argv.index("--replay") + 1:]:
            with open(path, "rb") as f:
                TestOneInput(f.read())
        print(f"replayed: {STATS}")
        return 0
    if atheris is None:
        print("atheris is not installed (pip install atheris); use --random N", file=sys.stderr)
        return 2
    import atexit
    atexit.register(lambda: print(f"\nfastconv fuzz stats: {STATS}", file=sys.stderr))
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
