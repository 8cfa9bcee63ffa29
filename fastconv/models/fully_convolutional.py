"""Fully convolutional networks: a classifier's dense head rewritten as convolutions.

    fcn = models.fully_convolutional(models.vgg16())
    scores = fcn(x)              # (N, num_classes, h, w) for any input of at least 224x224

A Linear layer that reads a (C, h, w) feature block flattened is exactly a convolution with an
(h, w) kernel over that block; a Linear layer after it is a 1x1 convolution. Rewritten that way,
the network takes an image of any size and slides the classifier over it in one pass, sharing
the trunk's work between overlapping windows (OverFeat, Sermanet et al. 2014; FCN, Long et al.
2015):

- VGG: ``classifier.0`` becomes a 7x7 convolution (512 -> 4096), ``classifier.3`` and
  ``classifier.6`` 1x1 convolutions; the adaptive 7x7 average pool is dropped (at 224x224 it is
  the identity). A 224x224 input gives a 1x1 map equal to the logits, a larger one a map of the
  scores of every 224x224 window at stride 32.
- ResNet: ``fc`` becomes a 1x1 convolution applied *before* the global average pool, which is
  dropped; since both are linear, the spatial mean of the map equals the original logits. Each
  position holds the class evidence of one cell of the last feature map, the class activation
  map of Zhou et al. (2016).
- ``simple_cnn`` (and any model laid out as ``features`` then ``classifier`` of Linear layers):
  like VGG; for the 8x8 digits model, windows of 8x8 at stride 4.

The converted model shares its arrays with the original (the trunk's modules are the same
objects and the convolution kernels are reshaped views of the Linear weights: nothing is copied,
so converting VGG16 costs no memory). Train or load one and the other sees it; use
``copy.deepcopy(model)`` first for an independent copy.
"""
from collections import OrderedDict

import numpy as np

from .. import nn
from ..nn.parameter import Parameter

__all__ = ["FullyConvolutional", "fully_convolutional"]


class FullyConvolutional(nn.Sequential):
    """``features`` then ``classifier`` (convolutions only): input of any size -> class-score map.

    Attributes
    ----------
    stride : (sy, sx), input pixels between neighbouring map positions (32 for VGG and ResNet).
    offset : (oy, ox), input coordinates of the centre of map position (0, 0); position (i, j) is
        centred on ``(oy + sy * i, ox + sx * j)`` (pixel centres at integer coordinates).
    window : (wy, wx), the input window each position classifies as the original model would
        (224 for VGG, the input size for simple_cnn), or None for ResNet (each position is one cell
        of the last feature map; the original model averages them).
    global_pool : ``"avg"`` when the original model averaged the map into its logits (ResNet),
        None when each position is a complete window classification.
    """

    def __init__(self, features, classifier, *, stride, offset, window=None, global_pool=None,
                 min_features=(1, 1)):
        super().__init__(OrderedDict([("features", features), ("classifier", classifier)]))
        self.stride = tuple(stride)
        self.offset = tuple(offset)
        self.window = None if window is None else tuple(window)
        self.global_pool = global_pool
        self._min_features = tuple(min_features)

    def __getitem__(self, idx):
        if isinstance(idx, slice):  # a slice is a plain chain, without the geometry
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def forward(self, x):
        feats = self.features(x)
        mh, mw = self._min_features
        if feats.shape[2] < mh or feats.shape[3] < mw:
            need = "x".join(str(v) for v in self.window) if self.window else f"{mh}x{mw} features"
            raise ValueError(f"x: input {x.shape[2]}x{x.shape[3]} is too small for this fully "
                             f"convolutional network (it needs at least {need}; its trunk gives "
                             f"{feats.shape[2]}x{feats.shape[3]} features)")
        return self.classifier(feats)

    def map_centres(self, map_h, map_w):
        """Input coordinates (ys, xs) of the centres of a ``map_h`` x ``map_w`` score map."""
        return (self.offset[0] + self.stride[0] * np.arange(map_h),
                self.offset[1] + self.stride[1] * np.arange(map_w))

    def extra_repr(self):
        return f"stride={self.stride}, offset={self.offset}, window={self.window}"


# ---- geometry ---------------------------------------------------------------------------------

def _geometry(module, stride=(1, 1), offset=(0.0, 0.0)):
    """(stride, offset) of the receptive-field centres after ``module``: an output at index i is
    centred on input coordinate ``offset + stride * i``. A layer (k, s, p) maps i to the input
    centre ``s*i - p + (k-1)/2``. Residual blocks are walked through their main branch (the
    ``downsample`` shortcut samples the same centres)."""
    if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p = module.kernel_size, module.stride, module.padding
        offset = tuple(o + st * (-pd + (kk - 1) / 2) for o, st, kk, pd in zip(offset, stride, k, p))
        stride = tuple(st * ss for st, ss in zip(stride, s))
        return stride, offset
    if isinstance(module, nn.AdaptiveAvgPool2d):
        raise ValueError("cannot follow the geometry through an adaptive pool")
    for name, child in module.named_children():
        if name != "downsample":
            stride, offset = _geometry(child, stride, offset)
    return stride, offset


# ---- building blocks --------------------------------------------------------------------------

