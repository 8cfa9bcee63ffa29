"""Crash- and hang-proof matrix of bad calls over every public function.

Each bad call runs in a child process (one child runs the whole matrix and reports call by
call; if it dies or stalls, the parent records the culprit and starts a new child at the next
call). A call passes when it raises a clean exception of an allowed type -- ValueError or
TypeError, MemoryError for sizes beyond memory, OSError for missing files -- whose message names
the argument when the case says which. A signal, a hang, a wrong exception type or a call that
silently succeeds fails its case.

tests/test_validation.py checks the wording in-process; this file proves that no bad argument
reaches C in a state that can take the interpreter down. Run the matrix by hand with
``python tests/test_reliability_badcalls.py --list`` (ids) or ``--child`` (reads ids on stdin).
"""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # helpers, also in the --child run
from helpers import limit_address_space  # noqa: E402

f32, f64 = np.float32, np.float64
BAD = (ValueError, TypeError)
MEM = (ValueError, TypeError, MemoryError)
IO = (ValueError, TypeError, OSError)
STATE = (ValueError, TypeError, RuntimeError)   # e.g. backward before forward
CASE_TIMEOUT = 30.0   # seconds a single call may take before it counts as a hang


def _x(n=1, c=3, h=8, w=8, dtype=f32):
    return np.zeros((n, c, h, w), dtype)


def _w(k=4, c=3, r=3, s=3, dtype=f32):
    return np.zeros((k, c, r, s), dtype)


def _huge(shape, dtype=f32):
    """An array of any shape that costs no memory (every element is the same zero)."""
    return np.broadcast_to(np.zeros((), dtype), shape)


# ---- the matrix ------------------------------------------------------------------------------
# Each case: (id, thunk, allowed exception types, words the message must contain or None).
# Thunks build their arguments when called, in the child, so the parent stays small.

def _array_cases(call, name, good_shape, prefix):
    """Wrong kinds of array for one array argument of `call(value)`."""
    bad_values = {
        "none": lambda: None,
        "str": lambda: "an image",
        "bytes": lambda: b"\x00" * 16,
        "int_scalar": lambda: 3,
        "dict": lambda: {"a": 1},
        "ragged_list": lambda: [[1.0, 2.0], [3.0]],
        "object_array": lambda: np.zeros(good_shape, dtype=object),
        "int32": lambda: np.zeros(good_shape, np.int32),
        "int64": lambda: np.zeros(good_shape, np.int64),
        "bool": lambda: np.zeros(good_shape, bool),
        "float16": lambda: np.zeros(good_shape, np.float16),
        "complex64": lambda: np.zeros(good_shape, np.complex64),
        "str_array": lambda: np.full(good_shape, "a"),
        "structured": lambda: np.zeros(good_shape, dtype=[("a", f32), ("b", f32)]),
        "ndim_low": lambda: np.zeros(good_shape[1:], f32),
        "ndim_high": lambda: np.zeros((1,) + tuple(good_shape), f32),
        "ndim_0": lambda: np.float32(1.0),
    }
    out = []
    for key, make in bad_values.items():
        out.append((f"{prefix}-{name}-{key}", (lambda make=make: call(make())), BAD, name))
    return out


