"""Whole-model speed: ResNet-18, ResNet-50 and VGG16 inference at batch 1, 224x224, fastconv (as
built, and fused: BatchNorm folded, ReLU in the conv epilogue), and a ResNet-18 training step at
batch 8, against the same networks in PyTorch when it is installed (fastconv._torch_models), with
the same weights and the same thread count. The cases and the timing are fastconv.bench_models's,
as in `fastconv bench --models`.

    pytest benchmarks/bench_models.py --benchmark-enable [--benchmark-json out.json]
    python benchmarks/bench_models.py [resnet18 resnet50 vgg16 resnet18_train] [--rounds 3]   # the table

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

import pytest  # noqa: E402

import fastconv  # noqa: E402
from fastconv import bench_models as bm  # noqa: E402
from fastconv.bench import SETTLE_SECONDS  # noqa: E402

try:
    import torch  # noqa: F401
except ImportError:  # torch is optional
    torch = None

CASES = {c["name"]: c for c in bm.model_cases()}
THREADS = fastconv.get_num_threads()
IMPLS = (["torch"] if torch is not None else []) + ["fastconv", "fused"]
_BEST = {}  # (case, impl) -> best seconds, for the ratios
_CACHE = {}


def _impls(name):
    if name not in _CACHE:
        _CACHE.clear()  # one model in memory at a time (VGG16 is 0.5 GB per copy)
        _CACHE[name] = bm.build_impls(CASES[name])
    return _CACHE[name]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(CASES))
def test_model(benchmark, name, impl):
    run = _impls(name).get(impl)
    if run is None:
        pytest.skip(f"{impl} does not apply to {name}")
    run()  # warm up (page in the weights, thread pools)
    time.sleep(SETTLE_SECONDS)  # let the previous runtime's idle threads stop spinning
    case = CASES[name]
    benchmark.group = f"{name} {case['task']} batch {case['batch']} {case['size']}x{case['size']}"
    benchmark.extra_info.update(threads=THREADS, impl=impl)
    slow = case["task"] == "train" or name == "vgg16"
    benchmark.pedantic(run, rounds=3 if slow else 5, iterations=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        _BEST[(name, impl)] = stats.stats.min
        if impl != "torch" and (name, "torch") in _BEST:
            benchmark.extra_info["ratio_vs_torch"] = round(stats.stats.min / _BEST[(name, "torch")], 2)


def main(argv):
    import argparse
    parser = argparse.ArgumentParser(description="whole models, fastconv vs torch")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"rows to run (default all: {', '.join(CASES)})")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best is kept)")
    parser.add_argument("--min-time", type=float, default=0.25, help="seconds of repeats per case and implementation")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="write the measurements as JSON")
    args = parser.parse_args(argv)
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    _, table = bm.run(only=args.names or None, json_out=args.json_out, rounds=args.rounds,
                      min_time=args.min_time, progress=sys.stderr.isatty())
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