def _conv_from_linear(linear, kernel):
    """A Conv2d computing ``linear`` on a (C, kh, kw) block: its weight is a view of the Linear's."""
    w = linear.weight
    out_f, in_f = w.shape
    kh, kw = kernel
    if in_f % (kh * kw):
        raise ValueError(f"model: a Linear with {in_f} inputs cannot read a block of {kh}x{kw} positions")
    cin = in_f // (kh * kw)
    # Built small, then given the shared arrays: constructing the full-size layer would allocate
    # and initialise a kernel (411 MB for VGG's first dense layer) only to throw it away.
    conv = nn.Conv2d(1, 1, 1, bias=linear.bias is not None, dtype=w.data.dtype)
    conv.in_channels, conv.out_channels, conv.kernel_size = cin, out_f, (kh, kw)
    data = np.ascontiguousarray(w.data)
    conv.weight = Parameter(data.reshape(out_f, cin, kh, kw), requires_grad=w.requires_grad)
    if linear.bias is not None:
        conv.bias = Parameter(linear.bias.data, requires_grad=linear.bias.requires_grad)
    return conv


def _convert_head(modules, block):
    """Dense head (Linear, ReLU, Dropout, Identity) -> convolutions; the first Linear reads a
    ``block`` = (kh, kw) window of features, the following ones are 1x1."""
    out, first = [], True
    for name, m in modules:
        if isinstance(m, nn.Linear):
            out.append((name, _conv_from_linear(m, block if first else (1, 1))))
            first = False
        elif isinstance(m, nn.ReLU):
            out.append((name, nn.ReLU(inplace=m.inplace)))
        elif isinstance(m, nn.Dropout):
            out.append((name, nn.Dropout(m.p, generator=m.generator)))
        elif isinstance(m, (nn.Identity, nn.Flatten)):
            out.append((name, nn.Identity()))
        else:
            raise TypeError(f"model: cannot turn a {type(m).__name__} of the dense head into a "
                            "convolution (Linear, ReLU, Dropout and Identity can be)")
    if first:
        raise ValueError("model: the classifier has no Linear layer to convert")
    for (_, new), (_, old) in zip(out, modules):
        new.train(old.training)  # e.g. Dropout stays off in a model converted in eval mode
    head = nn.Sequential(OrderedDict(out))
    return head


def _features_shape(model, features):
    """(C, h, w) of the features for the model's own input size (a dry run on zeros)."""
    from .._grad_mode import no_grad
    first = next((m for m in features.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise ValueError("model: no Conv2d found in model.features")
    size = getattr(model, "input_size", None)
    if size is None:
        raise ValueError("model: cannot tell the input size the dense head was built for "
                         "(no input_size attribute)")
    was_training = features.training
    features.eval()
    try:
        with no_grad():
            y = features(np.zeros((1, first.in_channels) + tuple(size), first.weight.data.dtype))
    finally:
        features.train(was_training)
    return y.shape[1:]


def _same_mode(fcn, model):
    """The new containers take the model's training flag (shared modules keep their own)."""
    for m in (fcn, fcn.features, fcn.classifier):
        object.__setattr__(m, "training", model.training)
    return fcn


# ---- conversions ------------------------------------------------------------------------------

def _from_resnet(model):
    names = [n for n in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
             if getattr(model, n, None) is not None]
    features = nn.Sequential(OrderedDict((n, getattr(model, n)) for n in names))
    head = nn.Sequential(OrderedDict([("fc", _conv_from_linear(model.fc, (1, 1)))]))
    stride, offset = _geometry(features)
    return _same_mode(FullyConvolutional(features, head, stride=stride, offset=offset, window=None,
                                         global_pool="avg"), model)


def _from_vgg_like(model, block):
    features = model.features
    head = _convert_head(list(model.classifier.named_children()), block)
    stride, offset = _geometry(features)
    # the first convolution reads block positions: centre at offset + stride * (block - 1) / 2
    offset = tuple(o + s * (b - 1) / 2 for o, s, b in zip(offset, stride, block))
    # each feature position stands for one stride x stride cell of the input (the convolutions
    # pad to keep sizes), so a block of positions is a window of stride * block pixels
    window = tuple(s * b for s, b in zip(stride, block))
    return _same_mode(FullyConvolutional(features, head, stride=stride, offset=offset,
                                         window=window, min_features=block), model)


def fully_convolutional(model):
    """Return ``model`` rewritten to take any input size and give a class-score map.

    Supports ResNet (``fc`` -> 1x1 convolution before the global pool; map mean == logits), VGG
    (``classifier.0`` -> 7x7 convolution, ``classifier.3``/``.6`` -> 1x1; 224x224 -> a 1x1 map
    equal to the logits, larger inputs -> stride-32 maps) and ``simple_cnn`` (its dense head
    likewise; a window of its input size at stride 2**stages). Any model with ``features`` and a
    ``classifier`` of Linear/ReLU/Dropout layers and an ``input_size`` attribute is handled like
    simple_cnn, and any model with ``layer4``/``avgpool``/``fc`` like ResNet.

    The result shares the original's arrays (see the module docstring) and keeps its dtype.
    An already fully convolutional model is returned as it is.
    """
    from .resnet import ResNet
    from .vgg import VGG

    if isinstance(model, FullyConvolutional):
        return model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a fastconv.nn.Module, got {type(model).__name__}")
    if isinstance(model, ResNet) or all(hasattr(model, n) for n in ("layer4", "avgpool", "fc")):
        return _from_resnet(model)
    if isinstance(model, VGG):
        size = model.avgpool.output_size
        if None in size:
            raise ValueError("model: VGG's avgpool must have a fixed output size")
        return _from_vgg_like(model, size)
    if hasattr(model, "features") and isinstance(getattr(model, "classifier", None), nn.Sequential):
        _, h, w = _features_shape(model, model.features)
        return _from_vgg_like(model, (h, w))
    raise TypeError(f"model: don't know how to make a {type(model).__name__} fully convolutional "
                    "(supported: ResNet, VGG, simple_cnn, or features + classifier of Linear layers)")
