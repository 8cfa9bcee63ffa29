"""Whole-model timings (behind `fastconv bench --models`).

Rows: ResNet-18, ResNet-50 and VGG16 inference at batch 1 (224x224), as built and fused
(``fastconv.inference.fuse``: BatchNorm folded, ReLU in the convolution epilogue), and one ResNet-18
training step at batch 8 (forward, cross-entropy, backward, SGD with momentum). When torch is
installed each row also times the same network in torch (``fastconv._torch_models``, torchvision's
architectures in plain torch.nn) holding a copy of the same weights, with the same thread count.

How it is timed: one warm-up call per implementation, then ``rounds`` interleaved rounds (each
starting with a different implementation), each round repeating a call for ``min_time / rounds``
seconds (at least once); the best time per implementation is kept. Between two implementations the
process sleeps ``SETTLE_SECONDS``, long enough for the idle worker threads of the runtime that just
ran (torch's OpenMP, OpenBLAS) to stop spinning on the cores the next one needs. Ratios are torch's
time over fastconv's (> 1: fastconv faster), from one run: the machines are shared, absolute times
drift.

Weights are a fixed pseudo-random pattern scaled like He-uniform initialisation (finite, never
subnormal: the values do not change the amount of work), cheap to produce even for VGG16's 138 M
parameters, and copied into the torch twin.
"""
import gc
import math

import numpy as np

from ._bench_util import OtherLoad, busy_warning, progress_bar, time_interleaved, write_json  # noqa: F401 (re-export)
from ._config import get_num_threads

INFERENCE_ARCHS = ("resnet18", "resnet50", "vgg16")
TRAIN_ARCH = "resnet18"
TRAIN_BATCH = 8
IMAGE_SIZE = 224
IMPLS = ("fastconv", "fused", "torch")
_PATTERN = 1_000_003  # length of the repeated weight pattern (prime: no alignment with strides)


def model_cases(image_size=IMAGE_SIZE, train_batch=TRAIN_BATCH, only=None):
    """The rows to measure: [{"name", "arch", "task": "inference"|"train", "batch", "size"}];
    ``only`` keeps the rows whose name contains one of its strings."""
    cases = [{"name": a, "arch": a, "task": "inference", "batch": 1, "size": image_size}
             for a in INFERENCE_ARCHS]
    cases.append({"name": f"{TRAIN_ARCH}_train", "arch": TRAIN_ARCH, "task": "train",
                  "batch": train_batch, "size": image_size})
    if only:
        cases = [c for c in cases if any(s in c["name"] for s in only)]
    return cases


def fill_weights(model, seed=0):
    """Set every weight of ``model`` in place, deterministically and fast (see the module notes):
    convolution and linear weights uniform in +-sqrt(6 / fan_in) (a repeated random pattern), their
    biases 0, BatchNorm the identity (weight 1, bias 0, running mean 0, variance 1). Returns model."""
    from . import nn
    pattern = np.random.default_rng(seed).uniform(-1.0, 1.0, _PATTERN).astype(np.float32)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.data
            scale = math.sqrt(6.0 / max(1, w[0].size))
            if w.flags.c_contiguous:
                flat = w.reshape(-1)
                for start in range(0, flat.size, _PATTERN):
                    chunk = flat[start:start + _PATTERN]
                    np.multiply(pattern[:chunk.size], scale, out=chunk, casting="unsafe")
            else:
                w[...] = (np.resize(pattern, w.size) * scale).reshape(w.shape)
            if m.bias is not None:
                m.bias.data[...] = 0
        elif isinstance(m, nn.BatchNorm2d):
            if m.weight is not None:
                m.weight.data[...] = 1
                m.bias.data[...] = 0
            if m.running_mean is not None:
                m.running_mean[...] = 0
                m.running_var[...] = 1
            if m.num_batches_tracked is not None:
                m.num_batches_tracked[...] = 0
    return model


def build_fastconv(arch, seed=0):
    """fastconv's ``arch`` without random initialisation (``models.skip_init``), then fill_weights."""
    from . import models
    from .models._utils import skip_init
    with skip_init():
        net = models.get_model(arch)
    return fill_weights(net, seed)


def _torch_models(use_torch):
    """(torch, fastconv._torch_models) or (None, None) when torch is absent or not wanted."""
    if not use_torch:
        return None, None
    from .bench import _torch
    torch = _torch()  # also sets torch's thread count to fastconv's
    if torch is None:
        return None, None
    from . import _torch_models
    return torch, _torch_models


def _inference_impls(case, torch, tm, seed):
    from . import inference
    from ._grad_mode import no_grad
    net = build_fastconv(case["arch"], seed).eval()
    fused = inference.fuse(net)
    x = np.random.default_rng(seed).standard_normal((case["batch"], 3, case["size"], case["size"]),
                                                    dtype=np.float32)

    def run(model):
        def call():
            with no_grad():
                return model(x)
        return call
    impls = {"fastconv": run(net), "fused": run(fused)}
    if torch is not None:
        twin = tm.from_fastconv(net, case["arch"]).eval()
        xt = torch.from_numpy(x)

        def call_torch():
            with torch.inference_mode():
                return twin(xt).numpy()
        impls["torch"] = call_torch
    return impls


