"""The oracle: every operation written in plain NumPy straight from its definition.

Every fast kernel is validated against these functions, so they favour being obviously right
over being fast: each one reads like the formula it implements. Rules of this module:

- It never imports the fast path (``fastconv._ext``, ``fastconv.functional``): an oracle that
  shares code with what it checks cannot catch that code's mistakes.
- Layouts follow PyTorch: NCHW activations, OIHW convolution weights, ``(out, in)`` linear
  weights. ``stride``, ``padding`` and ``kernel_size`` take an int or an ``(h, w)`` pair.
- Arithmetic is done in float64; results come back in the input's dtype (float64 for
  non-float input).
- ``*_backward`` functions take the gradient of the output first and return the gradients
  with respect to the inputs. Losses are the exception: their backward takes the forward's
  arguments plus ``grad_output`` (1.0 by default), since a loss usually ends the graph.
- Semantics are torch's wherever torch has an opinion (pooling output sizes with
  ``ceil_mode``, max-pool NaN handling and indices, average-pool divisors, cross-entropy
  weighting and label smoothing, batch-norm running statistics).
"""

import numpy as np

__all__ = [
    "conv_output_size", "pool_output_size",
    "conv2d", "conv2d_backward",
    "max_pool2d", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "relu", "relu_backward", "linear", "linear_backward",
    "batch_norm", "batch_norm_backward",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "cross_entropy", "cross_entropy_backward", "mse_loss", "mse_loss_backward",
    "cross_entropy_grad", "mse_loss_grad",
]


# ---- small helpers --------------------------------------------------------------------------

def _pair(value, name):
    """int or (h, w) pair -> (h, w) tuple of Python ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _out_dtype(a):
    """The dtype results are returned in: the input's if it is a float type, else float64."""
    dt = np.asarray(a).dtype
    return dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)


