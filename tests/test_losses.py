"""CrossEntropyLoss and MSELoss: hand-computed values, the reference, torch, finite
differences, stability and bad input."""
import math

import numpy as np
import pytest

import fastconv
from fastconv import nn
from fastconv import _dense as D
from fastconv import reference as R
from helpers import assert_close, numerical_grad, randn


def lse(v):
    return math.log(sum(math.exp(a) for a in v))


# ---- hand-computed values ----------------------------------------------------------------------

def test_cross_entropy_hand_value():
    logits = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -0.5]])
    target = np.array([2, 0])
    expected = ((lse([1, 2, 3]) - 3) + (lse([0.5, 0, -0.5]) - 0.5)) / 2
    crit = nn.CrossEntropyLoss()
    loss = crit(logits, target)
    assert isinstance(loss, float)
    assert loss == pytest.approx(expected, rel=1e-14)
    # gradient: (softmax - onehot) / N
    p = np.exp(logits - np.log(np.exp(logits).sum(1, keepdims=True)))
    onehot = np.eye(3)[target]
    assert_close(crit.backward(), (p - onehot) / 2)


def test_cross_entropy_label_smoothing_hand_value():
    logits = np.array([[1.0, 2.0, 3.0]])
    eps = 0.2
    logp = np.array([1.0, 2.0, 3.0]) - lse([1, 2, 3])
    expected = (1 - eps) * -logp[0] + eps / 3 * -logp.sum()
    assert nn.CrossEntropyLoss(label_smoothing=eps)(logits, np.array([0])) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_class_weights_hand_value():
    logits = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -0.5]])
    w = np.array([0.2, 1.0, 3.0])
    nll = [lse([1, 2, 3]) - 3, lse([0.5, 0, -0.5]) - 0.5]  # targets 2 and 0
    expected = (3.0 * nll[0] + 0.2 * nll[1]) / (3.0 + 0.2)
    assert nn.CrossEntropyLoss(weight=w)(logits, np.array([2, 0])) == pytest.approx(expected, rel=1e-14)
    assert nn.CrossEntropyLoss(weight=w, reduction="sum")(logits, np.array([2, 0])) == \
        pytest.approx(3.0 * nll[0] + 0.2 * nll[1], rel=1e-14)


def test_cross_entropy_ignore_index_hand_value():
    logits = np.array([[1.0, 2.0, 3.0], [9.0, 0.0, -5.0], [0.5, 0.0, -0.5]])
    crit = nn.CrossEntropyLoss(ignore_index=-1)
    loss = crit(logits, np.array([2, -1, 0]))
    assert loss == pytest.approx(((lse([1, 2, 3]) - 3) + (lse([0.5, 0, -0.5]) - 0.5)) / 2, rel=1e-14)
    g = crit.backward()
    np.testing.assert_array_equal(g[1], 0)
    # an ignore_index inside the class range ignores that class's samples
    loss = nn.CrossEntropyLoss(ignore_index=1)(logits, np.array([2, 1, 0]))
    assert loss == pytest.approx(((lse([1, 2, 3]) - 3) + (lse([0.5, 0, -0.5]) - 0.5)) / 2, rel=1e-14)


def test_all_targets_ignored_gives_nan_like_torch():
    crit = nn.CrossEntropyLoss()
    assert math.isnan(crit(np.zeros((2, 3)), np.array([-100, -100])))
    np.testing.assert_array_equal(crit.backward(), 0)  # torch's gradient is 0, not nan
    assert nn.CrossEntropyLoss(reduction="sum")(np.zeros((2, 3)), np.array([-100, -100])) == 0.0


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    crit = nn.CrossEntropyLoss()
    assert crit(logits, np.array([0])) == 0.0
    assert crit(logits, np.array([1])) == pytest.approx(1e4)
    g = crit.backward()
    assert np.isfinite(g).all() and g.dtype == np.float32


# ---- against the reference and finite differences ---------------------------------------------

CE_CASES = [
    dict(),
    dict(label_smoothing=0.1),
    dict(weight=np.array([0.5, 2.0, 1.0, 0.1, 3.0])),
    dict(weight=np.array([0.5, 2.0, 1.0, 0.1, 3.0]), label_smoothing=0.3, ignore_index=3),
    dict(ignore_index=-100, reduction="sum", label_smoothing=0.05),
    dict(reduction="none", weight=np.array([1.0, 2.0, 3.0, 4.0, 5.0]), label_smoothing=0.2),
]


