"""End to end: a few training steps of a small CNN (conv, BN, ReLU, pools, linear, cross-entropy
with label smoothing, SGD with momentum / AdamW) give the same weights as torch, in float64."""
import numpy as np
import pytest

import fastconv
from fastconv import nn, optim
from helpers import assert_close


def build(lib, dtype_torch=None):
    n = lib.nn if hasattr(lib, "nn") else lib
    layers = [n.Conv2d(2, 4, 3, padding=1), n.BatchNorm2d(4), n.ReLU(), n.MaxPool2d(2),
              n.Conv2d(4, 6, 3, stride=2, padding=1), n.ReLU(), n.AvgPool2d(2, 1),
              n.AdaptiveAvgPool2d((2, 1)), n.Flatten(), n.Linear(12, 8), n.ReLU(), n.Linear(8, 5)]
    return n.Sequential(*layers)


@pytest.mark.parametrize("opt_name", ["SGD", "AdamW"])
def test_training_steps_match_torch(opt_name):
    torch = pytest.importorskip("torch")
    fastconv.manual_seed(0)
    net = build(nn).double()
    tnet = build(torch).double()
    tnet.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state_dict().items()})
    kw = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3) if opt_name == "SGD" \
        else dict(lr=0.01, weight_decay=0.05)
    opt = getattr(optim, opt_name)(net.parameters(), **kw)
    topt = getattr(torch.optim, opt_name)(tnet.parameters(), **kw)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    tcrit = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    rng = np.random.default_rng(1)
    for step in range(3):
        x = rng.standard_normal((6, 2, 8, 8))
        y = rng.integers(0, 5, size=6)
        opt.zero_grad()
        loss = crit(net(x), y)
        net.backward(crit.backward())
        opt.step()
        topt.zero_grad()
        tloss = tcrit(tnet(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        assert loss == pytest.approx(tloss.item(), rel=1e-10)
    for key, value in tnet.state_dict().items():
        assert_close(net.state_dict()[key], value.numpy(), rtol=1e-9, msg=key)