def _require_ndim(a, ndim, name):
    a = np.asarray(a)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def conv_output_size(size, kernel, stride=1, padding=0):
    """Output length of a convolution along one axis: floor((size + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def pool_output_size(size, kernel, stride, padding=0, ceil_mode=False):
    """Output length of a pooling along one axis, with torch's ceil_mode rule.

    With ceil_mode the division rounds up, but the last window must still start inside the
    input or the left padding; a window starting in the right padding is dropped.
    """
    span = size + 2 * padding - kernel
    if ceil_mode:
        out = -(-span // stride) + 1            # ceil division
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out


# ---- convolution ----------------------------------------------------------------------------

def _conv_geometry(x, weight, stride, padding):
    x = _require_ndim(x, 4, "x")
    weight = _require_ndim(weight, 4, "weight")
    N, C, H, W = x.shape
    K, Cw, KH, KW = weight.shape
    if Cw != C:
        raise ValueError(f"weight has {Cw} input channels but x has {C}")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be positive, got {stride!r}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    Ho = conv_output_size(H, KH, sh, ph)
    Wo = conv_output_size(W, KW, sw, pw)
    if Ho < 1 or Wo < 1:
        raise ValueError(f"kernel {KH}x{KW} does not fit the padded input {H + 2 * ph}x{W + 2 * pw}")
    return (N, C, H, W, K, KH, KW, sh, sw, ph, pw, Ho, Wo)


def _tap(a, u, v, sh, sw, Ho, Wo):
    """View of a[..., i*sh + u, j*sw + v] for all outputs (i, j): the input under kernel tap (u, v)."""
    return a[:, :, u:u + sh * (Ho - 1) + 1:sh, v:v + sw * (Wo - 1) + 1:sw]


def conv2d(x, weight, bias=None, stride=1, padding=0, *, relu=False):
    """2-D cross-correlation (what deep learning calls convolution).

    Y[n,k,i,j] = b[k] + sum_c sum_u sum_v Xp[n,c, i*sh+u, j*sw+v] * K[k,c,u,v]
    where Xp is x zero-padded by ``padding`` on each side. x: (N,C,H,W), weight: (K,C,KH,KW).
    relu=True returns max(Y, 0), matching functional.conv2d's fused epilogue.
    """
    N, C, H, W, K, KH, KW, sh, sw, ph, pw, Ho, Wo = _conv_geometry(x, weight, stride, padding)
    xp = np.pad(_f64(x), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = _f64(weight)
    y = np.zeros((N, K, Ho, Wo))
    for u in range(KH):
        for v in range(KW):
            y += np.einsum("ncij,kc->nkij", _tap(xp, u, v, sh, sw, Ho, Wo), w[:, :, u, v],
                           optimize=True)
    if bias is not None:
        b = _f64(bias)
        if b.shape != (K,):
            raise ValueError(f"bias must have shape ({K},), got {b.shape}")
        y += b[None, :, None, None]
    if relu:
        y = np.maximum(y, 0.0)
    return y.astype(_out_dtype(x), copy=False)


def conv2d_backward(grad_y, x, weight, stride=1, padding=0, *, need_input_grad=True,
                    need_weight_grad=True, need_bias_grad=True):
    """Gradients of conv2d: returns (grad_x, grad_weight, grad_bias); a part not needed is None.

    Differentiating the forward sum term by term:
      dX[n,c, i*sh+u, j*sw+v] += sum_k dY[n,k,i,j] * K[k,c,u,v]   (then the padding is cut off)
      dK[k,c,u,v] = sum_{n,i,j} dY[n,k,i,j] * Xp[n,c, i*sh+u, j*sw+v]
      db[k] = sum_{n,i,j} dY[n,k,i,j]
    """
    N, C, H, W, K, KH, KW, sh, sw, ph, pw, Ho, Wo = _conv_geometry(x, weight, stride, padding)
    gy = _f64(grad_y)
    if gy.shape != (N, K, Ho, Wo):
        raise ValueError(f"grad_y must have shape {(N, K, Ho, Wo)}, got {gy.shape}")
    xp = np.pad(_f64(x), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    w = _f64(weight)
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for u in range(KH):
        for v in range(KW):
            _tap(gxp, u, v, sh, sw, Ho, Wo)[...] += np.einsum(
                "nkij,kc->ncij", gy, w[:, :, u, v], optimize=True)
            gw[:, :, u, v] = np.einsum("nkij,ncij->kc", gy, _tap(xp, u, v, sh, sw, Ho, Wo),
                                       optimize=True)
    gx = gxp[:, :, ph:ph + H, pw:pw + W]
    gb = gy.sum(axis=(0, 2, 3))
    dt = _out_dtype(x)
    return (gx.astype(dt) if need_input_grad else None,
            gw.astype(dt) if need_weight_grad else None,
            gb.astype(dt) if need_bias_grad else None)


# ---- pooling --------------------------------------------------------------------------------

def _pool_geometry(x_shape, kernel_size, stride, padding, ceil_mode):
    if len(x_shape) != 4:
        raise ValueError(f"pooling expects a 4-D (N,C,H,W) input, got shape {tuple(x_shape)}")
    N, C, H, W = x_shape
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None or stride == () else _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be positive, got {kernel_size!r}")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be positive, got {stride!r}")
    if ph < 0 or pw < 0 or ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding must be between 0 and half the kernel size, got {padding!r}")
    Ho = pool_output_size(H, kh, sh, ph, ceil_mode)
    Wo = pool_output_size(W, kw, sw, pw, ceil_mode)
    if Ho < 1 or Wo < 1:
        raise ValueError(f"pooling output would be empty for input {H}x{W}")
    return N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo


def max_pool2d(x, kernel_size, stride=None, padding=0, *, ceil_mode=False, return_indices=False):
    """Y[n,c,i,j] = max over the window of X[n,c, i*sh+u-ph, j*sw+v-pw]; padding counts as -inf.

    The window is scanned row by row exactly as torch's CPU kernel does, which fixes the
    tie-breaking and NaN rules: the first maximum wins, a NaN beats everything (and a later
    NaN beats an earlier one), and a window holding only -inf points at its first element
    inside the input. Indices are flat positions h*W + w within each (H, W) plane.
    """
    x = np.asarray(x)
    N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(
        x.shape, kernel_size, stride, padding, ceil_mode)
    # Pad far enough that every window, including ceil_mode's overhanging last one, is in range.
    pad_bottom = max(0, (Ho - 1) * sh + kh - H - ph)
    pad_right = max(0, (Wo - 1) * sw + kw - W - pw)
    xp = np.pad(_f64(x), ((0, 0), (0, 0), (ph, pad_bottom), (pw, pad_right)),
                constant_values=-np.inf)
    best = np.full((N, C, Ho, Wo), -np.inf)
    best_index = np.full((N, C, Ho, Wo), -1, dtype=np.int64)
    for u in range(kh):
        h = np.arange(Ho) * sh - ph + u                  # input row under tap u, per output row
        for v in range(kw):
            w = np.arange(Wo) * sw - pw + v
            inside = ((h >= 0) & (h < H))[:, None] & ((w >= 0) & (w < W))[None, :]
            value = _tap(xp, u, v, sh, sw, Ho, Wo)
            take = inside & ((best_index < 0) | (value > best) | np.isnan(value))
            np.copyto(best, value, where=take)
            np.copyto(best_index, np.broadcast_to(h[:, None] * W + w[None, :], take.shape), where=take)
    y = best.astype(_out_dtype(x), copy=False)
    return (y, best_index) if return_indices else y


def max_pool2d_backward(grad_y, indices, input_shape):
    """Scatter-add each output gradient to the input position its max came from."""
    N, C, H, W = input_shape
    gy = _f64(grad_y)
    idx = np.asarray(indices)
    if idx.shape != gy.shape or gy.ndim != 4 or gy.shape[:2] != (N, C):
        raise ValueError(f"grad_y {gy.shape} and indices {idx.shape} must match and fit {input_shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= H * W):
        raise ValueError("indices out of range for the input plane")
    gx = np.zeros((N * C, H * W))
    planes = np.arange(N * C)[:, None]
    # explicit sizes: reshape(N * C, -1) cannot infer -1 when N * C == 0 (an empty batch)
    outputs = gy.shape[2] * gy.shape[3]
    np.add.at(gx, (planes, idx.reshape(N * C, outputs)), gy.reshape(N * C, outputs))
    return gx.reshape(N, C, H, W).astype(_out_dtype(grad_y), copy=False)


def _avg_windows(size, kernel, stride, padding, out, count_include_pad):
    """Along one axis: window i as the input range [start, end) it covers, and its divisor,
    following torch's rule (the window is first clipped to the padded extent, which is the
    count with padding; then to the input, the count without)."""
    windows = []
    divisor = np.zeros(out)
    for i in range(out):
        start = i * stride - padding
        end = min(start + kernel, size + padding)
        with_pad = end - start
        start, end = max(start, 0), min(end, size)
        windows.append((start, max(end, start)))
        divisor[i] = with_pad if count_include_pad else max(end - start, 0)
    return windows, divisor


def _adaptive_windows(size, out):
    """Along one axis: window i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    windows = [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]
    return windows, np.array([end - start for start, end in windows], dtype=np.float64)


