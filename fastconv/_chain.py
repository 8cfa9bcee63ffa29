"""A model as a flat chain of modules applied one after the other.

Fine-tuning with cached features cuts a model into a frozen trunk and a trainable head;
feature visualisation runs a model only up to a chosen layer and back. Both need the model as
the ordered list of modules its forward applies: containers (``Sequential``, and the zoo's
models, whose ``_stages()`` lists what forward applies in order) are opened up; anything else
(a residual block, a layer) is one link. Applying the links in order is the model's forward.
"""
from . import nn

__all__ = ["forward_chain", "find_layer", "run_forward", "run_backward"]


def _stages(module):
    """The children a model's forward applies in order, or None if it is not a known chain."""
    if isinstance(module, nn.Sequential):
        return list(module.named_children())
    stages = getattr(module, "_stages", None)  # ResNet, VGG, SimpleCNN: forward = stages in order
    if callable(stages):
        names = {id(m): n for n, m in module.named_children()}
        mods = list(stages())
        if all(id(m) in names for m in mods):
            return [(names[id(m)], m) for m in mods]
    return None


def forward_chain(model, prefix=""):
    """[(dotted name, module)] whose application in order equals ``model.forward``."""
    stages = _stages(model)
    if stages is None:
        return [(prefix, model)]
    out = []
    for name, child in stages:
        out.extend(forward_chain(child, f"{prefix}.{name}" if prefix else name))
    return out


def find_layer(chain, layer, model=None):
    """Index of the link that ends ``layer`` (a dotted name or a module) in ``chain``."""
    if isinstance(layer, nn.Module):
        for i, (_, m) in enumerate(chain):
            if m is layer:
                return i
        # a container (e.g. model.layer3): the index of its last link
        for name, m in (model.named_modules() if model is not None else ()):
            if m is layer and name:
                return find_layer(chain, name)
        raise ValueError("layer: this module is not one of the model's layers in forward order "
                         "(residual blocks count as one layer)")
    if not isinstance(layer, str):
        raise TypeError(f"layer: expected a layer name such as 'features.3' or a module, got "
                        f"{type(layer).__name__}")
    hits = [i for i, (name, _) in enumerate(chain) if name == layer or name.startswith(layer + ".")]
    if not hits or layer == "":
        names = [n for n, _ in chain]
        shown = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "")
        raise ValueError(f"layer: {layer!r} is not a layer (or group of layers) of the model in "
                         f"forward order; residual blocks count as one layer. Choose one of: {shown}")
    return hits[-1]


def run_forward(links, x):
    for _, m in links:
        x = m(x)
    return x


def run_backward(links, grad, need_input_grad=True):
    """Backward through ``links`` (in forward order), from the last to the first."""
    for _, m in reversed(links):
        grad = m.backward(grad, need_input_grad=need_input_grad)
    return grad
