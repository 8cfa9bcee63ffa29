"""Memory stays flat across 10,000 calls of every kernel, error paths included.

Three meters, read before and after the calls (after a warm-up, so caches and free lists are
already filled): the C heap in use (glibc mallinfo2: what kernels get from fc_aligned_alloc and
NumPy's data buffers), Python's allocated blocks (sys.getallocatedblocks: a leaked reference in
the binding) and the resident set size (/proc/self/statm: everything else). Arrays are tiny so a
leak of even a few bytes per call stands out over 10,000 calls.
"""
import ctypes
import ctypes.util
import gc
import os
import sys

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import _ext
from fastconv._config import state

SANITIZED = bool(os.environ.get("FASTCONV_SANITIZED"))
# under ASan (tools/sanitize.sh) the C heap meter is blind and the point is memory errors on the
# error paths, not leaks: fewer calls
CALLS = int(os.environ.get("FASTCONV_LEAK_CALLS", "1000" if SANITIZED else "10000"))
WARMUP = 300
HEAP_SLACK = 64 * 1024       # bytes: 6 bytes per call over 10,000 calls
BLOCK_SLACK = 200            # Python blocks: a leaked object per call would be 10,000
RSS_SLACK = 1 << 20          # the RSS moves by pages; 1 MB catches 100 bytes per call


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def _heap_meter():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        fn = libc.mallinfo2
    except (OSError, AttributeError, TypeError):
        return None
    fn.restype = _Mallinfo2

    def in_use():
        m = fn()
        return m.uordblks + m.hblkhd
    return in_use


HEAP = _heap_meter()


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _snapshot():
    gc.collect()
    return (HEAP() if HEAP else 0), sys.getallocatedblocks(), _rss()


def _run(fn, n):
    for _ in range(n):
        fn()


def _expect_error(fn, exc=(ValueError, TypeError, OverflowError, MemoryError)):
    def call():
        try:
            fn()
        except exc:
            return
        raise AssertionError("expected an error")
    return call


rng = np.random.default_rng(0)
x32 = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
w32 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
b32 = rng.standard_normal(4).astype(np.float32)
x64, w64, b64 = x32.astype(np.float64), w32.astype(np.float64), b32.astype(np.float64)
w1 = w32[:, :, :1, :1].copy()
gy = F.conv2d(x32, w32, b32, padding=1)
gy1 = F.conv2d(x32, w1)
m, idx = F.max_pool2d(x32, 2, return_indices=True)
av = F.avg_pool2d(x32, 3, 2, 1)
ad = F.adaptive_avg_pool2d(x32, (2, 3))
a32 = rng.standard_normal((5, 7)).astype(np.float32)
c32 = rng.standard_normal((7, 3)).astype(np.float32)
big_idx = np.full_like(idx, 10**6)

# the same descriptor tuples functional builds, then broken in ways only C can see
good_desc = (2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 7, 6)
bad_pq_desc = good_desc[:11] + (8, 6)                             # P disagrees with the formula
overflow_desc = (2**40, 2**40, 7, 6, 4, 3, 3, 1, 1, 1, 1, 7, 6)   # N*C*H*W overflows int64
pool_desc = (2, 3, 7, 6, 2, 2, 2, 2, 0, 0, 3, 3)
bad_pool_desc = (2, 3, 7, 6, 2, 2, 2, 2, 5, 0, 3, 3)              # padding above half the window
y_flat = np.empty(2 * 4 * 7 * 6, np.float32)
idx_flat_bad = big_idx.reshape(-1)
gx_flat = np.empty(x32.size, np.float32)

KERNELS = {
    "conv2d_direct_f32": lambda: F.conv2d(x32, w32, b32, padding=1, algo="direct"),
    "conv2d_im2col_f32": lambda: F.conv2d(x32, w32, b32, padding=1, algo="im2col", relu=True),
    "conv2d_1x1_f32": lambda: F.conv2d(x32, w1, algo="1x1"),
    "conv2d_direct_f64": lambda: F.conv2d(x64, w64, b64, stride=2, algo="direct"),
    "conv2d_im2col_f64": lambda: F.conv2d(x64, w64, b64, stride=2, algo="im2col"),
    "conv2d_backward_direct": lambda: F.conv2d_backward(gy, x32, w32, padding=1, algo="direct"),
    "conv2d_backward_im2col": lambda: F.conv2d_backward(gy, x32, w32, padding=1, algo="im2col"),
    "conv2d_backward_1x1": lambda: F.conv2d_backward(gy1, x32, w1, algo="1x1"),
    "max_pool2d": lambda: F.max_pool2d(x32, 3, 2, 1, ceil_mode=True),
    "max_pool2d_indices": lambda: F.max_pool2d(x64, 2, return_indices=True),
    "max_pool2d_backward": lambda: F.max_pool2d_backward(m, idx, x32.shape),
    "avg_pool2d": lambda: F.avg_pool2d(x32, 3, 2, 1),
    "avg_pool2d_backward": lambda: F.avg_pool2d_backward(av, x32.shape, 3, 2, 1),
    "adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(x32, (2, 3)),
    "adaptive_avg_pool2d_backward": lambda: F.adaptive_avg_pool2d_backward(ad, x32.shape),
    "matmul": lambda: F.matmul(a32, c32),
    # error paths: refused in Python ...
    "err_conv2d_stride": _expect_error(lambda: F.conv2d(x32, w32, stride=0)),
    "err_conv2d_channels": _expect_error(lambda: F.conv2d(x32, w32[:, :2])),
    "err_conv2d_backward_shape": _expect_error(lambda: F.conv2d_backward(gy[:, :, :3], x32, w32, padding=1)),
    "err_max_pool2d_padding": _expect_error(lambda: F.max_pool2d(x32, 2, padding=2)),
    "err_max_pool2d_backward_indices": _expect_error(lambda: F.max_pool2d_backward(m, big_idx, x32.shape)),
    "err_avg_pool2d_backward_shape": _expect_error(lambda: F.avg_pool2d_backward(av[:, :, :1], x32.shape, 3, 2, 1)),
    "err_adaptive_size": _expect_error(lambda: F.adaptive_avg_pool2d(x32, 0)),
    "err_matmul_shapes": _expect_error(lambda: F.matmul(a32, a32)),
    "err_memory": _expect_error(lambda: F.matmul(np.broadcast_to(a32[:1, :1], (2**30, 1)),
                                                 np.broadcast_to(a32[:1, :1], (1, 2**30)))),
}

