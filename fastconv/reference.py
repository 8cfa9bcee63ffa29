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
import math

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


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D cross-correlation (what deep learning calls convolution).

    Y[n,k,i,j] = b[k] + sum_c sum_u sum_v Xp[n,c, i*sh+u, j*sw+v] * K[k,c,u,v]
    where Xp is x zero-padded by ``padding`` on each side. x: (N,C,H,W), weight: (K,C,KH,KW).
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
    return y.astype(_out_dtype(x), copy=False)


def conv2d_backward(grad_y, x, weight, stride=1, padding=0):
    """Gradients of conv2d: returns (grad_x, grad_weight, grad_bias).

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
    return gx.astype(dt), gw.astype(dt), gb.astype(dt)


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
            best = np.where(take, value, best)
            best_index = np.where(take, h[:, None] * W + w[None, :], best_index)
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
    np.add.at(gx, (planes, idx.reshape(N * C, -1)), gy.reshape(N * C, -1))
    return gx.reshape(N, C, H, W).astype(_out_dtype(grad_y), copy=False)


def _avg_windows(size, kernel, stride, padding, out, count_include_pad):
    """Along one axis: membership matrix A (out, size), A[i, h] = 1 when input h is in window i,
    and each window's divisor, following torch's rule (the window is first clipped to the
    padded extent, which is the count with padding; then to the input, the count without)."""
    A = np.zeros((out, size))
    divisor = np.zeros(out)
    for i in range(out):
        start = i * stride - padding
        end = min(start + kernel, size + padding)
        with_pad = end - start
        start, end = max(start, 0), min(end, size)
        A[i, start:end] = 1.0
        divisor[i] = with_pad if count_include_pad else max(end - start, 0)
    return A, divisor


def _adaptive_windows(size, out):
    """Along one axis: window i covers [floor(i*size/out), ceil((i+1)*size/out))."""
    A = np.zeros((out, size))
    for i in range(out):
        A[i, (i * size) // out:-(-((i + 1) * size) // out)] = 1.0
    return A, A.sum(axis=1)


def _window_sum(A_h, A_w, x):
    """Z[n,c,i,j] = sum_h sum_w A_h[i,h] A_w[j,w] X[n,c,h,w]."""
    return np.einsum("ih,nchw,jw->ncij", A_h, x, A_w, optimize=True)


def _window_spread(A_h, A_w, g):
    """Transpose of _window_sum: each output value is added back over its window."""
    return np.einsum("ih,ncij,jw->nchw", A_h, g, A_w, optimize=True)


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
    A_h, d_h = _avg_windows(H, kh, sh, ph, Ho, count_include_pad)
    A_w, d_w = _avg_windows(W, kw, sw, pw, Wo, count_include_pad)
    y = _divide(_window_sum(A_h, A_w, _f64(x)), d_h, d_w)
    return y.astype(_out_dtype(x), copy=False)


def avg_pool2d_backward(grad_y, input_shape, kernel_size, stride=None, padding=0, *,
                        ceil_mode=False, count_include_pad=True):
    """Each output gradient, divided by its window's divisor, is spread over the window."""
    N, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo = _pool_geometry(
        tuple(input_shape), kernel_size, stride, padding, ceil_mode)
    gy = _f64(grad_y)
    if gy.shape != (N, C, Ho, Wo):
        raise ValueError(f"grad_y must have shape {(N, C, Ho, Wo)}, got {gy.shape}")
    A_h, d_h = _avg_windows(H, kh, sh, ph, Ho, count_include_pad)
    A_w, d_w = _avg_windows(W, kw, sw, pw, Wo, count_include_pad)
    gx = _window_spread(A_h, A_w, _divide(gy, d_h, d_w))
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
    A_h, d_h = _adaptive_windows(H, P)
    A_w, d_w = _adaptive_windows(W, Q)
    y = _divide(_window_sum(A_h, A_w, _f64(x)), d_h, d_w)
    return y.astype(_out_dtype(x), copy=False)


def adaptive_avg_pool2d_backward(grad_y, input_shape):
    """The output size is read from grad_y."""
    gy = _require_ndim(grad_y, 4, "grad_y")
    N, C, H, W = input_shape
    if gy.shape[:2] != (N, C):
        raise ValueError(f"grad_y {gy.shape} does not match input shape {tuple(input_shape)}")
    P, Q = gy.shape[2:]
    A_h, d_h = _adaptive_windows(H, P)
    A_w, d_w = _adaptive_windows(W, Q)
    gx = _window_spread(A_h, A_w, _divide(_f64(gy), d_h, d_w))
    return gx.astype(_out_dtype(grad_y), copy=False)
