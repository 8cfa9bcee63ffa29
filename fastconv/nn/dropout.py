"""Dropout."""
from .. import _dense as D
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """In training, zero each element with probability ``p`` and scale the rest by 1/(1-p);
    identity in eval mode.

    Randomness: masks come from ``generator`` (a numpy Generator) when given, otherwise from
    fastconv.nn.init.default_generator() at each call, so ``fastconv.manual_seed(s)`` (or
    ``fastconv.nn.init.manual_seed(s)``) makes a run repeatable.
    """

    def __init__(self, p=0.5, inplace=False, *, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p: dropout probability has to be between 0 and 1, got {p}")
        self.p = float(p)
        self.inplace = bool(inplace)
        self.generator = generator

    def forward(self, x):
        y, mask = D.dropout(x, self.p, self.training, self.inplace, generator=self.generator,
                            return_mask=True)
        self._save_for_backward(mask)
        return y

    def backward(self, grad_out, need_input_grad=False):
        (mask,) = self._saved()
        if not need_input_grad:
            return None
        self._check_grad_out(grad_out, "Dropout")
        return D.dropout_backward(grad_out, mask)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
