"""fastconv's stateless public API: convolution and pooling on NumPy arrays (NCHW, OIHW).

Each function validates its arguments (TypeError/ValueError naming the argument) before any C
runs, makes inputs C-contiguous, allocates the outputs, picks the algorithm and calls the
compiled kernel with the GIL released. ``fastconv.reference`` has the same names in plain NumPy.
"""
import numpy as np

from . import _ext
from ._config import state
from ._validate import (
    check_product,
    choice,
    contiguous,
    float_array,
    pair,
    same_dtype,
    shape4,
)

from ._dense import *  # noqa: E402,F401,F403  relu, linear, batch_norm, losses ... (fastconv/_dense.py)
from ._dense import __all__ as _dense_all

CONV_ALGOS = ("auto", "direct", "im2col", "1x1", "winograd")

# Below these amounts of work a call runs on one thread: waking the OpenMP team costs more than
# it saves, and on a busy machine spinning threads steal the core the work needs.
SMALL_FLOPS = 2_000_000
SMALL_ELEMENTS = 65_536


def _threads(work, small):
    return 1 if work < small else state.num_threads


def _conv_flops(desc):
    N, C, H, W, K, R, S, _, _, _, _, P, Q = desc
    return 2 * N * K * C * R * S * P * Q

__all__ = [
    "conv2d", "conv2d_backward", "conv_output_size", "select_conv_algo", "select_conv_backward_algo",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "pool_output_size", "matmul",
    *_dense_all,
]


# ---- convolution ---------------------------------------------------------------------------

def conv_output_size(size, kernel, stride, padding):
    """Output length of a convolution along one axis (floor rule, as torch)."""
    return (size + 2 * padding - kernel) // stride + 1


def _conv_desc(x_shape, w_shape, stride, padding, x_name="x"):
    N, C, H, W = x_shape
    K, Cw, R, S = w_shape
    if Cw != C:
        raise ValueError(f"weight has {Cw} input channels (shape {w_shape}) but {x_name} has {C} "
                         f"channels (shape {x_shape})")
    sh, sw = stride
    ph, pw = padding
    if R > H + 2 * ph or S > W + 2 * pw:
        raise ValueError(f"kernel {R}x{S} is larger than the padded input {H + 2 * ph}x{W + 2 * pw} "
                         f"({x_name} {H}x{W}, padding {ph}x{pw})")
    P = conv_output_size(H, R, sh, ph)
    Q = conv_output_size(W, S, sw, pw)
    check_product((N, K, P, Q), "the output")
    check_product((H + 2 * ph, W + 2 * pw), "the padded input plane")
    return (N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q)


def select_conv_algo(desc):
    """The algorithm ``algo="auto"`` uses for a convolution descriptor.

    Rule (measured on the VGG16/ResNet layers of conv_layers.json; docs/performance.md and
    docs/winograd.md have the tables):
    - 1x1 kernels with stride 1 and no padding go straight to GEMM ("1x1");
    - 3x3 stride-1 layers with at least 16 input channels and at least 16 output tiles of 4x4
      (N * ceil(P/4) * ceil(Q/4)) use Winograd F(4x4, 3x3): 4x fewer multiplications, which
      wins once the per-call filter transform is amortised (float32 error 2-5x the direct
      method's, ~1e-5 of the output's scale; use algo="im2col" or "direct" to avoid it);
    - the register-blocked direct kernel where it beats im2col: few input channels (C <= 4, a
      network's first layer, whose im2col matrix is too thin for GEMM) and wide outputs
      (Q >= 56) with stride <= 2;
    - everything else uses im2col + our packed GEMM.
    The backward passes use im2col (or 1x1) under "auto": see select_conv_backward_algo.
    """
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = desc
    if R == 1 and S == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0:
        return "1x1"
    if state.winograd and _winograd_pays(desc):
        return "winograd"
    if C <= 4 or (sw <= 2 and Q >= 56):
        return "direct"
    return "im2col"


