"""Side-by-side timing of the convolution algorithms (behind `fastconv bench`).

For each layer of a conv_layers.json table: GFLOP of the pass, GFLOP/s of every fastconv
algorithm that applies, the percentage of the machine's float32 GEMM peak (a large NumPy matmul
timed in the same run), and the speed ratio to a NumPy im2col + matmul implementation and to
PyTorch's CPU convolution when torch is installed. Ratios come from one run: these machines are
shared and noisy, absolute times drift.
"""
import json
import time
from importlib import resources

import numpy as np

from . import functional as F
from ._bench_util import SETTLE_SECONDS, time_interleaved, write_json  # noqa: F401 (SETTLE_SECONDS: re-export)
from ._config import get_num_threads

ALGOS = ("auto", "im2col", "direct", "1x1", "winograd")


def default_layers_path():
    return resources.files("fastconv").joinpath("conv_layers.json")


def load_layers(path=None, only=None):
    """Layers of a conv_layers.json file (default: the copy shipped with fastconv); `only` filters by
    substring of the name."""
    src = default_layers_path() if path is None else path
    with open(src, "r", encoding="utf-8") as f:
        table = json.load(f)
    layers = table["layers"] if isinstance(table, dict) else table
    if only:
        layers = [l for l in layers if any(s in l["name"] for s in only)]
    return layers


def best_time(fn, min_time=0.25, max_repeat=20, min_repeat=2):
    """Smallest wall time of fn() over repeats (after one warm-up), bounded by min_time overall."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeat and (len(times) < min_repeat or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def gemm_peak_gflops(n=2048):
    """GFLOP/s of a float32 NumPy matmul of n x n matrices: the machine's practical peak."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    return 2 * n**3 / best_time(lambda: a @ b) / 1e9


def numpy_im2col_conv2d(x, w, stride, pad):
    """Convolution as im2col (sliding_window_view copy) + one NumPy matmul: the baseline."""
    N, C, H, W = x.shape
    K, _, R, S = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = np.lib.stride_tricks.sliding_window_view(xp, (R, S), axis=(2, 3))[:, :, ::stride, ::stride]
    P, Q = win.shape[2], win.shape[3]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * R * S, P * Q)
    return (w.reshape(K, -1) @ cols).reshape(N, K, P, Q)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(get_num_threads())
    return torch


def _no_grad_call(torch, fn):
    with torch.no_grad():
        return fn()


def layer_flops(l):
    P = (l["H"] + 2 * l["pad"] - l["R"]) // l["stride"] + 1
    Q = (l["W"] + 2 * l["pad"] - l["S"]) // l["stride"] + 1
    return 2 * l["N"] * l["K"] * l["C"] * l["R"] * l["S"] * P * Q


def applicable_algos(l):
    algos = ["auto", "im2col", "direct"]
    if l["R"] == 1 and l["S"] == 1 and l["stride"] == 1 and l["pad"] == 0:
        algos.append("1x1")
    if l["R"] == 3 and l["S"] == 3 and l["stride"] == 1:
        algos.append("winograd")
    return algos


def bench_layer(l, backward=False, torch=None, min_time=0.25, with_numpy=True, rounds=3):
    """Times of one layer: {"name", "gflop", "algos": {algo: seconds}, "numpy": s, "torch": s}."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((l["N"], l["C"], l["H"], l["W"]), dtype=np.float32)
    w = rng.standard_normal((l["K"], l["C"], l["R"], l["S"]), dtype=np.float32) * 0.1
    s, p = l["stride"], l["pad"]
    flops = layer_flops(l) * (2 if backward else 1)
    row = {"name": l["name"], "gflop": flops / 1e9, "algos": {}, "numpy": None, "torch": None,
           "pass": "backward" if backward else "forward"}
    gy = F.conv2d(x, w, None, s, p) if backward else None
    impls = {}
    for algo in applicable_algos(l):
        if backward and algo == "winograd":  # a forward algorithm: its gradients are im2col's
            continue
        if backward:
            impls[algo] = lambda a=algo: F.conv2d_backward(gy, x, w, s, p, algo=a, need_bias_grad=False)
        else:
            impls[algo] = lambda a=algo: F.conv2d(x, w, None, s, p, algo=a)
    if with_numpy and not backward:
        impls["numpy"] = lambda: numpy_im2col_conv2d(x, w, s, p)
    if torch is not None:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        if backward:
            tgy = torch.from_numpy(gy)

            def torch_call():
                return torch.ops.aten.convolution_backward(
                    tgy, tx, tw, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, [True, True, False])
        else:
            def torch_call():
                return torch.nn.functional.conv2d(tx, tw, None, s, p)
        impls["torch"] = lambda: _no_grad_call(torch, torch_call)
    # interleaved rounds, best per implementation, each round starting with a different one:
    # whatever runs first or right after another runtime (cold caches, torch's or OpenBLAS's
    # threads still spinning on both cores) is not penalised, and drifts hit everyone alike
    best, _ = time_interleaved(impls, rounds, min_time, settle_after=("numpy", "torch"))
    for name, t in best.items():
        if name in ("numpy", "torch"):
            row[name] = t
        else:
            row["algos"][name] = t
    return row


def format_table(rows, peak, threads):
    algos = [a for a in ALGOS if any(a in r["algos"] for r in rows)]
    head = (f"{'layer':42s} {'pass':8s} {'GFLOP':>6s} " + " ".join(f"{a + ' GF/s':>11s}" for a in algos)
            + f" {'%peak':>6s} {'vs numpy':>8s} {'vs torch':>8s}")
    lines = [f"float32, {threads} thread(s); peak = NumPy float32 matmul {peak:.1f} GFLOP/s", head,
             "-" * len(head)]
    for r in rows:
        g = r["gflop"]
        best = min(r["algos"].values())
        cells = " ".join(f"{g / r['algos'][a]:11.1f}" if a in r["algos"] else f"{'-':>11s}" for a in algos)
        vs_np = f"{r['numpy'] / best:7.2f}x" if r["numpy"] else f"{'-':>8s}"
        vs_t = f"{r['torch'] / r['algos']['auto']:7.2f}x" if r["torch"] else f"{'-':>8s}"
        lines.append(f"{r['name']:42s} {r['pass']:8s} {g:6.2f} {cells} {100 * g / best / peak:5.0f}% "
                     f"{vs_np} {vs_t}")
    lines.append("GF/s = GFLOP/s per algorithm; %peak = fastest algorithm / NumPy matmul; vs numpy = NumPy "
                 "im2col+matmul time / fastest fastconv time; vs torch = torch time / fastconv auto time "
                 "(> 1 means fastconv is faster).")
    return "\n".join(lines)


def run(layers_path=None, only=None, backward=False, json_out=None, use_torch=True, min_time=0.25,
        progress=True, rounds=3):
    layers = load_layers(layers_path, only)
    torch = _torch() if use_torch else None
    peak = gemm_peak_gflops()
    rows = []
    passes = (False, True) if backward else (False,)
    try:
        from tqdm import tqdm
        it = tqdm([(l, b) for b in passes for l in layers], desc="bench", disable=not progress, leave=False)
    except ImportError:  # tqdm is a dependency, but keep the benchmark usable without it
        it = [(l, b) for b in passes for l in layers]
    for l, b in it:
        rows.append(bench_layer(l, backward=b, torch=torch, min_time=min_time, rounds=rounds))
    result = {"threads": get_num_threads(), "gemm_peak_gflops": peak, "torch": getattr(torch, "__version__", None),
              "rows": rows}
    if json_out:
        write_json(json_out, result)
    return result, format_table(rows, peak, get_num_threads())
