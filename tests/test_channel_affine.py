"""The one-pass per-channel affine + ReLU kernel (src_c/channel_affine.c) behind eval-mode
batch_norm and relu on large activations: the same values as NumPy's separate passes, bit for
bit (x * scale rounded, + shift rounded; max(., 0) keeping NaN), on every ISA path and thread
count, in place or not; small or non-contiguous arrays keep the NumPy path."""
import numpy as np
import pytest

from fastconv import _dense as D
from fastconv import _ext


def _numpy_bn(x, mean, var, w, b, eps=1e-5):
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    scale = invstd * w
    shift = b - mean * scale
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = x * scale.reshape(shape)
    y += shift.reshape(shape)
    return y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 256, 56, 56), (3, 5, 17, 19), (2, 70, 31), (4, 3000)])
@pytest.mark.parametrize("nt", [1, 2])
def test_eval_batch_norm_equals_numpy_bit_for_bit(dtype, shape, nt, config):
    config(threads=nt)
    rng = np.random.default_rng(0)
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::97] = np.nan
    x.reshape(-1)[5::101] = -np.inf
    mean, var = rng.standard_normal(C).astype(dtype), rng.uniform(0.1, 2, C).astype(dtype)
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    assert x.size >= D._AFFINE_MIN_ELEMENTS   # the kernel path
    y = D.batch_norm(x, mean, var, w, b, training=False)
    np.testing.assert_array_equal(y, _numpy_bn(x, mean, var, w, b))
    assert y.dtype == dtype and y.shape == x.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
def test_relu_equals_numpy_keeps_nan_and_works_in_place(dtype, nt, config):
    config(threads=nt)
    x = np.random.default_rng(1).standard_normal((2, 64, 40, 41)).astype(dtype)
    x.reshape(-1)[::13] = np.nan
    x.reshape(-1)[1::17] = -np.inf
    x.reshape(-1)[2::19] = np.inf
    expected = np.maximum(x, 0)
    y = D.relu(x)
    np.testing.assert_array_equal(y, expected)
    assert y is not x and not np.shares_memory(y, x)
    z = D.relu(x, inplace=True)
    assert z is x
    np.testing.assert_array_equal(x, expected)


def test_every_isa_path_agrees():
    x = np.random.default_rng(2).standard_normal((1, 32, 30, 30)).astype(np.float32)
    s, t = np.linspace(-2, 2, 32, dtype=np.float32), np.linspace(1, -1, 32, dtype=np.float32)
    ref = np.maximum(x * s.reshape(1, -1, 1, 1) + t.reshape(1, -1, 1, 1), 0)
    for isa in range(_ext.CPU_ISA + 1):
        out = np.empty_like(x)
        _ext.channel_affine(isa, 2, 1, 32, 900, x.reshape(-1), s, t, True, out.reshape(-1))
        np.testing.assert_array_equal(out, ref)


def test_small_and_non_contiguous_inputs_keep_the_numpy_path():
    rng = np.random.default_rng(3)
    small = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    assert not D._affine_ok(small)
    np.testing.assert_array_equal(D.relu(small), np.maximum(small, 0))
    big = rng.standard_normal((2, 64, 32, 32)).astype(np.float32)[:, :, ::2, :]   # strided view
    assert not D._affine_ok(big)
    C = 64
    args = (np.zeros(C, np.float32), np.ones(C, np.float32), np.full(C, 2, np.float32), np.ones(C, np.float32))
    np.testing.assert_array_equal(D.batch_norm(big, *args, training=False), _numpy_bn(big, *args))


def test_binding_refuses_inconsistent_sizes():
    x = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="N\\*C\\*HW"):
        _ext.channel_affine(0, 1, 2, 5, 11, x, np.ones(5, np.float32), np.ones(5, np.float32), False, x)
    with pytest.raises(ValueError, match="C elements"):
        _ext.channel_affine(0, 1, 2, 5, 10, x, np.ones(4, np.float32), np.ones(5, np.float32), False, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nt", [1, 2])
def test_relu_backward_kernel_equals_numpy_and_may_write_over_grad(dtype, nt, config):
    config(threads=nt)
    rng = np.random.default_rng(4)
    g = rng.standard_normal((4, 32, 30, 30)).astype(dtype)
    y = rng.standard_normal(g.shape).astype(dtype)
    y.reshape(-1)[::11] = np.nan   # a NaN output passes its gradient (threshold_backward)
    y.reshape(-1)[1::13] = 0.0     # exactly 0 does not
    expected = np.where(y <= 0, 0, g)
    np.testing.assert_array_equal(D.relu_backward(g, y), expected)
    out = D.relu_backward(g, y, out=g)
    assert out is g
    np.testing.assert_array_equal(g, expected)
    with pytest.raises(ValueError, match="out"):
        D.relu_backward(g, y, out=np.empty(3, dtype))


def test_max_pool_backward_refuses_negative_and_large_indices_in_one_pass():
    import fastconv.functional as F
    gy = np.ones((1, 1, 2, 2), np.float32)
    for bad in (-1, 16, np.iinfo(np.int64).min):
        idx = np.zeros((1, 1, 2, 2), np.int64)
        idx[0, 0, 1, 1] = bad
        with pytest.raises(ValueError, match="indices must lie in"):
            F.max_pool2d_backward(gy, idx, (1, 1, 4, 4))
