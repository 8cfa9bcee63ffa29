"""torchvision's VGG and ResNet rebuilt with plain ``torch.nn`` (optional: needs torch, not torchvision).

torchvision itself is not a dependency (installing it pulls a CUDA build of torch), yet the
benchmarks compare fastconv with the very same networks in torch, and the tests check fastconv's
models against them. These classes follow torchvision/models/vgg.py and resnet.py (v0.13+): the same
modules, in the same order, so the state_dict keys, shapes and parameter counts are torchvision's,
and the same ``forward``. Only the initialisation is left to torch.nn's defaults (weights are always
loaded: ``from_fastconv``).

Importing this module raises ImportError when torch is not installed; callers treat that as "no
comparison with torch".

    from fastconv import _torch_models as tm
    twin = tm.from_fastconv(net, "resnet50")        # same weights as a fastconv model (copied)
    logits = twin.eval()(torch.from_numpy(x))
"""
import numpy as np
import torch
import torch.nn as nn

from .models.vgg import cfgs   # the paper's configurations, shared with fastconv's VGG

__all__ = ["VGG", "ResNet", "BasicBlock", "Bottleneck", "make_layers", "conv3x3", "conv1x1",
           "BUILDERS", "build", "from_fastconv"]


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def make_layers(cfg, batch_norm):
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm \
                else [conv, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


BUILDERS = {
    "resnet18": lambda **kw: ResNet(BasicBlock, [2, 2, 2, 2], **kw),
    "resnet34": lambda **kw: ResNet(BasicBlock, [3, 4, 6, 3], **kw),
    "resnet50": lambda **kw: ResNet(Bottleneck, [3, 4, 6, 3], **kw),
    "resnet101": lambda **kw: ResNet(Bottleneck, [3, 4, 23, 3], **kw),
    "resnet152": lambda **kw: ResNet(Bottleneck, [3, 8, 36, 3], **kw),
}
for _name, _cfg in (("vgg11", "A"), ("vgg13", "B"), ("vgg16", "D"), ("vgg19", "E")):
    BUILDERS[_name] = lambda c=_cfg, **kw: VGG(make_layers(cfgs[c], False), **kw)
    BUILDERS[_name + "_bn"] = lambda c=_cfg, **kw: VGG(make_layers(cfgs[c], True), **kw)


def build(arch, **kwargs):
    """torchvision's ``arch`` (e.g. "resnet50", "vgg16_bn") with torch.nn's default initialisation."""
    try:
        builder = BUILDERS[arch]
    except KeyError:
        raise ValueError(f"arch: no torch twin of {arch!r}; choose one of {', '.join(sorted(BUILDERS))}") from None
    return builder(**kwargs)


def from_fastconv(model, arch, **kwargs):
    """The torch twin of fastconv ``model`` (built as ``arch``), holding a copy of its weights and
    buffers, in the same train/eval mode.

    The twin is built on the "meta" device and its tensors are then assigned from the copies, so no
    time goes into random initialisation nor into allocating weights twice (VGG16: 0.5 GB).
    """
    with torch.device("meta"):
        twin = build(arch, **kwargs)
    # state_dict() returns copies: the twin takes them over as its tensors
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state_dict().items()}
    twin.load_state_dict(state, strict=True, assign=True)
    return twin.train(bool(model.training))