# Window sums are taken one window at a time, over exactly the elements inside it. (A product
# with a 0/1 membership matrix would be shorter, but 0 * inf = NaN would then spread an inf or
# NaN to every window of its row and column, where torch and the kernels keep it local.)

def _window_sum(windows_h, windows_w, x):
    """Z[n,c,i,j] = sum of X[n,c,h,w] over h in window i of windows_h and w in window j of windows_w."""
    with np.errstate(invalid="ignore"):    # inf + -inf = NaN in a window is the answer
        rows = np.stack([x[:, :, h0:h1, :].sum(axis=2) for h0, h1 in windows_h], axis=2)
        return np.stack([rows[:, :, :, w0:w1].sum(axis=3) for w0, w1 in windows_w], axis=3)


def _window_spread(windows_h, windows_w, g, H, W):
    """Transpose of _window_sum: each output value is added to every input cell of its window."""
    N, C = g.shape[:2]
    cols = np.zeros((N, C, g.shape[2], W))
    gx = np.zeros((N, C, H, W))
    with np.errstate(invalid="ignore"):
        for j, (w0, w1) in enumerate(windows_w):
            cols[:, :, :, w0:w1] += g[:, :, :, j:j + 1]
        for i, (h0, h1) in enumerate(windows_h):
            gx[:, :, h0:h1, :] += cols[:, :, i:i + 1, :]
    return gx


