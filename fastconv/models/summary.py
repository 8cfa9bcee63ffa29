"""``summary(model, input_size)``: a table of a model's layers with output shape, parameters,
FLOPs and receptive field, computed from the layers' hyper-parameters (no forward pass, so it is
instant at any input size).

The lecture's arithmetic, checked by the tests:

- a 3x3 convolution from 3 to 64 channels has 3*3*3*64 + 64 = 1,792 parameters;
- VGG16 has 138,357,544 parameters, 123.6 M of them in the three dense layers;
- receptive fields grow with depth: each 3x3 convolution adds 2 x (product of the strides
  before it), so two stacked 3x3 convolutions see 5x5, three see 7x7.

Conventions: FLOPs count a multiply-add as 2 (conv: 2*N*K*C*R*S*P*Q, as conv_layers.json;
bias not counted); elementwise layers count one operation per output element (BatchNorm 2),
pooling one per window element. torchvision's "GFLOPS" column counts multiply-adds, half ours.
The receptive field is the side, in input pixels, of the window one output value depends on
(not clipped to the image); after a global pooling or a dense layer it is the whole image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import nn

__all__ = ["summary", "Summary", "LayerSummary"]


@dataclass
class LayerSummary:
    name: str            # dotted path in the model ("layer1.0.conv1"), "" for the model itself
    type: str            # class name, or e.g. "Add" for a residual sum
    output_shape: tuple  # (N, C, H, W) or (N, features)
    params: int          # parameters owned by this layer
    flops: int           # floating-point operations of one forward pass
    receptive_field: tuple | None  # (h, w) in input pixels; None = the whole input


@dataclass
class Summary:
    model_name: str
    input_shape: tuple
    layers: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0

    @property
    def total_flops(self):
        return sum(layer.flops for layer in self.layers)

    @property
    def output_shape(self):
        return self.layers[-1].output_shape if self.layers else self.input_shape

    def to_dict(self):
        return {
            "model": self.model_name, "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "total_params": self.total_params, "trainable_params": self.trainable_params,
            "param_bytes": self.param_bytes, "total_flops": self.total_flops,
            "layers": [{"name": l.name, "type": l.type, "output_shape": list(l.output_shape),
                        "params": l.params, "flops": l.flops,
                        "receptive_field": None if l.receptive_field is None else list(l.receptive_field)}
                       for l in self.layers],
        }

    def __str__(self):
        header = ("Layer (type)", "Output shape", "Params", "FLOPs", "RF")
        rows = [(f"{l.name} ({l.type})" if l.name else l.type, "x".join(map(str, l.output_shape)),
                 f"{l.params:,}", _human(l.flops), _rf_text(l.receptive_field)) for l in self.layers]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
        line = "-" * (sum(widths) + 2 * 4)

        def fmt(r):
            return "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                              *(c.rjust(w) for c, w in zip(r[2:], widths[2:]))])
        out = [f"{self.model_name}, input {'x'.join(map(str, self.input_shape))}", line, fmt(header), line]
        out += [fmt(r) for r in rows]
        out += [line,
                f"Total params: {self.total_params:,} ({_human(self.total_params)}), trainable "
                f"{self.trainable_params:,}; {self.param_bytes / 2**20:.1f} MiB",
                f"Forward FLOPs (batch {self.input_shape[0]}): {_human(self.total_flops)} "
                f"({_human(self.total_flops // 2)} multiply-adds)",
                f"Output shape: {'x'.join(map(str, self.output_shape))}"]
        return "\n".join(out)


def _human(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def _rf_text(rf):
    if rf is None:
        return "all"
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"


def _pair(v):
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _numel(shape):
    return math.prod(shape)


# ---- the walk ----------------------------------------------------------------------------------

class _Walker:
    """Propagates (shape, receptive field, jump) through the model, appending one row per layer.

    The receptive field state is (rf_h, rf_w, jump_h, jump_w): a window of k with stride s grows
    the field by (k - 1) * jump and multiplies the jump (input pixels between neighbouring
    outputs) by s. rf None means the whole input.
    """

    def __init__(self, summary_):
        self.summary = summary_

    def row(self, name, type_, shape, params, flops, rf):
        self.summary.layers.append(LayerSummary(name, type_, tuple(shape), params, int(flops),
                                                None if rf is None else (rf[0], rf[1])))

    def walk(self, module, name, shape, rf):
        from .resnet import _Block  # late import: resnet imports this package's siblings
        if isinstance(module, _Block):
            return self.block(module, name, shape, rf)
        if isinstance(module, nn.Sequential):
            return self.chain(module.named_children(), name, shape, rf)
        if hasattr(module, "_stages"):  # fastconv's models: the forward order of their parts
            names = {id(m): n for n, m in module.named_children()}
            return self.chain(((names[id(m)], m) for m in module._stages()), name, shape, rf)
        children = list(module.named_children())
        if children and not _LEAF_RULES.get(type(module).__name__) \
                and not isinstance(module, tuple(b for b, _ in _BASE_RULES)):
            # an unknown container: assume its children run in registration order
            return self.chain(children, name, shape, rf)
        return self.leaf(module, name, shape, rf)

    def chain(self, named, prefix, shape, rf):
        for child_name, child in named:
            shape, rf = self.walk(child, _join(prefix, child_name), shape, rf)
        return shape, rf

    def block(self, block, name, shape, rf):
        start_shape, start_rf = shape, rf
        for i, (module, relu) in enumerate(block._branch()):
            shape, rf = self.walk(module, _join(name, _child_name(block, module)), shape, rf)
            if relu:
                self.row(_join(name, "relu"), "ReLU", shape, 0, _numel(shape), _rf4(rf))
        if block.downsample is not None:
            short_shape, _ = self.walk(block.downsample, _join(name, "downsample"), start_shape, start_rf)
        else:
            short_shape = start_shape
        if tuple(short_shape) != tuple(shape):
            raise ValueError(f"{name}: the residual branch gives {short_shape} but the main branch "
                             f"{shape}; they cannot be added")
        self.row(name, "Add+ReLU", shape, 0, 2 * _numel(shape), _rf4(rf))
        return shape, rf

    def leaf(self, module, name, shape, rf):
        kind = type(module).__name__
        rule = _LEAF_RULES.get(kind) or next(
            (r for base, r in _BASE_RULES if isinstance(module, base)), None)
        params = sum(p.size for p in module.parameters())
        if rule is None:
            raise ValueError(f"summary: cannot infer the output of {name or 'the model'} "
                             f"({kind}); supported layers: {', '.join(sorted(_LEAF_RULES))}")
        out_shape, flops, rf = rule(module, name, tuple(shape), rf)
        if any(d < 1 for d in out_shape[1:]):
            raise ValueError(f"input too small: {name} ({kind}) would output {out_shape}")
        self.row(name, kind, out_shape, params, flops, _rf4(rf))
        return out_shape, rf


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _child_name(parent, child):
    for n, m in parent.named_children():
        if m is child:
            return n
    return type(child).__name__.lower()


def _rf4(rf):
    return None if rf is None else (rf[0], rf[1])


def _window(rf, k, s):
    if rf is None:
        return None
    rh, rw, jh, jw = rf
    return (rh + (k[0] - 1) * jh, rw + (k[1] - 1) * jw, jh * s[0], jw * s[1])


def _spatial(shape, name, kind):
    if len(shape) != 4:
        raise ValueError(f"{name} ({kind}) needs a 4-d (N, C, H, W) input, got shape {shape}")
    return shape


def _conv(m, name, shape, rf):
    N, C, H, W = _spatial(shape, name, "Conv2d")
    k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
    d = _pair(getattr(m, "dilation", 1))
    groups = getattr(m, "groups", 1)
    if C != m.in_channels:
        raise ValueError(f"{name} (Conv2d) expects {m.in_channels} input channels, gets {C}")
    ek = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    P = (H + 2 * p[0] - ek[0]) // s[0] + 1
    Q = (W + 2 * p[1] - ek[1]) // s[1] + 1
    K = m.out_channels
    flops = 2 * N * K * (C // groups) * k[0] * k[1] * P * Q
    return (N, K, P, Q), flops, _window(rf, ek, s)


def _pool_out(size, k, s, p, ceil_mode):
    num = size + 2 * p - k
    if ceil_mode:
        out = -(-num // s) + 1
        if (out - 1) * s >= size + p:  # torch: the last window must start inside the input
            out -= 1
        return out
    return num // s + 1


def _pool(m, name, shape, rf):
    N, C, H, W = _spatial(shape, name, type(m).__name__)
    k = _pair(m.kernel_size)
    s = _pair(m.stride if m.stride is not None else m.kernel_size)
    p = _pair(m.padding)
    ceil_mode = bool(getattr(m, "ceil_mode", False))
    P, Q = _pool_out(H, k[0], s[0], p[0], ceil_mode), _pool_out(W, k[1], s[1], p[1], ceil_mode)
    return (N, C, P, Q), N * C * P * Q * k[0] * k[1], _window(rf, k, s)


def _adaptive(m, name, shape, rf):
    N, C, H, W = _spatial(shape, name, "AdaptiveAvgPool2d")
    out = m.output_size
    oh, ow = _pair(out) if not isinstance(out, (tuple, list)) else (
        H if out[0] is None else int(out[0]), W if out[1] is None else int(out[1]))
    if rf is not None:
        # each output averages a window of about ceil(H / oh) inputs, windows step by H // oh
        k = (-(-H // oh), -(-W // ow))
        s = (max(H // oh, 1), max(W // ow, 1))
        rf = _window(rf, k, s)
        if oh == 1 and ow == 1:
            rf = None
    return (N, C, oh, ow), N * C * max(H * W, oh * ow), rf


def _linear(m, name, shape, rf):
    if shape[-1] != m.in_features:
        raise ValueError(f"{name} (Linear) expects {m.in_features} input features, gets "
                         f"{shape[-1]} (input shape {shape})")
    n = _numel(shape[:-1])
    return (*shape[:-1], m.out_features), 2 * n * m.in_features * m.out_features, None


def _flatten(m, name, shape, rf):
    start = getattr(m, "start_dim", 1)
    end = getattr(m, "end_dim", -1)
    end = end % len(shape)
    return (*shape[:start], _numel(shape[start:end + 1]), *shape[end + 1:]), 0, None


def _elementwise(cost):
    def rule(m, name, shape, rf):
        return shape, cost * _numel(shape), rf
    return rule


_LEAF_RULES = {
    "Conv2d": _conv,
    "MaxPool2d": _pool,
    "AvgPool2d": _pool,
    "AdaptiveAvgPool2d": _adaptive,
    "Linear": _linear,
    "Flatten": _flatten,
    "BatchNorm2d": _elementwise(2),
    "BatchNorm1d": _elementwise(2),
    "ReLU": _elementwise(1),
    "Sigmoid": _elementwise(4),
    "Tanh": _elementwise(4),
    "Dropout": _elementwise(0),
    "Identity": _elementwise(0),
    "Softmax": _elementwise(3),
    "LogSoftmax": _elementwise(3),
}


# subclasses (e.g. fastconv.inference's ConvReLU2d) follow their base's rule
_BASE_RULES = ((nn.Conv2d, _conv), (nn.Linear, _linear), (nn.MaxPool2d, _pool),
               (nn.AvgPool2d, _pool), (nn.AdaptiveAvgPool2d, _adaptive))


def summary(model, input_size=224, *, batch_size=1, dtype=None) -> Summary:
    """Layer table of ``model`` for an input of ``input_size``; ``print(summary(...))`` shows it.

    ``input_size``: an int (square image, channels taken from the first convolution), (H, W),
    (C, H, W) or (N, C, H, W). ``dtype`` only sizes the parameter memory (default: the model's).
    Returns a :class:`Summary` (``.layers``, ``.total_params``, ``.total_flops``, ``.to_dict()``).
    Raises ValueError naming the layer when the input is too small or does not fit.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a fastconv.nn.Module, got {type(model).__name__}")
    shape = _input_shape(model, input_size, batch_size)
    result = Summary(type(model).__name__, shape)
    params = list(model.parameters())
    result.total_params = sum(p.size for p in params)
    result.trainable_params = sum(p.size for p in params if p.requires_grad)
    import numpy as np
    result.param_bytes = sum(p.size * (np.dtype(dtype).itemsize if dtype else p.data.itemsize)
                             for p in params)
    _Walker(result).walk(model, "", shape, (1, 1, 1, 1))
    return result


def _input_shape(model, input_size, batch_size):
    def channels():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                return m.in_channels
        raise ValueError("input_size: give (C, H, W): the model has no convolution to take C from")

    size = input_size
    if isinstance(size, int) and not isinstance(size, bool):
        size = (channels(), size, size)
    size = tuple(size)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size):
        raise ValueError(f"input_size: expected positive ints, got {input_size!r}")
    if len(size) == 2:
        size = (channels(), *size)
    if len(size) == 3:
        size = (batch_size, *size)
    if len(size) != 4:
        raise ValueError(f"input_size: expected an int, (H, W), (C, H, W) or (N, C, H, W), "
                         f"got {input_size!r}")
    return size
