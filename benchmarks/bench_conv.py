"""Convolution speed on the VGG16 / ResNet layers of conv_layers.json, one group per layer and
pass, one row per implementation: fastconv's algorithms (direct, im2col, 1x1 where it applies),
NumPy (im2col by sliding_window_view + float32 matmul, i.e. OpenBLAS) and torch (oneDNN) when
installed. GFLOP/s (2*N*K*C*R*S*P*Q / best time) goes in extra_info["gflops"].

    pytest benchmarks/bench_conv.py --benchmark-enable [-k vgg16] [--benchmark-json out.json]
    pytest benchmarks/bench_conv.py --benchmark-enable -k "fwd and resnet50"

Groups "conv-fwd:<layer>" (float32 forward, bias + ReLU fused as a network runs it) and
"conv-bwd:<layer>" (grad_input + grad_weight + grad_bias, the training layers of ResNet-18
batch 16 and a few batch-1 layers). "conv-peak" times a 2048^3 float32 numpy matmul in the
same run: the machine's practical GEMM peak to quote percentages against. The machine is
shared and noisy: compare rows of one run only, never absolute times across runs.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import fastconv
import fastconv.functional as F

LAYERS = json.loads((Path(fastconv.__file__).parent / "conv_layers.json").read_text())["layers"]
FWD_LAYERS = [L for L in LAYERS if L["N"] == 1]
BWD_LAYERS = [L for L in LAYERS if L["N"] > 1] + [
    L for L in LAYERS if L["name"] in ("vgg16.conv2_2", "resnet50.layer1.3x3_64", "resnet50.layer3.3x3_256")]

try:
    import torch
except ImportError:   # torch is an optional cross-check, never a dependency
    torch = None


def flops(L):
    P = (L["H"] + 2 * L["pad"] - L["R"]) // L["stride"] + 1
    Q = (L["W"] + 2 * L["pad"] - L["S"]) // L["stride"] + 1
    return 2 * L["N"] * L["K"] * L["C"] * L["R"] * L["S"] * P * Q


def impls(L):
    one = L["R"] == 1 and L["S"] == 1 and L["stride"] == 1 and L["pad"] == 0
    return ["direct", "im2col"] + (["1x1"] if one else []) + ["numpy"] + (["torch"] if torch else [])


def operands(L, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((L["N"], L["C"], L["H"], L["W"])).astype(np.float32)
    w = (rng.standard_normal((L["K"], L["C"], L["R"], L["S"])) * 0.05).astype(np.float32)
    b = rng.standard_normal(L["K"]).astype(np.float32)
    return x, w, b


def numpy_conv2d(x, w, b, stride, pad):
    """What a NumPy user writes: im2col through a strided view, then one float32 matmul."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, C = x.shape[:2]
    K, _, R, S = w.shape
    v = sliding_window_view(xp, (R, S), axis=(2, 3))[:, :, ::stride, ::stride]
    P, Q = v.shape[2:4]
    col = v.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * R * S, P * Q)
    y = (w.reshape(K, -1) @ col).reshape(N, K, P, Q) + b[None, :, None, None]
    return np.maximum(y, 0)


def rounds_for(work):
    """Enough rounds for a stable minimum, few for the big layers (whole file: minutes)."""
    return int(min(15, max(3, 4e9 / max(work, 1))))


def run(benchmark, fn, L, impl, work):
    benchmark.extra_info.update(layer=L["name"], impl=impl, threads=fastconv.get_num_threads(),
                                isa=fastconv.get_isa())
    out = benchmark.pedantic(fn, rounds=rounds_for(work), iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["gflops"] = round(work / stats.stats.min / 1e9, 2)
    return out


@pytest.fixture(scope="module")
def torch_threads():
    if torch is not None:
        torch.set_num_threads(fastconv.get_num_threads())


def test_gemm_peak(benchmark):
    """Reference point: a large float32 matmul (OpenBLAS) in this run."""
    benchmark.group = "conv-peak"
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    run(benchmark, lambda: a @ a, {"name": "sgemm2048"}, "numpy", 2 * 2048 ** 3)


@pytest.mark.parametrize("L", FWD_LAYERS, ids=[L["name"] for L in FWD_LAYERS])
@pytest.mark.parametrize("impl", ["direct", "im2col", "1x1", "numpy", "torch"])
def test_forward(benchmark, torch_threads, L, impl):
    if impl not in impls(L):
        pytest.skip(f"{impl} does not apply to {L['name']}")
    benchmark.group = f"conv-fwd:{L['name']}"
    x, w, b = operands(L)
    s, p = L["stride"], L["pad"]
    if impl == "numpy":
        fn = lambda: numpy_conv2d(x, w, b, s, p)  # noqa: E731
    elif impl == "torch":
        xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))

        def fn():
            with torch.no_grad():
                return torch.relu(torch.nn.functional.conv2d(xt, wt, bt, s, p)).numpy()
    else:
        fn = lambda: F.conv2d(x, w, b, s, p, algo=impl, relu=True)  # noqa: E731
    y = run(benchmark, fn, L, impl, flops(L))
    assert y.shape[:2] == (L["N"], L["K"])


@pytest.mark.parametrize("L", BWD_LAYERS, ids=[L["name"] for L in BWD_LAYERS])
@pytest.mark.parametrize("impl", ["direct", "im2col", "1x1", "torch"])
def test_backward(benchmark, torch_threads, L, impl):
    if impl not in impls(L):
        pytest.skip(f"{impl} does not apply to {L['name']}")
    benchmark.group = f"conv-bwd:{L['name']}"
    x, w, _ = operands(L)
    s, p = L["stride"], L["pad"]
    P = (L["H"] + 2 * p - L["R"]) // s + 1
    Q = (L["W"] + 2 * p - L["S"]) // s + 1
    gy = np.random.default_rng(1).standard_normal((L["N"], L["K"], P, Q)).astype(np.float32)
    if impl == "torch":
        xt, wt, gyt = (torch.from_numpy(a) for a in (x, w, gy))

        def fn():
            return torch.ops.aten.convolution_backward(
                gyt, xt, wt, [L["K"]], [s, s], [p, p], [1, 1], False, [0, 0], 1, [True, True, True])
    else:
        fn = lambda: F.conv2d_backward(gy, x, w, s, p, algo=impl)  # noqa: E731
    # grad_input and grad_weight each cost one forward pass
    run(benchmark, fn, L, impl, 2 * flops(L))