def _train_impls(case, torch, tm, seed, lr=1e-3):
    from . import nn, optim
    net = build_fastconv(case["arch"], seed).train()
    twin = tm.from_fastconv(net, case["arch"]).train() if torch is not None else None  # before any step
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case["batch"], 3, case["size"], case["size"]), dtype=np.float32)
    y = rng.integers(0, 1000, size=case["batch"], dtype=np.int64)
    crit = nn.CrossEntropyLoss()
    opt = optim.SGD(net.parameters(), lr=lr, momentum=0.9)

    def step():
        opt.zero_grad()
        out = net(x)
        crit(out, y)
        net.backward(crit.backward())
        opt.step()
        return out
    impls = {"fastconv": step}
    if twin is not None:
        tcrit = torch.nn.CrossEntropyLoss()
        topt = torch.optim.SGD(twin.parameters(), lr=lr, momentum=0.9)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def step_torch():
            topt.zero_grad()
            out = twin(xt)
            tcrit(out, yt).backward()
            topt.step()
            return out.detach().numpy()
        impls["torch"] = step_torch
    return impls


def build_impls(case, use_torch=True, seed=0):
    """{implementation: zero-argument callable} for one case of model_cases(): "fastconv", "fused"
    (inference only) and "torch" (when installed and ``use_torch``), all holding the same weights.
    Each call returns the logits as a NumPy array."""
    torch, tm = _torch_models(use_torch)
    build = _inference_impls if case["task"] == "inference" else _train_impls
    return build(case, torch, tm, seed)


def _relative_difference(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def make_row(case, best, rel_diff=None):
    """One table row from the best times (s): milliseconds per implementation (None when not
    measured) and the ratios torch / fastconv and torch / fused (> 1: fastconv faster)."""
    ms = {impl: (best[impl] * 1e3 if best.get(impl) is not None else None) for impl in IMPLS}
    ratio = (lambda mine: ms["torch"] / mine if ms["torch"] is not None and mine else None)
    return {**case, "ms": ms, "vs_torch": ratio(ms["fastconv"]), "fused_vs_torch": ratio(ms["fused"]),
            "rel_diff_vs_torch": rel_diff}


def _task_label(row):
    task = "inference" if row["task"] == "inference" else "train step"
    return f"{task} b{row['batch']} {row['size']}x{row['size']}"


def format_table(result):
    def cell(v, fmt, width):
        return f"{'-':>{width}s}" if v is None else f"{v:{width}{fmt}}"

    def ratio(v, width):
        return f"{'-':>{width}s}" if v is None else f"{v:{width - 1}.2f}x"
    head = (f"{'model':10s} {'task':26s} {'fastconv ms':>11s} {'fused ms':>9s} {'torch ms':>9s} "
            f"{'vs torch':>8s} {'fused vs torch':>14s}")
    lines = [f"float32, {result['threads']} thread(s), torch {result['torch'] or 'not used'}; best of "
             f"{result['rounds']} interleaved rounds", head, "-" * len(head)]
    for r in result["rows"]:
        ms = r["ms"]
        lines.append(f"{r['arch']:10s} {_task_label(r):26s} {cell(ms['fastconv'], '.1f', 11)} "
                     f"{cell(ms['fused'], '.1f', 9)} {cell(ms['torch'], '.1f', 9)} "
                     f"{ratio(r['vs_torch'], 8)} {ratio(r['fused_vs_torch'], 14)}")
    lines.append("vs torch = torch time / fastconv time (> 1 means fastconv is faster); fused = "
                 "fastconv.inference.fuse (inference only).")
    warning = busy_warning(result.get("other_cpus"), "the times are inflated and the ratios unreliable.")
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def run(only=None, json_out=None, use_torch=True, rounds=3, min_time=0.25, image_size=IMAGE_SIZE,
        train_batch=TRAIN_BATCH, progress=True, seed=0):
    """Measure the model rows; returns (result dict, printable table). ``json_out``: write the
    result there (atomically)."""
    if int(rounds) < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if not min_time >= 0:
        raise ValueError(f"min_time must be non-negative, got {min_time}")
    cases = model_cases(image_size, train_batch, only)
    if not cases:
        names = ", ".join(c["name"] for c in model_cases())
        raise ValueError(f"--only {' '.join(only)}: no model row matches (rows: {names})")
    torch, _ = _torch_models(use_torch)
    bar = progress_bar(len(cases) * rounds, "models", progress)
    load = OtherLoad()
    rows = []
    try:
        for case in cases:
            bar.set_description(case["name"])
            impls = build_impls(case, torch is not None, seed)
            best, outputs = time_interleaved(impls, rounds, min_time, on_round=lambda: bar.update(1))
            rel = (_relative_difference(outputs["fastconv"], outputs["torch"])
                   if "torch" in outputs else None)
            rows.append(make_row(case, best, rel))
            del impls, outputs
            gc.collect()  # one model in memory at a time (VGG16 weights: 0.5 GB per copy)
    finally:
        bar.close()
    result = {"threads": get_num_threads(), "torch": getattr(torch, "__version__", None),
              "rounds": int(rounds), "min_time": min_time, "other_cpus": load.cpus(), "rows": rows}
    if json_out:
        write_json(json_out, result)
    return result, format_table(result)