@pytest.mark.parametrize("kwargs", CE_CASES)
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 2, 2), (5,)])
def test_cross_entropy_against_reference_and_finite_differences(kwargs, shape):
    logits = randn(shape, seed=1, scale=2)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = np.random.default_rng(2).integers(0, 5, size=tshape)
    if tshape and "ignore_index" in kwargs:
        target.reshape(-1)[::3] = kwargs["ignore_index"]
    crit = nn.CrossEntropyLoss(**kwargs)
    loss = crit(logits, target)
    ref_kwargs = {k: v for k, v in kwargs.items()}
    assert_close(np.asarray(loss), R.cross_entropy(logits, target, **ref_kwargs))
    grad_out = randn(np.shape(loss), seed=3) if kwargs.get("reduction") == "none" else 1.0
    g = crit.backward(grad_out)
    assert g.shape == logits.shape
    assert_close(g, R.cross_entropy_backward(logits, target, grad_output=grad_out, **ref_kwargs))
    fd = numerical_grad(lambda z: np.sum(D.cross_entropy(z, target, **kwargs) * grad_out), logits)
    assert_close(g, fd, rtol=1e-6, atol=1e-9)


def test_cross_entropy_probability_targets():
    logits = randn((4, 3), seed=4)
    probs = np.random.default_rng(5).dirichlet(np.ones(3), size=4)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1, weight=np.array([1.0, 2.0, 0.5]))
    loss = crit(logits, probs)
    assert_close(np.asarray(loss), R.cross_entropy(logits, probs, label_smoothing=0.1,
                                                   weight=np.array([1.0, 2.0, 0.5])))
    assert_close(crit.backward(), R.cross_entropy_backward(logits, probs, label_smoothing=0.1,
                                                           weight=np.array([1.0, 2.0, 0.5])))


@pytest.mark.parametrize("kwargs", CE_CASES[:5])
def test_cross_entropy_against_torch(kwargs):
    torch = pytest.importorskip("torch")
    logits = randn((7, 5), seed=6, scale=3)
    target = np.random.default_rng(7).integers(0, 5, size=7)
    if "ignore_index" in kwargs:
        target[::3] = kwargs["ignore_index"]
    tk = dict(kwargs)
    if "weight" in tk:
        tk["weight"] = torch.from_numpy(tk["weight"])
    z = torch.from_numpy(logits).requires_grad_()
    tl = torch.nn.CrossEntropyLoss(**tk)(z, torch.from_numpy(target))
    tl.backward()
    crit = nn.CrossEntropyLoss(**kwargs)
    assert crit(logits, target) == pytest.approx(tl.item(), rel=1e-12)
    assert_close(crit.backward(), z.grad.numpy())


def test_float32_logits_give_float32_gradient():
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    logits = randn((8, 10), np.float32, seed=8)
    target = np.arange(8) % 10
    loss = crit(logits, target)
    assert_close(np.float32(loss), R.cross_entropy(logits, target, label_smoothing=0.1), np.float32)
    g = crit.backward()
    assert g.dtype == np.float32
    assert_close(g, R.cross_entropy_backward(logits, target, label_smoothing=0.1), np.float32)


# ---- bad input -----------------------------------------------------------------------------------

def test_cross_entropy_bad_targets():
    crit = nn.CrossEntropyLoss()
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"target.*5.*\[0, 4\)"):
        crit(z, np.array([0, 5, 1]))
    with pytest.raises(ValueError, match="target.*-2"):
        crit(z, np.array([0, -2, 1]))
    with pytest.raises(TypeError, match="target.*integer"):
        crit(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="batch size 2 does not match input batch size 3"):
        crit(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="input"):
        crit(np.zeros((3, 4), np.int64), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="weight"):
        nn.CrossEntropyLoss(weight=np.ones(3))(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="average")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_loss_backward_needs_a_forward_outside_no_grad():
    crit = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match="loss"):
        crit.backward()
    with fastconv.no_grad():
        crit(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(RuntimeError):
        crit.backward()


# ---- MSE -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    x = randn((3, 4), seed=9)
    t = randn((3, 4), seed=10)
    crit = nn.MSELoss(reduction=reduction)
    loss = crit(x, t)
    assert_close(np.asarray(loss), R.mse_loss(x, t, reduction))
    go = randn((3, 4), seed=11) if reduction == "none" else 1.0
    assert_close(crit.backward(go), R.mse_loss_backward(x, t, reduction, go))
    if reduction == "mean":
        assert loss == pytest.approx(np.mean((x - t) ** 2), rel=1e-14)
        assert isinstance(loss, float)


def test_mse_bad_input():
    with pytest.raises(ValueError, match="target"):
        nn.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
