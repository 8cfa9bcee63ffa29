"""Convolution kernels (direct, im2col, 1x1; forward, grad_input, grad_weight, grad_bias)
against fastconv.reference, against each other, on every ISA path and thread count.

Shapes are a curated list (odd channel counts, non-square kernels, stride > kernel, padding
larger than the kernel, 1x1 images, empty batch, rows wide enough for the SIMD interior and
planes large enough for several im2col tiles) plus a hypothesis sweep; the whole file runs in
a few seconds.
"""
import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import _ext, reference
from helpers import assert_close, check_grad, randn

ISAS = [name for name in ("scalar", "avx2", "avx512")
        if ["scalar", "avx2", "avx512"].index(name) <= ["scalar", "avx2", "avx512"].index(fastconv.cpu_isa())]
DTYPES = [np.float64, np.float32]


def algos_for(w_shape, stride, padding):
    R, S = w_shape[2:]
    one = R == 1 and S == 1 and stride in (1, (1, 1)) and padding in (0, (0, 0))
    return ["direct", "im2col"] + (["1x1"] if one else [])


# (N, C, H, W), (K, R, S), stride, padding
SHAPES = [
    ((2, 3, 7, 9), (4, 3, 3), 1, 1),
    ((1, 1, 1, 1), (1, 1, 1), 1, 0),             # 1x1 image, 1x1 kernel
    ((1, 3, 1, 1), (5, 3, 3), 1, 1),             # 1x1 image, all but the centre tap in padding
    ((2, 5, 8, 8), (9, 2, 5), (2, 1), (3, 2)),   # non-square kernel, padding > kernel/2
    ((1, 17, 10, 11), (13, 3, 1), (3, 2), (0, 3)),
    ((3, 4, 6, 6), (5, 1, 1), 1, 0),             # 1x1 path, batch 3
    ((2, 4, 9, 9), (3, 1, 1), 2, 0),             # 1x1 kernel with stride
    ((1, 64, 12, 12), (20, 5, 5), 1, 2),
    ((1, 3, 5, 5), (2, 7, 7), 1, 3),             # kernel wider than the image
    ((2, 3, 6, 7), (4, 2, 2), 3, (0, 1)),        # stride > kernel: skipped inputs
    ((1, 5, 4, 4), (2, 1, 3), 1, (0, 2)),
    ((1, 3, 6, 100), (9, 3, 3), 1, 1),           # wide rows: unmasked SIMD interior
    ((1, 4, 5, 130), (3, 3, 5), 1, (0, 2)),
    ((2, 3, 4, 70), (2, 2, 2), 1, 3),            # padding 3 > kernel 2
    ((1, 2, 3, 61), (11, 1, 7), 1, (0, 3)),
    ((1, 3, 20, 20), (10, 3, 3), 2, 1),
    ((1, 2, 9, 9), (3, 3, 3), 3, 0),
    ((0, 3, 5, 5), (4, 3, 3), 1, 1),             # empty batch
]


def _ids(shapes):
    return [f"x{s[0]}-w{s[1]}-s{s[2]}-p{s[3]}".replace(" ", "") for s in shapes]


def _case(x_shape, w_shape, dtype, seed=0):
    K, R, S = w_shape
    x = randn(x_shape, dtype, seed=seed)
    w = randn((K, x_shape[1], R, S), dtype, seed=seed + 1, scale=0.5)
    b = randn((K,), dtype, seed=seed + 2)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape,w_shape,stride,padding", SHAPES, ids=_ids(SHAPES))
def test_forward_and_backward_match_reference(x_shape, w_shape, stride, padding, dtype):
    x, w, b = _case(x_shape, w_shape, dtype)
    expected = reference.conv2d(x, w, b, stride, padding)
    expected_relu = reference.conv2d(x, w, b, stride, padding, relu=True)
    gy = randn(expected.shape, dtype, seed=7)
    gx_ref, gw_ref, gb_ref = reference.conv2d_backward(gy, x, w, stride, padding)
    for algo in algos_for(w.shape, stride, padding):
        y = F.conv2d(x, w, b, stride, padding, algo=algo)
        assert y.dtype == dtype
        assert_close(y, expected, msg=f"forward {algo}")
        assert_close(F.conv2d(x, w, b, stride, padding, algo=algo, relu=True), expected_relu,
                     msg=f"forward+relu {algo}")
        assert_close(F.conv2d(x, w, None, stride, padding, algo=algo),
                     reference.conv2d(x, w, None, stride, padding), msg=f"no bias {algo}")
        gx, gw, gb = F.conv2d_backward(gy, x, w, stride, padding, algo=algo)
        assert_close(gx, gx_ref, msg=f"grad_input {algo}")
        assert_close(gw, gw_ref, msg=f"grad_weight {algo}")
        assert_close(gb, gb_ref, msg=f"grad_bias {algo}")


