"""Winograd F(4x4, 3x3) forward convolution (algo="winograd") against fastconv.reference.

float64 is held to the project's tolerance (1e-10 of the output's scale). float32 gets
WINO_F32_RTOL = 1e-4 of the output's scale: the transforms multiply and divide by up to 8 and 24
(points 0, +-1, +-2, infinity), which measures at 5-10x the direct method's error (~1e-6 of the
scale on C = 64 channels, see docs/winograd.md); 1e-4 leaves room for C = 512 and still fails
on any indexing or padding mistake, which errs by O(1) of the scale.

Shapes cover channel counts 1, 3, 17 and 64, images from 1x1 (with padding 1) to 28x28, odd
sizes whose last tile row/column is partial, padding 0-2, bias and ReLU, batches 0 and 3, on
every ISA path of this CPU; 1 vs 2 threads must agree bit for bit, run to run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import reference
from helpers import assert_close, randn

ISA_ORDER = ["scalar", "avx2", "avx512"]
ISAS = [name for name in ISA_ORDER if ISA_ORDER.index(name) <= ISA_ORDER.index(fastconv.cpu_isa())]
WINO_F32_RTOL = 1e-4


# (N, C, H, W, K, padding, bias, relu)
CASES = [
    (1, 1, 1, 1, 2, 1, True, False),      # 1x1 image: only the centre tap is inside
    (2, 3, 2, 2, 5, 1, False, False),     # 2x2 image, one partial tile
    (1, 3, 2, 2, 4, 2, True, True),       # padding 2 > what the kernel needs: 4x4 output
    (3, 17, 5, 7, 6, 1, True, False),     # odd sizes: partial last tile row and column
    (2, 17, 5, 7, 3, 0, False, True),     # no padding: 3x5 output
    (1, 64, 13, 13, 20, 2, True, True),   # padding 2, 15x15 output
    (3, 3, 13, 13, 17, 0, True, False),
    (3, 64, 28, 28, 64, 1, True, False),  # several tile groups per image, batch 3
    (1, 17, 28, 28, 33, 0, False, False),
    (2, 1, 28, 28, 1, 2, True, True),     # one channel in, one out
    (1, 5, 9, 9, 200, 1, True, False),    # 200 output channels: chunks of 48 and a last of 8
    (1, 800, 6, 6, 13, 1, False, False),  # 800 input channels: the GEMMs' depth in 2-3 blocks
    (1, 5, 57, 50, 7, 1, True, True),     # 13 tiles per row: row-run groups of 13 lanes (partial
                                          # groups: masked lane loads and stores), output clipped
]


def _case_arrays(N, C, H, W, K, bias, dtype, seed=0):
    x = randn((N, C, H, W), dtype, seed)
    w = randn((K, C, 3, 3), dtype, seed + 1, scale=1.0 / np.sqrt(9 * C))
    b = randn((K,), dtype, seed + 2) if bias else None
    return x, w, b


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[:6]}{'b' if c[6] else ''}{'r' if c[7] else ''}" for c in CASES])
def test_winograd_matches_reference(config, isa, dtype, case):
    N, C, H, W, K, pad, bias, relu = case
    config(isa_name=isa)
    x, w, b = _case_arrays(N, C, H, W, K, bias, dtype)
    y = F.conv2d(x, w, b, padding=pad, algo="winograd", relu=relu)
    expected = reference.conv2d(x.astype(np.float64), w.astype(np.float64),
                                None if b is None else b.astype(np.float64), padding=pad)
    if relu:
        expected = np.maximum(expected, 0)
    assert y.dtype == dtype
    rtol = 1e-10 if dtype == np.float64 else WINO_F32_RTOL
    assert_close(y, expected, np.float64, rtol=rtol, atol=0, msg=f"{isa} {dtype.__name__} {case}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_batch_and_asymmetric_padding(dtype):
    x, w, b = _case_arrays(0, 3, 5, 5, 4, True, dtype)
    y = F.conv2d(x, w, b, padding=1, algo="winograd")
    assert y.shape == (0, 4, 5, 5) and y.dtype == dtype
    x, w, b = _case_arrays(2, 5, 9, 6, 7, True, dtype)
    y = F.conv2d(x, w, b, padding=(2, 0), algo="winograd", relu=True)
    expected = np.maximum(reference.conv2d(x, w, b, padding=(2, 0)), 0)
    assert_close(y, expected, rtol=1e-10 if dtype == np.float64 else WINO_F32_RTOL)


def test_agrees_with_direct_and_relu_keeps_nan():
    x, w, b = _case_arrays(2, 17, 13, 13, 9, True, np.float64, seed=5)
    yw = F.conv2d(x, w, b, padding=1, algo="winograd")
    yd = F.conv2d(x, w, b, padding=1, algo="direct")
    assert_close(yw, yd)
    x[0, 0, 6, 6] = np.nan   # touches every output within one tap of (6, 6), through NaN * 0 elsewhere
    y = F.conv2d(x, w, b, padding=1, algo="winograd", relu=True)
    assert np.isnan(y[0, :, 5:8, 5:8]).all()
    assert not np.isnan(y[1]).any()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_bit_identical(config, isa, dtype):
    # batch 1 with few tiles exercises the output-channel split (the threads first fill one
    # shared V, each a range of input channels), batch 3 the tile blocks, and 4 images of 28x28
    # with 40 channels three tile blocks under the channel split, blocks spanning images
    # (1, 8, 108, 76, 8): 513 tiles, whose last block is 257 tiles with 1 or 2 threads and 177
    # with 3 or 4 (a GEMM width with one column past a whole vector); (1, 48, 112, 112, 48):
    # 784 tiles in 13 blocks of about 64 on 1 thread, 14, 15 and 16 blocks on 2, 3 and 4 (the
    # block count made a multiple of the thread count), row-run groups of 16 + 12 lanes
    for (N, C, H, W, K) in [(1, 64, 14, 14, 96), (3, 17, 40, 36, 24), (4, 40, 28, 28, 48),
                            (1, 5, 9, 9, 200), (1, 8, 108, 76, 8), (1, 48, 112, 112, 48)]:
        x, w, b = _case_arrays(N, C, H, W, K, True, dtype, seed=3)
        config(isa_name=isa, threads=1)
        y1 = F.conv2d(x, w, b, padding=1, algo="winograd")
        y1b = F.conv2d(x, w, b, padding=1, algo="winograd")
        assert np.array_equal(y1, y1b)                                # run to run
        for threads in (2, 3, 4):
            config(threads=threads)
            y2 = F.conv2d(x, w, b, padding=1, algo="winograd")
            y2b = F.conv2d(x, w, b, padding=1, algo="winograd")
            assert np.array_equal(y2, y2b)                            # run to run
            assert np.array_equal(y1, y2), f"{threads} threads"       # and across thread counts


def test_many_tile_blocks_match_reference(config):
    # more tiles than one block holds (several blocks per thread, a partial last block)
    config(threads=2)
    x, w, b = _case_arrays(2, 8, 70, 66, 5, True, np.float32, seed=4)
    y = F.conv2d(x, w, b, padding=1, algo="winograd")
    expected = reference.conv2d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), padding=1)
    assert_close(y, expected, np.float64, rtol=WINO_F32_RTOL, atol=0)


@pytest.mark.parametrize("kernel,stride", [((3, 3), 2), ((5, 5), 1), ((1, 1), 1), ((3, 1), 1), ((3, 3), (1, 2))])
def test_rejects_other_kernels_and_strides(kernel, stride):
    x = np.zeros((1, 2, 9, 9), np.float32)
    w = np.zeros((3, 2) + kernel, np.float32)
    with pytest.raises(ValueError, match="winograd"):
        F.conv2d(x, w, stride=stride, padding=1, algo="winograd")


def test_float32_error_within_10x_of_direct():
    """The documented claim (docs/winograd.md) on a VGG-like layer: random data, 64 channels."""
    x, w, b = _case_arrays(1, 64, 28, 28, 32, True, np.float64, seed=7)
    exact = reference.conv2d(x, w, b, padding=1)
    scale = np.abs(exact).max()
    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    err_w = np.abs(F.conv2d(x32, w32, b32, padding=1, algo="winograd") - exact).max() / scale
    err_d = np.abs(F.conv2d(x32, w32, b32, padding=1, algo="direct") - exact).max() / scale
    assert err_w < 10 * err_d and err_w < 2e-5, (err_w, err_d)


def test_backward_with_winograd_algo_weight_grad_is_im2col():
    """algo="winograd" in conv2d_backward: the weight and bias gradients are im2col's exactly,
    grad_x (a 3x3 stride-1 convolution of grad_y) goes through Winograd and matches im2col's."""
    x, w, _ = _case_arrays(2, 3, 6, 6, 4, False, np.float64, seed=9)
    gy = randn((2, 4, 6, 6), np.float64, 10)
    gwin = F.conv2d_backward(gy, x, w, padding=1, algo="winograd")
    gi2c = F.conv2d_backward(gy, x, w, padding=1, algo="im2col")
    assert_close(gwin[0], gi2c[0])
    assert np.array_equal(gwin[1], gi2c[1]) and np.array_equal(gwin[2], gi2c[2])


