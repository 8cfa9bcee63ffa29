"""Parameter: an ndarray a module learns, with its accumulated gradient."""
import numpy as np

__all__ = ["Parameter"]


class Parameter:
    """A learnable array. ``data`` is the ndarray (updated in place by optimizers), ``grad`` is
    None until a backward pass computes a gradient, which then accumulates (``+=``) over backward
    passes until ``zero_grad()``; with ``requires_grad=False`` no gradient is ever computed.

    The array is wrapped without copying (as torch.nn.Parameter does).
    """

    __slots__ = ("data", "grad", "requires_grad", "__weakref__")

    def __init__(self, data, requires_grad=True):
        arr = data.data if isinstance(data, Parameter) else np.asarray(data)
        if arr.dtype.kind not in "fc" and requires_grad:
            raise TypeError(f"data: only floating-point arrays can require gradients, got dtype {arr.dtype}")
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)

    # array-like conveniences -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def numpy(self):
        return self.data

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = bool(requires_grad)
        return self

    def accumulate_grad(self, grad):
        """Add ``grad`` to ``.grad`` (taking ownership of ``grad`` when ``.grad`` is None: pass a
        fresh array, not a view of something that will change)."""
        if self.grad is None:
            self.grad = grad
        else:
            self.grad += grad

    def __repr__(self):
        return "Parameter containing:\n" + repr(self.data) + ("" if self.requires_grad else ", requires_grad=False")
