"""Containers: Sequential (a chain with forward and backward) and ModuleList (just a list)."""
from collections import OrderedDict
import operator

from .module import Module

__all__ = ["Sequential", "ModuleList"]


class Sequential(Module):
    """Modules applied in order. ``Sequential(m0, m1, ...)`` names them ``'0'``, ``'1'``...;
    ``Sequential(OrderedDict(name=module))`` keeps the given names.

    ``backward(g, need_input_grad=False)`` runs the children's backward from the last down to
    the lowest child that has a trainable parameter (down to the first when need_input_grad),
    so frozen layers at the bottom cost nothing; their saved activations are released.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, "
                                    "expected a fastconv.nn.Module")
                self.add_module(str(i), module)

    def _index(self, idx):
        n = len(self._modules)
        i = operator.index(idx)
        if not -n <= i < n:
            raise IndexError(f"index {idx} is out of range for a Sequential of length {n}")
        return i % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[self._index(idx)]
        if not isinstance(module, Module):
            raise TypeError(f"module: expected a fastconv.nn.Module, got {type(module).__name__}")
        setattr(self, key, module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        if isinstance(idx, slice):
            for key in keys[idx]:
                del self._modules[key]
        else:
            del self._modules[keys[self._index(idx)]]
        self._renumber()

    def _renumber(self):
        # as torch: after deletion or insertion the children are numbered 0..n-1 again
        items = list(self._modules.values())
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"module: expected a fastconv.nn.Module, got {type(module).__name__}")
        items = list(self._modules.values())
        n = len(items)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for a Sequential of length {n}")
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m
        return self

    def pop(self, idx):
        module = self[idx]
        del self[idx]
        return module

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, grad_out, need_input_grad=False):
        mods = list(self._modules.values())
        if need_input_grad:
            lowest = 0
        else:
            lowest = len(mods)  # nothing to do unless some child is trainable
            for i, m in enumerate(mods):
                if m.has_trainable_parameters():
                    lowest = i
                    break
        if lowest < len(mods):
            self._check_grad_out(grad_out, type(self).__name__)
        g = grad_out
        for i in range(len(mods) - 1, lowest - 1, -1):
            g = mods[i].backward(g, need_input_grad=need_input_grad or i > lowest)
        for m in mods[:lowest]:
            m.clear_cache()
        return g if need_input_grad else None


class ModuleList(Module):
    """A list of modules, registered (``'0'``, ``'1'``...) so their parameters are found. It has
    no forward: the owner decides how to call them."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx):
        n = len(self._modules)
        i = operator.index(idx)
        if not -n <= i < n:
            raise IndexError(f"index {idx} is out of range for a ModuleList of length {n}")
        return i % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx, module):
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[self._index(idx)]
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self.add_module(str(i), m)
