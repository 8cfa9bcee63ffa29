"""Helpers the models share: ReLU applied by a block itself, and a backward pass over a chain of
modules that follows fastconv.nn's rules (stop at the lowest module that still needs a gradient)."""
import contextlib

import numpy as np

from .. import _dense as D
from .._grad_mode import is_grad_enabled

__all__ = ["relu_forward", "relu_backward", "backward_chain", "skip_init"]


@contextlib.contextmanager
def skip_init():
    """Build models without drawing initial weights (values are left uninitialised).

    For the command line, where the weights are loaded right after (``predict``) or never read
    (``summary``): drawing VGG's 124 M dense weights takes seconds. It swaps fastconv.nn.init's
    functions for no-ops for the duration, so it must not run while another thread builds layers.
    """
    from ..nn import init
    names = [n for n in init.__all__ if n.endswith("_") and callable(getattr(init, n, None))]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, fn in saved.items():
            setattr(init, n, fn)


def relu_forward(x):
    """max(x, 0); NaN propagates (as torch). In place when no gradient is kept, since the
    models only apply it to arrays they just created."""
    return D.relu(x, inplace=not is_grad_enabled())


def relu_backward(grad, y):
    """Gradient through a ReLU whose output was ``y``: zero where y <= 0, as torch's
    threshold_backward (so a NaN passes the gradient through)."""
    if y.dtype != grad.dtype:   # D.relu_backward wants one dtype; NumPy casts here
        return np.where(y <= 0, 0, grad).astype(grad.dtype, copy=False)
    return D.relu_backward(grad, y)


def backward_chain(steps, grad, need_input_grad):
    """Backward through modules applied in order ``steps`` (a module, or a pair (module, y) when
    the block applied a ReLU after it with output y).

    Each module gets ``need_input_grad=True`` only if the gradient has to continue below it;
    modules below the lowest trainable one are not called at all (their cache is cleared), so
    a frozen trunk costs nothing. Returns the input gradient when ``need_input_grad``, else None.
    """
    steps = [s if isinstance(s, tuple) else (s, None) for s in steps]
    if need_input_grad:
        lowest = 0
    else:
        lowest = next((i for i, (m, _) in enumerate(steps) if m.has_trainable_parameters()),
                      len(steps))
    for i in range(len(steps) - 1, lowest - 1, -1):
        module, y = steps[i]
        if y is not None:
            grad = relu_backward(grad, y)
        grad = module.backward(grad, need_input_grad=need_input_grad or i > lowest)
    for module, _ in steps[:lowest]:
        module.clear_cache()
    return grad if need_input_grad else None
