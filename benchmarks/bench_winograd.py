"""Winograd F(4x4, 3x3) against im2col and torch on the 3x3 stride-1 layers of conv_layers.json
(VGG16 conv1_2..conv5_1, ResNet-50 3x3 layers at batch 1, ResNet-18 3x3 layers at batch 16).

Two ways to run it:

    pytest benchmarks/bench_winograd.py --benchmark-enable [-k vgg16] [--benchmark-json out.json]
        one group "winograd:<layer>" per layer, rows winograd / im2col / torch (pytest-benchmark);
        effective GFLOP/s (the direct method's 2*N*K*C*9*P*Q flops / best time) in extra_info.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_winograd.py [--rounds 5] [name filters...]
        the side-by-side table the `auto` rule is decided from: per layer, the three
        implementations timed in interleaved rounds in one process (ratios stay meaningful on a
        shared, noisy machine), median over rounds of each one's best time, plus the float32
        error max|y - y_exact| / max|y_exact| of winograd and of direct on random data.

OMP_WAIT_POLICY=PASSIVE matters when torch runs in the same process: two OpenMP runtimes that
spin-wait steal each other's cores and distort both timings.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import pytest

import fastconv
import fastconv.functional as F

LAYERS = [L for L in json.loads((Path(fastconv.__file__).parent / "conv_layers.json").read_text())["layers"]
          if L["R"] == 3 and L["S"] == 3 and L["stride"] == 1 and L["C"] > 3]

try:
    import torch
except ImportError:   # optional cross-check
    torch = None


def flops(L):
    P = L["H"] + 2 * L["pad"] - 2
    Q = L["W"] + 2 * L["pad"] - 2
    return 2 * L["N"] * L["K"] * L["C"] * 9 * P * Q


def operands(L, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((L["N"], L["C"], L["H"], L["W"])).astype(np.float32)
    w = (rng.standard_normal((L["K"], L["C"], 3, 3)) / np.sqrt(9 * L["C"])).astype(np.float32)
    b = rng.standard_normal(L["K"]).astype(np.float32)
    return x, w, b


def make_fn(impl, L, x, w, b):
    p = L["pad"]
    if impl == "torch":
        xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))

        def fn():
            with torch.no_grad():
                return torch.relu(torch.nn.functional.conv2d(xt, wt, bt, 1, p)).numpy()
        return fn
    return lambda: F.conv2d(x, w, b, 1, p, algo=impl, relu=True)


IMPLS = ["winograd", "im2col"] + (["torch"] if torch is not None else [])


@pytest.fixture(scope="module")
def torch_threads():
    if torch is not None:
        torch.set_num_threads(fastconv.get_num_threads())


@pytest.mark.parametrize("L", LAYERS, ids=[L["name"] for L in LAYERS])
@pytest.mark.parametrize("impl", ["winograd", "im2col", "torch"])
def test_winograd_layer(benchmark, torch_threads, L, impl):
    if impl not in IMPLS:
        pytest.skip("torch is not installed")
    benchmark.group = f"winograd:{L['name']}"
    benchmark.extra_info.update(layer=L["name"], impl=impl, threads=fastconv.get_num_threads(),
                                isa=fastconv.get_isa())
    fn = make_fn(impl, L, *operands(L))
    work = flops(L)
    y = benchmark.pedantic(fn, rounds=int(min(15, max(3, 4e9 / work))), iterations=1, warmup_rounds=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["gflops"] = round(work / stats.stats.min / 1e9, 2)
    assert y.shape[:2] == (L["N"], L["K"])


def float32_errors(L, seed=1):
    """max|y - y_exact| / max|y_exact| for winograd and direct in float32 (exact: float64 direct)."""
    x, w, b = (a.astype(np.float64) for a in operands(L, seed))
    exact = F.conv2d(x, w, b, 1, L["pad"], algo="direct")
    scale = np.abs(exact).max()
    x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
    return tuple(float(np.abs(F.conv2d(x32, w32, b32, 1, L["pad"], algo=a) - exact).max() / scale)
                 for a in ("winograd", "direct"))


def _best(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("filters", nargs="*", help="only layers whose name contains one of these")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-error", action="store_true", help="skip the float32 error columns")
    args = ap.parse_args(argv)
    fastconv.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    layers = [L for L in LAYERS if not args.filters or any(f in L["name"] for f in args.filters)]
    head = f"{'layer':34s}" + "".join(f"{i + ' GF/s':>15s}" for i in IMPLS) + f"{'wino/im2col':>12s}"
    head += f"{'wino/torch':>11s}" if torch is not None else ""
    head += "" if args.no_error else f"{'err wino':>10s}{'err direct':>11s}{'ratio':>7s}"
    print(f"isa {fastconv.get_isa()}, {args.threads} threads, median of {args.rounds} interleaved rounds")
    print(head)
    for L in layers:
        ops = operands(L)
        fns = {i: make_fn(i, L, *ops) for i in IMPLS}
        work = flops(L)
        reps = int(min(10, max(2, 1e9 / work)))
        for fn in fns.values():
            fn()
        times = {i: [] for i in IMPLS}
        for _ in range(args.rounds):
            for i, fn in fns.items():
                times[i].append(_best(fn, reps))
        med = {i: float(np.median(t)) for i, t in times.items()}
        ratios = {i: float(np.median(np.array(times[i]) / np.array(times["winograd"]))) for i in IMPLS}
        line = f"{L['name']:34s}" + "".join(f"{work / med[i] / 1e9:15.1f}" for i in IMPLS)
        line += f"{ratios['im2col']:12.2f}" + (f"{ratios['torch']:11.2f}" if torch is not None else "")
        if not args.no_error:
            ew, ed = float32_errors(L)
            line += f"{ew:10.1e}{ed:11.1e}{ew / ed:7.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
