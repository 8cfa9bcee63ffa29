"""Pooling kernels (max with indices, average, adaptive average; forward and backward)
against fastconv.reference and torch, on every ISA path and with 1 and 2 threads.

Max pooling must match torch exactly (values and indices): the first maximum of the window in
row-major order wins ties, a NaN wins (the last NaN of the window), an all -inf window points at
its first element, padding never wins. Average pooling follows torch's divisor rules. Shapes
include rows wide enough for full SIMD vectors plus a remainder, non-square kernels and
strides, stride > kernel, ceil_mode windows that overhang, 1x1 inputs and empty batches.
"""
import itertools

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import _ext, reference
from helpers import assert_close, check_grad, rng

ISA_NAMES = ["scalar", "avx2", "avx512"]
ISAS = [n for n in ISA_NAMES if ISA_NAMES.index(n) <= ISA_NAMES.index(fastconv.cpu_isa())]
DTYPES = [np.float32, np.float64]
PATHS = [(isa, threads) for isa in ISAS for threads in (1, 2)]

# (input shape, kernel, stride, padding, ceil_mode)
GRID = [
    ((2, 3, 4, 4), 2, 2, 0, False),
    ((2, 3, 5, 7), 2, 2, 0, False),
    ((2, 3, 5, 7), 2, 2, 0, True),
    ((1, 2, 9, 9), 3, 2, 1, False),           # overlapping windows (ResNet stem)
    ((1, 2, 10, 10), 3, 2, 1, True),
    ((2, 2, 8, 40), 3, 2, 1, False),          # 20 outputs a row: a full vector and a remainder
    ((1, 3, 7, 37), 2, 2, 0, True),
    ((2, 3, 14, 14), 2, 2, 0, False),         # 7 outputs a row: two rows per vector
    ((1, 3, 6, 9), 2, 2, 0, False),           # 2x2/2 on small rows, an odd count of them, odd width
    ((3, 1, 2, 16), 2, 2, 0, False),          # one output row a plane, 8 outputs: a full half
    ((8, 4, 4, 6), 2, 2, 0, False),           # 2x2/2, enough planes for whole planes per thread
    ((2, 3, 8, 40), 2, 2, 0, False),          # 2x2/2, 20 outputs a row: a full vector and a remainder
    ((1, 5, 6, 37), 2, 2, 0, False),          # 2x2/2, 18 outputs a row, odd width (last column unread)
    ((1, 2, 15, 9), 3, 2, 1, False),          # two rows per vector, clipped top and bottom rows
    ((1, 2, 17, 17), 3, 2, 1, True),
    ((1, 1, 7, 1100), 3, 2, 1, False),        # rows wider than the SIMD row cache's chunk
    ((1, 2, 6, 35), 3, 1, 1, False),          # stride 1
    ((1, 2, 6, 35), (2, 3), (1, 2), (1, 1), False),
    ((1, 2, 11, 13), (3, 1), (2, 1), (1, 0), True),
    ((2, 1, 7, 9), (1, 3), (3, 2), (0, 1), True),
    ((1, 2, 10, 31), 2, 3, 1, False),         # stride > kernel
    ((1, 1, 12, 50), (5, 4), (3, 3), (2, 2), True),
    ((1, 1, 1, 1), 1, 1, 0, False),
    ((1, 2, 1, 1), 2, 2, 1, False),           # 1x1 input, window mostly padding
    ((1, 1, 1, 1), 2, 2, 0, True),            # ceil_mode window overhanging the whole input
    ((1, 1, 2, 19), 3, 2, 1, True),
    # planes of >= 16 KB with edge columns: plane by plane, the edge column 8 rows at a time
    ((2, 3, 70, 66), 3, 2, 1, False),         # left edge; rows 1-34 in blocks of 8, then 2
    ((2, 2, 71, 67), 3, 2, 1, True),          # and a right edge column (ceil mode), last row clipped
]
GRID_IDS = [f"{s}-k{k}-s{st}-p{p}{'-ceil' if c else ''}" for s, k, st, p, c in GRID]