def _functional_cases():
    import fastconv.functional as F

    cases = []
    add = cases.append

    # conv2d: every array argument, then every scalar argument
    cases += _array_cases(lambda v: F.conv2d(v, _w()), "x", (1, 3, 8, 8), "conv2d")
    cases += _array_cases(lambda v: F.conv2d(_x(), v), "weight", (4, 3, 3, 3), "conv2d")
    cases += [c for c in _array_cases(lambda v: F.conv2d(_x(), _w(), v), "bias", (4,), "conv2d")
              if not c[0].endswith("-none")]   # bias=None is valid
    conv_scalars = {
        "stride0": dict(stride=0), "stride_neg": dict(stride=-1), "stride_pair0": dict(stride=(1, 0)),
        "stride_triple": dict(stride=(1, 2, 3)), "stride_single": dict(stride=(1,)),
        "stride_float": dict(stride=1.5), "stride_bool": dict(stride=True), "stride_str": dict(stride="2"),
        "stride_none": dict(stride=None), "stride_2p63": dict(stride=2**63), "stride_2p64": dict(stride=2**64),
        # int64 but past fastconv's 2**60 limit: 2**63 - 1 overflowed the C index arithmetic (wrong
        # output and a write before the output buffer, found by the fuzz harness)
        "stride_int64max": dict(stride=2**63 - 1), "stride_pair_2p62": dict(stride=(1, 2**62)),
        "stride_nested": dict(stride=((1, 1), 1)), "stride_nan": dict(stride=float("nan")),
        "padding_neg": dict(padding=-1), "padding_same": dict(padding="same"), "padding_float": dict(padding=0.5),
        "padding_pair_neg": dict(padding=(0, -2)), "padding_2p40": dict(padding=2**40),
        "padding_2p62": dict(padding=2**62), "padding_2p63": dict(padding=2**63), "padding_2p100": dict(padding=2**100),
        "algo_unknown": dict(algo="no-such-algo"), "algo_none": dict(algo=None), "algo_int": dict(algo=1),
        "algo_1x1_on_3x3": dict(algo="1x1"),
    }
    for key, kw in conv_scalars.items():
        word = key.split("_")[0].rstrip("0")
        if key == "padding_2p40":
            word = "elements"   # a valid padding whose output size overflows int64
        add((f"conv2d-{key}", (lambda kw=kw: F.conv2d(_x(), _w(), **kw)), BAD, word))
    add(("conv2d-channels_disagree", lambda: F.conv2d(_x(c=3), _w(c=2)), BAD, "channels"))
    add(("conv2d-kernel_larger_than_input", lambda: F.conv2d(_x(h=2, w=2), _w()), BAD, "kernel"))
    add(("conv2d-kernel_larger_pad", lambda: F.conv2d(_x(h=1, w=1), _w(r=5, s=5), padding=1), BAD, "kernel"))
    add(("conv2d-dtype_mismatch_w", lambda: F.conv2d(_x(), _w(dtype=f64)), BAD, "dtype"))
    add(("conv2d-dtype_mismatch_b", lambda: F.conv2d(_x(), _w(), np.zeros(4, f64)), BAD, "dtype"))
    add(("conv2d-bias_len", lambda: F.conv2d(_x(), _w(), np.zeros(5, f32)), BAD, "bias"))
    add(("conv2d-bias_2d", lambda: F.conv2d(_x(), _w(), np.zeros((4, 1), f32)), BAD, "bias"))
    add(("conv2d-output_over_int64", lambda: F.conv2d(_huge((2**20, 3, 2**20, 2**20)), _w()),
         MEM, None))
    add(("conv2d-output_beyond_memory", lambda: F.conv2d(_huge((2**14, 3, 2**12, 2**12)), _w()), MEM, None))
    add(("conv2d-input_beyond_memory", lambda: F.conv2d(_huge((1, 1, 2**30, 2**30)), _huge((1, 1, 2**30, 2**30))),
         MEM, None))
    add(("conv2d-weight_huge_k", lambda: F.conv2d(_x(), _huge((2**40, 3, 3, 3))), MEM, None))
    add(("conv2d-huge_padding_product", lambda: F.conv2d(_x(), _w(), padding=(2**31, 2**31)), MEM, None))

    # conv2d_backward
    gy = lambda: np.zeros((1, 4, 6, 6), f32)  # noqa: E731
    cases += _array_cases(lambda v: F.conv2d_backward(v, _x(), _w()), "grad_y", (1, 4, 6, 6), "conv2d_backward")
    cases += _array_cases(lambda v: F.conv2d_backward(gy(), v, _w()), "x", (1, 3, 8, 8), "conv2d_backward")
    cases += _array_cases(lambda v: F.conv2d_backward(gy(), _x(), v), "weight", (4, 3, 3, 3), "conv2d_backward")
    add(("conv2d_backward-grad_y_shape", lambda: F.conv2d_backward(np.zeros((1, 4, 5, 6), f32), _x(), _w()),
         BAD, "grad_y"))
    add(("conv2d_backward-grad_y_batch", lambda: F.conv2d_backward(np.zeros((2, 4, 6, 6), f32), _x(), _w()),
         BAD, "grad_y"))
    add(("conv2d_backward-grad_y_dtype", lambda: F.conv2d_backward(np.zeros((1, 4, 6, 6), f64), _x(), _w()),
         BAD, "dtype"))
    add(("conv2d_backward-stride0", lambda: F.conv2d_backward(gy(), _x(), _w(), stride=0), BAD, "stride"))
    add(("conv2d_backward-stride_2p63", lambda: F.conv2d_backward(gy(), _x(), _w(), stride=2**63), BAD, "stride"))
    add(("conv2d_backward-stride_int64max", lambda: F.conv2d_backward(
        np.zeros((1, 4, 1, 1), f32), _x(), _w(), stride=2**63 - 1), BAD, "stride"))
    add(("conv2d_backward-padding_neg", lambda: F.conv2d_backward(gy(), _x(), _w(), padding=-3), BAD, "padding"))
    add(("conv2d_backward-algo", lambda: F.conv2d_backward(gy(), _x(), _w(), algo="fft"), BAD, "algo"))
    add(("conv2d_backward-channels", lambda: F.conv2d_backward(gy(), _x(c=2), _w()), BAD, "channels"))
    add(("conv2d_backward-huge_grad_y", lambda: F.conv2d_backward(
        _huge((2**14, 4, 2**12 - 2, 2**12 - 2)), _huge((2**14, 3, 2**12, 2**12)), _w()), MEM, None))

    # pooling forward: max and avg share the argument rules
    for pname, pool in (("max_pool2d", F.max_pool2d), ("avg_pool2d", F.avg_pool2d)):
        cases += _array_cases(lambda v, pool=pool: pool(v, 2), "x", (1, 3, 8, 8), pname)
        pool_scalars = {
            "kernel0": (dict(kernel_size=0), "kernel_size"), "kernel_neg": (dict(kernel_size=-2), "kernel_size"),
            "kernel_none": (dict(kernel_size=None), "kernel_size"), "kernel_str": (dict(kernel_size="2"), "kernel_size"),
            "kernel_float": (dict(kernel_size=2.0), "kernel_size"), "kernel_triple": (dict(kernel_size=(2, 2, 2)), "kernel_size"),
            "kernel_too_big": (dict(kernel_size=9), "kernel_size"), "kernel_2p63": (dict(kernel_size=2**63), "kernel_size"),
            "stride0": (dict(kernel_size=2, stride=0), "stride"), "stride_neg": (dict(kernel_size=2, stride=(2, -1)), "stride"),
            "stride_2p63": (dict(kernel_size=2, stride=2**63), "stride"),
            "stride_int64max": (dict(kernel_size=2, stride=2**63 - 1), "stride"),
            "kernel_2p61": (dict(kernel_size=(1, 2**61)), "kernel_size"),
            "stride_2p64": (dict(kernel_size=2, stride=(1, 2**64)), "stride"),
            "padding_neg": (dict(kernel_size=2, padding=-1), "padding"),
            "padding_over_half": (dict(kernel_size=3, padding=2), "padding"),
            "padding_k1": (dict(kernel_size=1, padding=1), "padding"),
            "padding_2p63": (dict(kernel_size=3, padding=2**63), "padding"),
            "ceil_mode_str": (dict(kernel_size=2, ceil_mode="yes"), "ceil_mode"),
            "ceil_mode_none": (dict(kernel_size=2, ceil_mode=None), "ceil_mode"),
        }
        for key, (kw, word) in pool_scalars.items():
            add((f"{pname}-{key}", (lambda kw=kw, pool=pool: pool(_x(), **kw)), BAD, word))
        add((f"{pname}-output_beyond_memory", (lambda pool=pool: pool(_huge((2**20, 2**20, 2**12, 2**12)), 1)),
             MEM, None))

    # max_pool2d_backward: grad_y, indices and input_shape
    def mpb(gy="default", idx="default", shape=(1, 3, 8, 8)):
        gy = np.zeros((1, 3, 4, 4), f32) if isinstance(gy, str) and gy == "default" else gy
        idx = np.zeros((1, 3, 4, 4), np.int64) if isinstance(idx, str) and idx == "default" else idx
        return F.max_pool2d_backward(gy, idx, shape)

    cases += _array_cases(lambda v: mpb(gy=v), "grad_y", (1, 3, 4, 4), "max_pool2d_backward")
    idx_bad = {
        "none": (None, BAD), "list": ([[0]], BAD), "float": (np.zeros((1, 3, 4, 4)), BAD),
        "object": (np.zeros((1, 3, 4, 4), object), BAD), "bool": (np.zeros((1, 3, 4, 4), bool), BAD),
        "shape": (np.zeros((1, 3, 4), np.int64), BAD), "too_big": (np.full((1, 3, 4, 4), 64, np.int64), BAD),
        "negative": (np.full((1, 3, 4, 4), -1, np.int64), BAD),
        "int64_min": (np.full((1, 3, 4, 4), np.iinfo(np.int64).min, np.int64), BAD),
        "uint64_max": (np.full((1, 3, 4, 4), np.iinfo(np.uint64).max, np.uint64), BAD),
        "one_bad": (np.where(np.arange(48).reshape(1, 3, 4, 4) == 47, 10**6, 0).astype(np.int64), BAD),
        "int8_negative": (np.full((1, 3, 4, 4), -5, np.int8), BAD),
    }
    for key, (value, allowed) in idx_bad.items():
        add((f"max_pool2d_backward-indices-{key}", (lambda value=value: mpb(idx=value)), allowed, "indices"))
    shape_bad = {
        "len3": ((1, 3, 8), "input_shape"), "len5": ((1, 3, 8, 8, 1), "input_shape"),
        "negative": ((1, 3, -8, 8), "input_shape"), "str": ("1,3,8,8", "input_shape"),
        "none": (None, "input_shape"), "floats": ((1, 3, 8.0, 8), "input_shape"),
        "batch_disagree": ((2, 3, 8, 8), "input_shape"), "channels_disagree": ((1, 4, 8, 8), "input_shape"),
        "over_int64": ((1, 3, 2**62, 2**62), "input_shape"), "entry_2p64": ((1, 3, 2**64, 1), "input_shape"),
    }
    for key, (shape, word) in shape_bad.items():
        add((f"max_pool2d_backward-input_shape-{key}", (lambda shape=shape: mpb(shape=shape)), BAD, word))
    add(("max_pool2d_backward-input_beyond_memory", lambda: mpb(shape=(1, 3, 2**20, 2**20)), MEM, None))
    add(("max_pool2d_backward-index_past_small_plane", lambda: mpb(
        idx=np.full((1, 3, 4, 4), 3, np.int64), shape=(1, 3, 1, 2)), BAD, "indices"))

    # avg_pool2d_backward
    def apb(gy="default", shape=(1, 3, 8, 8), **kw):
        gy = np.zeros((1, 3, 4, 4), f32) if isinstance(gy, str) and gy == "default" else gy
        kw.setdefault("kernel_size", 2)
        return F.avg_pool2d_backward(gy, shape, **kw)

    cases += _array_cases(lambda v: apb(gy=v), "grad_y", (1, 3, 4, 4), "avg_pool2d_backward")
    add(("avg_pool2d_backward-grad_y_shape", lambda: apb(gy=np.zeros((1, 3, 3, 4), f32)), BAD, "grad_y"))
    add(("avg_pool2d_backward-input_shape_len", lambda: apb(shape=(3, 8, 8)), BAD, "input_shape"))
    add(("avg_pool2d_backward-input_shape_neg", lambda: apb(shape=(1, 3, -8, 8)), BAD, "input_shape"))
    add(("avg_pool2d_backward-input_shape_none", lambda: apb(shape=None), BAD, "input_shape"))
    add(("avg_pool2d_backward-kernel0", lambda: apb(kernel_size=0), BAD, "kernel_size"))
    add(("avg_pool2d_backward-stride_2p63", lambda: apb(stride=2**63), BAD, "stride"))
    add(("avg_pool2d_backward-padding_over_half", lambda: apb(kernel_size=2, padding=2), BAD, "padding"))
    add(("avg_pool2d_backward-input_beyond_memory", lambda: apb(
        gy=_huge((1, 3, 2**19, 2**19)), shape=(1, 3, 2**20, 2**20)), MEM, None))
    add(("avg_pool2d_backward-input_over_int64", lambda: apb(
        gy=_huge((1, 3, 2**30, 2**30)), shape=(1, 3, 2**31, 2**31)), MEM, None))

    # adaptive average pooling
    cases += _array_cases(lambda v: F.adaptive_avg_pool2d(v, 2), "x", (1, 3, 8, 8), "adaptive_avg_pool2d")
    for key, size in {"zero": 0, "neg": -1, "none": None, "str": "2", "float": 2.5, "triple": (1, 2, 3),
                      "pair_zero": (2, 0), "2p63": 2**63, "2p40": (1, 2**40)}.items():
        allowed = MEM if key == "2p40" else BAD
        add((f"adaptive_avg_pool2d-output_size_{key}", (lambda size=size: F.adaptive_avg_pool2d(_x(), size)),
             allowed, None if key == "2p40" else "output_size"))
    add(("adaptive_avg_pool2d-empty_plane", lambda: F.adaptive_avg_pool2d(_x(h=0), 2), BAD, "plane"))
    cases += _array_cases(lambda v: F.adaptive_avg_pool2d_backward(v, (1, 3, 8, 8)), "grad_y", (1, 3, 2, 2),
                          "adaptive_avg_pool2d_backward")
    add(("adaptive_avg_pool2d_backward-channels", lambda: F.adaptive_avg_pool2d_backward(
        np.zeros((1, 2, 2, 2), f32), (1, 3, 8, 8)), BAD, "input_shape"))
    add(("adaptive_avg_pool2d_backward-input_shape_neg", lambda: F.adaptive_avg_pool2d_backward(
        np.zeros((1, 3, 2, 2), f32), (1, 3, -1, 8)), BAD, "input_shape"))
    add(("adaptive_avg_pool2d_backward-empty_plane", lambda: F.adaptive_avg_pool2d_backward(
        np.zeros((1, 3, 2, 2), f32), (1, 3, 0, 8)), BAD, "plane"))
    add(("adaptive_avg_pool2d_backward-beyond_memory", lambda: F.adaptive_avg_pool2d_backward(
        np.zeros((1, 3, 2, 2), f32), (1, 3, 2**20, 2**20)), MEM, None))

    # matmul
    cases += _array_cases(lambda v: F.matmul(v, np.zeros((3, 2), f32)), "a", (4, 3), "matmul")
    cases += _array_cases(lambda v: F.matmul(np.zeros((4, 3), f32), v), "b", (3, 2), "matmul")
    add(("matmul-inner_disagree", lambda: F.matmul(np.zeros((4, 3), f32), np.zeros((2, 2), f32)), BAD, None))
    add(("matmul-dtype_mismatch", lambda: F.matmul(np.zeros((4, 3), f32), np.zeros((3, 2), f64)), BAD, "dtype"))
    add(("matmul-output_over_int64", lambda: F.matmul(_huge((2**40, 1)), _huge((1, 2**40))), MEM, None))
    add(("matmul-output_beyond_memory", lambda: F.matmul(_huge((2**30, 1)), _huge((1, 2**20))), MEM, None))
    add(("matmul-input_beyond_memory", lambda: F.matmul(_huge((1, 2**40)), _huge((2**40, 1))), MEM, None))
    return cases


