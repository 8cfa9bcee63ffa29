"""Adam and AdamW, with torch's update rules (bias correction, optional amsgrad)."""
import math

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """As torch.optim.Adam (t counts steps from 1; m, v start at 0):

        g = -g if maximize
        g = g + weight_decay * p                    (AdamW instead: p = p * (1 - lr * weight_decay))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                       (amsgrad; v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyper(self, group):
        for name in ("lr", "eps", "weight_decay"):
            self._nonneg(group, name)
        try:
            b1, b2 = group["betas"]
        except (TypeError, ValueError):
            raise ValueError(f"betas: expected a pair of numbers, got {group['betas']!r}") from None
        for i, b in enumerate((b1, b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"betas: invalid beta parameter at index {i}: {b}")

    def _update(self, p, grad, group, state):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            if self._decoupled:
                p.data *= 1 - lr * wd
            else:
                grad = grad + wd * p.data
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # torch: exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
        m += (1 - beta1) * (grad - m)
        v *= beta2
        v += (1 - beta2) * np.square(grad)
        bias_correction1 = 1 - beta1 ** t
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** t)
        if group["amsgrad"]:
            vmax = state.setdefault("max_exp_avg_sq", np.zeros_like(p.data))
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax)
        else:
            denom = np.sqrt(v)
        denom /= bias_correction2_sqrt
        denom += eps
        step = m / denom
        step *= lr / bias_correction1
        p.data -= step


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): p = p * (1 - lr * weight_decay) before
    the Adam step, instead of adding weight_decay * p to the gradient."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
