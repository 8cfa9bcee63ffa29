"""Weight initialisation (torch.nn.init's names) and the library's default random generator.

Every random draw in fastconv.nn (layer initialisation, Dropout masks) comes from one NumPy
``Generator`` unless a function or module is given its own. ``manual_seed(s)`` replaces it with
``np.random.default_rng(s)``, so::

    fastconv.nn.init.manual_seed(0)     # (exported as fastconv.manual_seed)
    net = build_net()                   # same initial weights every run

The functions take a ``Parameter`` or an ``ndarray``, fill it in place and return it.
"""
import math

import numpy as np

__all__ = [
    "manual_seed", "default_generator", "calculate_gain", "uniform_", "normal_", "constant_",
    "zeros_", "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "trunc_normal_",
]

_generator = None  # created on first use: importing numpy.random costs ~10 ms at start-up


def manual_seed(seed):
    """Reseed the default generator (initialisation, Dropout); returns the new Generator."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator():
    """The current default generator (looked up at every use, so a later manual_seed counts)."""
    global _generator
    if _generator is None:
        _generator = np.random.default_rng()
    return _generator


def _array(tensor):
    # an ndarray's own .data is a memoryview, so look for Parameter.data only on non-arrays
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", tensor)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"tensor: expected a Parameter or numpy.ndarray, got {type(tensor).__name__}")
    return data


def _fill(tensor, values):
    _array(tensor)[...] = values
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"param: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nonlinearity: unsupported nonlinearity {nonlinearity!r}")


def _fans(shape):
    if len(shape) < 2:
        raise ValueError("tensor: fan in and fan out need at least 2 dimensions")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _gen(generator):
    return default_generator() if generator is None else generator


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    arr = _array(tensor)
    return _fill(tensor, _gen(generator).uniform(a, b, size=arr.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    arr = _array(tensor)
    return _fill(tensor, _gen(generator).normal(mean, std, size=arr.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal values redrawn until they fall in [a, b]."""
    arr = _array(tensor)
    g = _gen(generator)
    out = g.normal(mean, std, size=arr.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = g.normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _fans(_array(tensor).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _fans(_array(tensor).shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(shape, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode: expected 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan > 0 else 0.0


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    bound = math.sqrt(3.0) * _kaiming_std(_array(tensor).shape, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    std = _kaiming_std(_array(tensor).shape, a, mode, nonlinearity)
    return normal_(tensor, 0.0, std, generator)


def _calculate_fan_in_and_fan_out(tensor):
    return _fans(_array(tensor).shape)
