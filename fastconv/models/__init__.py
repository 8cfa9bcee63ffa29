"""Model zoo: VGG and ResNet exactly as torchvision builds them, and the lecture's simple CNN.

    from fastconv import models, io
    net = models.resnet50()                      # torchvision's structure, keys and init
    io.load_weights(net, "resnet50.safetensors")  # torchvision weights load unchanged
    print(models.summary(net, 224))              # layers, shapes, parameters, FLOPs, receptive fields

``models.get_model(name, **kwargs)`` builds by name; ``models.list_models()`` lists the names.
"""
from .resnet import (BasicBlock, Bottleneck, ResNet, conv1x1, conv3x3, resnet18, resnet34,
                     resnet50, resnet101, resnet152)
from .simple_cnn import SimpleCNN, simple_cnn
from .summary import Summary, summary
from .vgg import (VGG, make_layers, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                  vgg19_bn)

__all__ = [
    "VGG", "ResNet", "BasicBlock", "Bottleneck", "SimpleCNN", "make_layers", "conv3x3", "conv1x1",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "simple_cnn",
    "summary", "Summary", "get_model", "list_models",
]

try:  # the classifier -> fully convolutional conversion (issue 5) lives in its own module
    from .fully_convolutional import FullyConvolutional, fully_convolutional
    __all__ += ["fully_convolutional", "FullyConvolutional"]
except ModuleNotFoundError as e:  # only while that module does not exist yet
    if e.name != __name__ + ".fully_convolutional":
        raise

_BUILDERS = {
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101,
    "resnet152": resnet152,
    "vgg11": vgg11, "vgg11_bn": vgg11_bn, "vgg13": vgg13, "vgg13_bn": vgg13_bn,
    "vgg16": vgg16, "vgg16_bn": vgg16_bn, "vgg19": vgg19, "vgg19_bn": vgg19_bn,
    "simple_cnn": simple_cnn,
}


def list_models():
    """Names accepted by :func:`get_model` (torchvision's, plus ``simple_cnn``)."""
    return sorted(_BUILDERS)


def get_model(name, **kwargs):
    """Build a model by name, e.g. ``get_model("resnet50", num_classes=10)``."""
    try:
        builder = _BUILDERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name: unknown model {name!r}; choose one of {', '.join(list_models())}") from None
    return builder(**kwargs)

