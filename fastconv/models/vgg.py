"""VGG (Simonyan & Zisserman, 2015), module for module torchvision's ``torchvision.models.vgg``.

State dict keys, shapes, parameter counts and initialisation are torchvision's, so its weight
files load unchanged: ``features.N`` (convolutions, optional BatchNorm, ReLU, max pools),
``avgpool`` (adaptive 7x7, so any input of at least 32x32 works), ``classifier.0/3/6`` (three
Linear layers with ReLU and Dropout between them). VGG16 has 138,357,544 parameters, 123.6 M of
them in the dense head.
"""
from .. import nn
from ..nn import init
from ._utils import backward_chain

__all__ = ["VGG", "make_layers", "cfgs", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
           "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]

# Output channels of each 3x3 convolution, "M" for a 2x2 max pool (the paper's configurations).
cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        self.flatten = nn.Flatten()  # no parameters: torchvision calls torch.flatten in forward
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    init.constant_(m.weight, 1)
                    init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    init.normal_(m.weight, 0, 0.01)
                    init.constant_(m.bias, 0)

    def _stages(self):
        return (self.features, self.avgpool, self.flatten, self.classifier)

    def forward(self, x):
        shape = getattr(x, "shape", ())
        if len(shape) == 4:
            # each 2x2 max pool halves the image: VGG's five need 32x32, say so plainly
            smallest = 2 ** sum(isinstance(m, nn.MaxPool2d) for m in self.features.modules())
            if min(shape[2:]) < smallest:
                raise ValueError(f"x: {type(self).__name__} needs images of at least "
                                 f"{smallest}x{smallest}, got {shape[2]}x{shape[3]}")
        for module in self._stages():
            x = module(x)
        return x

    def backward(self, grad_out, need_input_grad=False):
        if need_input_grad or self.has_trainable_parameters():
            self._check_grad_out(grad_out, type(self).__name__)
        return backward_chain(self._stages(), grad_out, need_input_grad)


def make_layers(cfg, batch_norm=False, in_channels=3):
    """The convolutional trunk: Conv3x3(pad 1) [-BatchNorm] -ReLU per number, MaxPool2d(2) per "M"."""
    layers = []
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def _vgg(cfg, batch_norm, **kwargs):
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


def vgg11(**kwargs):
    """VGG 11-layer model (configuration "A"), 132,863,336 parameters."""
    return _vgg("A", False, **kwargs)


def vgg11_bn(**kwargs):
    """VGG 11-layer model (configuration "A") with batch normalisation."""
    return _vgg("A", True, **kwargs)


def vgg13(**kwargs):
    """VGG 13-layer model (configuration "B"), 133,047,848 parameters."""
    return _vgg("B", False, **kwargs)


def vgg13_bn(**kwargs):
    """VGG 13-layer model (configuration "B") with batch normalisation."""
    return _vgg("B", True, **kwargs)


def vgg16(**kwargs):
    """VGG 16-layer model (configuration "D"), 138,357,544 parameters."""
    return _vgg("D", False, **kwargs)


def vgg16_bn(**kwargs):
    """VGG 16-layer model (configuration "D") with batch normalisation."""
    return _vgg("D", True, **kwargs)


def vgg19(**kwargs):
    """VGG 19-layer model (configuration "E"), 143,667,240 parameters."""
    return _vgg("E", False, **kwargs)


def vgg19_bn(**kwargs):
    """VGG 19-layer model (configuration "E") with batch normalisation."""
    return _vgg("E", True, **kwargs)