def tie_heavy(shape, dtype, seed, specials=True):
    """Small integers (many ties), with some NaN and -inf when specials."""
    g = rng(seed)
    x = g.integers(-3, 4, size=shape).astype(dtype)
    if specials:
        x[g.random(shape) < 0.05] = np.nan
        x[g.random(shape) < 0.15] = -np.inf
    return x


def assert_same(actual, expected, msg=""):
    assert actual.shape == expected.shape, f"{msg}: shape {actual.shape} != {expected.shape}"
    assert np.array_equal(actual, expected, equal_nan=True), f"{msg}: differs\n{actual}\n{expected}"


# ---- the lecture's example ----------------------------------------------------------------

LECTURE_X = [[1, 3, 2, 4],
             [2, 5, 1, 3],
             [4, 2, 6, 1],
             [3, 1, 2, 5]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_lecture_4x4_example(config, dtype):
    x = np.array(LECTURE_X, dtype=dtype)[None, None]
    for isa, threads in PATHS:
        config(isa, threads)
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        assert y.dtype == dtype
        assert_same(y[0, 0], np.array([[5, 4], [4, 6]], dtype=dtype), isa)
        assert_same(idx[0, 0], np.array([[5, 3], [8, 10]]), isa)   # 5 at (1,1), 4 at (0,3), ...
        gx = F.max_pool2d_backward(np.ones_like(y), idx, x.shape)
        assert gx.sum() == 4 and gx[0, 0, 1, 1] == 1 and gx[0, 0, 0, 0] == 0


# ---- max pooling forward --------------------------------------------------------------------

@pytest.mark.parametrize("shape,k,s,p,ceil", GRID, ids=GRID_IDS)
def test_max_forward_matches_reference_every_path(config, shape, k, s, p, ceil):
    for dtype, seed in itertools.product(DTYPES, (0, 1)):
        x = tie_heavy(shape, dtype, seed, specials=seed == 1)
        ref_y, ref_i = reference.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
        for isa, threads in PATHS:
            config(isa, threads)
            y, idx = F.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
            where = f"{isa} {threads}t {dtype.__name__} seed {seed}"
            assert y.dtype == dtype and idx.dtype == np.int64
            assert_same(y, ref_y.astype(dtype), where)
            assert_same(idx, ref_i, where + " indices")
            assert_same(F.max_pool2d(x, k, s, p, ceil_mode=ceil), y, where + " without indices")


@pytest.mark.parametrize("shape,k,s,p,ceil", GRID, ids=GRID_IDS)
def test_max_matches_torch_exactly(config, shape, k, s, p, ceil):
    torch = pytest.importorskip("torch")
    for dtype in DTYPES:
        x = tie_heavy(shape, dtype, 2)
        ty, ti = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, p, ceil_mode=ceil,
                                                return_indices=True)
        gy = rng(3).standard_normal(ty.shape).astype(dtype)
        tgx = torch.ops.aten.max_pool2d_with_indices_backward(
            torch.from_numpy(gy), torch.from_numpy(x), k, s if s else k, p, 1, ceil, ti)
        for isa, threads in PATHS:
            config(isa, threads)
            y, idx = F.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
            assert_same(y, ty.numpy(), f"{isa} {threads}t")
            assert_same(idx, ti.numpy(), f"{isa} {threads}t indices")
            # overlapping windows add in torch's order: the same bits
            assert_same(F.max_pool2d_backward(gy, idx, x.shape), tgx.numpy(), f"{isa} {threads}t backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_infinity_rules(config, dtype):
    nan, inf = np.nan, np.inf
    # one 2x2 window per case: (values, expected max, expected flat index)
    # one 2x2 window per case: (values, expected max, (row, col) of the expected index)
    cases = [
        ([[nan, 1], [2, 3]], nan, (0, 0)),      # a NaN first stays
        ([[1, nan], [9, 3]], nan, (0, 1)),      # a NaN beats a larger number after it
        ([[1, nan], [nan, 3]], nan, (1, 0)),    # the last NaN of the window (torch)
        ([[-inf, -inf], [-inf, -inf]], -inf, (0, 0)),
        ([[-inf, -inf], [-7, -inf]], -7, (1, 0)),
        ([[inf, 1], [inf, nan]], nan, (1, 1)),
        ([[2, 2], [2, 2]], 2, (0, 0)),          # ties: the first
        ([[1, 2], [inf, 2]], inf, (1, 0)),
    ]
    x = np.zeros((1, len(cases), 2, 2), dtype=dtype)
    for c, (v, _, _) in enumerate(cases):
        x[0, c] = v
    # the same windows side by side in one long row, so that SIMD lanes see them
    wide = np.concatenate([x[0, c] for c in range(len(cases))] * 3, axis=1)[None, None]
    Wd = wide.shape[3]
    for isa, threads in PATHS:
        config(isa, threads)
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        wy, widx = F.max_pool2d(wide, 2, return_indices=True)
        for c, (_, want, (r, col)) in enumerate(cases):
            got = y[0, c, 0, 0]
            assert (np.isnan(got) and np.isnan(want)) or got == want, (isa, c, got)
            assert idx[0, c, 0, 0] == r * 2 + col, (isa, c, idx[0, c, 0, 0])
            for rep in range(3):
                q = rep * len(cases) + c
                wgot = wy[0, 0, 0, q]
                assert (np.isnan(wgot) and np.isnan(want)) or wgot == want, (isa, q, wgot)
                assert widx[0, 0, 0, q] == r * Wd + 2 * q + col, (isa, q, widx[0, 0, 0, q])


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_minus_inf_with_padding_points_inside(config, dtype):
    x = np.full((1, 1, 5, 40), -np.inf, dtype=dtype)
    ref_i = reference.max_pool2d(x, 3, 2, 1, return_indices=True)[1]
    for isa, threads in PATHS:
        config(isa, threads)
        y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert np.all(y == -np.inf)
        assert_same(idx, ref_i, isa)
        assert idx[0, 0, 0, 0] == 0 and idx[0, 0, 0, 1] == 1   # first element inside the input
        assert np.all((idx >= 0) & (idx < 5 * 40))


@pytest.mark.parametrize("dtype", DTYPES)
def test_padding_never_wins(config, dtype):
    x = -1 - rng(4).random((2, 3, 9, 33)).astype(dtype)    # all negative: a zero pad would win
    for isa, threads in PATHS:
        config(isa, threads)
        y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
        assert np.all(y < -1)
        flat = x.reshape(2, 3, -1)
        assert_same(np.take_along_axis(flat, idx.reshape(2, 3, -1), axis=2).reshape(y.shape), y, isa)


def test_ceil_mode_output_sizes():
    # ceil_mode adds a last window only where torch does (it must start inside input or left pad)
    for H, k, s, p, want in [(5, 2, 2, 0, 3), (4, 2, 2, 0, 2), (10, 3, 2, 1, 6), (1, 2, 2, 0, 1),
                             (6, 3, 3, 1, 3), (7, 3, 2, 1, 4)]:
        x = np.zeros((1, 1, H, H), np.float32)
        assert F.max_pool2d(x, k, s, p, ceil_mode=True).shape[2:] == (want, want), (H, k, s, p)
        assert F.avg_pool2d(x, k, s, p, ceil_mode=True).shape[2:] == (want, want), (H, k, s, p)


def test_cached_pooling_arguments_still_checked():
    """Plain-int pooling arguments are remembered per input shape; arguments that merely compare
    equal to cached ones (a float, a NumPy integer, a bool) still meet the full checks."""
    x = np.zeros((1, 2, 6, 6), np.float32)
    assert F.max_pool2d(x, 2, 2).shape == (1, 2, 3, 3)
    assert F.max_pool2d(x, 2, 2).shape == (1, 2, 3, 3)   # from the cache
    with pytest.raises(TypeError):
        F.max_pool2d(x, 2.0, 2)
    with pytest.raises(TypeError):
        F.max_pool2d(x, 2, 2, ceil_mode=1)
    for _ in range(2):   # padding more than half the window: refused every time
        with pytest.raises(ValueError):
            F.max_pool2d(x, 2, 2, 2)
    assert F.max_pool2d(x, np.int64(2), (2, 2)).shape == (1, 2, 3, 3)
    assert F.max_pool2d(x, 3, 2, 1, ceil_mode=True).shape == (1, 2, 4, 4)   # ceil_mode is in the key
    assert F.max_pool2d(x, 3, 2, 1).shape == (1, 2, 3, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch_and_channels(config, dtype):
    for shape in [(0, 3, 8, 8), (2, 0, 8, 8)]:
        x = np.zeros(shape, dtype)
        for isa, threads in PATHS:
            config(isa, threads)
            y, idx = F.max_pool2d(x, 2, return_indices=True)
            assert y.shape == shape[:2] + (4, 4) and idx.shape == y.shape
            assert F.max_pool2d_backward(y, idx, shape).shape == shape
            assert F.avg_pool2d(x, 3, 2, 1).shape == shape[:2] + (4, 4)
            assert F.avg_pool2d_backward(np.zeros(shape[:2] + (4, 4), dtype), shape, 3, 2, 1).shape == shape
            assert F.adaptive_avg_pool2d(x, 3).shape == shape[:2] + (3, 3)
            assert F.adaptive_avg_pool2d_backward(np.zeros(shape[:2] + (3, 3), dtype), shape).shape == shape


# ---- max pooling backward -------------------------------------------------------------------

@pytest.mark.parametrize("shape,k,s,p,ceil", GRID, ids=GRID_IDS)
def test_max_backward_scatters_at_indices(config, shape, k, s, p, ceil):
    for dtype in DTYPES:
        x = tie_heavy(shape, dtype, 5)
        _, idx = reference.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
        gy = rng(6).standard_normal(idx.shape).astype(dtype)
        want = np.zeros(shape, dtype)
        N, C = shape[:2]
        for n, c in itertools.product(range(N), range(C)):
            np.add.at(want[n, c].reshape(-1), idx[n, c].reshape(-1), gy[n, c].reshape(-1))
        ref = reference.max_pool2d_backward(gy, idx, shape)
        for isa, threads in PATHS:
            config(isa, threads)
            gx = F.max_pool2d_backward(gy, idx, shape)
            assert gx.dtype == dtype
            assert_same(gx, want, f"{isa} {threads}t")
            assert_close(gx, ref, msg=f"{isa} {threads}t vs reference")


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_backward_accumulates_arbitrary_indices(config, dtype):
    """Every output may point anywhere in its plane; where several point at one element, their
    gradients add up in output order."""
    shape = (1, 2, 5, 6)
    idx = rng(7).integers(0, 30, size=(1, 2, 8, 9))
    idx[0, 0, :, :] = 17                       # everything lands on one element
    gy = rng(8).standard_normal(idx.shape).astype(dtype)
    want = np.zeros(shape, dtype)
    for c in range(2):
        for i, g in zip(idx[0, c].reshape(-1), gy[0, c].reshape(-1)):
            want[0, c].reshape(-1)[i] += g
    for isa, threads in PATHS:
        config(isa, threads)
        assert_same(F.max_pool2d_backward(gy, idx, shape), want, f"{isa} {threads}t")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [-1, 30, 2**40, -2**62])
def test_max_backward_kernel_rejects_out_of_range_index_before_writing(dtype, bad):
    """The C kernel itself checks every index (Python checks first; this calls the binding)."""
    gy = np.ones((1, 2, 3, 3), dtype)
    idx = np.zeros((1, 2, 3, 3), np.int64)
    idx[0, 1, 2, 2] = bad                     # the very last index is the bad one
    gx = np.full((1, 2, 5, 6), 7, dtype)
    desc = (1, 2, 5, 6, 1, 1, 1, 1, 0, 0, 3, 3)
    for isa in range(ISA_NAMES.index(fastconv.cpu_isa()) + 1):
        for threads in (1, 2):
            with pytest.raises(ValueError):
                _ext.max_pool2d_backward(isa, threads, desc, gy.reshape(-1), idx.reshape(-1), gx.reshape(-1))
            assert np.all(gx == 7), "grad_x was written before the indices were checked"


# ---- descriptor validation in C ------------------------------------------------------------

def _desc(N=1, C=1, H=8, W=8, kh=2, kw=2, sh=2, sw=2, ph=0, pw=0, P=4, Q=4):
    return (N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q)


@pytest.mark.parametrize("bad", [
    dict(P=5), dict(Q=3), dict(P=0), dict(kh=0), dict(sw=0), dict(ph=2, P=6),
    dict(pw=-1), dict(H=0, P=0), dict(N=-1), dict(kh=3, ph=2, P=5),
    dict(kh=2, kw=2, sh=1, sw=1, P=9, Q=9),   # neither floor- nor ceil-mode size
])
def test_kernels_refuse_inconsistent_descriptors(bad):
    d = _desc(**bad)
    x = np.zeros(64, np.float32)
    y = np.full(100, 7, np.float32)
    idx = np.zeros(100, np.int64)
    with pytest.raises(ValueError):
        _ext.max_pool2d_forward(0, 1, d, x, y, idx, True)
    with pytest.raises(ValueError):
        _ext.avg_pool2d_forward(0, 1, d, True, x, y)
    with pytest.raises(ValueError):
        _ext.avg_pool2d_backward(0, 1, d, True, y, x)
    assert np.all(y == 7)


def test_kernels_refuse_overflowing_sizes():
    big = 2**31
    d = (big, big, 4, 4, 1, 1, 1, 1, 0, 0, 4, 4)
    with pytest.raises((ValueError, OverflowError)):
        _ext.max_pool2d_forward(0, 1, d, np.zeros(1, np.float32), np.zeros(1, np.float32),
                                np.zeros(1, np.int64), True)
    with pytest.raises((ValueError, OverflowError)):
        _ext.adaptive_avg_pool2d_forward(0, 1, d, np.zeros(1, np.float32), np.zeros(1, np.float32))


# ---- average pooling ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape,k,s,p,ceil", GRID, ids=GRID_IDS)
def test_avg_matches_reference_every_path(config, shape, k, s, p, ceil):
    for dtype, include_pad in itertools.product(DTYPES, (True, False)):
        x = rng(9).standard_normal(shape).astype(dtype)
        ref = reference.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
        gy = rng(10).standard_normal(ref.shape).astype(dtype)
        ref_g = reference.avg_pool2d_backward(gy, shape, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
        for isa, threads in PATHS:
            config(isa, threads)
            where = f"{isa} {threads}t {dtype.__name__} include_pad={include_pad}"
            y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
            assert y.dtype == dtype
            assert_close(y, ref, msg=where)
            g = F.avg_pool2d_backward(gy, shape, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
            assert_close(g, ref_g, msg=where + " backward")


@pytest.mark.parametrize("shape,k,s,p,ceil", GRID, ids=GRID_IDS)
def test_avg_matches_torch(shape, k, s, p, ceil):
    torch = pytest.importorskip("torch")
    for dtype, include_pad in itertools.product(DTYPES, (True, False)):
        x = rng(11).standard_normal(shape).astype(dtype)
        tx = torch.from_numpy(x).requires_grad_()
        ty = torch.nn.functional.avg_pool2d(tx, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
        gy = rng(12).standard_normal(ty.shape).astype(dtype)
        ty.backward(torch.from_numpy(gy))
        # same summation order as torch's NCHW kernel: equal to the last bit in practice
        assert_close(F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad),
                     ty.detach().numpy(), rtol=1e-12 if dtype == np.float64 else 1e-6)
        assert_close(F.avg_pool2d_backward(gy, shape, k, s, p, ceil_mode=ceil, count_include_pad=include_pad),
                     tx.grad.numpy(), rtol=1e-12 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_sums_in_window_order_to_the_bit(config, dtype):
    """Every output (the interior ones 16 at a time, the edges one by one) is its window summed
    row by row, column by column, from 0, in the dtype, then divided once: a plain loop in that
    order gives the same bits (41 outputs a row: blocks of 16, 16 and 7 inside, the two edges alone)."""
    x = rng(13).standard_normal((1, 2, 7, 81)).astype(dtype)
    k, s, p = 3, 2, 1
    want = np.empty((1, 2, 4, 41), dtype)
    for c, i, j in itertools.product(range(2), range(4), range(41)):
        h0, h1 = max(i * s - p, 0), min(i * s - p + k, 7)
        w0, w1 = max(j * s - p, 0), min(j * s - p + k, 81)
        acc = dtype(0)
        for h in range(h0, h1):
            for w in range(w0, w1):
                acc = dtype(acc + x[0, c, h, w])
        want[0, c, i, j] = acc / dtype((h1 - h0) * (w1 - w0))
    for isa, threads in PATHS:
        config(isa, threads)
        np.testing.assert_array_equal(F.avg_pool2d(x, k, s, p, count_include_pad=False), want, err_msg=isa)


def test_avg_divisors_by_hand():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    # 3x3 stride 2 pad 1: the corner window holds x[0:2, 0:2] = 0 1 4 5
    assert F.avg_pool2d(x, 3, 2, 1, count_include_pad=True)[0, 0, 0, 0] == 10 / 9
    assert F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)[0, 0, 0, 0] == 10 / 4
    # ceil_mode window overhanging the padded input: clipped to it, so 12 and 13 over 2
    y = F.avg_pool2d(x, 2, 3, 0, ceil_mode=True, count_include_pad=True)
    assert y.shape == (1, 1, 2, 2) and y[0, 0, 1, 0] == 12.5 and y[0, 0, 1, 1] == 15


@pytest.mark.parametrize("shape,k,s,p,ceil", [g for g in GRID if np.prod(g[0]) <= 200])
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_backward_finite_differences(shape, k, s, p, ceil, include_pad):
    check_grad(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad),
               lambda g, x: F.avg_pool2d_backward(g, x.shape, k, s, p, ceil_mode=ceil,
                                                  count_include_pad=include_pad),
               [rng(13).standard_normal(shape)])


# ---- adaptive average pooling ----------------------------------------------------------------

ADAPTIVE = [((2, 3, 7, 7), (1, 1)), ((1, 2, 5, 7), (2, 3)), ((1, 2, 13, 29), (5, 11)),
            ((1, 1, 3, 4), (7, 9)), ((2, 1, 1, 1), (2, 2)), ((1, 3, 10, 10), (10, 10)),
            ((1, 1, 40, 3), (6, 1))]


@pytest.mark.parametrize("shape,out", ADAPTIVE)
def test_adaptive_matches_reference_every_path(config, shape, out):
    for dtype in DTYPES:
        x = rng(14).standard_normal(shape).astype(dtype)
        ref = reference.adaptive_avg_pool2d(x, out)
        gy = rng(15).standard_normal(ref.shape).astype(dtype)
        ref_g = reference.adaptive_avg_pool2d_backward(gy, shape)
        for isa, threads in PATHS:
            config(isa, threads)
            assert_close(F.adaptive_avg_pool2d(x, out), ref, msg=f"{isa} {threads}t")
            assert_close(F.adaptive_avg_pool2d_backward(gy, shape), ref_g, msg=f"{isa} {threads}t backward")


@pytest.mark.parametrize("shape,out", ADAPTIVE)
def test_adaptive_matches_torch(shape, out):
    torch = pytest.importorskip("torch")
    x = rng(16).standard_normal(shape)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.adaptive_avg_pool2d(tx, out)
    gy = rng(17).standard_normal(ty.shape)
    ty.backward(torch.from_numpy(gy))
    assert_close(F.adaptive_avg_pool2d(x, out), ty.detach().numpy())
    assert_close(F.adaptive_avg_pool2d_backward(gy, shape), tx.grad.numpy())


@pytest.mark.parametrize("shape,out", [a for a in ADAPTIVE if np.prod(a[0]) <= 200])
def test_adaptive_backward_finite_differences(shape, out):
    check_grad(lambda x: F.adaptive_avg_pool2d(x, out),
               lambda g, x: F.adaptive_avg_pool2d_backward(g, x.shape),
               [rng(18).standard_normal(shape)])


def test_adaptive_windows_by_hand():
    x = np.arange(5, dtype=np.float64).reshape(1, 1, 1, 5)
    # 5 -> 3: windows [0, 2), [1, 4), [3, 5)
    assert_same(F.adaptive_avg_pool2d(x, (1, 3))[0, 0, 0], np.array([0.5, 2.0, 3.5]))


# ---- threads -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1, 64, 70), (1, 3, 33, 20), (4, 5, 17, 18)])
def test_one_and_two_threads_bit_identical(config, shape):
    """Whole planes per thread, or rows of few planes (batch 1, few channels): same bits."""
    x = tie_heavy(shape, np.float32, 19, specials=False) + rng(20).random(shape, np.float32)
    results = []
    for threads in (1, 2):
        config(threads=threads)
        y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
        gy = rng(21).standard_normal(y.shape).astype(np.float32)
        results.append([y, idx, F.max_pool2d_backward(gy, idx, shape),
                        F.avg_pool2d(x, 3, 2, 1), F.avg_pool2d_backward(gy, shape, 3, 2, 1),
                        F.adaptive_avg_pool2d(x, (5, 7)),
                        F.adaptive_avg_pool2d_backward(gy[:, :, :5, :7].copy(), shape)])
    for a, b in zip(*results):
        assert_same(a, b)


# ---- no reads past the arrays -------------------------------------------------------------

def _guarded(shape, dtype):
    """A C-contiguous array whose last byte ends a page followed by an inaccessible page: a
    kernel reading one element too far crashes the test instead of reading garbage."""
    import ctypes
    import mmap
    libc = ctypes.CDLL(None, use_errno=True)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    page = mmap.PAGESIZE
    pages = (nbytes + page - 1) // page + 1
    m = mmap.mmap(-1, pages * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    if libc.mprotect(ctypes.c_void_p(base + (pages - 1) * page), page, 0) != 0:   # PROT_NONE
        pytest.skip("mprotect unavailable")
    a = np.frombuffer(m, dtype=dtype, count=int(np.prod(shape)), offset=(pages - 1) * page - nbytes)
    return a.reshape(shape), m


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="needs mprotect")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p", [((1, 1, 2, 2), 2, 2, 0), ((1, 3, 14, 14), 2, 2, 0),
                                         ((1, 1, 7, 37), 3, 2, 1), ((2, 1, 9, 20), 3, 1, 1),
                                         ((1, 1, 3, 3), 3, 2, 1)])
