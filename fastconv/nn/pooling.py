"""Pooling layers over fastconv.functional's max/average pooling kernels."""
import numbers

from .. import functional as F
from ._utils import pair
from .module import Module
from .._grad_mode import is_grad_enabled

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _kernel_args(kernel_size, stride, padding):
    k = pair(kernel_size, "kernel_size")
    s = k if stride is None else pair(stride, "stride")
    p = pair(padding, "padding", allow_zero=True)
    return k, s, p


def _show(v):
    """torch shows the arguments as given: 2 for a square kernel, (2, 3) otherwise."""
    return v[0] if v[0] == v[1] else v


class MaxPool2d(Module):
    """Max pooling; forward keeps the argmax indices (flat in each H*W plane, as torch) for
    backward, and skips computing them under fastconv.no_grad() unless ``return_indices``."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        if pair(dilation, "dilation") != (1, 1):
            raise ValueError(f"dilation: only dilation=1 is supported, got {dilation!r}")
        self.kernel_size, self.stride, self.padding = _kernel_args(kernel_size, stride, padding)
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        if is_grad_enabled() or self.return_indices:
            y, idx = F.max_pool2d(x, self.kernel_size, self.stride, self.padding,
                                  ceil_mode=self.ceil_mode, return_indices=True)
            self._save_for_backward(idx, x.shape)
            return (y, idx) if self.return_indices else y
        self._ctx = None
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)

    def backward(self, grad_out, need_input_grad=False):
        idx, shape = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "MaxPool2d")
        return F.max_pool2d_backward(grad_out, idx, shape)

    def extra_repr(self):
        return (f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, "
                f"padding={_show(self.padding)}, dilation=1, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling (``count_include_pad`` as torch: padded zeros count in the divisor)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        if divisor_override is not None:
            raise ValueError("divisor_override: not supported (must be None)")
        self.kernel_size, self.stride, self.padding = _kernel_args(kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        y = F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode,
                         count_include_pad=self.count_include_pad)
        self._save_for_backward(x.shape)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (shape,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "AvgPool2d")
        return F.avg_pool2d_backward(grad_out, shape, self.kernel_size, self.stride, self.padding,
                                     ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, padding={_show(self.padding)}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int or (h, w); None in a pair keeps the input's size)."""

    def __init__(self, output_size):
        super().__init__()
        if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
            output_size = (int(output_size), int(output_size))
        try:
            oh, ow = output_size
        except (TypeError, ValueError):
            raise TypeError(f"output_size: expected an int or a pair, got {output_size!r}") from None
        for v in (oh, ow):
            if v is not None and (not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0):
                raise ValueError(f"output_size: expected positive ints or None, got {output_size!r}")
        self.output_size = (oh, ow)
        self._given = output_size

    def forward(self, x):
        oh, ow = self.output_size
        if oh is None or ow is None:
            if getattr(x, "ndim", 0) != 4:
                raise ValueError(f"x: expected a 4-D NCHW array, got shape {getattr(x, 'shape', None)}")
            oh = x.shape[2] if oh is None else oh
            ow = x.shape[3] if ow is None else ow
        y = F.adaptive_avg_pool2d(x, (oh, ow))
        self._save_for_backward(x.shape)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (shape,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "AdaptiveAvgPool2d")
        return F.adaptive_avg_pool2d_backward(grad_out, shape)

    def extra_repr(self):
        return f"output_size={self._given}"
