"""Pooling speed on the pooling layers of VGG16 and ResNet: fastconv (NCHW, each ISA path)
against torch's NCHW and channels-last kernels when torch is installed.

    pytest benchmarks/bench_pool.py --benchmark-enable [-k stem] [--benchmark-json out.json]
    python benchmarks/bench_pool.py [--threads N]      # a table of GB/s and ratios to torch

One group per layer and pass ("pool-fwd:<layer>", "pool-bwd:<layer>"), one row per
implementation. Max pooling forward returns indices (int64, as a training step needs them),
so its traffic is input + output + indices; backward reads grad_y and indices and writes
grad_x. GB/s = those bytes / best time goes in extra_info["gbps"]. The machine is shared and
noisy: compare rows of one run, never absolute times across runs.
"""
import argparse

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import _ext
from fastconv._bench_util import time_interleaved

try:
    import torch
except ImportError:   # torch is an optional cross-check, never a dependency
    torch = None

ISA_NAMES = ("scalar", "avx2", "avx512")
# name: (op, input shape, kernel, stride, padding)
LAYERS = {
    "resnet.stem_b1": ("max", (1, 64, 112, 112), 3, 2, 1),
    "resnet.stem_b16": ("max", (16, 64, 112, 112), 3, 2, 1),
    "vgg16.pool1": ("max", (1, 64, 224, 224), 2, 2, 0),
    "vgg16.pool2": ("max", (1, 128, 112, 112), 2, 2, 0),
    "vgg16.pool3": ("max", (1, 256, 56, 56), 2, 2, 0),
    "vgg16.pool4": ("max", (1, 512, 28, 28), 2, 2, 0),
    "vgg16.pool5": ("max", (1, 512, 14, 14), 2, 2, 0),
    "vgg16.pool1_b16": ("max", (16, 64, 224, 224), 2, 2, 0),
    "avg3x3_stem": ("avg", (1, 64, 112, 112), 3, 2, 1),
    "resnet.global_avg_b16": ("adaptive", (16, 2048, 7, 7), None, None, None),
}
IMPLS = ["fastconv"] + [f"fastconv-{n}" for n in ISA_NAMES] + ["torch", "torch-channels-last"]


def impls_for():
    own = [f"fastconv-{n}" for i, n in enumerate(ISA_NAMES) if i <= _ext.CPU_ISA]
    return ["fastconv"] + own + (["torch", "torch-channels-last"] if torch is not None else [])


def operands(name, seed=0):
    op, shape, k, s, p = LAYERS[name]
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return op, x, k, s, p


def forward_fn(impl, name):
    """(function running one forward pass, bytes it moves)"""
    op, x, k, s, p = operands(name)
    if impl.startswith("fastconv"):
        if op == "max":
            y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
            return (lambda: F.max_pool2d(x, k, s, p, return_indices=True)), x.nbytes + y.nbytes + idx.nbytes
        if op == "avg":
            y = F.avg_pool2d(x, k, s, p)
            return (lambda: F.avg_pool2d(x, k, s, p)), x.nbytes + y.nbytes
        y = F.adaptive_avg_pool2d(x, 1)
        return (lambda: F.adaptive_avg_pool2d(x, 1)), x.nbytes + y.nbytes
    xt = torch.from_numpy(x)
    if impl == "torch-channels-last":
        xt = xt.contiguous(memory_format=torch.channels_last)
    tf = torch.nn.functional
    if op == "max":
        y, idx = tf.max_pool2d(xt, k, s, p, return_indices=True)
        return (lambda: tf.max_pool2d(xt, k, s, p, return_indices=True)), x.nbytes + 3 * y.numel() * 4
    if op == "avg":
        return (lambda: tf.avg_pool2d(xt, k, s, p)), x.nbytes + tf.avg_pool2d(xt, k, s, p).numel() * 4
    return (lambda: tf.adaptive_avg_pool2d(xt, 1)), x.nbytes + x.shape[0] * x.shape[1] * 4