def _divide(total, div_h, div_w):
    div = np.outer(div_h, div_w)
    # torch writes 0 for a window with no input element; never reachable with valid
    # padding (<= kernel/2), guarded so a divisor of 0 cannot produce NaN.
    return np.where(div > 0, total / np.where(div > 0, div, 1.0), 0.0)


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, ceil_mode=False, count_include_pad=True):
    """Y[n,c,i,j] = (sum of X over window (i, j)) / divisor, torch's divisor rule:
    count_include_pad=True counts padding cells (but not cells past the right padding that
    ceil_mode's last window may overhang); False counts only the input cells."""
    x = np.asarray(x)
    N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(
        x.shape, kernel_size, stride, padding, ceil_mode)
    win_h, d_h = _avg_windows(H, kh, sh, ph, Ho, count_include_pad)
    win_w, d_w = _avg_windows(W, kw, sw, pw, Wo, count_include_pad)
    y = _divide(_window_sum(win_h, win_w, _f64(x)), d_h, d_w)
    return y.astype(_out_dtype(x), copy=False)


def avg_pool2d_backward(grad_y, input_shape, kernel_size, stride=None, padding=0, *,
                        ceil_mode=False, count_include_pad=True):
    """Each output gradient, divided by its window's divisor, is spread over the window."""
    N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(
        tuple(input_shape), kernel_size, stride, padding, ceil_mode)
    gy = _f64(grad_y)
    if gy.shape != (N, C, Ho, Wo):
        raise ValueError(f"grad_y must have shape {(N, C, Ho, Wo)}, got {gy.shape}")
    win_h, d_h = _avg_windows(H, kh, sh, ph, Ho, count_include_pad)
    win_w, d_w = _avg_windows(W, kw, sw, pw, Wo, count_include_pad)
    gx = _window_spread(win_h, win_w, _divide(gy, d_h, d_w), H, W)
    return gx.astype(_out_dtype(grad_y), copy=False)


def _adaptive_size(output_size, H, W):
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        P, Q = output_size          # torch allows None: keep that input dimension
        P = H if P is None else P
        Q = W if Q is None else Q
        P, Q = _pair((P, Q), "output_size")
    else:
        P, Q = _pair(output_size, "output_size")
    if P < 1 or Q < 1:
        raise ValueError(f"output_size must be positive, got {output_size!r}")
    return P, Q


def adaptive_avg_pool2d(x, output_size):
    """Average over window (i, j) = rows [floor(i*H/P), ceil((i+1)*H/P)) x the same for columns."""
    x = _require_ndim(x, 4, "x")
    N, C, H, W = x.shape
    P, Q = _adaptive_size(output_size, H, W)
    win_h, d_h = _adaptive_windows(H, P)
    win_w, d_w = _adaptive_windows(W, Q)
    y = _divide(_window_sum(win_h, win_w, _f64(x)), d_h, d_w)
    return y.astype(_out_dtype(x), copy=False)


def adaptive_avg_pool2d_backward(grad_y, input_shape):
    """The output size is read from grad_y."""
    gy = _require_ndim(grad_y, 4, "grad_y")
    N, C, H, W = input_shape
    if gy.shape[:2] != (N, C):
        raise ValueError(f"grad_y {gy.shape} does not match input shape {tuple(input_shape)}")
    P, Q = gy.shape[2:]
    win_h, d_h = _adaptive_windows(H, P)
    win_w, d_w = _adaptive_windows(W, Q)
    gx = _window_spread(win_h, win_w, _divide(_f64(gy), d_h, d_w), H, W)
    return gx.astype(_out_dtype(grad_y), copy=False)


# ---- activations and dense layers -----------------------------------------------------------

def relu(x):
    """max(x, 0) elementwise; NaN stays NaN (as torch)."""
    x = np.asarray(x)
    return np.maximum(_f64(x), 0.0).astype(_out_dtype(x), copy=False)


