"""Gradient mode: whether forward passes keep what backward needs.

``fastconv.no_grad()`` is a context manager and a decorator, as in PyTorch. Inside it, modules
cache nothing during forward (less memory, no index bookkeeping in max pooling) and their
``backward`` raises. The flag is thread-local, so inference in one thread does not switch off
training in another.
"""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

_state = threading.local()


def is_grad_enabled():
    """True unless the current thread is inside ``no_grad()`` (or ``set_grad_enabled(False)``)."""
    return getattr(_state, "enabled", True)


def _set(mode):
    _state.enabled = bool(mode)


class _GradModeContext:
    """Base of the context managers: a per-thread stack of previous modes makes one instance
    reusable, nestable and safe to share between threads (e.g. a decorated function)."""

    _mode = True

    def __enter__(self):
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(is_grad_enabled())
        _set(self._mode)
        return self

    def __exit__(self, exc_type, exc, tb):
        _set(_state.stack.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable gradient bookkeeping: ``with fastconv.no_grad(): y = model(x)`` or ``@no_grad()``."""

    _mode = False


class enable_grad(_GradModeContext):
    """Re-enable gradient bookkeeping inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` switches the mode immediately (as torch does) and, used as a
    context manager, restores the previous mode on exit."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = is_grad_enabled()
        _set(mode)

    def __enter__(self):
        # the mode was already set in __init__; remember what was there before it
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(self._prev)
        return self

    def __call__(self, fn):
        _set(self._prev)  # as a decorator, only the call of fn runs in the mode
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
