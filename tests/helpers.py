"""Test helpers shared by every test file: tolerances, finite differences, seeded data.

Import with ``from helpers import assert_close, check_grad, rng, randn`` (pytest puts this
directory on sys.path for test files in it).

Tolerances (DESIGN.md "How to know it is right"): a result is compared with the scale of the
expected output, not element by element, because a tiny element of a large output carries the
rounding error of the large terms it was summed from.
  float64: |actual - expected| <= 1e-10 * max|expected| + 1e-13
  float32: |actual - expected| <= 1e-5  * max|expected| + 1e-7
"""
import numpy as np

TOLERANCES = {
    np.dtype(np.float64): (1e-10, 1e-13),
    np.dtype(np.float32): (1e-5, 1e-7),
}


def rng(seed=0):
    """A fresh, seeded NumPy Generator: every test draws its data from its own seed."""
    return np.random.default_rng(seed)


def randn(shape, dtype=np.float64, seed=0, scale=1.0):
    """Standard normal array of the given shape and dtype (drawn in float64, then cast)."""
    return (rng(seed).standard_normal(shape) * scale).astype(dtype)


def assert_close(actual, expected, dtype=None, *, rtol=None, atol=None, msg=""):
    """Assert actual matches expected within the project's tolerance for ``dtype``.

    dtype defaults to actual's dtype; rtol/atol override the table above (rtol is relative to
    max|expected|). Shapes must match exactly, NaN must sit where NaN is expected, and
    infinities must match in position and sign. Fails with the worst element's location.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(dtype if dtype is not None else actual.dtype)
    default_rtol, default_atol = TOLERANCES.get(dtype, TOLERANCES[np.dtype(np.float64)])
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    prefix = f"{msg}: " if msg else ""
    assert actual.shape == expected.shape, f"{prefix}shape {actual.shape} != expected {expected.shape}"
    if actual.size == 0:
        return
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), (
        f"{prefix}NaN mismatch at {np.argwhere(nan_a != nan_e)[:5].tolist()}")
    inf_e = np.isinf(e)
    assert np.array_equal(a[inf_e], e[inf_e]) and not np.isinf(a[~inf_e]).any(), (
        f"{prefix}infinity mismatch")
    finite = ~(nan_e | inf_e)
    if not finite.any():
        return
    scale = np.max(np.abs(e[finite]))
    tol = rtol * scale + atol
    err = np.where(finite, np.abs(a - np.where(finite, e, 0.0)), 0.0)
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err[worst] <= tol, (
        f"{prefix}max error {err[worst]:.3g} > tol {tol:.3g} (scale {scale:.3g}, {dtype}) at "
        f"{tuple(int(i) for i in worst)}: actual {a[worst]!r}, expected {e[worst]!r}")


def numerical_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar function f at x: df/dx, same shape as x.

    x is perturbed one element at a time on a float64 copy; error is O(eps^2) plus rounding
    O(1e-16 * |f| / eps), so compare with a relative tolerance around 1e-6 in float64.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = float(f(x))
        flat[i] = saved - eps
        down = float(f(x))
        flat[i] = saved
        gflat[i] = (up - down) / (2 * eps)
    return grad


def check_grad(forward, backward, inputs, *, wrt=None, seed=0, eps=1e-6, rtol=1e-6, atol=1e-9):
    """Check an analytic backward against finite differences, in float64.

    forward(*inputs) -> output array y; backward(grad_y, *inputs) -> one gradient array or a
    tuple with one entry per input (None for inputs without a gradient). A random grad_y
    turns y into the scalar L = sum(y * grad_y), whose numerical gradient w.r.t. each input in
    ``wrt`` (default: every input that backward returns a gradient for) must match.
    """
    inputs = [np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else a
              for a in inputs]
    y = np.asarray(forward(*inputs))
    grad_y = rng(seed).standard_normal(y.shape)
    grads = backward(grad_y if y.ndim else float(grad_y), *inputs)
    if not isinstance(grads, tuple):
        grads = (grads,)
    wrt = [i for i, g in enumerate(grads) if g is not None] if wrt is None else wrt
    for i in wrt:
        def scalar(xi, i=i):
            args = list(inputs)
            args[i] = xi
            return np.sum(np.asarray(forward(*args)) * grad_y)
        expected = numerical_grad(scalar, inputs[i], eps=eps)
        assert_close(grads[i], expected, np.float64, rtol=rtol, atol=atol, msg=f"gradient of input {i}")


def limit_address_space(extra_bytes=3 << 30):
    """Cap this process's address space at its current size plus ``extra_bytes``, so that a
    legitimate but huge result (an empty operand with a 2**31-row output is 16 GB of zeros)
    fails with MemoryError, a clean refusal, instead of filling the shared machine until the
    OOM killer ends the run. Used by the bad-call children and the fuzz harness. Skipped under
    the sanitizer build: ASan reserves terabytes of shadow memory up front."""
    import os
    if "libasan" in os.environ.get("LD_PRELOAD", "") or os.environ.get("FASTCONV_SANITIZED"):
        return
    try:
        import resource
        with open("/proc/self/statm") as f:
            vm_pages = int(f.read().split()[0])
        limit = vm_pages * os.sysconf("SC_PAGE_SIZE") + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass
