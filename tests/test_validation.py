"""Bad input to fastconv.functional raises ValueError/TypeError naming the argument, before C runs."""
import numpy as np
import pytest

import fastconv.functional as F

f32 = np.float32


def x4(n=1, c=3, h=8, w=8, dtype=f32):
    return np.zeros((n, c, h, w), dtype=dtype)


def w4(k=4, c=3, r=3, s=3, dtype=f32):
    return np.zeros((k, c, r, s), dtype=dtype)


CONV_BAD = [
    # (kwargs, exception, words the message must contain)
    (dict(x=np.zeros((3, 8, 8), f32)), ValueError, "x must be a 4-D"),
    (dict(weight=np.zeros((4, 3, 3), f32)), ValueError, "weight must be a 4-D"),
    (dict(weight=w4(c=2)), ValueError, "input channels"),
    (dict(x=x4(h=2, w=2)), ValueError, "larger than the padded input"),
    (dict(stride=0), ValueError, "stride must be positive"),
    (dict(stride=-2), ValueError, "stride must be positive"),
    (dict(stride=(1, 0)), ValueError, "stride must be positive"),
    (dict(stride=(1, 2, 3)), ValueError, "stride must be an int or a pair"),
    (dict(stride=1.5), TypeError, "stride must be an int"),
    (dict(stride=True), TypeError, "stride must be an int"),
    (dict(padding=-1), ValueError, "padding must be >= 0"),
    (dict(padding="same"), TypeError, "padding must be an int"),
    (dict(weight=w4(dtype=np.float64)), TypeError, "dtype"),
    (dict(x=x4(dtype=np.int32)), TypeError, "x must be a float32 or float64"),
    (dict(x=x4(dtype=np.float16)), TypeError, "x must be a float32 or float64"),
    (dict(x=np.zeros((1, 3, 8, 8), dtype=object)), TypeError, "x must be a float32 or float64"),
    (dict(x="an image"), TypeError, "x must be a float32 or float64"),
    (dict(x=None), TypeError, "x must be a float32 or float64"),
    (dict(weight=None), TypeError, "weight must be a float32 or float64"),
    (dict(bias=np.zeros(5, f32)), ValueError, "bias must have shape (4,)"),
    (dict(bias=np.zeros((4, 1), f32)), ValueError, "bias must be a 1-D"),
    (dict(bias=np.zeros(4, np.float64)), TypeError, "bias has dtype float64"),
    (dict(algo="fft"), ValueError, "algo must be one of"),
    (dict(algo="winograd", stride=2), ValueError, "algo='winograd' needs a 3x3 kernel with stride 1"),
    (dict(algo=None), ValueError, "algo must be one of"),
    (dict(algo="1x1"), ValueError, "algo='1x1' needs a 1x1 kernel"),
    (dict(padding=2**40), ValueError, "more than int64 can index"),
]


@pytest.mark.parametrize("bad,exc,words", CONV_BAD, ids=[c[2][:30] for c in CONV_BAD])
def test_conv2d_rejects(bad, exc, words):
    args = dict(x=x4(), weight=w4(), bias=None, stride=1, padding=0, algo="auto")
    args.update(bad)
    with pytest.raises(exc, match=_re(words)):
        F.conv2d(args.pop("x"), args.pop("weight"), **args)


def _re(words):
    import re
    return re.escape(words)


def test_conv2d_backward_rejects_grad_of_wrong_shape():
    x, w = x4(), w4()
    with pytest.raises(ValueError, match="grad_y must have the output's shape"):
        F.conv2d_backward(np.zeros((1, 4, 5, 6), f32), x, w)
    with pytest.raises(TypeError, match="grad_y has dtype"):
        F.conv2d_backward(np.zeros((1, 4, 6, 6), np.float64), x, w)


POOL_BAD = [
    (dict(kernel_size=3, padding=2), ValueError, "at most half the kernel size"),
    (dict(kernel_size=1, padding=1), ValueError, "at most half the kernel size"),
    (dict(kernel_size=20), ValueError, "larger than the padded input"),
    (dict(kernel_size=0), ValueError, "kernel_size must be positive"),
    (dict(kernel_size=2, stride=0), ValueError, "stride must be positive"),
    (dict(kernel_size=2, padding=-1), ValueError, "padding must be >= 0"),
    (dict(kernel_size=2, ceil_mode="yes"), TypeError, "ceil_mode must be a bool"),
    (dict(kernel_size=None), TypeError, "kernel_size must be an int"),
]


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize("bad,exc,words", POOL_BAD, ids=[c[2][:30] for c in POOL_BAD])
def test_pool_rejects(pool, bad, exc, words):
    with pytest.raises(exc, match=_re(words)):
        pool(x4(), **bad)


def test_pool_rejects_bad_arrays():
    with pytest.raises(ValueError, match="x must be a 4-D"):
        F.max_pool2d(np.zeros((8, 8), f32), 2)
    with pytest.raises(TypeError, match="x must be a float32 or float64"):
        F.avg_pool2d(np.zeros((1, 1, 4, 4), np.int64), 2)


def test_max_pool2d_backward_rejects_bad_indices():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(f32)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    gy = np.ones_like(y)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 16\)"):
        F.max_pool2d_backward(gy, idx + 16, x.shape)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 16\)"):
        F.max_pool2d_backward(gy, idx - 100, x.shape)
    with pytest.raises(TypeError, match="indices must be an integer array"):
        F.max_pool2d_backward(gy, idx.astype(np.float64), x.shape)
    with pytest.raises(ValueError, match="indices must have grad_y's shape"):
        F.max_pool2d_backward(gy, idx[:, :1], x.shape)
    with pytest.raises(ValueError, match="input_shape must have 4 entries"):
        F.max_pool2d_backward(gy, idx, (2, 4, 4))
    with pytest.raises(ValueError, match="does not match grad_y's batch and channels"):
        F.max_pool2d_backward(gy, idx, (1, 3, 4, 4))


def test_avg_and_adaptive_backward_reject_wrong_shapes():
    with pytest.raises(ValueError, match="grad_y must have the pooled shape"):
        F.avg_pool2d_backward(np.zeros((1, 3, 3, 3), f32), (1, 3, 8, 8), 2)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x4(), 0)
    with pytest.raises(ValueError, match="do not match input_shape"):
        F.adaptive_avg_pool2d_backward(np.zeros((1, 2, 1, 1), f32), (1, 3, 8, 8))


def test_matmul_rejects():
    with pytest.raises(ValueError, match="a has 3 columns but b has 4 rows"):
        F.matmul(np.zeros((2, 3), f32), np.zeros((4, 5), f32))
    with pytest.raises(TypeError, match="b has dtype float64"):
        F.matmul(np.zeros((2, 3), f32), np.zeros((3, 5)))


def test_validation_happens_before_any_output_is_touched():
    # a rejected call leaves its inputs untouched and raises the documented type
    x = x4()
    before = x.copy()
    with pytest.raises(ValueError):
        F.conv2d(x, w4(), stride=0)
    np.testing.assert_array_equal(x, before)
