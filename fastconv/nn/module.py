"""Module: the base of every layer and model, with PyTorch's registration and state_dict rules.

Explicit backward, no autograd tape
-----------------------------------
``forward(x)`` keeps in ``self._ctx`` what its backward needs, unless ``fastconv.no_grad()`` is
active. ``backward(grad_out, need_input_grad=False)`` adds the gradients of the module's
parameters to their ``.grad`` and returns the gradient of the input **only when
need_input_grad is true** (otherwise None): the gradient of a network's input is rarely wanted,
and not computing it is what lets a backward pass stop early. Containers pass
``need_input_grad=True`` to every child except the lowest one that still has a trainable
parameter, and do not call the children below it at all, so fine-tuning a head on a frozen
trunk costs about one forward pass. Ask for the input gradient explicitly when you want it
(saliency maps, a module used inside another's backward): ``gx = net.backward(g, need_input_grad=True)``.

Writing a module with branches (e.g. a residual block): call the children's forward in
``forward``; in ``backward``, call each child's backward with ``need_input_grad=True`` whenever
the gradient has to continue below it, skip children that neither have trainable parameters
(``has_trainable_parameters()``) nor lead to anything that needs a gradient, and call
``clear_cache()`` on children you skip so they release their saved activations. The cache is
consumed by backward (a second backward without a new forward raises), like torch's graph.
"""
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from .._grad_mode import is_grad_enabled
from .parameter import Parameter

