"""Losses: ``loss = crit(output, target)`` returns a Python float (an array with
reduction='none'); ``crit.backward()`` returns d loss / d output, the gradient to feed to the
network's backward. Unlike layers, a loss returns its input gradient by default."""
import numpy as np

from .. import _dense as D
from .._grad_mode import is_grad_enabled
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss"]


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def _take(self):
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError(f"{type(self).__name__}.backward: call the loss first (outside "
                               "fastconv.no_grad()); backward runs once per loss evaluation")
        self._ctx = None
        return ctx

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) against integer class indices, with
    torch's ``weight`` (per class), ``ignore_index``, ``label_smoothing`` and ``reduction``
    (the mean is weighted: divided by the sum of the targets' class weights). Stable
    (log-sum-exp); targets must be integers in [0, C) or ignore_index."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if weight is not None:
            weight = np.asarray(weight)
            if weight.ndim != 1 or weight.dtype.kind != "f":
                raise TypeError(f"weight: expected a 1-D floating-point array of class weights, "
                                f"got dtype {weight.dtype} and shape {weight.shape}")
        self.register_buffer("weight", weight)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(f"ignore_index: expected an int, got {type(ignore_index).__name__}")
        self.ignore_index = int(ignore_index)
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(f"label_smoothing: expected a value in [0, 1], got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        loss, saved = D._ce_forward(input, target, self.weight, self.ignore_index, self.reduction,
                                    self.label_smoothing)
        self._ctx = saved if is_grad_enabled() else None
        return loss

    def backward(self, grad_output=1.0, need_input_grad=True):
        saved = self._take()
        return D._ce_backward(saved, grad_output) if need_input_grad else None

    def extra_repr(self):
        parts = []
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        if self.reduction != "mean":
            parts.append(f"reduction={self.reduction!r}")
        return ", ".join(parts)


class MSELoss(_Loss):
    """Mean squared error (or its sum, or elementwise with reduction='none')."""

    def forward(self, input, target):
        loss = D.mse_loss(input, target, self.reduction)
        self._ctx = (input, target) if is_grad_enabled() else None
        return loss

    def backward(self, grad_output=1.0, need_input_grad=True):
        input, target = self._take()
        return D.mse_loss_grad(input, target, self.reduction, grad_output) if need_input_grad else None
