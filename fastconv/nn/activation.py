"""Activations: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax."""
import numpy as np

from .. import _dense as D
from .module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"]


class ReLU(Module):
    """max(x, 0). ``inplace=True`` overwrites the input (saves a copy; the input must not be
    needed afterwards). Backward needs only the output's sign, so it keeps the output."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        y = D.relu(x, inplace=self.inplace)
        self._save_for_backward(y)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (y,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "ReLU")
        return D.relu_backward(grad_out, y)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, x):
        D._check_float(x, "x")
        # exp of -|x| never overflows; same formula for both signs
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        self._save_for_backward(y)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (y,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "Sigmoid")
        return grad_out * y * (1 - y)


class Tanh(Module):
    def forward(self, x):
        D._check_float(x, "x")
        y = np.tanh(x)
        self._save_for_backward(y)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (y,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "Tanh")
        return grad_out * (1 - y * y)


def _softmax_dim(dim, ndim):
    # torch's legacy rule when dim is None
    if dim is None:
        return 0 if ndim in (0, 1, 3) else 1
    return dim


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (stable: shifted by the maximum)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        dim = _softmax_dim(self.dim, getattr(x, "ndim", 0))
        y = D.softmax(x, dim)
        self._save_for_backward(y, dim)
        return y

    def backward(self, grad_out, need_input_grad=False):
        y, dim = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "Softmax")
        return D.softmax_backward(grad_out, y, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed with log-sum-exp."""

    def forward(self, x):
        dim = _softmax_dim(self.dim, getattr(x, "ndim", 0))
        y = D.log_softmax(x, dim)
        self._save_for_backward(y, dim)
        return y

    def backward(self, grad_out, need_input_grad=False):
        y, dim = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "LogSoftmax")
        return D.log_softmax_backward(grad_out, y, dim)
