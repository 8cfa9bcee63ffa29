"""Linear (fully connected) layer, and Identity / Flatten which only move data."""
import math

import numpy as np

from .. import _dense as D
from . import init
from ._utils import float_dtype, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Linear", "Identity", "Flatten"]


class Linear(Module):
    """y = x @ weight.T + bias on input (..., in_features); weight (out_features, in_features).
    Initialised as torch (kaiming_uniform(a=sqrt(5)), bias uniform(+-1/sqrt(in_features)))."""

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        dt = float_dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dt))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        bias = self.bias
        y = D.linear(x, self.weight.data, None if bias is None else bias.data)
        self._save_for_backward(x)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (x,) = self._saved()
        weight, bias = self.weight, self.bias
        need_w = weight.requires_grad
        need_b = bias is not None and bias.requires_grad
        if not (need_input_grad or need_w or need_b):
            return None
        self._check_grad_out(grad_out, "Linear")
        gx, gw, gb = D.linear_backward(grad_out, x, weight.data, need_input_grad=need_input_grad,
                                       need_weight_grad=need_w, need_bias_grad=need_b)
        if need_w:
            weight.accumulate_grad(gw)
        if need_b:
            bias.accumulate_grad(gb)
        return gx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input (arguments are accepted and ignored, as torch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, grad_out, need_input_grad=False):
        return grad_out if need_input_grad else None


class Flatten(Module):
    """Flattens dimensions start_dim..end_dim into one (a view when the input is contiguous)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x: expected a numpy.ndarray, got {type(x).__name__}")
        nd = max(x.ndim, 1)
        s = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        e = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= s < nd and 0 <= e < nd) or s > e:
            raise ValueError(f"start_dim/end_dim: ({self.start_dim}, {self.end_dim}) are out of range "
                             f"or out of order for an input of {x.ndim} dimensions")
        shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
        self._save_for_backward(x.shape)
        return x.reshape(shape)

    def backward(self, grad_out, need_input_grad=False):
        (shape,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "Flatten")
        return grad_out.reshape(shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