def _dense_cases():
    import fastconv.functional as F

    z = lambda *s: np.zeros(s, f32)  # noqa: E731
    cases = [
        ("relu-x_none", lambda: F.relu(None), BAD, "x"),
        ("relu-x_str", lambda: F.relu("x"), BAD, "x"),
        ("relu-x_int", lambda: F.relu(np.zeros(3, np.int64)), BAD, "x"),
        ("relu_backward-grad_y_none", lambda: F.relu_backward(None, z(3)), BAD, "grad_y"),
        ("relu_backward-shape", lambda: F.relu_backward(z(3), z(4)), BAD, "grad_y"),
        ("relu_backward-y_str", lambda: F.relu_backward(z(3), "y"), BAD, "y"),
        ("linear-x_none", lambda: F.linear(None, z(4, 3)), BAD, "x"),
        ("linear-weight_1d", lambda: F.linear(z(2, 3), z(3)), BAD, "weight"),
        ("linear-in_features", lambda: F.linear(z(2, 3), z(4, 5)), BAD, None),
        ("linear-x_0d", lambda: F.linear(np.float32(1), z(4, 3)), BAD, "x"),
        ("linear-bias_str", lambda: F.linear(z(2, 3), z(4, 3), "b"), BAD, "bias"),
        ("linear-bias_shape", lambda: F.linear(z(2, 3), z(4, 3), z(5)), BAD, "bias"),
        ("linear-dtype", lambda: F.linear(z(2, 3), np.zeros((4, 3))), BAD, "dtype"),
        ("linear_backward-grad_y_none", lambda: F.linear_backward(None, z(2, 3), z(4, 3)), BAD, "grad_y"),
        ("linear_backward-grad_y_shape", lambda: F.linear_backward(z(2, 5), z(2, 3), z(4, 3)), BAD, "grad_y"),
        ("linear_backward-x_none", lambda: F.linear_backward(z(2, 4), None, z(4, 3)), BAD, "x"),
        ("linear_backward-weight_1d", lambda: F.linear_backward(z(2, 4), z(2, 3), z(3)), BAD, "weight"),
        ("linear_backward-grad_y_int", lambda: F.linear_backward(np.zeros((2, 4), np.int64), z(2, 3), z(4, 3)),
         BAD, "grad_y"),
        ("batch_norm_backward-grad_y_none",
         lambda: F.batch_norm_backward(None, z(2, 3, 4, 4), None, z(3), z(3)), BAD, "grad_y"),
        ("dropout_backward-grad_y_none", lambda: F.dropout_backward(None, None), BAD, "grad_y"),
        ("dropout_backward-mask_shape", lambda: F.dropout_backward(z(3), z(4)), BAD, "mask"),
        ("batch_norm-running_shape", lambda: F.batch_norm(z(2, 3, 4, 4), z(2), z(3)), BAD, "running_mean"),
        ("batch_norm-x_1d", lambda: F.batch_norm(z(3), z(3), z(3)), BAD, None),
        ("batch_norm-x_str", lambda: F.batch_norm("x", z(3), z(3)), BAD, "x"),
        ("dropout-p_2", lambda: F.dropout(z(3), p=2), BAD, "p"),
        ("dropout-p_neg", lambda: F.dropout(z(3), p=-0.1), BAD, "p"),
        ("dropout-p_str", lambda: F.dropout(z(3), p="a"), BAD, "p"),
        ("dropout-p_nan", lambda: F.dropout(z(3), p=float("nan")), BAD, "p"),
        ("softmax-dim", lambda: F.softmax(z(3), dim=5), BAD, "dim"),
        ("softmax-dim_str", lambda: F.softmax(z(3), dim="a"), BAD, "dim"),
        ("softmax-dim_float", lambda: F.softmax(z(3), dim=0.5), BAD, "dim"),
        ("log_softmax-dim_none", lambda: F.log_softmax(z(3), dim=None), BAD, "dim"),
        ("softmax_backward-grad_y_none", lambda: F.softmax_backward(None, z(3)), BAD, "grad_y"),
        ("softmax_backward-dim_str", lambda: F.softmax_backward(z(3), z(3), dim="a"), BAD, "dim"),
        ("log_softmax_backward-shape", lambda: F.log_softmax_backward(z(3), z(4)), BAD, "grad_y"),
        ("log_softmax-x_none", lambda: F.log_softmax(None), BAD, "x"),
        ("cross_entropy-target_range", lambda: F.cross_entropy(z(2, 3), np.array([0, 7])), BAD, "target"),
        ("cross_entropy-target_float", lambda: F.cross_entropy(z(2, 3), np.array([0.0, 1.0])), BAD, "target"),
        ("cross_entropy-target_len", lambda: F.cross_entropy(z(2, 3), np.array([0, 1, 2])), BAD, "target"),
        ("cross_entropy-reduction", lambda: F.cross_entropy(z(2, 3), np.array([0, 1]), reduction="avg"),
         BAD, "reduction"),
        ("cross_entropy-input_none", lambda: F.cross_entropy(None, np.array([0, 1])), BAD, "input"),
        ("mse_loss-shape", lambda: F.mse_loss(z(2, 3), z(3, 2)), BAD, "target"),
        ("mse_loss-reduction", lambda: F.mse_loss(z(2, 3), z(2, 3), reduction=None), BAD, "reduction"),
    ]
    return cases


