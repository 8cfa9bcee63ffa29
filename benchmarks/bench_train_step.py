"""One training step (forward, loss, backward, SGD update) of the digits CNN, fastconv vs torch.

Network: conv3x3(1->16)-ReLU-maxpool2, conv3x3(16->32)-ReLU-maxpool2, Linear(128->64)-ReLU,
Linear(64->10); batch 64 of 8x8 single-channel images (the UCI digits' size), cross-entropy,
SGD with momentum.

    pytest benchmarks/bench_train_step.py --benchmark-enable      # pytest-benchmark, group train_step
    python benchmarks/bench_train_step.py [--threads N] [--blocks 40]   # prints the ratio

Timings on a shared machine drift: compare the two numbers of one run, not across runs.
"""
import argparse
import time

import numpy as np
import pytest

import fastconv
from fastconv import nn, optim

BATCH, SIZE, CLASSES = 64, 8, 10


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 1, SIZE, SIZE)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=BATCH)
    return x, y


def fastconv_step_fn():
    fastconv.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(inplace=True), nn.Linear(64, CLASSES))
    crit = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = make_batch()

    def step():
        opt.zero_grad()
        loss = crit(model(x), y)
        model.backward(crit.backward())
        opt.step()
        return loss
    return step


def torch_step_fn(torch):
    torch.manual_seed(0)
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(inplace=True), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(inplace=True), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 2 * 2, 64), tnn.ReLU(inplace=True), tnn.Linear(64, CLASSES))
    crit = tnn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = make_batch()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = crit(model(tx), ty)
        loss.backward()
        opt.step()
        return loss.item()
    return step


@pytest.mark.benchmark(group="train_step")
def test_train_step_fastconv(benchmark):
    step = fastconv_step_fn()
    step()
    benchmark(step)


@pytest.mark.benchmark(group="train_step")
def test_train_step_torch(benchmark):
    torch = pytest.importorskip("torch")
    step = torch_step_fn(torch)
    step()
    benchmark(step)


def _interleaved(steps_by_name, blocks, block_steps=5):
    """Per-step times of several step functions, measured in alternating blocks so that every
    library sees the same machine load; returns {name: sorted per-block mean step times}."""
    for step in steps_by_name.values():
        for _ in range(5):
            step()
    times = {name: [] for name in steps_by_name}
    for _ in range(blocks):
        for name, step in steps_by_name.items():
            t0 = time.perf_counter()
            for _ in range(block_steps):
                step()
            times[name].append((time.perf_counter() - t0) / block_steps)
    return {name: sorted(v) for name, v in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40, help="alternating blocks of 5 steps each")
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    args = ap.parse_args(argv)
    if args.threads:
        fastconv.set_num_threads(args.threads)
    steps = {"fastconv": fastconv_step_fn()}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        steps["torch"] = torch_step_fn(torch)
    times = _interleaved(steps, args.blocks)
    print(f"one training step, batch {BATCH} of 1x{SIZE}x{SIZE}, {fastconv.get_num_threads()} threads "
          f"(best and median of {args.blocks} blocks, interleaved):")
    for name, v in times.items():
        print(f"  {name:9s} best {v[0] * 1e3:7.3f} ms   median {v[len(v) // 2] * 1e3:7.3f} ms")
    if "torch" in times:
        f, t = times["fastconv"], times["torch"]
        print(f"fastconv / torch time ratio: best {f[0] / t[0]:.2f}, median {f[len(f) // 2] / t[len(t) // 2]:.2f}"
              " (below 1: fastconv faster)")
    else:
        print("torch not installed: no comparison")


if __name__ == "__main__":
    main()
