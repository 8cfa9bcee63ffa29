"""Batch normalisation layers (torch's definitions and state_dict entries)."""
import numpy as np

from .. import _dense as D
from ._utils import float_dtype, positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """In training, normalise with the batch mean and biased variance, and update the running
    statistics (``running = (1 - momentum) * running + momentum * batch``, with the unbiased
    variance; ``momentum=None`` gives a cumulative average). In eval, use the running statistics.
    ``num_batches_tracked`` is a 0-d int64 buffer counting training batches, as torch."""

    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 *, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = float_dtype(dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dt))
            self.bias = Parameter(np.zeros(self.num_features, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dt))
            self.register_buffer("running_var", np.ones(self.num_features, dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def _optional_state_keys(self):
        # checkpoints from before torch 0.4.1 have no num_batches_tracked; torch accepts them
        return ("num_batches_tracked",) if self.track_running_stats else ()

    def forward(self, x):
        if not isinstance(x, np.ndarray) or x.ndim not in self._ndims:
            nd = getattr(x, "ndim", None)
            raise ValueError(f"x: {type(self).__name__} expects {' or '.join(f'{n}-D' for n in self._ndims)} "
                             f"input, got {nd}-D")
        if x.shape[1] != self.num_features:
            raise ValueError(f"x: expected {self.num_features} channels (axis 1), got shape {x.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        w, b = self.weight, self.bias
        y, mean, invstd = D.batch_norm(
            x, self.running_mean if track else None, self.running_var if track else None,
            None if w is None else w.data, None if b is None else b.data, use_batch, factor,
            self.eps, return_stats=True)
        self._save_for_backward(x, mean, invstd, use_batch)
        return y

    def backward(self, grad_out, need_input_grad=False):
        x, mean, invstd, use_batch = self._saved()
        w, b = self.weight, self.bias
        need_w = w is not None and w.requires_grad
        need_b = b is not None and b.requires_grad
        if not (need_input_grad or need_w or need_b):
            return None
        self._check_grad_out(grad_out, type(self).__name__)
        gx, gw, gb = D.batch_norm_backward(
            grad_out, x, None if w is None else w.data, mean, invstd, training=use_batch,
            need_input_grad=need_input_grad, need_weight_grad=need_w, need_bias_grad=need_b)
        if need_w:
            w.accumulate_grad(gw)
        if need_b:
            b.accumulate_grad(gb)
        return gx

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of NCHW input, per channel."""

    _ndims = (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel."""

    _ndims = (2, 3)