def _config_cases():
    import fastconv

    return [
        ("set_num_threads-0", lambda: fastconv.set_num_threads(0), BAD, "n"),
        ("set_num_threads-neg", lambda: fastconv.set_num_threads(-4), BAD, "n"),
        ("set_num_threads-str", lambda: fastconv.set_num_threads("2"), BAD, "n"),
        ("set_num_threads-float", lambda: fastconv.set_num_threads(2.5), BAD, "n"),
        ("set_num_threads-none", lambda: fastconv.set_num_threads(None), BAD, "n"),
        # a count no OpenMP runtime can start must be refused up front, not crash the next kernel
        ("set_num_threads-2p40", lambda: fastconv.set_num_threads(2**40), BAD, "n"),
        ("set_num_threads-100000", lambda: fastconv.set_num_threads(100_000), BAD, "n"),
        ("set_isa-unknown", lambda: fastconv.set_isa("sse4"), BAD, "name"),
        ("set_isa-none", lambda: fastconv.set_isa(None), BAD, "name"),
        ("set_isa-int", lambda: fastconv.set_isa(2), BAD, "name"),
    ]


def _nn_cases():
    try:
        from fastconv import nn
    except ImportError as exc:   # pragma: no cover - nn arrives with its own engineer
        return [("nn-missing", _skip(f"fastconv.nn not importable: {exc}"), BAD, None)]

    def fwd(layer, x):
        return layer(x)

    def conv():
        return nn.Conv2d(3, 4, 3)

    cases = [
        ("nn.Conv2d-in0", lambda: nn.Conv2d(0, 4, 3), BAD, "in_channels"),
        ("nn.Conv2d-out_neg", lambda: nn.Conv2d(3, -4, 3), BAD, "out_channels"),
        ("nn.Conv2d-in_str", lambda: nn.Conv2d("3", 4, 3), BAD, "in_channels"),
        ("nn.Conv2d-kernel0", lambda: nn.Conv2d(3, 4, 0), BAD, "kernel_size"),
        ("nn.Conv2d-kernel_str", lambda: nn.Conv2d(3, 4, "3"), BAD, "kernel_size"),
        ("nn.Conv2d-stride0", lambda: nn.Conv2d(3, 4, 3, stride=0), BAD, "stride"),
        ("nn.Conv2d-padding_neg", lambda: nn.Conv2d(3, 4, 3, padding=-1), BAD, "padding"),
        ("nn.Conv2d-dtype_int", lambda: nn.Conv2d(3, 4, 3, dtype=np.int32), BAD, "dtype"),
        ("nn.Conv2d-huge_weight", lambda: nn.Conv2d(2**20, 2**20, 2**10), MEM, None),
        ("nn.Conv2d-forward_channels", lambda: fwd(conv(), _x(c=2)), BAD, "channels"),
        ("nn.Conv2d-forward_ndim", lambda: fwd(conv(), np.zeros((3, 8, 8), f32)), BAD, "x"),
        ("nn.Conv2d-forward_none", lambda: fwd(conv(), None), BAD, "x"),
        ("nn.Conv2d-forward_f64", lambda: fwd(conv(), _x(dtype=f64)), BAD, "dtype"),
        ("nn.Conv2d-forward_small", lambda: fwd(conv(), _x(h=2, w=2)), BAD, "kernel"),
        ("nn.Conv2d-backward_first", lambda: conv().backward(np.zeros((1, 4, 6, 6), f32)), STATE, None),
        ("nn.Conv2d-backward_shape", lambda: _fwd_bwd(conv(), _x(), np.zeros((1, 4, 5, 5), f32)), BAD, None),
        ("nn.MaxPool2d-kernel0", lambda: nn.MaxPool2d(0), BAD, "kernel_size"),
        ("nn.MaxPool2d-stride_neg", lambda: nn.MaxPool2d(2, stride=-1), BAD, "stride"),
        ("nn.MaxPool2d-dilation", lambda: nn.MaxPool2d(2, dilation=2), BAD, "dilation"),
        ("nn.MaxPool2d-forward_big_kernel", lambda: fwd(nn.MaxPool2d(16), _x()), BAD, "kernel_size"),
        ("nn.MaxPool2d-forward_padding", lambda: fwd(nn.MaxPool2d(2, padding=2), _x()), BAD, "padding"),
        ("nn.MaxPool2d-backward_first", lambda: nn.MaxPool2d(2).backward(np.zeros((1, 3, 4, 4), f32), True),
         STATE, None),
        ("nn.AvgPool2d-kernel_none", lambda: nn.AvgPool2d(None), BAD, "kernel_size"),
        ("nn.AvgPool2d-forward_int", lambda: fwd(nn.AvgPool2d(2), np.zeros((1, 3, 8, 8), np.int64)), BAD, "x"),
        ("nn.AdaptiveAvgPool2d-zero", lambda: fwd(nn.AdaptiveAvgPool2d(0), _x()), BAD, "output_size"),
        ("nn.Linear-in0", lambda: nn.Linear(0, 3), BAD, "in_features"),
        ("nn.Linear-out_float", lambda: nn.Linear(3, 2.5), BAD, "out_features"),
        ("nn.Linear-forward_features", lambda: fwd(nn.Linear(3, 2), np.zeros((4, 5), f32)), BAD, None),
        ("nn.Linear-forward_none", lambda: fwd(nn.Linear(3, 2), None), BAD, "x"),
        ("nn.BatchNorm2d-zero", lambda: nn.BatchNorm2d(0), BAD, "num_features"),
        ("nn.BatchNorm2d-forward_channels", lambda: fwd(nn.BatchNorm2d(3), _x(c=4)), BAD, None),
        ("nn.Dropout-p", lambda: nn.Dropout(p=1.5), BAD, "p"),
        ("nn.CrossEntropyLoss-reduction", lambda: nn.CrossEntropyLoss(reduction="avg"), BAD, "reduction"),
        ("nn.Sequential-not_module", lambda: nn.Sequential(3), BAD, None),
        ("nn.Module-load_state_dict_none", lambda: conv().load_state_dict(None), BAD, None),
        ("nn.Module-load_state_dict_shape", lambda: conv().load_state_dict(
            {"weight": np.zeros((4, 3, 5, 5), f32), "bias": np.zeros(4, f32)}), BAD, "weight"),
        ("nn.Module-load_state_dict_str", lambda: conv().load_state_dict(
            {"weight": "abc", "bias": np.zeros(4, f32)}), BAD, "weight"),
        ("nn.Parameter-str", lambda: nn.Parameter("abc"), BAD, None),
    ]
    return cases