def relu_backward(grad_y, x):
    """grad_y where x > 0, else 0. Written as torch's threshold_backward (x <= 0 -> 0), so a
    NaN input passes the gradient through."""
    gx = np.where(_f64(x) <= 0, 0.0, _f64(grad_y))
    return gx.astype(_out_dtype(grad_y), copy=False)


def linear(x, weight, bias=None):
    """y = x W^T + b with W of shape (out_features, in_features); x: (..., in_features)."""
    x = np.asarray(x)
    w = _require_ndim(weight, 2, "weight")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"x's last dimension must be in_features={w.shape[1]}, got shape {x.shape}")
    y = _f64(x) @ _f64(w).T
    if bias is not None:
        y = y + _f64(bias)
    return y.astype(_out_dtype(x), copy=False)


def linear_backward(grad_y, x, weight, *, need_input_grad=True, need_weight_grad=True,
                    need_bias_grad=True):
    """(grad_x, grad_weight, grad_bias): dX = dY W, dW = dY^T X, db = sum of dY over all but
    the last axis (leading axes of x are batch axes). A part not needed is None."""
    x64, w, gy = _f64(x), _f64(weight), _f64(grad_y)
    if gy.shape != x64.shape[:-1] + (w.shape[0],):
        raise ValueError(f"grad_y must have shape {x64.shape[:-1] + (w.shape[0],)}, got {gy.shape}")
    gy2 = gy.reshape(-1, w.shape[0])
    dt = _out_dtype(x)
    return ((gy @ w).astype(dt) if need_input_grad else None,
            (gy2.T @ x64.reshape(-1, w.shape[1])).astype(dt) if need_weight_grad else None,
            gy2.sum(axis=0).astype(dt) if need_bias_grad else None)


# ---- batch normalisation --------------------------------------------------------------------

