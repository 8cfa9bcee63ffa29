"""fastconv: convolutional networks on CPUs, C kernels under a NumPy-facing, PyTorch-named API.

    import fastconv, fastconv.functional as F
    y = F.conv2d(x, w, b, stride=1, padding=1)
    from fastconv import nn, optim, models

Submodules are imported lazily on first attribute access, so `import fastconv` stays quick.
"""
import importlib

__version__ = "0.1.0"

_CONFIG_NAMES = ("cpu_isa", "get_isa", "get_num_threads", "get_winograd", "set_isa", "set_num_threads",
                 "set_winograd", "show_config")

_SUBMODULES = (
    "functional", "reference", "nn", "optim", "models", "io", "viz", "data", "datasets", "train",
    "inference", "finetune", "cli",
)

__all__ = ["__version__", "cpu_isa", "get_isa", "get_num_threads", "get_winograd", "set_isa", "set_num_threads",
           "set_winograd", "show_config", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "manual_seed", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _CONFIG_NAMES:
        # lazily, so that fastconv.reference stays importable even when the extension is not built
        from . import _config
        return getattr(_config, name)
    if name in ("no_grad", "is_grad_enabled", "enable_grad", "set_grad_enabled"):
        from . import _grad_mode
        return getattr(_grad_mode, name)
    if name == "manual_seed":
        from .nn.init import manual_seed
        return manual_seed
    raise AttributeError(f"module 'fastconv' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