def _fwd_bwd(layer, x, gy):
    layer(x)
    return layer.backward(gy, need_input_grad=True)


def _skip(reason):
    def thunk():
        raise _Skip(reason)
    return thunk


class _Skip(Exception):
    pass


def _weight_file_cases():
    try:
        import fastconv.io as fio
    except ImportError as exc:   # pragma: no cover
        return [("io.load-missing", _skip(f"fastconv.io not importable: {exc}"), IO, None)]

    def with_file(name, data):
        def thunk():
            d = tempfile.mkdtemp(prefix="fc_badcall_")
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(data)
            return fio.load(p)
        return thunk

    import struct

    def st(header, payload=b""):
        h = json.dumps(header).encode()
        return struct.pack("<Q", len(h)) + h + payload

    return [
        ("io.load-none", lambda: fio.load(None), IO, None),
        ("io.load-int", lambda: fio.load(3), IO, None),
        ("io.load-missing_file", lambda: fio.load("/nonexistent/fastconv/w.safetensors"), IO, None),
        ("io.load-directory", lambda: fio.load(tempfile.mkdtemp(prefix="fc_badcall_")), IO, None),
        ("io.load-empty_safetensors", with_file("w.safetensors", b""), IO, None),
        ("io.load-garbage_safetensors", with_file("w.safetensors", b"\xff" * 100), IO, None),
        ("io.load-header_len_huge", with_file("w.safetensors", struct.pack("<Q", 2**62) + b"{}"), IO, None),
        ("io.load-header_len_past_end", with_file("w.safetensors", struct.pack("<Q", 1000) + b"{}"), IO, None),
        ("io.load-header_not_json", with_file("w.safetensors", struct.pack("<Q", 4) + b"{{{{"), IO, None),
        ("io.load-header_list", with_file("w.safetensors", st([1, 2, 3])), IO, None),
        ("io.load-offsets_past_end", with_file("w.safetensors", st(
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)), IO, None),
        ("io.load-shape_lies", with_file("w.safetensors", st(
            {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 16]}}, b"\0" * 16)), IO, None),
        ("io.load-shape_overflow", with_file("w.safetensors", st(
            {"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]}}, b"\0" * 16)), IO, None),
        ("io.load-shape_negative", with_file("w.safetensors", st(
            {"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, b"\0" * 16)), IO, None),
        ("io.load-offsets_reversed", with_file("w.safetensors", st(
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}, b"\0" * 16)), IO, None),
        ("io.load-offsets_negative", with_file("w.safetensors", st(
            {"w": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}}, b"\0" * 16)), IO, None),
        ("io.load-dtype_unknown", with_file("w.safetensors", st(
            {"w": {"dtype": "Q99", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16)), IO, None),
        ("io.load-dtype_object", with_file("w.safetensors", st(
            {"w": {"dtype": "O", "shape": [4], "data_offsets": [0, 32]}}, b"\0" * 32)), IO, None),
        ("io.load-entry_not_dict", with_file("w.safetensors", st({"w": 5})), IO, None),
        ("io.load-empty_npz", with_file("w.npz", b""), IO, None),
        ("io.load-garbage_npz", with_file("w.npz", b"PK\x03\x04" + b"\x00" * 60), IO, None),
        ("io.load-pickle_pt", with_file("w.pt", b"\x80\x04\x95" + b"\x00" * 20), IO, None),
        ("io.load-unknown_ext", with_file("w.bin", b"\x00" * 16), IO, None),
    ]


def _data_cases():
    try:
        from fastconv import data
    except ImportError as exc:   # pragma: no cover
        return [("data-missing", _skip(f"fastconv.data not importable: {exc}"), BAD, None)]
    ds = lambda: data.TensorDataset(np.zeros((4, 2), f32), np.zeros(4, np.int64))  # noqa: E731
    return [
        ("DataLoader-batch0", lambda: data.DataLoader(ds(), batch_size=0), BAD, "batch_size"),
        ("DataLoader-batch_neg", lambda: data.DataLoader(ds(), batch_size=-1), BAD, "batch_size"),
        ("DataLoader-batch_str", lambda: data.DataLoader(ds(), batch_size="4"), BAD, "batch_size"),
        ("DataLoader-batch_float", lambda: data.DataLoader(ds(), batch_size=2.5), BAD, "batch_size"),
        ("DataLoader-dataset_int", lambda: data.DataLoader(3), BAD, "dataset"),
        ("DataLoader-seed_neg", lambda: data.DataLoader(ds(), shuffle=True, seed=-1), BAD, "seed"),
        ("DataLoader-seed_str", lambda: data.DataLoader(ds(), shuffle=True, seed="a"), BAD, None),
        ("DataLoader-generator_int", lambda: data.DataLoader(ds(), generator=3), BAD, "generator"),
        ("TensorDataset-lengths", lambda: data.TensorDataset(np.zeros((4, 2)), np.zeros(3)), BAD, None),
        ("TensorDataset-index", lambda: ds()[10], (IndexError,), None),
        ("Subset-index_range", lambda: data.Subset(ds(), [0, 9]), (ValueError, TypeError, IndexError), None),
        ("random_split-lengths", lambda: data.random_split(ds(), [3, 3]), BAD, None),
        ("ImageFolder-missing", lambda: data.ImageFolder("/nonexistent/fastconv/images"), IO, None),
        ("ImageFolder-none", lambda: data.ImageFolder(None), IO, None),
        ("load_image-missing", lambda: data.folder.load_image("/nonexistent/x.png"), IO, None),
        ("load_image-not_image", with_bytes_image(b"not an image at all"), IO, None),
    ]


def with_bytes_image(payload, name="x.png"):
    def thunk():
        from fastconv.data.folder import load_image
        d = tempfile.mkdtemp(prefix="fc_badcall_")
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(payload)
        return load_image(p)
    return thunk


def _model_cases():
    try:
        from fastconv import models
        import fastconv.io as fio
    except ImportError as exc:   # pragma: no cover
        return [("models-missing", _skip(f"fastconv.models not importable: {exc}"), BAD, None)]

    def small_forward(x):
        m = models.resnet18(num_classes=3)
        m.eval()
        return m(x)

    def save_to_tmp(sd, name="w.safetensors"):
        return fio.save(sd, os.path.join(tempfile.mkdtemp(prefix="fc_badcall_"), name))

    return [
        ("models.get_model-unknown", lambda: models.get_model("resnet7"), (ValueError, TypeError, KeyError), None),
        ("models.resnet18-classes0", lambda: models.resnet18(num_classes=0), BAD, None),
        ("models.resnet18-classes_str", lambda: models.resnet18(num_classes="10"), BAD, None),
        ("models.vgg11-classes_neg", lambda: models.vgg11(num_classes=-1), BAD, None),
        ("models.resnet18-forward_channels", lambda: small_forward(np.zeros((1, 1, 32, 32), f32)), BAD, None),
        ("models.resnet18-forward_ndim", lambda: small_forward(np.zeros((3, 32, 32), f32)), BAD, None),
        ("io.save-none", lambda: save_to_tmp(None), IO, None),
        ("io.save-str_value", lambda: save_to_tmp({"a": "b"}), IO, None),
        ("io.save-object_array", lambda: save_to_tmp({"a": np.zeros(2, object)}), IO, None),
        ("io.save-int_key", lambda: save_to_tmp({3: np.zeros(2, f32)}), IO, None),
        ("io.save-unknown_suffix", lambda: save_to_tmp({"a": np.zeros(2, f32)}, "w.pkl"), IO, None),
        ("io.save-torch_suffix", lambda: save_to_tmp({"a": np.zeros(2, f32)}, "w.pt"), IO, None),
        ("io.save-missing_dir", lambda: fio.save({"a": np.zeros(2, f32)}, "/nonexistent/dir/w.npz"), IO, None),
    ]


def all_cases():
    cases = (_functional_cases() + _dense_cases() + _config_cases() + _nn_cases() + _weight_file_cases()
             + _data_cases() + _model_cases())
    ids = [c[0] for c in cases]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate case ids: {sorted(dupes)}"
    return cases


# Known bugs in files this suite does not own: strict xfail, so the suite stays green and the
# marker has to be removed (XPASS fails) the day the bug is fixed.
# (Empty since the dense ops' checks were fixed: relu_backward/linear_backward(None, ...),
# linear(bias="b"), softmax(dim="a").)
KNOWN_BUGS = {}


# ---- child side ------------------------------------------------------------------------------


def _child_main():
    import fastconv  # noqa: F401  (import cost before the limit is computed)
    import fastconv.functional  # noqa: F401
    limit_address_space()
    wanted = json.loads(sys.stdin.read())
    cases = {c[0]: c for c in all_cases()}
    out = sys.stdout
    for cid in wanted:
        _, thunk, _, _ = cases[cid]
        out.write(f"BEGIN {cid}\n")
        out.flush()
        try:
            thunk()
            rec = {"id": cid, "outcome": "returned"}
        except _Skip as exc:
            rec = {"id": cid, "outcome": "skip", "message": str(exc)}
        except BaseException as exc:  # noqa: BLE001 - we report every kind
            rec = {"id": cid, "outcome": "raised", "type": type(exc).__name__,
                   "mro": [k.__name__ for k in type(exc).__mro__], "message": str(exc)[:500]}
        out.write("RESULT " + json.dumps(rec) + "\n")
        out.flush()


# ---- parent side -----------------------------------------------------------------------------

def _child_env():
    import fastconv
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "2")
    return env, root


def run_matrix(ids, case_timeout=CASE_TIMEOUT, script=None, extra_env=None):
    """Run the cases `ids` in child processes; returns {id: record}. Crashes and hangs are
    recorded against the case in flight and the rest continues in a fresh child."""
    env, root = _child_env()
    env.update(extra_env or {})
    results = {}
    todo = list(ids)
    while todo:
        proc = subprocess.Popen([sys.executable, script or os.path.abspath(__file__), "--child"], cwd=root, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        proc.stdin.write(json.dumps(todo))
        proc.stdin.close()
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout] + [lines.put(None)],
                                  daemon=True)
        reader.start()
        current = None
        deadline = time.monotonic() + case_timeout + 60   # the first case also pays the imports
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                if time.monotonic() < deadline:
                    continue
                proc.kill()
                proc.wait()
                if current is None:   # stalled before any case started: blame the first one
                    current = todo[0]
                results[current] = {"id": current, "outcome": "hang", "seconds": case_timeout}
                break
            if line is None:   # the child exited
                proc.wait()
                if current is not None:
                    err = proc.stderr.read()[-2000:]
                    results[current] = {"id": current, "outcome": "died", "returncode": proc.returncode,
                                        "stderr": err}
                elif proc.returncode != 0 and not results:
                    raise RuntimeError(f"bad-call child failed to start:\n{proc.stderr.read()[-3000:]}")
                break
            if line.startswith("BEGIN "):
                current = line[6:].strip()
                deadline = time.monotonic() + case_timeout
            elif line.startswith("RESULT "):
                rec = json.loads(line[7:])
                results[rec["id"]] = rec
                current = None
        todo = [i for i in todo if i not in results]
    return results


CASES = all_cases()
CASE_INFO = {c[0]: c for c in CASES}


@pytest.fixture(scope="module")
def matrix():
    return run_matrix([c[0] for c in CASES])


def _params():
    out = []
    for cid in CASE_INFO:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[cid])] if cid in KNOWN_BUGS else []
        out.append(pytest.param(cid, id=cid, marks=marks))
    return out


@pytest.mark.parametrize("cid", _params())
def test_bad_call_fails_cleanly(matrix, cid):
    _, _, allowed, words = CASE_INFO[cid]
    rec = matrix[cid]
    outcome = rec["outcome"]
    if outcome == "skip":
        pytest.skip(rec["message"])
    assert outcome != "died", f"{cid}: the process died (return code {rec['returncode']}):\n{rec['stderr']}"
    assert outcome != "hang", f"{cid}: no answer within {rec['seconds']} s"
    assert outcome != "returned", f"{cid}: a bad call returned normally instead of raising"
    allowed_names = {k.__name__ for k in allowed}
    assert allowed_names & set(rec["mro"]), (
        f"{cid}: raised {rec['type']} ({rec['message']!r}); expected one of {sorted(allowed_names)}")
    assert rec["message"].strip(), f"{cid}: {rec['type']} with an empty message"
    if words is not None and not ({"MemoryError", "OSError"} & set(rec["mro"])):
        assert words.lower() in rec["message"].lower(), (
            f"{cid}: the message {rec['message']!r} does not name {words!r}")


def test_matrix_size():
    # docs/reliability.md quotes this figure; keep the matrix broad
    assert len(CASES) >= 300, len(CASES)


def test_runner_reports_crashes_and_hangs(tmp_path):
    # the harness itself: a segfaulting call and a stalled call are caught, the next case still runs
    script = tmp_path / "child.py"
    script.write_text(
        "import sys, json, time, ctypes\n"
        "for cid in json.loads(sys.stdin.read()):\n"
        "    print('BEGIN', cid, flush=True)\n"
        "    if cid == 'crash': ctypes.string_at(0)\n"
        "    if cid == 'hang': time.sleep(60)\n"
        "    print('RESULT ' + json.dumps({'id': cid, 'outcome': 'raised', 'type': 'ValueError', "
        "'mro': ['ValueError'], 'message': 'x'}), flush=True)\n")
    # (without the sanitizer runtime: its report of the deliberate crash would fail tools/sanitize.sh)
    res = run_matrix(["ok1", "crash", "ok2", "hang", "ok3"], case_timeout=2, script=str(script),
                     extra_env={"LD_PRELOAD": ""})
    assert res["crash"]["outcome"] == "died" and res["crash"]["returncode"] < 0
    assert res["hang"]["outcome"] == "hang"
    assert {res[k]["outcome"] for k in ("ok1", "ok2", "ok3")} == {"raised"}


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child_main()
    elif "--list" in sys.argv:
        print("\n".join(c[0] for c in all_cases()))