# (N, C, H, W, K, padding): grad_x = conv(grad_y, flipped W^T, padding 2 - p) for p in 0..2
GRAD_INPUT_CASES = [
    (2, 16, 9, 11, 20, 1), (1, 17, 12, 10, 32, 0), (1, 8, 12, 12, 24, 2), (3, 5, 7, 13, 16, (2, 0)),
    (1, 64, 28, 28, 64, 1),
]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", GRAD_INPUT_CASES, ids=str)
def test_winograd_grad_input_matches_reference(config, isa, dtype, case):
    N, C, H, W, K, pad = case
    config(isa_name=isa)
    x, w, _ = _case_arrays(N, C, H, W, K, False, dtype, seed=11)
    gy = randn(F.conv2d(x, w, padding=pad).shape, dtype, 12)
    expected = reference.conv2d_backward(gy.astype(np.float64), x.astype(np.float64), w.astype(np.float64),
                                         padding=pad)[0]
    rtol = 1e-10 if dtype == np.float64 else WINO_F32_RTOL
    for algo in ("winograd", "auto"):
        gx = F.conv2d_backward(gy, x, w, padding=pad, algo=algo, need_weight_grad=False)[0]
        assert gx.dtype == dtype
        assert_close(gx, expected, np.float64, rtol=rtol, atol=0, msg=f"{algo} {isa} {case}")