# ... and refused by the C kernels themselves (status codes turned into exceptions)
C_ERRORS = {
    "err_c_conv_desc": lambda: _ext.conv2d_forward(
        "im2col", state.isa, 1, bad_pq_desc, x32.reshape(-1), w32.reshape(-1), b32, True, False, y_flat),
    "err_c_conv_overflow": lambda: _ext.conv2d_grad_weight(
        "direct", state.isa, 1, overflow_desc, y_flat, x32.reshape(-1), w32.copy().reshape(-1)),
    "err_c_pool_window": lambda: _ext.avg_pool2d_forward(
        state.isa, 1, bad_pool_desc, True, x32.reshape(-1), np.empty(18 * 2, np.float32)),
    "err_c_maxpool_backward_index": lambda: _ext.max_pool2d_backward(
        state.isa, 1, pool_desc, m.reshape(-1), idx_flat_bad, gx_flat),
}
KERNELS.update({k: _expect_error(fn) for k, fn in C_ERRORS.items()})


@pytest.fixture(autouse=True)
def _one_thread():
    # one thread: tiny calls stay in the tens of microseconds (parallel regions on a loaded
    # machine cost milliseconds each); the threaded paths get their own, shorter test below
    n = fastconv.get_num_threads()
    fastconv.set_num_threads(1)
    yield
    fastconv.set_num_threads(n)


def test_c_error_paths_really_reach_c():
    # the C-side error cases must be refused by C (the binding's message), not earlier
    for key, fn in C_ERRORS.items():
        with pytest.raises((ValueError, OverflowError), match="fastconv: "):
            fn()


@pytest.mark.parametrize("name", list(KERNELS))
def test_memory_is_flat_over_many_calls(name):
    fn = KERNELS[name]
    _run(fn, WARMUP)
    h0, b0, r0 = _snapshot()
    _run(fn, CALLS)
    h1, b1, r1 = _snapshot()
    growth = {"C heap bytes": h1 - h0, "Python blocks": b1 - b0, "RSS bytes": r1 - r0}
    assert h1 - h0 <= HEAP_SLACK, f"{name}: {growth} after {CALLS} calls"
    assert b1 - b0 <= BLOCK_SLACK, f"{name}: {growth} after {CALLS} calls"
    if not SANITIZED:   # ASan's allocator keeps a quarantine of freed memory: RSS grows by design
        assert r1 - r0 <= RSS_SLACK, f"{name}: {growth} after {CALLS} calls"


xt = rng.standard_normal((2, 8, 20, 20)).astype(np.float32)
wt = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
yt = F.conv2d(xt, wt, padding=1)
at = rng.standard_normal((96, 96)).astype(np.float32)
THREADED_CALLS = {
    "conv2d_direct": lambda: F.conv2d(xt, wt, padding=1, algo="direct"),
    "conv2d_im2col": lambda: F.conv2d(xt, wt, padding=1, algo="im2col"),
    "conv2d_backward_direct": lambda: F.conv2d_backward(yt, xt, wt, padding=1, algo="direct"),
    "conv2d_backward_im2col": lambda: F.conv2d_backward(yt, xt, wt, padding=1, algo="im2col"),
    "pools": lambda: (F.max_pool2d(xt, 3, 1, 1, return_indices=True), F.avg_pool2d(xt, 3, 1, 1)),
    "matmul": lambda: F.matmul(at, at),
}


@pytest.mark.parametrize("name", list(THREADED_CALLS))
def test_memory_is_flat_with_two_threads(name):
    # the parallel paths allocate per-thread workspaces: fewer calls, same meters
    fastconv.set_num_threads(2)
    fn, n = THREADED_CALLS[name], max(50, CALLS // 100)
    _run(fn, 20)
    h0, b0, r0 = _snapshot()
    _run(fn, n)
    h1, b1, r1 = _snapshot()
    growth = {"C heap bytes": h1 - h0, "Python blocks": b1 - b0, "RSS bytes": r1 - r0}
    assert h1 - h0 <= 16 * 1024, f"{name}: {growth} after {n} calls"
    assert b1 - b0 <= BLOCK_SLACK, f"{name}: {growth} after {n} calls"
    if not SANITIZED:
        assert r1 - r0 <= RSS_SLACK, f"{name}: {growth} after {n} calls"


def test_the_meters_see_a_leak():
    # a deliberately leaking "kernel" (keeps every output, 1 KB each) must fail the same check
    kept = []

    def leaky():
        kept.append(np.empty(256, np.float32))
    _run(leaky, WARMUP)
    h0, b0, r0 = _snapshot()
    _run(leaky, 1000)
    h1, b1, r1 = _snapshot()
    if HEAP is not None and not SANITIZED:   # ASan's allocator bypasses glibc's mallinfo2
        assert h1 - h0 > HEAP_SLACK
    assert b1 - b0 > BLOCK_SLACK
    kept.clear()


def test_threads_setting_untouched():
    assert fastconv.get_num_threads() >= 1