__all__ = ["Module", "StateDictError", "IncompatibleKeys"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _RemovableHandle:
    _next_id = 0

    def __init__(self, hooks, hook):
        if not callable(hook):
            raise TypeError(f"hook: expected a callable, got {type(hook).__name__}")
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1
        self._hooks = hooks
        hooks[self.id] = hook

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class StateDictError(RuntimeError, ValueError):
    """A state dict that does not fit the module (RuntimeError as in torch, and a ValueError)."""


def _addindent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


def _to_numpy(value, key):
    """A state dict value as an ndarray: numpy arrays, Parameters, scalars, torch CPU tensors."""
    if isinstance(value, Parameter):
        return value.data
    try:
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
            value = value.detach().cpu()
            value = value.numpy() if str(value.dtype) != "torch.bfloat16" else value.float().numpy()
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - report which key could not be read
        raise StateDictError(f"state_dict[{key!r}]: cannot be read as an array ({exc})") from None
    return arr


class Module:
    """Base class of layers and models (see the module docstring for the backward rules)."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_ctx", None)

    # ---- registration ------------------------------------------------------------------------
    def _check_init(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self._discard(name, keep="_parameters")
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(fastconv.nn.Parameter or None expected; to change the values "
                                f"write into {name}.data)")
            params[name] = None
        elif isinstance(value, Module):
            self._check_init("a child module")
            self._discard(name, keep="_modules")
            d["_modules"][name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(fastconv.nn.Module or None expected)")
            d["_modules"][name] = None
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                "(numpy.ndarray or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name, keep=None):
        """Forget ``name`` everywhere except in store ``keep`` (so a replacement keeps its place
        in the registration order, as torch's dict assignment does)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                d[store].pop(name, None)
        if keep != "_buffers":
            d["_non_persistent_buffers"].discard(name)

    def __getattr__(self, name):
        # only called when normal lookup fails; read the stores without recursing
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                del s[name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"name: {kind} name must be a str, got {type(name).__name__}")
        if name == "" or "." in name:
            raise ValueError(f"name: {kind} name must be non-empty and contain no '.', got {name!r}")
        # registered members live in the stores, so re-registering one is allowed
        if name in self.__dict__ or hasattr(type(self), name):
            raise KeyError(f"attribute {name!r} already exists")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"param: expected a Parameter or None, got {type(param).__name__}")
        self._discard(name, keep="_parameters")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-learnable array (e.g. BatchNorm's running_mean) saved in the state dict
        when ``persistent``. ``tensor`` may be None (then it is skipped by state_dict)."""
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, np.ndarray):
            raise TypeError(f"tensor: expected a numpy.ndarray or None, got {type(tensor).__name__}")
        self._discard(name, keep="_buffers")
        self._buffers[name] = tensor
        self._non_persistent_buffers.discard(name)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Register a child module (or None) under ``name``."""
        self._check_init("a child module")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"module: expected a fastconv.nn.Module or None, got {type(module).__name__}")
        self._discard(name, keep="_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at dotted path ``target`` ('' is self), e.g. ``'layer1.0.conv1'``."""
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            child = mod._modules.get(item) if isinstance(mod, Module) else None
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {item!r} (in {target!r})")
            mod = child
        return mod

    # ---- iteration ---------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mprefix, module in mods:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mprefix + ("." if mprefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- forward / backward ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if d.get("_forward_pre_hooks") or d.get("_forward_hooks"):
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before forward; returning a value replaces the input.
        Returns a handle whose ``remove()`` unregisters it (as torch)."""
        return _RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after forward (e.g. to keep a feature map for a
        class activation map); returning a value replaces the output. Returns a handle with
        ``remove()``. A hook that changes the output must also handle the gradient itself:
        backward knows nothing about it."""
        return _RemovableHandle(self._forward_hooks, hook)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    def backward(self, grad_out, need_input_grad=False):
        """Accumulate parameter gradients; return d loss / d input if ``need_input_grad`` else None."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward()")

    def has_trainable_parameters(self):
        """True if this module or a descendant has a parameter with requires_grad."""
        for p in self.parameters():
            if p.requires_grad:
                return True
        return False

    def _save_for_backward(self, *values):
        """Keep ``values`` for backward, unless gradients are disabled (fastconv.no_grad)."""
        self._ctx = values if is_grad_enabled() else None

    def _saved(self):
        """What forward saved (consumed: backward runs once per forward, like torch's graph)."""
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward: nothing was saved by forward; call forward first, "
                "outside fastconv.no_grad(), and only once backward per forward")
        self._ctx = None
        return ctx

    def clear_cache(self):
        """Drop what forward saved, in this module and every descendant (frees activations)."""
        for m in self.modules():
            m._ctx = None

    @staticmethod
    def _check_grad_out(grad_out, name):
        if grad_out is None:
            raise ValueError(f"grad_out: {name}.backward got None; the module above it was called "
                             "with need_input_grad=False")
        if not isinstance(grad_out, np.ndarray):
            raise TypeError(f"grad_out: expected a numpy.ndarray, got {type(grad_out).__name__}")

    # ---- modes, gradients, dtype ---------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("mode: training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad[...] = 0

    def to(self, dtype=None):
        """Convert parameters (and their grads) and floating-point buffers to ``dtype`` in place.
        ``"cpu"`` is accepted and does nothing, so torch code moving a model to the CPU runs."""
        if dtype is None or (isinstance(dtype, str) and dtype == "cpu"):
            return self
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"dtype: expected a floating-point dtype, got {dt}")
        # Widening keeps every value; a signalling NaN (garbage in weights not yet
        # initialised) becomes a quiet one, which NumPy would report as "invalid value".
        with np.errstate(invalid="ignore"):
            for m in self.modules():
                for p in m._parameters.values():
                    if p is not None:
                        p.data = p.data.astype(dt, copy=False)
                        if p.grad is not None:
                            p.grad = p.grad.astype(dt, copy=False)
                for name, b in m._buffers.items():
                    if b is not None and b.dtype.kind == "f":
                        m._buffers[name] = b.astype(dt, copy=False)
                m._ctx = None
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def cpu(self):
        return self

    def apply(self, fn):
        """Call ``fn(m)`` on every child (recursively) then on self, as torch; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- state dict ------------------------------------------------------------------------
    def _state_items(self, prefix=""):
        """(key, module, store, name) for every entry of the state dict, in torch's order:
        a module's parameters, then its persistent buffers, then its children."""
        out = []
        for name, p in self._parameters.items():
            if p is not None:
                out.append((prefix + name, self, "_parameters", name))
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out.append((prefix + name, self, "_buffers", name))
        for name, child in self._modules.items():
            if child is not None:
                out.extend(child._state_items(prefix + name + "."))
        return out

    def _optional_state_keys(self):
        """Names of own state entries that may be absent from a loaded state dict."""
        return ()

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Ordered ``{key: copy of array}`` with torch's keys. ``keep_vars=True`` gives the live
        arrays (Parameters for parameters) instead of copies."""
        out = OrderedDict() if destination is None else destination
        for key, mod, store, name in self._state_items(prefix):
            value = getattr(mod, store)[name]
            if keep_vars:
                out[key] = value
            else:
                out[key] = (value.data if store == "_parameters" else value).copy()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict`` into the parameters and buffers (cast to their dtype).

        Everything is checked before anything is written: a missing or unexpected key (with
        ``strict``) or a shape mismatch raises StateDictError naming the keys, and the module is
        left unchanged. Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        items = self._state_items()
        optional = set()
        for prefix, m in self.named_modules():
            optional.update(prefix + ("." if prefix else "") + k for k in m._optional_state_keys())
        own = set()
        missing, errors, staged = [], [], []
        for key, mod, store, name in items:
            own.add(key)
            if key not in state_dict:
                if key not in optional:
                    missing.append(key)
                continue
            target = getattr(mod, store)[name]
            target = target.data if store == "_parameters" else target
            value = _to_numpy(state_dict[key], key)
            if value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                              f"from checkpoint, the shape in current model is {tuple(target.shape)}.")
            elif value.dtype.kind not in "biuf" or (value.dtype.kind == "c" and target.dtype.kind != "c"):
                errors.append(f"dtype mismatch for {key}: cannot copy an array of dtype {value.dtype} "
                              f"into {target.dtype}.")
            else:
                staged.append((target, value))
        unexpected = [k for k in state_dict if k not in own]
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                                 + "\n\t".join(errors))
        for target, value in staged:
            np.copyto(target, value, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # ---- repr ------------------------------------------------------------------------------
    def extra_repr(self):
        """The layer's arguments shown inside its repr, e.g. ``'3, 64, kernel_size=(3, 3)'``."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(m), 2) for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
