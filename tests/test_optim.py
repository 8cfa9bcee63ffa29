"""Optimizers and schedulers: hand-computed updates, torch.optim cross-checks, param groups,
state_dict round trips, bad arguments."""
import math

import numpy as np
import pytest

from fastconv import nn, optim
from fastconv.optim import lr_scheduler
from helpers import assert_close


def param(values, grad=None):
    p = nn.Parameter(np.array(values, dtype=np.float64))
    if grad is not None:
        p.grad = np.array(grad, dtype=np.float64)
    return p


# ---- SGD by hand ---------------------------------------------------------------------------------

def test_sgd_plain_step():
    p = param([1.0, -2.0], [0.5, 0.25])
    optim.SGD([p], lr=0.1).step()
    assert_close(p.data, [0.95, -2.025])


def test_sgd_momentum_buffer_starts_at_first_gradient():
    p = param([1.0], [2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    opt.step()                       # b = g = 2 (no dampening on the first step)
    assert_close(p.data, [1.0 - 0.1 * 2.0])
    p.grad = np.array([1.0])
    opt.step()                       # b = 0.9 * 2 + 0.5 * 1 = 2.3
    assert_close(p.data, [0.8 - 0.1 * 2.3])
    assert_close(opt.state[p]["momentum_buffer"], [2.3])


def test_sgd_nesterov_and_weight_decay():
    p = param([1.0], [2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)
    opt.step()  # g = 2 + 0.1 * 1 = 2.1; b = 2.1; step = g + 0.9 b = 3.99
    assert_close(p.data, [1.0 - 0.399])
    p.grad = np.array([1.0])
    opt.step()  # g = 1 + 0.1 * 0.601 = 1.0601; b = 0.9 * 2.1 + g = 2.9501; step = g + 0.9 b
    g = 1.0 + 0.1 * 0.601
    b = 0.9 * 2.1 + g
    assert_close(p.data, [0.601 - 0.1 * (g + 0.9 * b)])


def test_sgd_maximize_and_skips_params_without_grad():
    p, q = param([1.0], [1.0]), param([5.0])
    optim.SGD([p, q], lr=0.5, maximize=True).step()
    assert_close(p.data, [1.5])
    assert_close(q.data, [5.0])


# ---- Adam by hand ------------------------------------------------------------------------------

def adam_by_hand(p0, grads, lr, b1, b2, eps, wd=0.0, decoupled=False, amsgrad=False):
    p, m, v, vmax = p0, 0.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if wd and decoupled:
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        mhat = m / (1 - b1 ** t)
        vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * mhat / (math.sqrt(vhat) + eps)
    return p


@pytest.mark.parametrize("cls,kw", [
    (optim.Adam, dict()), (optim.Adam, dict(weight_decay=0.1)), (optim.Adam, dict(amsgrad=True)),
    (optim.AdamW, dict(weight_decay=0.1)), (optim.AdamW, dict(weight_decay=0.1, amsgrad=True)),
])
def test_adam_family_by_hand(cls, kw):
    grads = [0.5, -1.0, 2.0, 0.1]
    p = param([1.5])
    opt = cls([p], lr=0.01, betas=(0.8, 0.9), eps=1e-6, **kw)
    for g in grads:
        p.grad = np.array([g])
        opt.step()
    expected = adam_by_hand(1.5, grads, 0.01, 0.8, 0.9, 1e-6, kw.get("weight_decay", 0.0),
                            cls is optim.AdamW, kw.get("amsgrad", False))
    assert_close(p.data, [expected])
    assert opt.state[p]["step"] == 4


def test_adam_first_step_is_lr_times_sign():
    # bias correction makes the first step ~ lr * sign(g), whatever the gradient's scale
    p = param([0.0, 0.0], [1e-3, -50.0])
    optim.Adam([p], lr=0.1).step()
    assert_close(p.data, [-0.1, 0.1], rtol=1e-4)


def test_adamw_default_weight_decay():
    assert optim.AdamW([param([1.0])]).defaults["weight_decay"] == 1e-2
    assert optim.Adam([param([1.0])]).defaults["weight_decay"] == 0


# ---- against torch.optim ------------------------------------------------------------------------

TORCH_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.99), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True, eps=1e-4)),
]


