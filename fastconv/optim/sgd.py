"""Stochastic gradient descent, with torch's update rule."""
import numpy as np

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """As torch.optim.SGD (g = grad, p = parameter, b = momentum buffer, t = step):

        g = -g if maximize
        g = g + weight_decay * p
        b = g (first step) else momentum * b + (1 - dampening) * g      (if momentum != 0)
        g = g + momentum * b if nesterov else b
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyper(self, group):
        for name in ("lr", "momentum", "dampening", "weight_decay"):
            self._nonneg(group, name)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, grad, group, state):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if wd != 0:
            grad = grad + wd * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # torch clones the (decayed) gradient into the buffer on the first step
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype, copy=True)
            else:
                buf *= momentum
                dampening = group["dampening"]
                buf += grad if dampening == 0 else (1 - dampening) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= lr * grad
