"""The lecture's basic architecture: a convolutional part, then a dense part.

    [Conv3x3 - ReLU] x convs_per_stage, MaxPool2d(2)     for each entry of ``channels``
    Flatten, [Linear - ReLU (- Dropout)] for each entry of ``hidden``, Linear -> class scores

(the softmax is in the loss, nn.CrossEntropyLoss). Laid out like VGG, a ``features`` Sequential
and a ``classifier`` Sequential, so the dense head can later be turned into convolutions (fully
convolutional network) exactly as VGG's.
"""
from .. import nn
from ._utils import backward_chain

__all__ = ["SimpleCNN", "simple_cnn"]


def _size_pair(value, name):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return tuple(value)


def _positive_ints(value, name, allow_empty):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    value = tuple(value)
    if (not value and not allow_empty) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ValueError(f"{name} must be {'' if allow_empty else 'a non-empty '}sequence of "
                         f"positive ints, got {value!r}")
    return value


class SimpleCNN(nn.Module):
    """Conv-ReLU-MaxPool stages then a multilayer perceptron; see :func:`simple_cnn`."""

    def __init__(self, in_channels=1, num_classes=10, channels=(16, 32), convs_per_stage=1,
                 hidden=(64,), input_size=8, kernel_size=3, dropout=0.0):
        super().__init__()
        channels = _positive_ints(channels, "channels", allow_empty=False)
        hidden = _positive_ints(hidden, "hidden", allow_empty=True)
        height, width = _size_pair(input_size, "input_size")
        for name, v in (("in_channels", in_channels), ("num_classes", num_classes),
                        ("convs_per_stage", convs_per_stage)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int (padding keeps the size), "
                             f"got {kernel_size!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if height >> len(channels) < 1 or width >> len(channels) < 1:
            raise ValueError(f"input_size {height}x{width} is too small for {len(channels)} "
                             f"max-pooling stages (each halves the size)")

        layers, c = [], in_channels
        for out in channels:
            for _ in range(convs_per_stage):
                layers += [nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2), nn.ReLU(inplace=True)]
                c = out
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten()

        n = c * (height >> len(channels)) * (width >> len(channels))
        dense = []
        for h in hidden:
            dense += [nn.Linear(n, h), nn.ReLU(inplace=True)]
            if dropout:
                dense.append(nn.Dropout(dropout))
            n = h
        dense.append(nn.Linear(n, num_classes))
        self.classifier = nn.Sequential(*dense)
        self.input_size = (height, width)

    def _stages(self):
        return (self.features, self.flatten, self.classifier)

    def forward(self, x):
        shape = getattr(x, "shape", ())
        if len(shape) == 4 and tuple(shape[2:]) != self.input_size:
            raise ValueError(f"x: this SimpleCNN was built for {self.input_size[0]}x{self.input_size[1]} "
                             f"images (input_size), got {shape[2]}x{shape[3]}")
        for module in self._stages():
            x = module(x)
        return x

    def backward(self, grad_out, need_input_grad=False):
        if need_input_grad or self.has_trainable_parameters():
            self._check_grad_out(grad_out, type(self).__name__)
        return backward_chain(self._stages(), grad_out, need_input_grad)


def simple_cnn(in_channels=1, num_classes=10, channels=(16, 32), convs_per_stage=1, hidden=64,
               input_size=8, kernel_size=3, dropout=0.0):
    """The lecture's basic CNN for ``input_size`` images (default: the 8x8 digits, 10 classes).

    ``channels``: output channels of each stage (one MaxPool2d(2) per stage); ``convs_per_stage``
    3x3 convolutions (padding 1, so only the pools shrink the image) with ReLU per stage;
    ``hidden``: width(s) of the hidden dense layers (an int, a sequence, or () for none);
    ``dropout``: Dropout probability after each hidden dense layer (0 = none). Layers use
    fastconv.nn's default (torch's) initialisation.
    """
    return SimpleCNN(in_channels=in_channels, num_classes=num_classes, channels=channels,
                     convs_per_stage=convs_per_stage, hidden=hidden, input_size=input_size,
                     kernel_size=kernel_size, dropout=dropout)
