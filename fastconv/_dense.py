"""Fast-path functional ops that are not convolution or pooling: activations, linear, batch
norm, dropout, softmax and the losses, each with its backward. NumPy does the work, except the
products (fastconv's GEMM) and the eval-mode BatchNorm and ReLU passes over large activations
(one C pass, channel_affine.c); these functions validate cheaply because they run on every
training step.

fastconv.functional re-exports everything in ``__all__``. Backward functions return
``(grad_input, grad_weight, grad_bias)`` with None for what was not asked for.
"""
import operator

import numpy as np

from . import _ext
from ._config import state

__all__ = [
    "relu", "relu_backward", "linear", "linear_backward", "batch_norm", "batch_norm_backward",
    "dropout", "dropout_backward", "softmax", "softmax_backward", "log_softmax",
    "log_softmax_backward", "cross_entropy", "cross_entropy_grad", "cross_entropy_backward",
    "mse_loss", "mse_loss_grad", "mse_loss_backward",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_float(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected float32 or float64, got {a.dtype}")


def _check_same_dtype(a, b, name_a, name_b):
    if b is not None and b.dtype != a.dtype:
        raise TypeError(f"{name_b}: dtype {b.dtype} does not match {name_a} dtype {a.dtype}")


# ---- per-channel affine + ReLU in one pass (src_c/channel_affine.c) ----------------------------
# NumPy makes a pass per operation on one thread; on activations of several MB (ResNet-50's
# 256 x 56 x 56) np.maximum alone took 0.3 ms. Below this size NumPy's ufuncs are as quick.
_AFFINE_MIN_ELEMENTS = 4096


def _elementwise_threads(n):
    """Threads for an elementwise kernel over n elements: functional's small-work rule (imported
    here: it imports us)."""
    from . import functional as F
    return F._threads(n, F.SMALL_ELEMENTS)


def _affine_ok(x):
    return x.size >= _AFFINE_MIN_ELEMENTS and x.flags.c_contiguous and x.flags.aligned


def _channel_affine(x, scale, shift, relu, out):
    """out = x * scale[c] + shift[c], then max(., 0) if relu, over axis 1 of a C-contiguous x;
    scale/shift None: skipped (x.ndim may then be anything: one plane). out may be x."""
    if scale is None and shift is None:
        N, C, hw = 1, 1, x.size
    else:
        N, C = x.shape[0], x.shape[1]
        hw = x.size // (N * C)
    none = np.empty(0, dtype=x.dtype)
    nt = _elementwise_threads(x.size)
    _ext.channel_affine(state.isa, nt, N, C, hw, x,
                        none if scale is None else np.ascontiguousarray(scale, dtype=x.dtype),
                        none if shift is None else np.ascontiguousarray(shift, dtype=x.dtype),
                        bool(relu), out)
    return out


# ---- ReLU --------------------------------------------------------------------------------------

def relu(x, inplace=False):
    """max(x, 0); NaN stays NaN (as torch). ``inplace`` overwrites x."""
    _check_float(x, "x")
    if _affine_ok(x):
        return _channel_affine(x, None, None, True, x if inplace else np.empty_like(x))
    return np.maximum(x, 0, out=x if inplace else None)


def relu_backward(grad_y, y, out=None):
    """Gradient of ReLU given its output ``y`` (or input: same sign): 0 where y <= 0, else grad
    (torch's threshold_backward, so a NaN passes its gradient through). ``out`` may be grad_y
    itself when the caller owns it."""
    _check_float(grad_y, "grad_y")
    _check_float(y, "y")
    if grad_y.shape != y.shape:
        raise ValueError(f"grad_y: shape {grad_y.shape} does not match y shape {y.shape}")
    if out is not None and (out.shape != grad_y.shape or out.dtype != grad_y.dtype):
        raise ValueError(f"out: expected shape {grad_y.shape} and dtype {grad_y.dtype}, got {out.shape} {out.dtype}")
    if grad_y.dtype == y.dtype and _affine_ok(grad_y) and _affine_ok(y) and (out is None or _affine_ok(out)):
        out = np.empty_like(grad_y) if out is None else out
        nt = _elementwise_threads(grad_y.size)
        _ext.relu_backward(state.isa, nt, grad_y, y, out)
        return out
    keep = np.less_equal(y, 0)
    np.logical_not(keep, out=keep)
    return np.multiply(grad_y, keep, out=out)


# ---- Linear ------------------------------------------------------------------------------------
# The products go through fastconv's own GEMM rather than np.matmul: it follows
# fastconv.set_num_threads like every other kernel, whereas NumPy's BLAS keeps a second thread
# pool that fights the OpenMP one (measured: a 64x128x64 product went from 15 us to 5-30 ms per
# call inside a training loop on a busy 2-core machine).

def _gemm(a, b, trans_a, trans_b, out, beta=0.0):
    """out = op(a) @ op(b) + beta * out, for 2-D arrays of one float dtype."""
    k = a.shape[0] if trans_a else a.shape[1]
    if out.size == 0:
        return out
    if k == 0:  # an empty sum; out may be uninitialised memory when beta == 0
        if beta == 0:
            out.fill(0)
        else:
            out *= beta
        return out
    # small products run on one thread, by functional's rule (imported here: it imports us)
    from . import functional as F
    nt = F._threads(2 * out.shape[0] * out.shape[1] * k, F.SMALL_FLOPS)
    _ext.gemm(state.isa, nt, trans_a, trans_b, np.ascontiguousarray(a), np.ascontiguousarray(b),
              out, 1.0, beta)
    return out


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias for x of shape (..., in_features), weight (out_features, in_features)."""
    _check_float(x, "x")
    _check_float(weight, "weight")
    _check_same_dtype(x, weight, "x", "weight")
    if weight.ndim != 2:
        raise ValueError(f"weight: expected 2 dimensions (out_features, in_features), got shape {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x: last dimension {x.shape[-1] if x.ndim else None} does not match "
                         f"in_features {weight.shape[1]} of weight")
    out_f, in_f = weight.shape
    if bias is not None:
        _check_float(bias, "bias")
        _check_same_dtype(x, bias, "x", "bias")
        if bias.shape != (out_f,):
            raise ValueError(f"bias: expected shape ({out_f},), got {bias.shape}")
    y = np.empty(x.shape[:-1] + (out_f,), dtype=x.dtype)
    y2 = y.reshape(-1, out_f)
    if bias is not None:
        y2[...] = bias
    _gemm(x.reshape(-1, in_f), weight, False, True, y2, 0.0 if bias is None else 1.0)
    return y


def linear_backward(grad_y, x, weight, *, need_input_grad=True, need_weight_grad=True,
                    need_bias_grad=True):
    """(grad_x, grad_weight, grad_bias) of ``linear``; None for what is not needed."""
    _check_float(grad_y, "grad_y")
    _check_float(x, "x")
    _check_float(weight, "weight")
    _check_same_dtype(x, weight, "x", "weight")
    if weight.ndim != 2:
        raise ValueError(f"weight: expected 2 dimensions (out_features, in_features), got shape {weight.shape}")
    out_f, in_f = weight.shape
    if grad_y.shape != x.shape[:-1] + (out_f,):
        raise ValueError(f"grad_y: expected shape {x.shape[:-1] + (out_f,)}, got {grad_y.shape}")
    _check_same_dtype(x, grad_y, "x", "grad_y")
    g2 = grad_y.reshape(-1, out_f)
    gx = gw = gb = None
    if need_input_grad:
        gx = np.empty(x.shape, dtype=x.dtype)
        _gemm(g2, weight, False, False, gx.reshape(-1, in_f))
    if need_weight_grad:
        gw = _gemm(g2, x.reshape(-1, in_f), True, False, np.empty((out_f, in_f), dtype=x.dtype))
    if need_bias_grad:
        gb = g2.sum(axis=0)
    return gx, gw, gb


# ---- BatchNorm ---------------------------------------------------------------------------------

def _bn_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _bn_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, *, return_stats=False):
    """Batch normalisation over the channel axis 1 of x (N, C, ...), as torch.nn.functional.batch_norm.

    In training (or without running statistics) x is normalised with the batch mean and the
    biased batch variance, and the running statistics (when given) are updated in place with
    ``momentum``, using the unbiased variance. Otherwise the running statistics are used.
    ``return_stats=True`` returns ``(y, mean, invstd)``, what batch_norm_backward needs.
    """
    _check_float(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x: expected at least 2 dimensions (N, C, ...), got shape {x.shape}")
    C = x.shape[1]
    for name, a in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if a is not None and a.shape != (C,):
            raise ValueError(f"{name}: expected shape ({C},) for {C} channels, got {a.shape}")
        if a is not None and a.dtype != x.dtype and name in ("weight", "bias"):
            raise TypeError(f"{name}: dtype {a.dtype} does not match x dtype {x.dtype}")
    axes = _bn_axes(x)
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        count = x.size // C if C else 0
        if training and count <= 1:
            raise ValueError(f"x: expected more than 1 value per channel when training, got input shape {x.shape}")
        mean = x.mean(axis=axes)
        centered = x - mean.reshape(_bn_shape(x))
        var = np.mean(np.square(centered), axis=axes)
        if training and running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if training and running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * count / (count - 1)) * var
    else:
        mean = running_mean.astype(x.dtype, copy=False)
        var = running_var.astype(x.dtype, copy=False)
        centered = None
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    scale = invstd if weight is None else invstd * weight
    shape = _bn_shape(x)
    if centered is not None:
        y = np.multiply(centered, scale.reshape(shape), out=centered)
        if bias is not None:
            y += bias.reshape(shape)
    else:
        shift = -mean * scale if bias is None else bias - mean * scale
        if _affine_ok(x):   # one pass: x * scale + shift, rounded as NumPy's two operations
            y = _channel_affine(x, scale, shift, False, np.empty_like(x))
        else:
            y = x * scale.reshape(shape)
            y += shift.reshape(shape)
    return (y, mean, invstd) if return_stats else y


def batch_norm_backward(grad_y, x, weight, mean, invstd, *, training=True, need_input_grad=True,
                        need_weight_grad=True, need_bias_grad=True):
    """(grad_x, grad_weight, grad_bias) of batch_norm. ``mean``/``invstd`` are those returned by
    batch_norm(return_stats=True); ``training`` says whether they were batch statistics (then
    they depend on x) or running statistics (constants)."""
    _check_float(grad_y, "grad_y")
    _check_float(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x: expected at least 2 dimensions (N, C, ...), got shape {x.shape}")
    if grad_y.shape != x.shape:
        raise ValueError(f"grad_y: shape {grad_y.shape} does not match x shape {x.shape}")
    shape, axes = _bn_shape(x), _bn_axes(x)
    need_sums = need_weight_grad or need_bias_grad or (need_input_grad and training)
    gw = gb = gx = None
    if need_sums:
        xhat = x - mean.reshape(shape)
        xhat *= invstd.reshape(shape)
        gb = grad_y.sum(axis=axes)
        n, c = x.shape[:2]
        gw = np.einsum("ncl,ncl->c", grad_y.reshape(n, c, -1), xhat.reshape(n, c, -1))
    if need_input_grad:
        scale = invstd if weight is None else invstd * weight
        if training:
            count = x.size // x.shape[1]
            # gx = scale * (g - mean(g) - xhat * mean(g * xhat)), reusing xhat's memory
            xhat *= (gw / count).reshape(shape)
            gx = np.subtract(grad_y, xhat, out=xhat)
            gx -= (gb / count).reshape(shape)
            gx *= scale.reshape(shape)
        else:
            gx = grad_y * scale.reshape(shape)
    return gx, (gw if need_weight_grad else None), (gb if need_bias_grad else None)


# ---- Dropout -----------------------------------------------------------------------------------

def dropout(x, p=0.5, training=True, inplace=False, *, generator=None, return_mask=False):
    """Zero each element with probability p and scale the others by 1/(1-p) (inverted dropout).

    ``generator`` is a numpy Generator (default: fastconv.nn.init.default_generator(), reseeded
    by fastconv.manual_seed). ``return_mask=True`` returns ``(y, mask)`` where mask holds the
    scale applied to each element (None when nothing was dropped), for dropout_backward.
    """
    _check_float(x, "x")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: dropout probability has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return (x, None) if return_mask else x
    if p == 1.0:
        mask = np.zeros_like(x)
    else:
        if generator is None:
            from .nn.init import default_generator
            generator = default_generator()
        keep = generator.random(x.shape, dtype=x.dtype) >= p
        mask = np.multiply(keep, 1.0 / (1.0 - p), dtype=x.dtype)
    y = np.multiply(x, mask, out=x if inplace else None)
    return (y, mask) if return_mask else y


def dropout_backward(grad_y, mask):
    _check_float(grad_y, "grad_y")
    if mask is not None and (not isinstance(mask, np.ndarray) or mask.shape != grad_y.shape):
        raise ValueError(f"mask: expected None or an array of shape {grad_y.shape} (from dropout's "
                         f"return_mask=True), got {getattr(mask, 'shape', type(mask).__name__)}")
    return grad_y if mask is None else grad_y * mask


# ---- softmax -----------------------------------------------------------------------------------

def _check_dim(x, dim):
    """``dim`` as a Python int within x's dimensions (an int, a NumPy integer, not a bool)."""
    try:
        if isinstance(dim, (bool, np.bool_)):
            raise TypeError
        dim = operator.index(dim)
    except TypeError:
        raise TypeError(f"dim: expected an int, got {type(dim).__name__} {dim!r}"[:200]) from None
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim: {dim} is out of range for an array of {x.ndim} dimensions")
    return dim


def log_softmax(x, dim=-1):
    """log(softmax(x)) computed stably (shifted by the maximum, log-sum-exp)."""
    _check_float(x, "x")
    dim = _check_dim(x, dim)
    z = x - x.max(axis=dim, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=dim, keepdims=True))
    return z


def softmax(x, dim=-1):
    _check_float(x, "x")
    dim = _check_dim(x, dim)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    e /= e.sum(axis=dim, keepdims=True)
    return e


def softmax_backward(grad_y, y, dim=-1):
    """Gradient of softmax given its output y: y * (g - sum(g * y))."""
    _check_float(grad_y, "grad_y")
    _check_float(y, "y")
    if grad_y.shape != y.shape:
        raise ValueError(f"grad_y: shape {grad_y.shape} does not match y shape {y.shape}")
    dim = _check_dim(y, dim)
    return y * (grad_y - (grad_y * y).sum(axis=dim, keepdims=True))


def log_softmax_backward(grad_y, y, dim=-1):
    """Gradient of log_softmax given its output y: g - softmax * sum(g)."""
    _check_float(grad_y, "grad_y")
    _check_float(y, "y")
    if grad_y.shape != y.shape:
        raise ValueError(f"grad_y: shape {grad_y.shape} does not match y shape {y.shape}")
    dim = _check_dim(y, dim)
    return grad_y - np.exp(y) * grad_y.sum(axis=dim, keepdims=True)


# ---- cross-entropy -----------------------------------------------------------------------------

def _ce_layout(input, C):
    """Logits as (M, C) rows, classes last (a view when input is already (N, C))."""
    if input.ndim == 1:
        return input[None, :]
    if input.ndim == 2:
        return input
    return np.moveaxis(input, 1, -1).reshape(-1, C)


def _ce_prepare(input, target, weight, ignore_index, reduction, label_smoothing):
    """Validate; returns (kind, logits (M, C), flat target, C, loss shape)."""
    _check_float(input, "input")
    if isinstance(target, (list, tuple, int, np.integer)):
        target = np.asarray(target)
    if not isinstance(target, np.ndarray):
        raise TypeError(f"target: expected an array of class indices, got {type(target).__name__}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing: expected a value in [0, 1], got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("input: expected logits of shape (N, C) or (N, C, d1, ...), got a scalar")
    C = input.shape[0] if input.ndim == 1 else input.shape[1]
    out_shape = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if weight is not None:
        _check_float(weight, "weight")
        if weight.shape != (C,):
            raise ValueError(f"weight: expected one weight per class, shape ({C},), got {weight.shape}")
    if target.dtype.kind == "f" and target.shape == input.shape:
        # class probabilities (soft labels), as torch accepts
        return "probs", _ce_layout(input, C), _ce_layout(target, C), C, out_shape
    if target.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices (or class probabilities shaped like "
                        f"input), got dtype {target.dtype} and shape {target.shape}")
    if target.shape != out_shape:
        if input.ndim == 1:
            raise ValueError(f"target: unbatched input of shape {input.shape} needs a scalar target, "
                             f"got shape {target.shape}")
        if target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"target: batch size {target.shape[0]} does not match input "
                             f"batch size {input.shape[0]}")
        raise ValueError(f"target: expected shape {out_shape} for input of shape {input.shape}, "
                         f"got {target.shape}")
    flat = target.reshape(-1)
    checked = flat[flat != ignore_index]
    if checked.size and (checked.min() < 0 or checked.max() >= C):
        bad = checked[(checked < 0) | (checked >= C)][0]
        raise ValueError(f"target: class index {int(bad)} is out of range [0, {C}) "
                         f"(ignore_index={ignore_index})")
    return "index", _ce_layout(input, C), flat, C, out_shape


def _ce_forward(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Loss and what _ce_backward needs. Written as loss[s] = -sum_c A[s,c] log_softmax(z)[s,c]:
    class indices t: A = (1-eps) w[t] onehot(t) + eps/C w (0 for ignored rows), mean divides by
    sum w[t]; probabilities p: A = w ((1-eps) p + eps/C), mean divides by the number of rows."""
    kind, logits, flat, C, out_shape = _ce_prepare(
        input, target, weight, ignore_index, reduction, label_smoothing)
    logp = log_softmax(logits, dim=1)
    dtype = logp.dtype
    w = None if weight is None else weight.astype(dtype, copy=False)
    eps = float(label_smoothing)
    if kind == "probs":
        A = flat.astype(dtype, copy=True)
        if eps:
            A *= 1.0 - eps
            A += eps / C
        if w is not None:
            A *= w
        # rows where A is 0 contribute nothing, even against a -inf log-probability
        with np.errstate(invalid="ignore"):
            terms = np.where(A != 0, A * logp, 0.0)
        losses = -terms.sum(axis=1)
        denom = float(losses.shape[0])
        saved = ("probs", logp, A)
    else:
        valid = flat != ignore_index
        all_valid = bool(valid.all())
        safe = flat if all_valid else np.where(valid, flat, 0)
        if w is None:
            w_t = np.ones(flat.shape[0], dtype=dtype) if all_valid else valid.astype(dtype)
        else:
            w_t = w[safe]
            if not all_valid:
                w_t *= valid
        losses = -logp[np.arange(flat.shape[0]), safe] * w_t
        if eps:
            smooth = -(logp.sum(axis=1) if w is None else logp @ w)
            if not all_valid:
                smooth *= valid
            losses = (1.0 - eps) * losses + (eps / C) * smooth
        denom = float(w_t.sum())
        saved = ("index", logp, safe, valid, all_valid, w_t, w, eps, C)
    if reduction == "none":
        loss = losses.reshape(out_shape)
    elif reduction == "sum":
        loss = float(losses.sum())
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # everything ignored: nan, as torch
            loss = float(np.float64(losses.sum()) / denom)
    return loss, (saved, reduction, denom, input.shape)


def _ce_backward(ctx, grad_output=1.0):
    saved, reduction, denom, shape = ctx
    kind, logp = saved[0], saved[1]
    dtype = logp.dtype
    grad = np.exp(logp)                      # softmax
    if kind == "probs":
        A = saved[2]
        grad *= A.sum(axis=1, keepdims=True)
        grad -= A
    else:
        _, _, safe, valid, all_valid, w_t, w, eps, C = saved
        a = (1.0 - eps) * w_t                # coefficient of the target's -log p
        wsum = float(C) if w is None else float(w.sum())
        s = a + (eps / C) * wsum * (1.0 if all_valid else valid.astype(dtype))
        grad *= s[:, None]
        grad[np.arange(grad.shape[0]), safe] -= a
        if eps:
            wrow = np.full(C, eps / C, dtype=dtype) if w is None else (eps / C) * w
            grad -= wrow if all_valid else valid[:, None] * wrow
    if reduction == "none":
        loss_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
        g = np.broadcast_to(np.asarray(grad_output, dtype=dtype), loss_shape)
        grad *= g.reshape(-1, 1)
    elif reduction == "mean" and denom == 0:
        grad[...] = 0  # every target ignored: the loss is nan but torch's gradient is 0
    else:
        grad *= float(grad_output) / (denom if reduction == "mean" else 1.0)
    if len(shape) == 1:
        return grad[0]
    if len(shape) > 2:  # classes back to axis 1
        grad = np.moveaxis(grad.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)
    return grad


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C), (N, C, d1, ...) or (C,) against integer class
    indices ``target`` (N,), (N, d1, ...) or () -- or class probabilities shaped like input --
    with torch's definitions of ``weight`` (per class), ``ignore_index``, ``label_smoothing`` and
    ``reduction`` (with indices, a mean is divided by the sum of the targets' class weights).
    Returns a Python float, or an array for reduction='none'."""
    return _ce_forward(input, target, weight, ignore_index, reduction, label_smoothing)[0]


def cross_entropy_grad(input, target, weight=None, ignore_index=-100, reduction="mean",
                       label_smoothing=0.0, grad_output=1.0):
    """d cross_entropy / d input (same shape as input), times ``grad_output``."""
    _, ctx = _ce_forward(input, target, weight, ignore_index, reduction, label_smoothing)
    return _ce_backward(ctx, grad_output)


# ---- mean squared error ------------------------------------------------------------------------

def _mse_check(input, target, reduction):
    _check_float(input, "input")
    if not isinstance(target, np.ndarray):
        target = np.asarray(target, dtype=input.dtype)
    if target.shape != input.shape:
        raise ValueError(f"target: shape {target.shape} does not match input shape {input.shape}")
    if target.dtype.kind not in "fiu":
        raise TypeError(f"target: expected a numeric array, got dtype {target.dtype}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    return target


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or elementwise with 'none') of (input - target)**2."""
    target = _mse_check(input, target, reduction)
    d = np.subtract(input, target, dtype=input.dtype)
    sq = np.square(d, out=d)
    if reduction == "none":
        return sq
    total = sq.sum()
    return float(total if reduction == "sum" else total / sq.size) if sq.size or reduction == "sum" else float("nan")


def mse_loss_grad(input, target, reduction="mean", grad_output=1.0):
    target = _mse_check(input, target, reduction)
    d = np.subtract(input, target, dtype=input.dtype)
    if reduction == "none":
        d *= 2.0
        d *= np.asarray(grad_output, dtype=input.dtype)
        return d
    scale = 2.0 * float(grad_output) / (d.size if reduction == "mean" and d.size else 1)
    d *= scale
    return d


# the reference's names for the same gradients (fastconv.reference.cross_entropy_backward, ...)
cross_entropy_backward = cross_entropy_grad
mse_loss_backward = mse_loss_grad