def _winograd_pays(desc):
    """3x3 stride 1 with at least 16 input channels and 16 output tiles of 4x4."""
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = desc
    return R == 3 and S == 3 and sh == 1 and sw == 1 and C >= 16 and N * (-(-P // 4)) * (-(-Q // 4)) >= 16


def _grad_input_desc(desc):
    """For a stride-1 convolution, grad_x is itself a convolution: grad_y (N, K, P, Q) with the
    weights flipped in space and transposed to (C, K, R, S), padded by R-1-ph, S-1-pw. Its
    descriptor, or None when the padding is larger than that (the flipped window would start
    inside grad_y)."""
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = desc
    if sh != 1 or sw != 1 or ph > R - 1 or pw > S - 1:
        return None
    return (N, K, P, Q, C, R, S, 1, 1, R - 1 - ph, S - 1 - pw, H, W)


def _winograd_grad_input_pays(gi_desc):
    """Winograd for grad_x (the transposed convolution gi_desc): as _winograd_pays, and also at
    least 16 channels out (a network's first layer, C = 3, is 2x slower through it) and 32
    tiles (at 16, a batch-1 14x14 layer, the per-call weight flip and transform cost more than
    the multiplications saved: 0.9x im2col on VGG16 conv5_1)."""
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = gi_desc
    return _winograd_pays(gi_desc) and K >= 16 and N * (-(-P // 4)) * (-(-Q // 4)) >= 32


def select_conv_backward_algo(desc):
    """The algorithm conv2d_backward(algo="auto") uses: GEMM straight on the input for 1x1 layers,
    else im2col + col2im, measured faster than the direct gradients on every ResNet-18 layer
    and on VGG16's conv1_1 (3.6-4.2 ms against 6.8-8.6 ms).
    (grad_x of a 3x3 stride-1 layer additionally goes through Winograd when it pays and the
    switch is on: see conv2d_backward.)"""
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = desc
    if R == 1 and S == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0:
        return "1x1"
    return "im2col"


def _resolve_algo(algo, desc):
    choice(algo, "algo", CONV_ALGOS)
    if algo == "auto":
        return select_conv_algo(desc)
    if algo == "1x1":
        R, S, sh, sw, ph, pw = desc[5], desc[6], desc[7], desc[8], desc[9], desc[10]
        if (R, S, sh, sw, ph, pw) != (1, 1, 1, 1, 0, 0):
            raise ValueError(f"algo='1x1' needs a 1x1 kernel with stride 1 and padding 0, got kernel {R}x{S}, "
                             f"stride {(sh, sw)}, padding {(ph, pw)}")
    if algo == "winograd":
        R, S, sh, sw = desc[5], desc[6], desc[7], desc[8]
        if (R, S, sh, sw) != (3, 3, 1, 1):
            raise ValueError(f"algo='winograd' needs a 3x3 kernel with stride 1, got kernel {R}x{S}, "
                             f"stride {(sh, sw)}")
    return algo


def conv2d(x, weight, bias=None, stride=1, padding=0, *, algo="auto", relu=False):
    """2-D convolution (cross-correlation, as torch): x (N,C,H,W), weight (K,C,R,S), bias (K,) -> (N,K,P,Q).

    ``stride`` and ``padding`` take an int or an (h, w) pair. ``algo`` is "auto", "direct",
    "im2col", "1x1" (1x1 kernels, stride 1, no padding only) or "winograd" (3x3, stride 1 only). ``relu=True`` applies max(y, 0)
    in the kernel's epilogue.
    """
    x = float_array(x, "x", 4)
    weight = float_array(weight, "weight", 4)
    arrays = [("x", x), ("weight", weight)]
    if bias is not None:
        bias = float_array(bias, "bias", 1)
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have shape ({weight.shape[0]},) to match weight's output channels, "
                             f"got {bias.shape}")
        arrays.append(("bias", bias))
    same_dtype(arrays)
    stride = pair(stride, "stride", minimum=1)
    padding = pair(padding, "padding", minimum=0)
    desc = _conv_desc(x.shape, weight.shape, stride, padding)
    algo = _resolve_algo(algo, desc)
    N, K, P, Q = desc[0], desc[4], desc[11], desc[12]
    y = np.empty((N, K, P, Q), dtype=x.dtype)
    if y.size == 0:
        return y
    if x.size == 0:
        # an empty input plane under padding: every tap reads padding, the output is the bias
        # (C would do arithmetic on a NULL input pointer, which UBSan flags)
        y[...] = 0 if bias is None else bias.reshape(1, K, 1, 1)
        return np.maximum(y, 0, out=y) if relu else y
    b = contiguous(bias) if bias is not None else np.empty(0, dtype=x.dtype)
    _ext.conv2d_forward(algo, state.isa, _threads(_conv_flops(desc), SMALL_FLOPS), desc, contiguous(x),
                        contiguous(weight), b, bias is not None, bool(relu), y)
    return y


def conv2d_backward(grad_y, x, weight, stride=1, padding=0, *, algo="auto", need_input_grad=True,
                    need_weight_grad=True, need_bias_grad=True):
    """Gradients of conv2d: returns (grad_x, grad_weight, grad_bias); a part not needed is None."""
    grad_y = float_array(grad_y, "grad_y", 4)
    x = float_array(x, "x", 4)
    weight = float_array(weight, "weight", 4)
    same_dtype([("x", x), ("weight", weight), ("grad_y", grad_y)])
    stride = pair(stride, "stride", minimum=1)
    padding = pair(padding, "padding", minimum=0)
    desc = _conv_desc(x.shape, weight.shape, stride, padding)
    N, C, H, W, K, R, S, _, _, _, _, P, Q = desc
    if grad_y.shape != (N, K, P, Q):
        raise ValueError(f"grad_y must have the output's shape {(N, K, P, Q)}, got {grad_y.shape}")
    # grad_x of a 3x3 stride-1 layer is a 3x3 stride-1 convolution of grad_y (_grad_input_desc):
    # Winograd computes it with 4x fewer multiplications when asked ("winograd") or, under
    # "auto", when it pays on that convolution and the switch is on (fastconv.set_winograd)
    gi_desc = _grad_input_desc(desc) if algo in ("auto", "winograd") else None
    if algo == "auto":
        winograd_gi = gi_desc is not None and state.winograd and _winograd_grad_input_pays(gi_desc)
        algo = select_conv_backward_algo(desc)
    else:
        algo = _resolve_algo(algo, desc)
        winograd_gi = algo == "winograd" and gi_desc is not None
    if algo == "winograd":  # Winograd is a forward algorithm; the weight gradient is im2col's
        algo = "im2col"
    gy = contiguous(grad_y)
    isa, nt = state.isa, _threads(_conv_flops(desc), SMALL_FLOPS)
    grad_x = grad_w = grad_b = None
    if need_input_grad:
        grad_x = np.empty(x.shape, dtype=x.dtype)
        if grad_x.size and grad_y.size and winograd_gi:
            w_t = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            _ext.conv2d_forward("winograd", isa, nt, gi_desc, gy, w_t, np.empty(0, dtype=x.dtype),
                                False, False, grad_x)
        elif grad_x.size:
            _ext.conv2d_grad_input(algo, isa, nt, desc, gy, contiguous(weight), grad_x)
    if need_weight_grad:
        grad_w = np.empty(weight.shape, dtype=x.dtype)
        if grad_w.size and x.size == 0:
            grad_w.fill(0)   # no input element reaches any tap (see conv2d)
        elif grad_w.size:
            _ext.conv2d_grad_weight(algo, isa, nt, desc, gy, contiguous(x), grad_w)
    if need_bias_grad:
        grad_b = np.empty((K,), dtype=x.dtype)
        if K:
            _ext.conv2d_grad_bias(isa, nt, desc, gy, grad_b)
    return grad_x, grad_w, grad_b


# ---- pooling -------------------------------------------------------------------------------

def pool_output_size(size, kernel, stride, padding, ceil_mode=False):
    """Output length of a pooling window along one axis, torch's rule (ceil_mode: the last window
    must start inside the input or its left padding)."""
    span = size + 2 * padding - kernel
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _plain_size(v):
    """None, an int or a pair of ints, exactly: such arguments can key a cache (a float, a bool or
    a NumPy integer compares equal to an int and must still go through pair()'s checks)."""
    return v is None or type(v) is int or (type(v) is tuple and len(v) == 2 and type(v[0]) is int
                                           and type(v[1]) is int)


_POOL_ARGS_CACHE = {}
_POOL_ARGS_CACHE_SIZE = 256


def _pool_args(x_shape, kernel_size, stride, padding, ceil_mode, x_name="x"):
    """The fc_pool_desc tuple, from a small cache when the arguments are plain ints (their checks
    cost ~1 us a call, as much as a small late pooling layer's work split over two threads)."""
    plain = (type(x_shape) is tuple and _plain_size(kernel_size) and _plain_size(stride)
             and _plain_size(padding) and type(ceil_mode) is bool)
    key = (x_shape, kernel_size, stride, padding, ceil_mode, x_name) if plain else None
    if key is not None:
        desc = _POOL_ARGS_CACHE.get(key)
        if desc is not None:
            return desc
    desc = _pool_args_checked(x_shape, kernel_size, stride, padding, ceil_mode, x_name)
    if key is not None and len(_POOL_ARGS_CACHE) < _POOL_ARGS_CACHE_SIZE:
        _POOL_ARGS_CACHE[key] = desc
    return desc


def _pool_args_checked(x_shape, kernel_size, stride, padding, ceil_mode, x_name):
    kh, kw = pair(kernel_size, "kernel_size", minimum=1)
    sh, sw = pair(stride if stride is not None else (kh, kw), "stride", minimum=1)
    ph, pw = pair(padding, "padding", minimum=0)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool, got {type(ceil_mode).__name__}")
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    N, C, H, W = x_shape
    P = pool_output_size(H, kh, sh, ph, bool(ceil_mode))
    Q = pool_output_size(W, kw, sw, pw, bool(ceil_mode))
    if P < 1 or Q < 1:
        # torch's rule: with ceil_mode a window may overhang the padded input (it is clipped)
        raise ValueError(f"kernel_size {(kh, kw)} is larger than the padded input {(H + 2 * ph, W + 2 * pw)} "
                         f"({x_name} {H}x{W}, padding {(ph, pw)})")
    check_product((N, C, P, Q), "the output")
    return (N, C, H, W, kh, kw, sh, sw, ph, pw, P, Q)


def _gradient_buffer(shape, grad_y):
    """Output of a pooling backward: the kernels overwrite every element, so it need not be
    zeroed, unless there is no gradient to scatter and the kernel is not called."""
    return (np.empty if grad_y.size else np.zeros)(shape, dtype=grad_y.dtype)


def max_pool2d(x, kernel_size, stride=None, padding=0, *, ceil_mode=False, return_indices=False):
    """Max pooling (NaN propagates, as torch). With return_indices, also the flat h*W+w position of
    each maximum within its plane (int64), for max_pool2d_backward."""
    x = float_array(x, "x", 4)
    desc = _pool_args(x.shape, kernel_size, stride, padding, ceil_mode)
    N, C, P, Q = desc[0], desc[1], desc[10], desc[11]
    y = np.empty((N, C, P, Q), dtype=x.dtype)
    idx = np.empty((N, C, P, Q), dtype=np.int64) if return_indices else np.empty(0, dtype=np.int64)
    if y.size:
        _ext.max_pool2d_forward(state.isa, _threads(x.size, SMALL_ELEMENTS), desc, contiguous(x), y,
                                idx, bool(return_indices))
    return (y, idx) if return_indices else y


def _indices_out_of_range(indices, size):
    """Any index outside [0, size)? One pass: seen as unsigned, negative int64 values are huge
    (min() and max() were two passes over 8 bytes an output, 40% of the backward's time)."""
    if indices.dtype == np.int64 or indices.dtype == np.uint64:
        return bool(np.any(indices.view(np.uint64) >= size))
    return bool(indices.min() < 0 or indices.max() >= size)


def max_pool2d_backward(grad_y, indices, input_shape):
    """Gradient of max pooling: grad_y scattered (summed where windows overlap) at indices."""
    grad_y = float_array(grad_y, "grad_y", 4)
    if not isinstance(indices, np.ndarray) or indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array (from max_pool2d(..., return_indices=True)), "
                        f"got {getattr(indices, 'dtype', type(indices).__name__)}")
    if indices.shape != grad_y.shape:
        raise ValueError(f"indices must have grad_y's shape {grad_y.shape}, got {indices.shape}")
    N, C, H, W = shape4(input_shape, "input_shape")
    if (N, C) != grad_y.shape[:2]:
        raise ValueError(f"input_shape {(N, C, H, W)} does not match grad_y's batch and channels {grad_y.shape[:2]}")
    check_product((N, C, H, W), "input_shape")
    if indices.size and _indices_out_of_range(indices, H * W):
        raise ValueError(f"indices must lie in [0, {H * W}) (positions within an {H}x{W} plane), "
                         f"got values in [{indices.min()}, {indices.max()}]")
    P, Q = grad_y.shape[2:]
    desc = (N, C, H, W, 1, 1, 1, 1, 0, 0, P, Q)
    grad_x = _gradient_buffer((N, C, H, W), grad_y)
    if grad_x.size and grad_y.size:
        _ext.max_pool2d_backward(state.isa, _threads(grad_x.size, SMALL_ELEMENTS), desc, contiguous(grad_y),
                                 contiguous(indices.astype(np.int64, copy=False)), grad_x)
    return grad_x


def avg_pool2d(x, kernel_size, stride=None, padding=0, *, ceil_mode=False, count_include_pad=True):
    """Average pooling with torch's divisor rules."""
    x = float_array(x, "x", 4)
    desc = _pool_args(x.shape, kernel_size, stride, padding, ceil_mode)
    y = np.empty((desc[0], desc[1], desc[10], desc[11]), dtype=x.dtype)
    if y.size:
        _ext.avg_pool2d_forward(state.isa, _threads(x.size, SMALL_ELEMENTS), desc, bool(count_include_pad),
                                contiguous(x), y)
    return y


def avg_pool2d_backward(grad_y, input_shape, kernel_size, stride=None, padding=0, *, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of avg_pool2d with respect to its input."""
    grad_y = float_array(grad_y, "grad_y", 4)
    input_shape = shape4(input_shape, "input_shape")
    desc = _pool_args(input_shape, kernel_size, stride, padding, ceil_mode, x_name="input_shape")
    expected = (desc[0], desc[1], desc[10], desc[11])
    if grad_y.shape != expected:
        raise ValueError(f"grad_y must have the pooled shape {expected}, got {grad_y.shape}")
    grad_x = _gradient_buffer(input_shape, grad_y)
    if grad_x.size and grad_y.size:
        _ext.avg_pool2d_backward(state.isa, _threads(grad_x.size, SMALL_ELEMENTS), desc, bool(count_include_pad),
                                 contiguous(grad_y), grad_x)
    return grad_x


def _adaptive_desc(input_shape, output_size):
    N, C, H, W = input_shape
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = tuple(H if o is None and i == 0 else (W if o is None else o)
                            for i, o in enumerate(output_size))
    P, Q = pair(output_size, "output_size", minimum=1)
    if (H == 0 or W == 0) and N * C:
        raise ValueError(f"adaptive pooling needs a non-empty input plane, got {H}x{W}")
    check_product((N, C, P, Q), "the output")
    return (N, C, H, W, 1, 1, 1, 1, 0, 0, P, Q)


def adaptive_avg_pool2d(x, output_size):
    """Average over adaptive windows [floor(i*H/P), ceil((i+1)*H/P)) to an output of size (P, Q)."""
    x = float_array(x, "x", 4)
    desc = _adaptive_desc(x.shape, output_size)
    y = np.empty((desc[0], desc[1], desc[10], desc[11]), dtype=x.dtype)
    if y.size:
        _ext.adaptive_avg_pool2d_forward(state.isa, _threads(x.size, SMALL_ELEMENTS), desc, contiguous(x), y)
    return y


def adaptive_avg_pool2d_backward(grad_y, input_shape):
    """Gradient of adaptive_avg_pool2d with respect to its input."""
    grad_y = float_array(grad_y, "grad_y", 4)
    input_shape = shape4(input_shape, "input_shape")
    if grad_y.shape[:2] != input_shape[:2]:
        raise ValueError(f"grad_y's batch and channels {grad_y.shape[:2]} do not match input_shape {input_shape}")
    desc = _adaptive_desc(input_shape, grad_y.shape[2:])
    grad_x = _gradient_buffer(input_shape, grad_y)
    if grad_x.size and grad_y.size:
        _ext.adaptive_avg_pool2d_backward(state.isa, _threads(grad_x.size, SMALL_ELEMENTS), desc, contiguous(grad_y),
                                          grad_x)
    return grad_x


# ---- GEMM ----------------------------------------------------------------------------------

def matmul(a, b):
    """2-D matrix product a @ b with fastconv's own packed GEMM (float32/float64)."""
    a = float_array(a, "a", 2)
    b = float_array(b, "b", 2)
    same_dtype([("a", a), ("b", b)])
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a has {a.shape[1]} columns but b has {b.shape[0]} rows")
    check_product((a.shape[0], b.shape[1]), "the product")
    c = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    if c.size:
        if a.shape[1] == 0:
            c.fill(0)
        else:
            nt = _threads(2 * a.shape[0] * a.shape[1] * b.shape[1], SMALL_FLOPS)
            _ext.gemm(state.isa, nt, False, False, contiguous(a), contiguous(b), c, 1.0, 0.0)
    return c
