"""Fine-tuning: reuse a trained network for new classes.

    from fastconv import models, io, finetune
    model = models.resnet18()
    io.load_weights(model, "resnet18.safetensors")     # trained on ImageNet
    finetune.replace_head(model, num_classes=5)         # a new, randomly initialised fc
    finetune.freeze_trunk(model)                        # everything else: requires_grad=False
    print(finetune.parameter_report(model))             # 2,565 trainable, 11,176,512 frozen
    history = finetune.train_head_cached(model, train_loader, epochs=30, val_loader=val_loader)

Frozen parameters get no gradient, and a backward pass stops below the lowest module that still
has a trainable parameter (fastconv.nn's rule), so a training step of a head on a frozen trunk
costs about one forward pass. Better still, with the trunk frozen and in eval mode its output
for a given image never changes: :func:`train_head_cached` computes the trunk's features once
and then trains the head on them for as many epochs as wanted, in seconds. (Without caching,
``fastconv.train.fit`` puts the whole model in training mode: the frozen trunk's BatchNorm
layers then normalise with batch statistics and update their running averages, and its Dropout
is active; with caching the trunk runs in eval mode.)
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from . import nn
from ._chain import forward_chain
from ._grad_mode import no_grad

__all__ = ["load_pretrained", "head_of", "replace_head", "freeze", "unfreeze", "freeze_trunk", "parameter_report",
           "ParameterReport", "split_frozen", "extract_features", "train_head_cached"]


# ---- the head -------------------------------------------------------------------------------------

def head_of(model):
    """``(name, module)`` of the model's last classification layer: ``fc`` for ResNet, the last
    Linear of ``classifier`` for VGG (``classifier.6``) and simple_cnn."""
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        return "fc", fc
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Sequential):
        for i in range(len(classifier) - 1, -1, -1):
            if isinstance(classifier[i], nn.Linear):
                return f"classifier.{list(classifier._modules)[i]}", classifier[i]
    if isinstance(classifier, nn.Linear):
        return "classifier", classifier
    raise TypeError(f"model: no classification head found in a {type(model).__name__} (expected a "
                    "Linear `fc`, as ResNet, or a `classifier` Sequential ending in Linear, as VGG)")


def replace_head(model, num_classes, *, bias=True):
    """Replace the model's last Linear layer (``fc``, ``classifier[6]``, ...) by a new one with
    ``num_classes`` outputs, the same inputs and dtype, initialised as torch initialises Linear
    (seed with ``fastconv.manual_seed``). Returns the new layer (trainable)."""
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    name, old = head_of(model)
    new = nn.Linear(old.in_features, int(num_classes), bias=bias, dtype=old.weight.data.dtype)
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    setattr(parent, child, new)
    return new


def load_pretrained(arch, weights=None):
    """A zoo model (``models.get_model(arch)``) with the weights of file ``weights`` loaded; the
    head is resized first when the file's head has another number of classes (a model saved
    after fine-tuning). Raises ValueError naming the file if the weights do not fit."""
    from . import io, models
    model = models.get_model(arch)
    if weights is None:
        return model
    state = io.to_torchvision_names(io.load(weights))
    name, head = head_of(model)
    w = state.get(name + ".weight")
    if (w is not None and np.ndim(w) == 2 and np.shape(w)[1] == head.in_features
            and np.shape(w)[0] != head.out_features):
        replace_head(model, int(np.shape(w)[0]))
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise ValueError(f"{weights}: weights do not fit {arch}: {e}") from e
    return model


# ---- freezing -------------------------------------------------------------------------------------

def freeze(module):
    """``requires_grad = False`` for every parameter of ``module``; returns it."""
    return module.requires_grad_(False)


def unfreeze(module):
    """``requires_grad = True`` for every parameter of ``module``; returns it."""
    return module.requires_grad_(True)


def freeze_trunk(model, *, keep=()):
    """Freeze everything but the head (see :func:`head_of`) and the submodules named in ``keep``
    (e.g. ``keep=["layer4"]`` to fine-tune the last stage too). Returns the model."""
    freeze(model)
    unfreeze(head_of(model)[1])
    for name in ([keep] if isinstance(keep, str) else keep):
        unfreeze(model.get_submodule(name))
    return model


@dataclass
class ParameterReport:
    """Counts of trainable and frozen parameters, per top-level module and in total."""
    rows: list = field(default_factory=list)  # (name, parameters, trainable)

    @property
    def total(self):
        return sum(r[1] for r in self.rows)

    @property
    def trainable(self):
        return sum(r[2] for r in self.rows)

    @property
    def frozen(self):
        return self.total - self.trainable

    def __str__(self):
        width = max([len("module"), len("total")] + [len(r[0]) for r in self.rows])
        line = f"{{:<{width}}}  {{:>13}}  {{:>13}}  {{:>13}}"
        out = [line.format("module", "parameters", "trainable", "frozen")]
        for name, total, trainable in self.rows:
            out.append(line.format(name, f"{total:,}", f"{trainable:,}", f"{total - trainable:,}"))
        share = 100 * self.trainable / self.total if self.total else 0.0
        out.append(line.format("total", f"{self.total:,}", f"{self.trainable:,}", f"{self.frozen:,}")
                   + f"  ({share:.2f}% trainable)")
        return "\n".join(out)


def parameter_report(model, depth=1):
    """Trainable vs frozen parameters of ``model``, one row per module ``depth`` levels down
    (parameters held directly by a parent get a row of their own). ``print`` it for a table."""
    rows = []

    def walk(module, prefix, level):
        own = list(module.named_parameters(recurse=False))
        if level == depth or not module._modules:
            params = list(module.parameters())
            rows.append((prefix or type(module).__name__, sum(p.size for p in params),
                         sum(p.size for p in params if p.requires_grad)))
            return
        if own:
            rows.append((prefix or "(own)", sum(p.size for _, p in own),
                         sum(p.size for _, p in own if p.requires_grad)))
        for name, child in module.named_children():
            walk(child, f"{prefix}.{name}" if prefix else name, level + 1)

    walk(model, "", 0)
    return ParameterReport([r for r in rows if r[1] > 0])


# ---- feature caching ------------------------------------------------------------------------------

def split_frozen(model):
    """Cut ``model`` into ``(trunk, head)``, two Sequentials of its own modules (shared, not
    copied): the trunk is everything its forward applies before the first module with a
    trainable parameter, the head the rest; ``head(trunk(x)) == model(x)``."""
    chain = forward_chain(model)
    k = next((i for i, (_, m) in enumerate(chain) if m.has_trainable_parameters()), None)
    if k is None:
        raise ValueError("model: every parameter is frozen; nothing to train")
    if k == 0:
        raise ValueError("model: the first layer is trainable, so there is no frozen trunk to cache; "
                         "freeze it first (fastconv.finetune.freeze_trunk(model))")
    trunk = nn.Sequential(*[m for _, m in chain[:k]])
    head = nn.Sequential(*[m for _, m in chain[k:]])
    return trunk, head


def extract_features(trunk, loader, *, progress=False, desc="features", file=None):
    """Run ``trunk`` in eval mode without gradient bookkeeping over ``loader``'s ``(x, y)``
    batches; returns ``(features, targets)`` stacked. The trunk's modes are restored."""
    from tqdm import tqdm
    modes = [(m, m.training) for m in trunk.modules()]
    trunk.eval()
    feats, targets = [], []
    file = sys.stderr if file is None else file
    show = progress and getattr(file, "isatty", lambda: False)()
    try:
        with no_grad(), tqdm(total=len(loader), desc=desc, unit="batch", leave=False, file=file,
                             disable=not show) as bar:
            for x, y in loader:
                feats.append(np.asarray(trunk(x)).copy())
                targets.append(np.asarray(y))
                bar.update(1)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    if not feats:
        raise ValueError("loader: no batches")
    return np.concatenate(feats), np.concatenate(targets)


