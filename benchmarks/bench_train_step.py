"""One training step (forward, loss, backward, SGD update) of the digits CNN, fastconv vs torch.

Network: conv3x3(1->16)-ReLU-maxpool2, conv3x3(16->32)-ReLU-maxpool2, Linear(128->64)-ReLU,
Linear(64->10); batch 64 of 8x8 single-channel images (the UCI digits' size), cross-entropy,
SGD with momentum.

    pytest benchmarks/bench_train_step.py --benchmark-enable      # pytest-benchmark, group train_step
    python benchmarks/bench_train_step.py [--threads N] [--steps 200]   # prints the ratio

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


def _time(step, steps, repeats=5):
    """Best of ``repeats`` mean step times (the minimum filters out other processes' noise)."""
    for _ in range(10):
        step()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    args = ap.parse_args(argv)
    if args.threads:
        fastconv.set_num_threads(args.threads)
    t_fc = _time(fastconv_step_fn(), args.steps)
    print(f"fastconv: {t_fc * 1e3:.3f} ms/step ({fastconv.get_num_threads()} threads)")
    try:
        import torch
    except ImportError:
        print("torch not installed: no comparison")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    t_torch = _time(torch_step_fn(torch), args.steps)
    print(f"torch:    {t_torch * 1e3:.3f} ms/step ({torch.get_num_threads()} threads)")
    print(f"fastconv / torch time ratio: {t_fc / t_torch:.2f} (below 1: fastconv faster)")


if __name__ == "__main__":
    main()
