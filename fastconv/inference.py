"""Inference-time model rewriting: ``fuse(model)`` folds BatchNorm into convolutions and moves
ReLUs into the convolution kernels' epilogue.

In eval mode a BatchNorm is a fixed per-channel affine map, so after a convolution it can be
folded into the convolution's weights and bias::

    s  = gamma / sqrt(running_var + eps)
    w' = w * s          (per output channel)
    b' = beta + (b - running_mean) * s

which removes one full pass over every activation. A ReLU that directly follows a convolution
(or a folded BatchNorm) is applied by the convolution kernel as it writes its output
(``functional.conv2d(..., relu=True)``), which removes another. The result computes the same
function as ``model.eval()`` up to float rounding (the folded weights are rounded once more).

``fuse`` returns a copy and never changes ``model`` (``inplace=True`` rewrites it instead). Replaced layers become ``nn.Identity`` so the
remaining state_dict keys keep their names (folded convolutions gain a ``bias``). The fused model
still has a backward pass (in eval semantics), e.g. for saliency maps.
"""
import copy

import numpy as np

from . import functional as F
from . import nn
from ._grad_mode import no_grad
from .models._utils import relu_backward
from .models.resnet import _Block

__all__ = ["fuse", "fold_batch_norm", "ConvReLU2d", "predict_proba", "softmax", "topk"]


class ConvReLU2d(nn.Conv2d):
    """A Conv2d whose kernel applies max(y, 0) while writing its output (made by ``fuse``)."""

    def forward(self, x):
        bias = self.bias
        y = F.conv2d(x, self.weight.data, None if bias is None else bias.data, self.stride,
                     self.padding, algo=self.algo, relu=True)
        self._save_for_backward(x, y)
        return y

    def backward(self, grad_out, need_input_grad=False):
        x, y = self._saved()
        self._check_grad_out(grad_out, "ConvReLU2d")
        self._ctx = (x,)  # what Conv2d.backward reads
        return super().backward(relu_backward(grad_out, y), need_input_grad=need_input_grad)

    def extra_repr(self):
        return super().extra_repr() + ", relu=True"


def fold_batch_norm(conv, bn):
    """Fold eval-mode ``bn`` into ``conv`` in place (float64 arithmetic, rounded once to the
    weights' dtype). Returns False, changing nothing, when ``bn`` cannot be folded."""
    if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
        return False
    if bn.running_mean is None or bn.running_var is None or bn.num_features != conv.out_channels:
        return False  # without running statistics, eval mode normalises by batch statistics
    dtype = conv.weight.data.dtype
    scale = 1.0 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.data.astype(np.float64)
    beta = bn.bias.data.astype(np.float64) if bn.bias is not None else 0.0
    b = conv.bias.data.astype(np.float64) if conv.bias is not None else 0.0
    conv.weight.data = (conv.weight.data.astype(np.float64) * scale[:, None, None, None]).astype(dtype)
    bias = (beta + (b - bn.running_mean.astype(np.float64)) * scale).astype(dtype)
    if conv.bias is not None:
        conv.bias.data = bias
    else:
        conv.bias = nn.Parameter(bias, requires_grad=conv.weight.requires_grad)
    return True


def _with_relu(conv):
    conv.__class__ = ConvReLU2d  # same state, forward with the fused epilogue
    return conv


def _chain(module):
    """(child name, child) in the order ``module`` applies them, for chains of layers:
    Sequential, and fastconv's models (their ``_stages()``, e.g. ResNet's stem)."""
    if isinstance(module, nn.Sequential):
        return list(module.named_children())
    if hasattr(module, "_stages") and not isinstance(module, _Block):
        names = {id(m): n for n, m in module.named_children()}
        return [(names[id(m)], m) for m in module._stages() if id(m) in names]
    return None


def _fuse_chain(owner, slots, relu):
    for i, (_, m) in enumerate(slots):
        if type(m) is not nn.Conv2d:
            continue
        j = i + 1
        if j < len(slots) and isinstance(slots[j][1], nn.BatchNorm2d) and fold_batch_norm(m, slots[j][1]):
            setattr(owner, slots[j][0], nn.Identity())
            j += 1
        if relu and j < len(slots) and isinstance(slots[j][1], nn.ReLU):
            _with_relu(m)
            setattr(owner, slots[j][0], nn.Identity())


def _fuse_block(block, relu):
    names = {id(m): n for n, m in block.named_children()}
    fused_all = True
    for conv, bn, has_relu in _conv_bn_pairs(block._branch()):
        if fold_batch_norm(conv, bn):
            setattr(block, names[id(bn)], nn.Identity())
        else:
            fused_all = False
    if relu and fused_all:
        # every ReLU inside the branch now directly follows a convolution
        for conv, _, has_relu in _conv_bn_pairs(block._branch()):
            if has_relu and type(conv) is nn.Conv2d:
                _with_relu(conv)
        block._relu_in_conv = True


def _conv_bn_pairs(branch):
    """(conv, module after it, ReLU after that?) for each convolution of a residual branch."""
    branch = list(branch)
    out = []
    for (m, _), (nxt, nxt_relu) in zip(branch, branch[1:]):
        if isinstance(m, nn.Conv2d):
            out.append((m, nxt, nxt_relu))
    return out


def fuse(model, *, relu=True, inplace=False):
    """An eval-mode copy of ``model`` with BatchNorm folded into the preceding convolutions and,
    with ``relu=True``, ReLUs fused into the convolution kernels. ``model`` is not modified,
    unless ``inplace=True`` (no copy: saves memory when the original is not needed again)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a fastconv.nn.Module, got {type(model).__name__}")
    if inplace:
        fused = model
    else:
        model_ctx = [(m, m._ctx) for m in model.modules()]
        try:  # saved activations are not part of the model: do not copy them
            for m, _ in model_ctx:
                m._ctx = None
            fused = copy.deepcopy(model)
        finally:
            for m, ctx in model_ctx:
                m._ctx = ctx
    fused.clear_cache()
    fused.eval()
    for m in list(fused.modules()):
        if isinstance(m, _Block):
            _fuse_block(m, relu)
        else:
            slots = _chain(m)
            if slots:
                _fuse_chain(m, slots, relu)
    return fused


# ---- classifying images ---------------------------------------------------------------------------

def softmax(logits, axis=-1):
    """Probabilities from scores, computed in float64 and shifted by the maximum (no overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def topk(probs, k):
    """(indices, values) of the k largest entries of each row, largest first (ties: lower index)."""
    probs = np.asarray(probs)
    k = min(int(k), probs.shape[-1])
    order = np.argsort(-probs, axis=-1, kind="stable")[..., :k]
    return order, np.take_along_axis(probs, order, axis=-1)


def predict_proba(model, images, *, batch_size=8, transform=None):
    """Class probabilities, shape (len(images), classes), of image files or PIL images.

    Each image goes through ``transform`` (default: ImageNet evaluation preprocessing, resize
    256, centre crop 224, normalise), batches of ``batch_size`` go through ``model`` in eval
    mode without gradient bookkeeping. A file that cannot be read raises an error naming it.
    """
    from .data import load_image
    from .data.transforms import imagenet_transform

    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    transform = imagenet_transform() if transform is None else transform
    images = list(images)
    dtype = next((p.data.dtype for p in model.parameters()), np.dtype(np.float32))
    was_training = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, len(images), batch_size):
                batch = [transform(load_image(im) if not hasattr(im, "convert") else im.convert("RGB"))
                         for im in images[start:start + batch_size]]
                x = np.stack(batch).astype(dtype, copy=False)
                out.append(softmax(model(x)))
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, 0))
    return np.concatenate(out)