@pytest.mark.parametrize("name,kw", TORCH_CASES)
def test_matches_torch_optim(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    ours = [nn.Parameter(a.copy()) for a in init]
    theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    opt = getattr(optim, name)(ours, **kw)
    topt = getattr(torch.optim, name)(theirs, **kw)
    for step in range(5):
        grads = [rng.standard_normal(a.shape) for a in init]
        for p, t, g in zip(ours, theirs, grads):
            p.grad = g.copy()
            t.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, t in zip(ours, theirs):
        assert_close(p.data, t.detach().numpy(), rtol=1e-12)


# ---- param groups and state dicts ----------------------------------------------------------------

def test_param_groups_have_their_own_hyper_parameters():
    a, b = param([1.0], [1.0]), param([1.0], [1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    opt.step()
    assert_close(a.data, [0.9])
    assert_close(b.data, [0.5])
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": [a]})


def test_module_parameters_and_zero_grad():
    lin = nn.Linear(3, 2)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    lin(np.ones((1, 3), np.float32))
    lin.backward(np.ones((1, 2), np.float32))
    w = lin.weight.data.copy()
    opt.step()
    assert_close(lin.weight.data, w - 0.1 * np.ones((2, 3)), np.float32)
    assert lin.weight.data.dtype == np.float32
    opt.zero_grad()
    assert lin.weight.grad is None


def _run(opt, params, grads):
    for g in grads:
        for p in params:
            p.grad = np.full_like(p.data, g)
        opt.step()


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: optim.AdamW([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.1}], lr=0.01),
])
def test_state_dict_round_trip_continues_identically(make):
    a = [param([1.0, 2.0]), param([3.0])]
    b = [param([1.0, 2.0]), param([3.0])]
    opt_a = make(a)
    _run(opt_a, a, [0.3, -0.2])
    sd = opt_a.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert [g["params"] for g in sd["param_groups"]][0][0] == 0
    for p, q in zip(a, b):
        q.data[...] = p.data
    opt_b = make(b)
    opt_b.load_state_dict(sd)
    _run(opt_a, a, [0.5, 0.1])
    _run(opt_b, b, [0.5, 0.1])
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)
    # the state dict holds copies
    sd["state"][0][next(iter(sd["state"][0]))] = None
    _run(opt_a, a, [0.1])


def test_load_state_dict_mismatched_groups():
    opt = optim.SGD([param([1.0]), param([2.0])], lr=0.1)
    other = optim.SGD([param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="size"):
        opt.load_state_dict(other.state_dict())
    two = optim.SGD([{"params": [param([1.0])]}, {"params": [param([1.0])]}], lr=0.1)
    with pytest.raises(ValueError, match="groups"):
        opt.load_state_dict(two.state_dict())


def test_load_state_dict_restores_hyper_parameters():
    p = param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.01
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["params"] == [p]


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([param([1.0])], lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([param([1.0])], lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="[Nn]esterov"):
        optim.SGD([param([1.0])], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([param([1.0])], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="params"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="params"):
        optim.SGD(param([1.0]), lr=0.1)


# ---- schedulers --------------------------------------------------------------------------------

def _lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    return out


def test_step_lr_by_hand():
    opt = optim.SGD([param([1.0])], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    assert _lrs(sched, 6) == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.125)


def test_cosine_annealing_by_hand():
    opt = optim.SGD([param([1.0])], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert _lrs(sched, 5) == pytest.approx(expected, rel=1e-12)


def test_scheduler_groups_and_state_dict():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.01, 0.1])
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 1
    opt2 = optim.SGD([{"params": [param([1.0])]}, {"params": [param([1.0])], "lr": 1.0}], lr=0.1)
    sched2 = lr_scheduler.StepLR(opt2, step_size=1, gamma=0.1)
    sched2.load_state_dict(sd)
    assert sched2.last_epoch == 1


@pytest.mark.parametrize("make,tmake", [
    (lambda o: lr_scheduler.StepLR(o, 3, 0.5), lambda t, o: t.optim.lr_scheduler.StepLR(o, 3, 0.5)),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 5, 0.001),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, 5, 0.001)),
    (lambda o: lr_scheduler.MultiStepLR(o, [2, 5, 5], 0.3),
     lambda t, o: t.optim.lr_scheduler.MultiStepLR(o, [2, 5, 5], 0.3)),
    (lambda o: lr_scheduler.ExponentialLR(o, 0.9), lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, 0.9)),
])
def test_schedulers_match_torch(make, tmake):
    torch = pytest.importorskip("torch")
    opt = optim.SGD([param([1.0])], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1, momentum=0.9)
    sched, tsched = make(opt), tmake(torch, topt)
    for _ in range(14):  # past T_max: torch's cosine keeps going as a wave
        assert sched.get_last_lr()[0] == pytest.approx(tsched.get_last_lr()[0], rel=1e-12, abs=1e-15)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_scheduler_bad_arguments():
    opt = optim.SGD([param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(opt, 0)
    with pytest.raises(TypeError, match="optimizer"):
        lr_scheduler.StepLR("sgd", 1)
