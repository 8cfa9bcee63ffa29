"""fastconv.reference against torch.nn.functional on random shapes drawn by hypothesis:
odd sizes, non-square kernels, stride > kernel, padding, ceil_mode, count_include_pad."""
import numpy as np
import pytest

from fastconv import reference as R
from helpers import assert_close, randn

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    """torch's intra-op threads spin on a busy machine; one thread is faster for tiny ops."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _np(t):
    return t.detach().numpy()


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kh - 2 * ph), 8))
    W = draw(st.integers(max(1, kw - 2 * pw), 8))
    return dict(N=draw(st.integers(1, 2)), C=draw(st.integers(1, 4)), K=draw(st.integers(1, 4)),
                H=H, W=W, kernel=(kh, kw), stride=(sh, sw), padding=(ph, pw), seed=draw(st.integers(0, 99)))


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(conv_cases())
def test_conv2d_random_shapes_match_torch(case):
    x = randn((case["N"], case["C"], case["H"], case["W"]), seed=case["seed"])
    w = randn((case["K"], case["C"]) + case["kernel"], seed=case["seed"] + 1)
    tx, tw = _leaf(x), _leaf(w)
    ty = torch.nn.functional.conv2d(tx, tw, stride=case["stride"], padding=case["padding"])
    assert_close(R.conv2d(x, w, None, case["stride"], case["padding"]), _np(ty))
    gy = randn(ty.shape, seed=case["seed"] + 2)
    ty.backward(torch.tensor(gy))
    gx, gw, _ = R.conv2d_backward(gy, x, w, case["stride"], case["padding"])
    assert_close(gx, _np(tx.grad))
    assert_close(gw, _np(tw.grad))


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    return dict(H=draw(st.integers(max(1, kh - 2 * ph), 9)), W=draw(st.integers(max(1, kw - 2 * pw), 9)),
                kernel=(kh, kw), stride=(draw(st.integers(1, 4)), draw(st.integers(1, 4))),
                padding=(ph, pw), ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                seed=draw(st.integers(0, 99)))


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(pool_cases())
def test_pooling_random_shapes_match_torch(case):
    F = torch.nn.functional
    k, s, p, ceil = case["kernel"], case["stride"], case["padding"], case["ceil_mode"]
    x = randn((2, 2, case["H"], case["W"]), seed=case["seed"]).round(1)
    ty, ti = F.max_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)
    y, idx = R.max_pool2d(x, k, s, p, ceil_mode=ceil, return_indices=True)
    assert_close(y, _np(ty))
    np.testing.assert_array_equal(idx, ti.numpy())
    tx = _leaf(x)
    ty = F.avg_pool2d(tx, k, s, p, ceil_mode=ceil, count_include_pad=case["count_include_pad"])
    args = dict(ceil_mode=ceil, count_include_pad=case["count_include_pad"])
    assert_close(R.avg_pool2d(x, k, s, p, **args), _np(ty))
    gy = randn(ty.shape, seed=case["seed"] + 1)
    ty.backward(torch.tensor(gy))
    assert_close(R.avg_pool2d_backward(gy, x.shape, k, s, p, **args), _np(tx.grad))