def test_kernels_never_read_past_their_arrays(shape, k, s, p, dtype):
    x, keep_x = _guarded(shape, dtype)
    x[...] = rng(22).standard_normal(shape)
    desc = F._pool_args(shape, k, s, p, False)
    P, Q = desc[10], desc[11]
    out = shape[:2] + (P, Q)
    gy, keep_gy = _guarded(out, dtype)
    gy[...] = 1
    idx, keep_idx = _guarded(out, np.int64)
    for isa in range(ISA_NAMES.index(fastconv.cpu_isa()) + 1):
        for threads in (1, 2):
            y = np.empty(out, dtype)
            _ext.max_pool2d_forward(isa, threads, desc, x.reshape(-1), y.reshape(-1), idx.reshape(-1), True)
            assert_same(y, reference.max_pool2d(np.array(x), k, s, p), ISA_NAMES[isa])
            gx = np.empty(shape, dtype)
            _ext.max_pool2d_backward(isa, threads, desc, gy.reshape(-1), idx.reshape(-1), gx.reshape(-1))
            _ext.avg_pool2d_forward(isa, threads, desc, True, x.reshape(-1), y.reshape(-1))
            _ext.avg_pool2d_backward(isa, threads, desc, True, gy.reshape(-1), gx.reshape(-1))
    del x, gy, idx