def backward_fn(impl, name):
    """(function running one backward pass, bytes it moves); max pooling only"""
    op, x, k, s, p = operands(name)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    nbytes = gy.nbytes + idx.nbytes + x.nbytes
    if impl.startswith("fastconv"):
        return (lambda: F.max_pool2d_backward(gy, idx, x.shape)), nbytes
    xt, gyt = torch.from_numpy(x), torch.from_numpy(gy)
    if impl == "torch-channels-last":
        xt, gyt = (t.contiguous(memory_format=torch.channels_last) for t in (xt, gyt))
    _, it = torch.nn.functional.max_pool2d(xt, k, s, p, return_indices=True)
    back = torch.ops.aten.max_pool2d_with_indices_backward
    return (lambda: back(gyt, xt, [k, k], [s, s], [p, p], [1, 1], False, it)), nbytes


class _Config:
    """ISA and threads of one implementation, restored afterwards."""

    def __init__(self, impl):
        self.impl = impl

    def __enter__(self):
        self.saved = fastconv.get_isa()
        if self.impl.startswith("fastconv-"):
            fastconv.set_isa(self.impl.split("-", 1)[1])
        if torch is not None:
            torch.set_num_threads(fastconv.get_num_threads())
        return self

    def __exit__(self, *exc):
        fastconv.set_isa(self.saved)


def _rounds(nbytes, impl):
    slow = 30 if impl in ("torch", "fastconv-scalar") else 1    # torch's NCHW path is ~1 GB/s
    return max(3, min(50, int(2e9 / (nbytes * slow))))


def _record(benchmark, impl, nbytes):
    benchmark.extra_info.update(impl=impl, threads=fastconv.get_num_threads(), bytes=nbytes)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.min > 0:
        benchmark.extra_info["gbps"] = round(nbytes / stats.stats.min * 1e-9, 2)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("impl", IMPLS)
def test_pool_forward(benchmark, name, impl):
    if impl not in impls_for():
        pytest.skip(f"{impl} not available here")
    benchmark.group = f"pool-fwd:{name}"
    with _Config(impl):
        fn, nbytes = forward_fn(impl, name)
        benchmark.pedantic(fn, rounds=_rounds(nbytes, impl), iterations=1, warmup_rounds=1)
    _record(benchmark, impl, nbytes)


@pytest.mark.parametrize("name", [n for n in LAYERS if LAYERS[n][0] == "max"])
@pytest.mark.parametrize("impl", IMPLS)
def test_pool_backward(benchmark, name, impl):
    if impl not in impls_for():
        pytest.skip(f"{impl} not available here")
    benchmark.group = f"pool-bwd:{name}"
    with _Config(impl):
        fn, nbytes = backward_fn(impl, name)
        benchmark.pedantic(fn, rounds=_rounds(nbytes, impl), iterations=1, warmup_rounds=1)
    _record(benchmark, impl, nbytes)


# ---- a table in one run, interleaving implementations so they see the same machine --------
# fastconv._bench_util.time_interleaved, as `fastconv bench` uses: rounds that each start with a
# different implementation, best call kept, and a pause after torch's calls. Alternating call by
# call with no pause had each library run while the other's idle OpenMP workers still spun on
# the second core (torch ships its own OpenMP runtime), which skewed the ratios both ways.

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=fastconv.get_num_threads())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds of calls per implementation and row")
    ap.add_argument("-k", default="", help="only layers whose name contains this")
    args = ap.parse_args(argv)
    fastconv.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    impls = [i for i in ("fastconv", "torch", "torch-channels-last") if i in impls_for()]
    print(f"threads {args.threads}, isa {fastconv.get_isa()}; GB/s (x: time ratio torch / fastconv)")
    for name in LAYERS:
        if args.k not in name:
            continue
        passes = [("fwd", forward_fn)] + ([("bwd", backward_fn)] if LAYERS[name][0] == "max" else [])
        for label, make in passes:
            made = {impl: make(impl, name) for impl in impls}
            best, _ = time_interleaved({impl: fn for impl, (fn, _) in made.items()}, args.rounds,
                                       args.min_time, settle_after=("torch", "torch-channels-last"))
            cells = []
            for impl in impls:
                t, nbytes = best[impl], made[impl][1]
                ratio = "" if impl == "fastconv" else f" (x{t / best['fastconv']:.2f})"
                cells.append(f"{impl} {nbytes / t * 1e-9:6.1f}{ratio}")
            print(f"{name:22s} {label}: " + " | ".join(cells))


if __name__ == "__main__":
    main()