def train_head_cached(model, train_loader, epochs, *, val_loader=None, optimizer=None, lr=0.01,
                      momentum=0.9, weight_decay=0.0, batch_size=None, seed=0, progress=True,
                      checkpoint=None, file=None):
    """Train the trainable part of ``model`` (its head) on the frozen trunk's features, computed
    once: the trunk runs over ``train_loader`` (and ``val_loader``) a single time, in eval mode,
    then ``fastconv.train.fit`` trains the head on the cached features for ``epochs`` epochs
    (shuffled each epoch with ``seed``), reporting validation accuracy when ``val_loader`` is
    given. The head's modules are the model's own, so the model ends up trained.

    ``optimizer`` defaults to SGD(lr, momentum, weight_decay) over the head's parameters;
    ``batch_size`` defaults to the loader's; ``checkpoint``: passed to ``fit`` (the head's state,
    written atomically after every epoch). Returns fit's history.
    """
    from . import optim
    from .data import DataLoader, TensorDataset
    from .train import fit

    trunk, head = split_frozen(model)
    xf, yf = extract_features(trunk, train_loader, progress=progress, desc="train features", file=file)
    batch_size = batch_size or getattr(train_loader, "batch_size", 64)
    loader = DataLoader(TensorDataset(xf, yf), batch_size=batch_size, shuffle=True, seed=seed)
    val = None
    if val_loader is not None:
        xv, yv = extract_features(trunk, val_loader, progress=progress, desc="val features", file=file)
        val = DataLoader(TensorDataset(xv, yv), batch_size=batch_size)
    if optimizer is None:
        optimizer = optim.SGD([p for p in head.parameters() if p.requires_grad], lr=lr,
                              momentum=momentum, weight_decay=weight_decay)
    return fit(head, loader, nn.CrossEntropyLoss(), optimizer, epochs, val_loader=val,
               progress=progress, checkpoint=checkpoint, file=file)
