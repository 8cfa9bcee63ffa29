"""ResNet (He et al., 2016), module for module torchvision's ``torchvision.models.resnet``.

ResNet v1.5 as torchvision builds it: in a Bottleneck the stride sits on the 3x3 convolution
(``conv2``), not on the first 1x1. State dict keys, shapes, parameter counts and initialisation
are torchvision's, so its weight files load unchanged. Any input size works down to 1x1 (the
global average pool takes whatever the trunk produces).

Blocks compute ``y = relu(F(x) + shortcut(x))`` and implement ``backward`` explicitly: the
gradient of ``y`` flows into both branches and the shortcut's gradient is added to the main
branch's at ``x``. The ReLUs inside a block are applied by the block itself (torchvision calls
one ``self.relu`` module two or three times per forward; a module that remembers its forward
for backward cannot be called twice), ``self.relu`` stays registered so the module tree and
its names are torchvision's.
"""
import numpy as np

from .. import nn
from .._grad_mode import is_grad_enabled
from ..nn import init
from ._utils import backward_chain, relu_backward, relu_forward

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "conv3x3", "conv1x1",
           "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def conv3x3(in_planes, out_planes, stride=1):
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class _Block(nn.Module):
    """What BasicBlock and Bottleneck share: the residual sum, the ReLUs and backward."""

    # set by fastconv.inference.fuse when the convolutions apply the branch's ReLUs themselves
    _relu_in_conv = False

    def _branch(self):
        """The main branch as (module, followed-by-ReLU) pairs, in forward order."""
        raise NotImplementedError

    def forward(self, x):
        out = x
        relu_outputs = []
        for module, relu in self._branch():
            out = module(out)
            if relu and not self._relu_in_conv:
                out = relu_forward(out)
            relu_outputs.append(out if relu else None)
        identity = self.downsample(x) if self.downsample is not None else x
        # without gradients nothing else holds the branch's fresh output: add in place
        out = relu_forward(out + identity if is_grad_enabled() else np.add(out, identity, out=out))
        # the ReLU outputs are the next convolution's inputs, which it keeps anyway: no extra memory
        self._save_for_backward(relu_outputs, out)
        return out

    def backward(self, grad_out, need_input_grad=False):
        relu_outputs, out = self._saved()
        if not (need_input_grad or self.has_trainable_parameters()):
            self.clear_cache()
            return None
        self._check_grad_out(grad_out, type(self).__name__)
        grad = relu_backward(grad_out, out)
        # y = relu(F(x) + s(x)): the gradient at the sum goes unchanged into both branches and
        # the two gradients at x add up.
        steps = [(m, y) for (m, _), y in zip(self._branch(), relu_outputs)]
        grad_main = backward_chain(steps, grad, need_input_grad)
        if self.downsample is not None:
            grad_short = self.downsample.backward(grad, need_input_grad=need_input_grad)
        else:
            grad_short = grad
        return grad_main + grad_short if need_input_grad else None


class BasicBlock(_Block):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def _branch(self):
        return ((self.conv1, False), (self.bn1, True), (self.conv2, False), (self.bn2, False))


class Bottleneck(_Block):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)  # v1.5: the stride is here
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def _branch(self):
        return ((self.conv1, False), (self.bn1, True), (self.conv2, False), (self.bn2, True),
                (self.conv3, False), (self.bn3, False))


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()  # no parameters: torchvision calls torch.flatten in forward
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
        # Zero the last BN of each residual branch so every block starts as the identity
        # (Goyal et al., 2017); off by default, as in torchvision.
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def _stages(self):
        return (self.conv1, self.bn1, self.relu, self.maxpool, self.layer1, self.layer2,
                self.layer3, self.layer4, self.avgpool, self.flatten, self.fc)

    def forward(self, x):
        for module in self._stages():
            x = module(x)
        return x

    def backward(self, grad_out, need_input_grad=False):
        if need_input_grad or self.has_trainable_parameters():
            self._check_grad_out(grad_out, type(self).__name__)
        return backward_chain(self._stages(), grad_out, need_input_grad)


def _resnet(block, layers, **kwargs):
    return ResNet(block, layers, **kwargs)


def resnet18(**kwargs):
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters."""
    return _resnet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs):
    """ResNet-34: BasicBlocks [3, 4, 6, 3], 21,797,672 parameters."""
    return _resnet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs):
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters."""
    return _resnet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet101(**kwargs):
    """ResNet-101: Bottlenecks [3, 4, 23, 3], 44,549,160 parameters."""
    return _resnet(Bottleneck, [3, 4, 23, 3], **kwargs)


def resnet152(**kwargs):
    """ResNet-152: Bottlenecks [3, 8, 36, 3], 60,192,808 parameters."""
    return _resnet(Bottleneck, [3, 8, 36, 3], **kwargs)
