"""Argument checks shared by the public functions.

Every public function validates here, in Python, before any C code runs; errors name the
argument and say what was expected. The helpers return normalised values (C-contiguous arrays,
(h, w) int pairs) ready for the bindings.
"""
import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT64_MAX = 2**63 - 1
# Largest stride / padding / kernel_size / output_size entry (exclusive). Far beyond any real
# size, and small enough that the C kernels' index arithmetic on these values (first + stride
# - 1, pad + stride - 1, ...) stays inside int64: a conv2d stride of 2**63 - 1 used to overflow
# it, giving wrong outputs and a write before the output buffer. The pooling kernels refuse
# strides and kernels above INT64_MAX / 4 and paddings above INT64_MAX / 8 themselves.
PAIR_LIMIT = 2**60


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {value!r}" if not hasattr(value, "__len__") or len(repr(value)) < 60 \
        else type(value).__name__


def float_array(value, name, ndim=None):
    """`value` as an ndarray of float32/float64 (not copied unless needed); checks ndim."""
    if not isinstance(value, np.ndarray):
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must be a float32 or float64 array, got {_describe(value)}")
        try:
            value = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be a float32 or float64 array, got {type(value).__name__}") from exc
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {value.shape}")
    return value


def same_dtype(arrays):
    """All (name, array) pairs share the first one's dtype."""
    (name0, a0), *rest = arrays
    for name, a in rest:
        if a.dtype != a0.dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but {name0} has dtype {a0.dtype}; they must match")


def contiguous(a):
    """C-contiguous, aligned array (copies Fortran-ordered, strided or misaligned views)."""
    # np.ascontiguousarray keeps a misaligned buffer as it is; C must never see one (UB, and
    # SIMD loads that assume element alignment): np.require copies those too
    flags = a.flags
    if flags.c_contiguous and flags.aligned:   # the common case, without np.require's overhead
        return a
    return np.require(a, requirements=("C_CONTIGUOUS", "ALIGNED"))


def _as_int(value, name):
    if type(value) is int and -INT64_MAX <= value <= INT64_MAX:   # fast path: most calls
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        try:
            if isinstance(value, bool):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an int or a pair of ints, got {_describe(value)}") from None
    value = int(value)
    if not -INT64_MAX <= value <= INT64_MAX:
        # would otherwise reach the binding and fail there as OverflowError (C int64_t)
        raise ValueError(f"{name} must fit in int64, got {value}")
    return value


def pair(value, name, *, minimum=None):
    """An int or an (h, w) pair of ints, as a tuple; optionally each >= minimum."""
    if type(value) is int and 0 <= value < PAIR_LIMIT and (minimum is None or value >= minimum):
        return (value, value)   # fast path: most calls
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        out = (_as_int(value[0], name), _as_int(value[1], name))
    else:
        v = _as_int(value, name)
        out = (v, v)
    if minimum is not None and min(out) < minimum:
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if max(out) >= PAIR_LIMIT:
        raise ValueError(f"{name} must be below 2**60, got {value!r}")
    return out


def check_product(sizes, name):
    """Raise ValueError if the product of sizes does not fit in int64 (Python ints do not overflow)."""
    total = 1
    for s in sizes:
        total *= int(s)
    if total > INT64_MAX:
        raise ValueError(f"{name} would have {total} elements, more than int64 can index")
    return total


def choice(value, name, options):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def shape4(value, name):
    """A 4-tuple of non-negative ints (an input shape)."""
    try:
        shape = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of 4 ints (N, C, H, W), got {_describe(value)}") from None
    if len(shape) != 4:
        raise ValueError(f"{name} must have 4 entries (N, C, H, W), got {shape!r}")
    shape = tuple(_as_int(s, name) for s in shape)
    if min(shape) < 0:
        raise ValueError(f"{name} must not have negative entries, got {shape!r}")
    return shape