def test_auto_grad_input_uses_winograd_only_where_it_pays_and_when_switched_on():
    """grad_x under "auto": Winograd on a 3x3 stride-1 layer with >= 16 output channels (the
    input channels of the transposed convolution), im2col (exactly) otherwise or when
    fastconv.set_winograd(False)."""
    x, w, _ = _case_arrays(2, 16, 20, 20, 32, False, np.float32, seed=13)
    gy = randn((2, 32, 20, 20), np.float32, 14)
    exact = F.conv2d_backward(gy, x, w, padding=1, algo="im2col")[0]
    assert not np.array_equal(F.conv2d_backward(gy, x, w, padding=1)[0], exact)
    try:
        fastconv.set_winograd(False)
        assert np.array_equal(F.conv2d_backward(gy, x, w, padding=1)[0], exact)
        assert F.select_conv_algo((2, 16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 20, 20)) != "winograd"
    finally:
        fastconv.set_winograd(True)
    assert F.select_conv_algo((2, 16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 20, 20)) == "winograd"
    # too few channels out of grad_x (a first layer) or too few tiles (batch-1 14x14: 16): im2col's
    for shape, K in (((2, 3, 20, 20), 32), ((1, 16, 14, 14), 32)):
        xs, ws, _ = _case_arrays(*shape, K, False, np.float32, seed=19)
        gys = randn((shape[0], K) + shape[2:], np.float32, 20)
        assert np.array_equal(F.conv2d_backward(gys, xs, ws, padding=1)[0],
                              F.conv2d_backward(gys, xs, ws, padding=1, algo="im2col")[0]), shape
    # 8 output channels: too few for the transposed convolution, grad_x is im2col's
    x8, w8, _ = _case_arrays(2, 16, 20, 20, 8, False, np.float32, seed=15)
    gy8 = randn((2, 8, 20, 20), np.float32, 16)
    assert np.array_equal(F.conv2d_backward(gy8, x8, w8, padding=1)[0],
                          F.conv2d_backward(gy8, x8, w8, padding=1, algo="im2col")[0])


def test_winograd_grad_input_padding_beyond_kernel_falls_back():
    """padding 3 on a 3x3 kernel: the flipped window would need padding -1, so grad_x is im2col's."""
    x, w, _ = _case_arrays(1, 16, 6, 6, 16, False, np.float64, seed=17)
    gy = randn(F.conv2d(x, w, padding=3).shape, np.float64, 18)
    got = F.conv2d_backward(gy, x, w, padding=3, algo="winograd")[0]
    assert np.array_equal(got, F.conv2d_backward(gy, x, w, padding=3, algo="im2col")[0])
    assert_close(got, reference.conv2d_backward(gy, x, w, padding=3)[0])


def test_set_winograd_validates_and_env_switch_is_read_at_start():
    with pytest.raises(TypeError, match="enabled"):
        fastconv.set_winograd("no")
    code = "import fastconv; print(fastconv.get_winograd())"
    for value, expected in (("0", "False"), ("1", "True")):
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "FASTCONV_WINOGRAD": value},
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == expected
