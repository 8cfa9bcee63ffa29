"""Conv2d: the layer over fastconv.functional.conv2d / conv2d_backward."""
import math

import numpy as np

from .. import functional as F
from . import init
from ._utils import float_dtype, pair, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2-D convolution (cross-correlation, as torch) of NCHW input with OIHW weights.

    ``algo`` picks the kernel (``"auto"``, ``"direct"``, ``"im2col"``, ``"1x1"``... see
    fastconv.functional.conv2d). Initialised as torch: kaiming_uniform(a=sqrt(5)) weights and
    uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias, drawn from fastconv.nn.init's generator.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, *,
                 algo="auto", dtype=np.float32, dilation=1, groups=1, padding_mode="zeros"):
        super().__init__()
        # accepted so torch-style calls run; the kernels implement only these values
        if pair(dilation, "dilation") != (1, 1):
            raise ValueError(f"dilation: only dilation=1 is supported, got {dilation!r}")
        if groups != 1:
            raise ValueError(f"groups: only groups=1 is supported, got {groups!r}")
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode: only 'zeros' is supported, got {padding_mode!r}")
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self._padding_arg = padding
        if padding == "valid":
            padding = 0
        elif padding == "same":
            # output size = input size: stride 1 and an odd kernel (even ones need uneven padding)
            if self.stride != (1, 1) or self.kernel_size[0] % 2 == 0 or self.kernel_size[1] % 2 == 0:
                raise ValueError("padding: 'same' needs stride 1 and an odd kernel_size, got "
                                 f"kernel_size={self.kernel_size}, stride={self.stride}")
            padding = (self.kernel_size[0] // 2, self.kernel_size[1] // 2)
        elif isinstance(padding, str):
            raise ValueError(f"padding: expected an int, a pair, 'same' or 'valid', got {padding!r}")
        self.padding = pair(padding, "padding", allow_zero=True)
        self.algo = algo
        dt = float_dtype(dtype)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels) + self.kernel_size, dt))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        bias = self.bias
        y = F.conv2d(x, self.weight.data, None if bias is None else bias.data, self.stride,
                     self.padding, algo=self.algo)
        self._save_for_backward(x)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (x,) = self._saved()
        weight, bias = self.weight, self.bias
        need_w = weight.requires_grad
        need_b = bias is not None and bias.requires_grad
        if not (need_input_grad or need_w or need_b):
            return None
        self._check_grad_out(grad_out, "Conv2d")
        gx, gw, gb = F.conv2d_backward(grad_out, x, weight.data, self.stride, self.padding,
                                       algo=self.algo, need_input_grad=need_input_grad,
                                       need_weight_grad=need_w, need_bias_grad=need_b)
        if need_w:
            weight.accumulate_grad(gw)
        if need_b:
            bias.accumulate_grad(gb)
        return gx if need_input_grad else None

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self._padding_arg, str):
            s += f", padding={self._padding_arg}"
        elif self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        if self.algo != "auto":
            s += f", algo={self.algo!r}"
        return s
