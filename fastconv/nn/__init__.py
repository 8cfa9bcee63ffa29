"""Layers, containers and losses with PyTorch's names, over NumPy arrays and explicit backward.

See fastconv/nn/module.py for the backward rules (``need_input_grad``, early stopping under
frozen layers, caches and ``fastconv.no_grad()``).
"""
from . import init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .linear import Flatten, Identity, Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import IncompatibleKeys, Module, StateDictError
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "Conv2d", "MaxPool2d", "AvgPool2d",
    "AdaptiveAvgPool2d", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Linear",
    "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "Identity", "CrossEntropyLoss", "MSELoss",
    "StateDictError", "IncompatibleKeys", "init",
]