# shapes that exercise every branch of the SIMD kernels and several im2col tiles
ISA_SHAPES = [
    ((1, 3, 6, 100), (9, 3, 3), 1, 1),
    ((2, 5, 8, 8), (9, 2, 5), (2, 1), (3, 2)),
    ((1, 6, 40, 40), (19, 3, 3), 1, 1),          # 1600 pixels: several im2col tiles in f64
    ((2, 7, 5, 37), (11, 1, 1), 1, 0),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_isa_and_thread_count(config, isa, threads, dtype):
    config(isa, threads)
    for i, (x_shape, w_shape, stride, padding) in enumerate(ISA_SHAPES):
        x, w, b = _case(x_shape, w_shape, dtype, seed=10 * i)
        expected = reference.conv2d(x, w, b, stride, padding, relu=True)
        gy = randn(expected.shape, dtype, seed=3)
        gx_ref, gw_ref, gb_ref = reference.conv2d_backward(gy, x, w, stride, padding)
        for algo in algos_for(w.shape, stride, padding):
            where = f"{algo} {isa} {threads} threads {x_shape} {w_shape}"
            assert_close(F.conv2d(x, w, b, stride, padding, algo=algo, relu=True), expected,
                         msg=f"forward {where}")
            gx, gw, gb = F.conv2d_backward(gy, x, w, stride, padding, algo=algo)
            assert_close(gx, gx_ref, msg=f"grad_input {where}")
            assert_close(gw, gw_ref, msg=f"grad_weight {where}")
            assert_close(gb, gb_ref, msg=f"grad_bias {where}")


def test_batch1_layer_size_uses_tiles_and_both_threads(config):
    """A VGG-like layer big enough for many tiles, row bands and channel blocks; float32."""
    config(threads=2)
    x, w, b = _case((1, 32, 28, 28), (40, 3, 3), np.float32, seed=5)
    expected = reference.conv2d(x, w, b, 1, 1)
    gy = randn(expected.shape, np.float32, seed=6)
    gx_ref, gw_ref, _ = reference.conv2d_backward(gy, x, w, 1, 1)
    for algo in ("direct", "im2col"):
        assert_close(F.conv2d(x, w, b, 1, 1, algo=algo), expected, msg=algo)
        gx, gw, _ = F.conv2d_backward(gy, x, w, 1, 1, algo=algo)
        assert_close(gx, gx_ref, msg=f"grad_input {algo}")
        assert_close(gw, gw_ref, msg=f"grad_weight {algo}")


@pytest.mark.parametrize("threads", [1, 2])
def test_im2col_tiles_of_whole_rows(config, threads):
    """512 float64 channels of 3x3 fill the 1 MiB im2col tile with 28 columns: two 14-wide rows
    per tile, so every tile after the first starts at row 2, 4, ... (the "same"-width copy path
    of im2col_tile, with its wrapped-around columns and the image's top and bottom edges)."""
    config(threads=threads)
    x, w, b = _case((1, 512, 14, 14), (8, 3, 3), np.float64, seed=21)
    assert_close(F.conv2d(x, w, b, 1, 1, algo="im2col"), reference.conv2d(x, w, b, 1, 1))
    x5, w5, b5 = _case((2, 300, 14, 14), (3, 5, 5), np.float64, seed=22)   # padding 2, 5x5 taps
    assert_close(F.conv2d(x5, w5, b5, 1, 2, algo="im2col"), reference.conv2d(x5, w5, b5, 1, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_weight_grad_same_bits_through_either_gemm_orientation(dtype):
    """With <= 64 output channels grad_w is computed as (col . grad_y^T)^T, otherwise as
    grad_y . col^T: the same dot products in the same order, so the first 64 channels of a
    65-channel layer must equal a 64-channel layer's gradient bit for bit."""
    x = randn((2, 5, 23, 21), dtype, seed=31)
    w = randn((65, 5, 7, 7), dtype, seed=32)
    gy = randn(F.conv2d(x, w, None, 2, 3).shape, dtype, seed=33)
    gw65 = F.conv2d_backward(gy, x, w, 2, 3, algo="im2col", need_input_grad=False)[1]
    gw64 = F.conv2d_backward(np.ascontiguousarray(gy[:, :64]), x, np.ascontiguousarray(w[:64]), 2, 3,
                             algo="im2col", need_input_grad=False)[1]
    np.testing.assert_array_equal(gw64, gw65[:64])
    assert_close(gw64, reference.conv2d_backward(gy[:, :64], x, w[:64], 2, 3)[1])


@pytest.mark.parametrize("isa", [i for i in ISAS if i != "scalar"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_direct_stride2_split_rows_same_bits_as_unsplit(config, isa, dtype):
    """Horizontal stride 2 with few input channels copies the rows each band reads into a buffer
    split into even and odd columns (the 7x7/2 stem); past a 256 KiB buffer the kernels read the
    input in place. Appending 61 channels of zero weight forces the second path and adds exact
    zeros at the end of every sum, so the outputs must agree bit for bit -- at the padded left
    and right edges, at an odd width (a partial last vector) and at the top and bottom rows."""
    config(isa, 2)
    x = randn((2, 3, 61, 67), dtype, seed=41)
    w = randn((20, 3, 7, 7), dtype, seed=42)
    b = randn((20,), dtype, seed=43)
    split = F.conv2d(x, w, b, 2, 3, algo="direct")
    x_wide = np.concatenate([x, randn((2, 61, 61, 67), dtype, seed=44)], axis=1)
    w_wide = np.concatenate([w, np.zeros((20, 61, 7, 7), dtype)], axis=1)
    np.testing.assert_array_equal(split, F.conv2d(x_wide, w_wide, b, 2, 3, algo="direct"))
    assert_close(split, reference.conv2d(x, w, b, 2, 3))
    assert_close(F.conv2d(x, w, b, (1, 2), (0, 5), algo="direct", relu=True),
                 reference.conv2d(x, w, b, (1, 2), (0, 5), relu=True))


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", SHAPES[:12], ids=_ids(SHAPES[:12]))
def test_algorithms_agree_with_each_other(x_shape, w_shape, stride, padding):
    x, w, b = _case(x_shape, w_shape, np.float64, seed=4)
    algos = algos_for(w.shape, stride, padding)
    ys = [F.conv2d(x, w, b, stride, padding, algo=a) for a in algos]
    gy = randn(ys[0].shape, np.float64, seed=9)
    grads = [F.conv2d_backward(gy, x, w, stride, padding, algo=a) for a in algos]
    for a, y, g in zip(algos[1:], ys[1:], grads[1:]):
        assert_close(y, ys[0], msg=f"{a} vs direct")
        for name, got, want in zip(("grad_x", "grad_w", "grad_b"), g, grads[0]):
            assert_close(got, want, msg=f"{name} {a} vs direct")


@pytest.mark.parametrize("algo", ["direct", "im2col"])
def test_finite_differences(algo):
    x, w, b = _case((2, 3, 5, 6), (4, 3, 2), np.float64, seed=11)

    def forward(x, w, b):
        return F.conv2d(x, w, b, (2, 1), (1, 2), algo=algo)

    def backward(gy, x, w, b):
        return F.conv2d_backward(gy, x, w, (2, 1), (1, 2), algo=algo)
    check_grad(forward, backward, [x, w, b])


@pytest.mark.parametrize("algo", ["direct", "im2col", "1x1"])
def test_empty_batch_gives_zero_weight_grad(algo):
    x = np.zeros((0, 3, 5, 5))
    w = randn((4, 3, 1, 1))
    gy = np.zeros((0, 4, 5, 5))
    assert F.conv2d(x, w, algo=algo).shape == (0, 4, 5, 5)
    gx, gw, gb = F.conv2d_backward(gy, x, w, algo=algo)
    assert gx.shape == (0, 3, 5, 5)
    assert np.array_equal(gw, np.zeros_like(w)) and np.array_equal(gb, np.zeros(4))


@pytest.mark.parametrize("algo", ["direct", "im2col"])
def test_no_input_channel_gives_bias_and_zero_grads(algo):
    x = np.zeros((2, 0, 4, 4))
    w = np.zeros((3, 0, 3, 3))
    b = np.array([1.0, -2.0, 3.0])
    y = F.conv2d(x, w, b, padding=1, algo=algo, relu=True)
    assert np.array_equal(y, np.broadcast_to(np.maximum(b, 0)[None, :, None, None], (2, 3, 4, 4)))
    gx, gw, gb = F.conv2d_backward(np.ones((2, 3, 4, 4)), x, w, padding=1, algo=algo)
    assert gx.shape == (2, 0, 4, 4) and gw.shape == (3, 0, 3, 3)
    assert np.array_equal(gb, np.full(3, 32.0))


@pytest.mark.parametrize("algo", ["direct", "im2col"])
def test_relu_keeps_nan_and_clamps(algo):
    x = np.ones((1, 1, 3, 3))
    x[0, 0, 1, 1] = np.nan
    w = np.ones((2, 1, 1, 1))
    w[1] = -1
    y = F.conv2d(x, w, algo=algo, relu=True)
    assert np.isnan(y[0, 0, 1, 1]) and np.isnan(y[0, 1, 1, 1])
    assert np.all(y[0, 0][~np.isnan(y[0, 0])] == 1) and np.all(y[0, 1][~np.isnan(y[0, 1])] == 0)


@pytest.mark.parametrize("algo", ["direct", "im2col"])
def test_deterministic_for_a_thread_count(config, algo):
    config(threads=2)
    x, w, b = _case((3, 8, 17, 19), (6, 3, 3), np.float32, seed=21)
    gy = randn((3, 6, 17, 19), np.float32, seed=22)
    first = [F.conv2d(x, w, b, 1, 1, algo=algo), *F.conv2d_backward(gy, x, w, 1, 1, algo=algo)]
    second = [F.conv2d(x, w, b, 1, 1, algo=algo), *F.conv2d_backward(gy, x, w, 1, 1, algo=algo)]
    for a, b2 in zip(first, second):
        assert np.array_equal(a, b2)


def test_im2col_stem_like_layer_same_bits_on_one_and_two_threads(config):
    """A batch-1 7x7/2 layer on 3 channels: the threads split the im2col tile by (channel, kernel
    row) and col2im by (channel, kernel-row residue mod the stride), which reach disjoint rows
    of grad_x; every element still sums its terms in the same order, so 1 thread == 2 threads."""
    x, w, b = _case((1, 3, 64, 60), (16, 7, 7), np.float32, seed=25)
    gy = randn(F.conv2d(x, w, b, 2, 3).shape, np.float32, seed=26)
    runs = []
    for threads in (1, 2):
        config(threads=threads)
        runs.append([F.conv2d(x, w, b, 2, 3, algo="im2col"), *F.conv2d_backward(gy, x, w, 2, 3, algo="im2col")])
    for one, two in zip(*runs):
        np.testing.assert_array_equal(one, two)
    gx_ref, gw_ref, _ = reference.conv2d_backward(gy, x, w, 2, 3)
    assert_close(runs[1][1], gx_ref)
    assert_close(runs[1][2], gw_ref)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [16, 40], ids=["swapped", "unswapped"])
def test_im2col_weight_grad_split_over_threads(config, threads, dtype, K):
    """A small grad_w (C*R*S x K <= 65536) over >= 1024 output pixels per thread: each thread
    sums its own range of (image, pixel) into its own copy, the copies are added in order.
    3 images of 72x75 pixels: the ranges end inside an image and inside im2col tiles; K = 16
    takes the transposed GEMM (K < C*R*S = 18), K = 40 the other orientation."""
    config(threads=threads)
    x, w, b = _case((3, 2, 72, 75), (K, 3, 3), dtype, seed=27)
    gy = randn(F.conv2d(x, w, b, 1, 1).shape, dtype, seed=28)
    gw = F.conv2d_backward(gy, x, w, 1, 1, algo="im2col", need_input_grad=False)[1]
    assert_close(gw, reference.conv2d_backward(gy, x, w, 1, 1)[1])
    again = F.conv2d_backward(gy, x, w, 1, 1, algo="im2col", need_input_grad=False)[1]
    np.testing.assert_array_equal(gw, again)


def test_direct_does_not_depend_on_thread_count(config):
    """Direct kernels own their outputs per job and sum in a fixed order: 1 thread == 2 threads."""
    x, w, b = _case((2, 8, 13, 21), (10, 3, 3), np.float32, seed=23)
    gy = randn((2, 10, 13, 21), np.float32, seed=24)
    runs = []
    for threads in (1, 2):
        config(threads=threads)
        runs.append([F.conv2d(x, w, b, 1, 1, algo="direct"),
                     *F.conv2d_backward(gy, x, w, 1, 1, algo="direct")])
    for a, b2 in zip(*runs):
        assert np.array_equal(a, b2)


@pytest.mark.parametrize("isa", [i for i in ISAS if i != "scalar"])
def test_gemm_forward_does_not_depend_on_thread_count(config, isa):
    """im2col and 1x1 forward cut a batch-1 image into tiles for the threads, so a GEMM's width
    changes with the count; their outputs stay k-ordered dot products (the GEMM's k-summed
    narrow tail only where the tile is the whole image for every count, 7x7 maps): 1, 2, 3
    and 4 threads give the same bits. Widths here leave 1-4 columns past a whole vector."""
    cases = [("im2col", (5, 16, 15, 15), (16, 3, 3), 1, 1), ("im2col", (1, 128, 33, 33), (128, 3, 3), 1, 1),
             ("im2col", (1, 32, 49, 49), (32, 3, 3), 2, 1), ("im2col", (1, 32, 49, 49), (32, 7, 7), 2, 3),
             ("1x1", (1, 128, 33, 33), (128, 1, 1), 1, 0), ("im2col", (1, 64, 7, 7), (64, 3, 3), 1, 1),
             ("1x1", (2, 96, 7, 7), (40, 1, 1), 1, 0)]
    for i, (algo, x_shape, w_shape, stride, padding) in enumerate(cases):
        x, w, b = _case(x_shape, w_shape, np.float32, seed=40 + i)
        outs = []
        for threads in (1, 2, 3, 4):
            config(isa, threads)
            outs.append(F.conv2d(x, w, b, stride, padding, algo=algo))
        for threads, y in zip((2, 3, 4), outs[1:]):
            np.testing.assert_array_equal(y, outs[0], err_msg=f"{algo} {x_shape} {w_shape} {threads} threads")


def test_lecture_layer_parameter_count():
    """The lecture's first VGG layer: 3x3x3x64 weights + 64 biases = 1,792 parameters."""
    x, w, b = _case((1, 3, 32, 32), (64, 3, 3), np.float32, seed=30)
    assert w.size + b.size == 1792
    y = F.conv2d(x, w, b, 1, 1, algo="direct")
    assert y.shape == (1, 64, 32, 32)
    assert_close(y, reference.conv2d(x, w, b, 1, 1))


# ---- the C descriptor check, called directly: it must refuse before touching memory ----------

def _desc(N=1, C=2, H=5, W=5, K=3, R=3, S=3, sh=1, sw=1, ph=1, pw=1, P=None, Q=None):
    P = (H + 2 * ph - R) // sh + 1 if P is None else P
    Q = (W + 2 * pw - S) // sw + 1 if Q is None else Q
    return (N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q)


BAD_DESCS = [
    _desc(sh=0, P=5), _desc(sw=-1, Q=5), _desc(ph=-1), _desc(C=-2), _desc(P=4), _desc(Q=6),
    _desc(H=1, ph=0),                      # kernel taller than the padded input
]


@pytest.mark.parametrize("algo", ["direct", "im2col"])
@pytest.mark.parametrize("desc", BAD_DESCS)
def test_kernel_refuses_inconsistent_descriptor(algo, desc):
    buf = np.zeros(4096)
    with pytest.raises(ValueError):
        _ext.conv2d_forward(algo, 0, 1, desc, buf, buf, buf, False, False, buf)
    with pytest.raises(ValueError):
        _ext.conv2d_grad_input(algo, 0, 1, desc, buf, buf, buf)
    with pytest.raises(ValueError):
        _ext.conv2d_grad_weight(algo, 0, 1, desc, buf, buf, buf)


def test_kernel_refuses_overflowing_sizes():
    big = 1 << 40
    desc = _desc(N=big, C=big, H=1, W=1, R=1, S=1, ph=0, pw=0)
    buf = np.zeros(16)
    with pytest.raises(OverflowError):
        _ext.conv2d_forward("direct", 0, 1, desc, buf, buf, buf, False, False, buf)
    with pytest.raises(OverflowError):
        _ext.conv2d_grad_bias(0, 1, desc, buf, buf)


def test_bindings_refuse_arrays_the_kernels_cannot_take():
    """The bindings hand raw data pointers to C: a wrong or mixed dtype, a strided or misaligned
    view, a read-only output or a non-array is refused before any C code runs."""
    desc = _desc(N=1, C=1, H=4, W=4, K=1, R=1, S=1, ph=0, pw=0, P=4, Q=4)
    f32 = np.zeros(16, np.float32)
    read_only = np.zeros(16, np.float32)
    read_only.flags.writeable = False
    misaligned = np.frombuffer(np.zeros(65, np.uint8).data, np.float32, 16, offset=1)
    bad = [
        ((f32, f32, f32, False, False, np.zeros(16)), TypeError),            # float32 in, float64 out
        ((f32.astype(np.int32), f32, f32, False, False, f32), TypeError),    # not a float array
        ((list(f32), f32, f32, False, False, f32), TypeError),               # not an array at all
        ((np.zeros(32, np.float32)[::2], f32, f32, False, False, f32), ValueError),   # strided
        ((misaligned, f32, f32, False, False, f32), ValueError),
        ((f32, f32, f32, False, False, read_only), ValueError),              # output not writable
    ]
    for args, error in bad:
        with pytest.raises(error):
            _ext.conv2d_forward("direct", 0, 1, desc, *args)
    pool = (1, 1, 4, 4, 2, 2, 2, 2, 0, 0, 2, 2)
    with pytest.raises(TypeError):   # indices must be int64
        _ext.max_pool2d_forward(0, 1, pool, f32, np.zeros(4, np.float32), np.zeros(4, np.int32), True)
    with pytest.raises(ValueError):
        _ext.max_pool2d_backward(0, 1, pool, np.zeros(4, np.float32), np.zeros(4, np.int64), read_only)
    # read-only inputs are fine
    y = np.zeros(16, np.float32)
    _ext.conv2d_forward("direct", 0, 1, desc, read_only, np.ones(1, np.float32), f32, False, False, y)
    np.testing.assert_array_equal(y, read_only)


def test_1x1_kernel_refuses_other_shapes():
    buf = np.zeros(4096)
    with pytest.raises(ValueError):
        _ext.conv2d_forward("1x1", 0, 1, _desc(), buf, buf, buf, False, False, buf)
    with pytest.raises(ValueError):
        _ext.conv2d_grad_weight("1x1", 0, 1, _desc(R=1, S=1, ph=0, pw=0, sh=2), buf, buf, buf)


# ---- property test over random small shapes --------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(max_examples=40, deadline=None, derandomize=True)
@hypothesis.given(
    N=st.integers(0, 2), C=st.integers(1, 5), K=st.integers(1, 9),
    H=st.integers(1, 12), W=st.integers(1, 40), R=st.integers(1, 4), S=st.integers(1, 4),
    sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 3), pw=st.integers(0, 3),
    isa=st.sampled_from(ISAS), threads=st.sampled_from([1, 2]))
def test_random_shapes(N, C, K, H, W, R, S, sh, sw, ph, pw, isa, threads):
    hypothesis.assume(H + 2 * ph >= R and W + 2 * pw >= S)
    old = fastconv.get_isa(), fastconv.get_num_threads()
    fastconv.set_isa(isa)
    fastconv.set_num_threads(threads)
    try:
        x, w, b = _case((N, C, H, W), (K, R, S), np.float64, seed=N + C + H)
        expected = reference.conv2d(x, w, b, (sh, sw), (ph, pw))
        gy = randn(expected.shape, np.float64, seed=1)
        refs = reference.conv2d_backward(gy, x, w, (sh, sw), (ph, pw))
        for algo in algos_for(w.shape, (sh, sw), (ph, pw)):
            assert_close(F.conv2d(x, w, b, (sh, sw), (ph, pw), algo=algo), expected, msg=algo)
            for got, want in zip(F.conv2d_backward(gy, x, w, (sh, sw), (ph, pw), algo=algo), refs):
                assert_close(got, want, msg=algo)
    finally:
        fastconv.set_isa(old[0])
        fastconv.set_num_threads(old[1])


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    x, w, b = _case((2, 5, 11, 13), (7, 3, 2), np.float64, seed=40)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 2))
    gy = randn(tuple(yt.shape), np.float64, seed=41)
    yt.backward(torch.tensor(gy))
    for algo in ("direct", "im2col"):
        assert_close(F.conv2d(x, w, b, (2, 1), (1, 2), algo=algo), yt.detach().numpy())
        gx, gw, gb = F.conv2d_backward(gy, x, w, (2, 1), (1, 2), algo=algo)
        assert_close(gx, xt.grad.numpy())
        assert_close(gw, wt.grad.numpy())
        assert_close(gb, bt.grad.numpy())