def _channel_axes(x):
    """Axes reduced per channel: all but axis 1 ((N,C) or (N,C,*) input), and the shape that
    broadcasts a per-channel vector against x."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects (N, C) or (N, C, ...) input, got shape {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    return axes, (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _batch_statistics(x, running_mean, running_var, training):
    """Mean and variance used to normalise: the batch's (biased variance) when training,
    the running estimates otherwise."""
    axes, _ = _channel_axes(x)
    if training:
        if x.size // x.shape[1] < 2:
            raise ValueError("batch_norm in training needs more than 1 value per channel")
        return x.mean(axis=axes), x.var(axis=axes)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm in eval mode needs running_mean and running_var")
    return _f64(running_mean), _f64(running_var)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation with torch.nn.functional.batch_norm's arguments, as a pure function.

    Returns ``(y, new_running_mean, new_running_var)``; nothing passed in is modified.
      y = (x - mean) / sqrt(var + eps) * weight + bias   (per channel, axis 1)
    training=True: mean/var are the batch's, var biased (divide by n); the running estimates
      become (1 - momentum) * running + momentum * batch, with the *unbiased* variance
      (n / (n - 1) times the biased one), as torch does. running_mean / running_var may be
      None (no tracking); they then come back as None.
    training=False: mean/var are running_mean/running_var, returned unchanged (as copies).
    weight/bias None mean 1 and 0.
    """
    x = np.asarray(x)
    xf = _f64(x)
    axes, shape = _channel_axes(xf)
    mean, var = _batch_statistics(xf, running_mean, running_var, training)
    y = (xf - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * _f64(weight).reshape(shape)
    if bias is not None:
        y = y + _f64(bias).reshape(shape)

    def updated(running, batch_value):
        if running is None:
            return None
        running = np.asarray(running)
        if not training:
            return running.copy()
        new = (1.0 - momentum) * _f64(running) + momentum * batch_value
        return new.astype(_out_dtype(running), copy=False)

    n = xf.size // xf.shape[1]
    new_mean = updated(running_mean, mean)
    new_var = updated(running_var, var * n / (n - 1) if training else var)
    return y.astype(_out_dtype(x), copy=False), new_mean, new_var


def batch_norm_backward(grad_y, x, running_mean, running_var, weight=None, training=False,
                        eps=1e-5):
    """(grad_x, grad_weight, grad_bias) of batch_norm with the same mode and statistics.

    With xhat = (x - mean) * invstd, invstd = 1/sqrt(var + eps), g = grad_y * weight:
      grad_bias = sum grad_y, grad_weight = sum grad_y * xhat   (per channel)
      eval:     grad_x = g * invstd   (mean and var are constants)
      training: grad_x = invstd * (g - mean(g) - xhat * mean(g * xhat))   (mean, var depend on x)
    grad_weight and grad_bias are returned even when weight is None (weight = 1).
    """
    x64, gy = _f64(x), _f64(grad_y)
    axes, shape = _channel_axes(x64)
    mean, var = _batch_statistics(x64, running_mean, running_var, training)
    invstd = (1.0 / np.sqrt(var + eps)).reshape(shape)
    xhat = (x64 - mean.reshape(shape)) * invstd
    gamma = np.ones(x64.shape[1]) if weight is None else _f64(weight)
    g = gy * gamma.reshape(shape)
    if training:
        gx = invstd * (g - g.mean(axis=axes, keepdims=True)
                       - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    else:
        gx = g * invstd
    dt = _out_dtype(x)
    return (gx.astype(dt), (gy * xhat).sum(axis=axes).astype(dt), gy.sum(axis=axes).astype(dt))


# ---- softmax family -------------------------------------------------------------------------

def softmax(x, dim=-1):
    """exp(x_i) / sum_j exp(x_j) along dim (the max is subtracted first, which changes nothing
    mathematically and avoids overflow)."""
    x = np.asarray(x)
    z = _f64(x)
    e = np.exp(z - z.max(axis=dim, keepdims=True))
    return (e / e.sum(axis=dim, keepdims=True)).astype(_out_dtype(x), copy=False)


def log_softmax(x, dim=-1):
    """x_i - log sum_j exp(x_j) along dim, computed as (x - m) - log sum exp(x - m), m = max."""
    x = np.asarray(x)
    shifted = _f64(x) - _f64(x).max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return out.astype(_out_dtype(x), copy=False)


def softmax_backward(grad_y, y, dim=-1):
    """Given y = softmax(x): dx = y * (dy - sum(dy * y)) along dim."""
    gy, y64 = _f64(grad_y), _f64(y)
    gx = y64 * (gy - (gy * y64).sum(axis=dim, keepdims=True))
    return gx.astype(_out_dtype(grad_y), copy=False)


def log_softmax_backward(grad_y, y, dim=-1):
    """Given y = log_softmax(x): dx = dy - exp(y) * sum(dy) along dim."""
    gy, y64 = _f64(grad_y), _f64(y)
    gx = gy - np.exp(y64) * gy.sum(axis=dim, keepdims=True)
    return gx.astype(_out_dtype(grad_y), copy=False)


# ---- losses ---------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _cross_entropy_terms(logits, target, weight, ignore_index, label_smoothing):
    """Write torch's cross-entropy as loss[s] = -sum_c A[s,c] * log_softmax(z)[s,c].

    Returns (z, A, denominator of the mean), with the class axis moved last: z and A have
    shape (S..., C) where S... is (N,), (N, d1, ...) or () for unbatched (C,) logits.

    Class-index targets t (torch's label-smoothing formula, eps = label_smoothing):
      A[s,c] = (1 - eps) * w[t_s] * [c == t_s] + (eps / C) * w[c],  0 where t_s == ignore_index;
      mean divides by sum of w[t_s] over non-ignored s (the count when weight is None).
    Probability targets p (same shape as logits):
      A[s,c] = w[c] * ((1 - eps) * p[s,c] + eps / C);  mean divides by the number of samples
      (N * d1 * ...), whatever the weights.
    """
    z = _f64(logits)
    if z.ndim < 1:
        raise ValueError("logits must have a class dimension")
    class_axis = 0 if z.ndim == 1 else 1
    z = np.moveaxis(z, class_axis, -1)
    C = z.shape[-1]
    w = np.ones(C) if weight is None else _f64(weight)
    if w.shape != (C,):
        raise ValueError(f"weight must have shape ({C},), got {w.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    eps = float(label_smoothing)
    target = np.asarray(target)
    if np.issubdtype(target.dtype, np.floating):           # class probabilities
        p = np.moveaxis(_f64(target), class_axis, -1)
        if p.shape != z.shape:
            raise ValueError(f"probability target must have the logits' shape {np.shape(logits)}")
        A = w * ((1.0 - eps) * p + eps / C)
        return z, A, float(z.size // C)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target must hold class indices (integers) or probabilities, got {target.dtype}")
    if target.shape != z.shape[:-1]:
        raise ValueError(f"target must have shape {z.shape[:-1]}, got {target.shape}")
    valid = target != ignore_index
    t = np.where(valid, target, 0).astype(np.int64)
    if np.any((t < 0) | (t >= C)):
        raise ValueError(f"target class indices must be in [0, {C}) or ignore_index")
    onehot = (np.arange(C) == t[..., None]).astype(np.float64)
    A = (1.0 - eps) * w[t][..., None] * onehot + (eps / C) * w
    A = np.where(valid[..., None], A, 0.0)
    return z, A, float(np.sum(w[t][valid]))


def _reduce(loss, reduction, denominator):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):     # all ignored: 0/0 = NaN, as torch
        return loss.sum() / denominator


def _reduction_scale(reduction, denominator, grad_output, loss_shape):
    """d(reduced loss)/d(loss[s]) times the incoming gradient, broadcastable to loss_shape."""
    g = _f64(grad_output)
    if reduction == "none":
        return np.broadcast_to(g, loss_shape)
    if reduction == "sum":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):
        return g / denominator


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """torch.nn.functional.cross_entropy: logits (N, C), (N, C, d1, ...) or (C,); target class
    indices of shape (N,), (N, d1, ...) or (), or class probabilities shaped like logits.
    See _cross_entropy_terms for the exact weighting. Returns a 0-d array for 'mean'/'sum'.
    Positional order is torch's (reduction before label_smoothing)."""
    _check_reduction(reduction)
    z, A, denominator = _cross_entropy_terms(logits, target, weight, ignore_index, label_smoothing)
    logp = log_softmax(z, dim=-1)
    # A == 0 where the target has no mass; skipping those keeps a -inf logit from giving 0*inf.
    loss = -np.where(A != 0, A * logp, 0.0).sum(axis=-1)
    return np.asarray(_reduce(loss, reduction, denominator)).astype(_out_dtype(logits), copy=False)


def cross_entropy_backward(logits, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0, grad_output=1.0):
    """Gradient of cross_entropy w.r.t. logits (same arguments, plus the gradient of the loss:
    a scalar, or per-sample for reduction='none').

    From loss[s] = -sum_c A[s,c] log_softmax(z)[s,c]:  dloss[s]/dz[s,c] = softmax(z)[s,c] *
    sum_c' A[s,c'] - A[s,c]; then scaled by the reduction (1/denominator for 'mean').
    """
    _check_reduction(reduction)
    z, A, denominator = _cross_entropy_terms(logits, target, weight, ignore_index, label_smoothing)
    p = softmax(z, dim=-1)
    per_sample = p * A.sum(axis=-1, keepdims=True) - A
    scale = _reduction_scale(reduction, denominator, grad_output, z.shape[:-1])
    gz = per_sample * np.asarray(scale)[..., None]
    class_axis = 0 if np.ndim(logits) == 1 else 1
    return np.moveaxis(gz, -1, class_axis).astype(_out_dtype(logits), copy=False)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2, reduced by mean over all elements, sum, or none."""
    _check_reduction(reduction)
    d = _f64(input) - _f64(target)
    return np.asarray(_reduce(d * d, reduction, d.size)).astype(_out_dtype(input), copy=False)


def mse_loss_backward(input, target, reduction="mean", grad_output=1.0):
    """Gradient w.r.t. input: 2 (input - target), scaled by the reduction (1/numel for mean)."""
    _check_reduction(reduction)
    d = _f64(input) - _f64(target)
    g = 2.0 * d * _reduction_scale(reduction, d.size, grad_output, d.shape)
    return g.astype(_out_dtype(input), copy=False)


# Names used by fastconv._dense for the loss gradients, so a test can call both modules alike.
cross_entropy_grad = cross_entropy_backward
mse_loss_grad = mse_loss_backward
