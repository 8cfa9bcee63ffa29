"""Argument helpers shared by the layers."""
import numbers

import numpy as np


def pair(value, name, allow_zero=False):
    """An int or an (h, w) pair of ints, as a tuple; ValueError naming the argument otherwise."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        h, w = value
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}") from None
    for v in (h, w):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
        if v < 0 or (v == 0 and not allow_zero):
            raise ValueError(f"{name}: expected {'non-negative' if allow_zero else 'positive'} values, got {value!r}")
    return int(h), int(w)


def positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def float_dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    return dt
