"""Property tests (hypothesis): the dense fast-path ops agree with fastconv.reference over
random shapes, including empty batches, and their gradients match for every option mix."""
import numpy as np
from hypothesis import given, settings, strategies as st

from fastconv import _dense as D
from fastconv import reference as R
from helpers import assert_close

SETTINGS = settings(max_examples=40, deadline=None)
dtypes = st.sampled_from([np.float32, np.float64])


def arr(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@SETTINGS
@given(lead=st.lists(st.integers(0, 4), min_size=1, max_size=3), fin=st.integers(1, 7),
       fout=st.integers(1, 7), bias=st.booleans(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_linear_matches_reference(lead, fin, fout, bias, dtype, seed):
    rng = np.random.default_rng(seed)
    x, w = arr(rng, tuple(lead) + (fin,), dtype), arr(rng, (fout, fin), dtype)
    b = arr(rng, (fout,), dtype) if bias else None
    y = D.linear(x, w, b)
    assert y.dtype == dtype
    assert_close(y, R.linear(x, w, b), dtype)
    gy = arr(rng, y.shape, dtype)
    gx, gw, gb = D.linear_backward(gy, x, w)
    rgx, rgw, rgb = R.linear_backward(gy, x, w)
    assert_close(gx, rgx, dtype)
    assert_close(gw, rgw, dtype)
    assert_close(gb, rgb, dtype)


@SETTINGS
@given(n=st.integers(1, 5), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 4), max_size=2),
       training=st.booleans(), affine=st.booleans(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_batch_norm_matches_reference(n, c, spatial, training, affine, dtype, seed):
    shape = (n, c) + tuple(spatial)
    if training and n * int(np.prod(spatial or [1])) < 2:
        n, shape = 2, (2, c) + tuple(spatial)
    rng = np.random.default_rng(seed)
    x = arr(rng, shape, dtype, 3.0) + 1
    w = arr(rng, (c,), dtype) if affine else None
    b = arr(rng, (c,), dtype) if affine else None
    rm, rv = arr(rng, (c,), dtype), (np.abs(arr(rng, (c,), dtype)) + 0.5).astype(dtype)
    ry, rrm, rrv = R.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5)
    rm2, rv2 = rm.copy(), rv.copy()
    y, mean, invstd = D.batch_norm(x, rm2, rv2, w, b, training, 0.1, 1e-5, return_stats=True)
    tol = dict(rtol=1e-4) if dtype == np.float32 else {}
    assert_close(y, ry, dtype, **tol)
    assert_close(rm2, rrm, dtype, **tol)
    assert_close(rv2, rrv, dtype, **tol)
    gy = np.random.default_rng(seed + 1).standard_normal(shape).astype(dtype)
    gx, gw, gb = D.batch_norm_backward(gy, x, w, mean, invstd, training=training)
    rgx, rgw, rgb = R.batch_norm_backward(gy, x, rm, rv, w, training, 1e-5)
    # gx is a difference of terms of size |gy * w| * invstd that can cancel (two values per
    # channel give gx ~ 0): compare on the scale of those terms, not of the result
    term = float(np.abs(gy).max() * (1.0 if w is None else np.abs(w).max()) * invstd.max())
    assert_close(gx, rgx, dtype, atol=(1e-5 if dtype == np.float32 else 1e-12) * term, **tol)
    assert_close(gw, rgw, dtype, **tol)
    assert_close(gb, rgb, dtype, **tol)


@SETTINGS
@given(n=st.integers(1, 6), c=st.integers(1, 6), extra=st.lists(st.integers(1, 3), max_size=2),
       weighted=st.booleans(), smoothing=st.sampled_from([0.0, 0.1, 0.7]),
       reduction=st.sampled_from(["mean", "sum", "none"]), ignore=st.booleans(), dtype=dtypes,
       seed=st.integers(0, 2**16))
def test_cross_entropy_matches_reference(n, c, extra, weighted, smoothing, reduction, ignore, dtype, seed):
    rng = np.random.default_rng(seed)
    logits = arr(rng, (n, c) + tuple(extra), dtype, 4.0)
    target = rng.integers(0, c, size=(n,) + tuple(extra))
    if ignore:
        target.reshape(-1)[rng.random(target.size) < 0.3] = -100
    weight = (rng.random(c) + 0.1).astype(dtype) if weighted else None
    kw = dict(weight=weight, label_smoothing=smoothing, reduction=reduction)
    loss = D.cross_entropy(logits, target, **kw)
    ref = R.cross_entropy(logits, target, **kw)
    tol = dict(rtol=1e-4) if dtype == np.float32 else {}
    assert_close(np.asarray(loss, dtype=np.float64), ref.astype(np.float64), dtype, **tol)
    go = rng.standard_normal(target.shape) if reduction == "none" else 0.7
    g = D.cross_entropy_grad(logits, target, grad_output=go, **kw)
    assert g.dtype == dtype and g.shape == logits.shape
    if reduction == "mean" and (target == -100).all():
        np.testing.assert_array_equal(g, 0)  # torch: nan loss, zero gradient
        return
    assert_close(g, R.cross_entropy_backward(logits, target, grad_output=go, **kw), dtype, **tol)


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data(), dtype=dtypes,
       seed=st.integers(0, 2**16))
def test_softmax_family_matches_reference(shape, data, dtype, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    x = arr(rng, tuple(shape), dtype, 5.0)
    gy = arr(rng, tuple(shape), dtype)
    y, ly = D.softmax(x, dim), D.log_softmax(x, dim)
    assert_close(y, R.softmax(x, dim), dtype)
    assert_close(ly, R.log_softmax(x, dim), dtype)
    # y * (gy - sum(gy * y)) cancels: its rounding error scales with |gy| * |y|, not with the
    # (possibly tiny) result, so the absolute tolerance is taken from the inputs' scale
    rel = 1e-5 if dtype == np.float32 else 1e-10
    scale = float(np.abs(gy).max()) * max(float(np.abs(y).max()), 1.0)
    assert_close(D.softmax_backward(gy, y, dim), R.softmax_backward(gy, y, dim), dtype, atol=rel * scale)
    assert_close(D.log_softmax_backward(gy, ly, dim), R.log_softmax_backward(gy, ly, dim), dtype,
                 atol=rel * float(np.abs(gy).max()) * max(gy.shape[dim], 1))


def test_empty_batch_linear_gradients_are_zero_not_garbage():
    x = np.empty((0, 3), np.float32)
    w = np.ones((2, 3), np.float32)
    assert D.linear(x, w).shape == (0, 2)
    gx, gw, gb = D.linear_backward(np.empty((0, 2), np.float32), x, w)
    assert gx.shape == (0, 3)
    np.testing.assert_array_equal(gw, 0)
    np.testing.assert_array_equal(gb, 0)
