"""Whole-model inference speed: ResNet-18, ResNet-50 and VGG16 at batch 1, 224x224, fastconv
(as built, and fused: BatchNorm folded, ReLU in the conv epilogue) against the same networks in
PyTorch when it is installed, with the same weights and the same thread count.

    pytest benchmarks/bench_models.py --benchmark-enable [--benchmark-json out.json]
    python benchmarks/bench_models.py [resnet18 resnet50 vgg16] [--repeat 5]   # a table with ratios

Each group is one model; compare within a group (same run): the machine is shared and noisy.
extra_info holds the ratio to torch's best time (measured first, in the same run).
"""
import os
import sys
import time

# Two OpenMP runtimes share this process (fastconv's and torch's). By default idle OpenMP threads
# spin for a while after each parallel region, stealing the 2 cores from the other library's
# threads: measured here, torch's ResNet-18 ran 3x slower right after fastconv calls. Passive
# waiting makes the comparison fair; it only works if set before either runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastconv  # noqa: E402
from fastconv import inference, models  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests", "data"))

try:
    import torch
    import make_torchvision_keys as tv  # torchvision's architectures in plain torch.nn
except ImportError:  # torch is optional
    torch = None

ARCHS = ("resnet18", "resnet50", "vgg16")
THREADS = fastconv.get_num_threads()
_BEST = {}  # (arch, impl) -> best seconds, for the ratios


def _torch_model(arch):
    t = tv.BUILDERS[arch]().eval()

    def forward(x):
        if isinstance(t, tv.ResNet):
            x = t.maxpool(t.relu(t.bn1(t.conv1(x))))
            for layer in (t.layer1, t.layer2, t.layer3, t.layer4):
                for b in layer:
                    identity = x if b.downsample is None else b.downsample(x)
                    out = b.relu(b.bn1(b.conv1(x)))
                    if isinstance(b, tv.Bottleneck):
                        out = b.bn3(b.conv3(b.relu(b.bn2(b.conv2(out)))))
                    else:
                        out = b.bn2(b.conv2(out))
                    x = b.relu(out + identity)
            return t.fc(torch.flatten(t.avgpool(x), 1))
        return t.classifier(torch.flatten(t.avgpool(t.features(x)), 1))
    return t, forward


def build(arch):
    """(fastconv model, fused model, torch forward or None), all with the same weights."""
    from fastconv.models._utils import skip_init
    with skip_init():
        ours = models.get_model(arch)
    torch_forward = None
    if torch is not None:
        torch.manual_seed(0)
        torch.set_num_threads(THREADS)
        t, torch_forward = _torch_model(arch)
        ours.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    else:
        rng = np.random.default_rng(0)
        for p in ours.parameters():
            p.data[...] = rng.standard_normal(p.shape, dtype=np.float32) * 0.01
    ours.eval()
    return ours, inference.fuse(ours), torch_forward


_CACHE = {}


def _get(arch):
    if arch not in _CACHE:
        _CACHE.clear()  # one model in memory at a time (VGG16 is 0.5 GB)
        _CACHE[arch] = build(arch)
    return _CACHE[arch]


def _image():
    return np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)


def _runner(arch, impl):
    ours, fused, torch_forward = _get(arch)
    x = _image()
    if impl == "torch":
        xt = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                return torch_forward(xt)
        return run
    model = fused if impl == "fastconv_fused" else ours

    def run():
        with fastconv.no_grad():
            return model(x)
    return run


IMPLS = (["torch"] if torch is not None else []) + ["fastconv", "fastconv_fused"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("arch", ARCHS)
def test_inference(benchmark, arch, impl):
    run = _runner(arch, impl)
    run()  # warm up (page in the weights, thread pools)
    benchmark.group = f"inference {arch} batch 1 224x224"
    benchmark.extra_info.update(threads=THREADS, impl=impl)
    benchmark.pedantic(run, rounds=3 if arch == "vgg16" else 5, iterations=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        _BEST[(arch, impl)] = stats.stats.min
        if impl != "torch" and (arch, "torch") in _BEST:
            benchmark.extra_info["ratio_vs_torch"] = round(stats.stats.min / _BEST[(arch, "torch")], 2)


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(description="whole-model inference, fastconv vs torch")
    parser.add_argument("archs", nargs="*", default=list(ARCHS), metavar="ARCH")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (best is kept)")
    args = parser.parse_args(argv)
    archs, repeat = args.archs, args.repeat
    print(f"batch 1, 224x224, float32, {THREADS} threads, best of {repeat} interleaved rounds, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"{'model':10s} {'impl':16s} {'ms':>9s} {'vs torch':>9s}")
    for arch in archs:
        runs = {impl: _runner(arch, impl) for impl in IMPLS}
        for run in runs.values():
            run()  # warm up
        best = {impl: float("inf") for impl in IMPLS}
        # interleaved rounds: a load change on the shared machine hits every implementation alike
        for _ in range(repeat):
            for impl, run in runs.items():
                t0 = time.perf_counter()
                run()
                best[impl] = min(best[impl], time.perf_counter() - t0)
        for impl in IMPLS:
            ratio = f"{best[impl] / best['torch']:.2f}x" if "torch" in best else "-"
            print(f"{arch:10s} {impl:16s} {best[impl] * 1e3:9.1f} {ratio:>9s}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
