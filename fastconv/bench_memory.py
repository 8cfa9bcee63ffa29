"""Peak memory (behind `fastconv bench --memory` and benchmarks/bench_memory.py).

Two measurements, each case in a fresh Python subprocess, so that nothing from another case (other
models, the parent's imports, heap memory freed but kept by the allocator) counts:

1. Model inference: ResNet-50 at batch 1, 224x224, in fastconv (as built, and fused) and in torch
   (``fastconv._torch_models``, the same architecture and weights), same thread count. The child
   imports the library, builds the model and the input, collects garbage and hands the C heap's
   free pages back to the OS (glibc ``malloc_trim``; otherwise the inference would silently reuse
   memory freed while building, e.g. by ``fuse``), then resets the kernel's RSS high-water mark:
   the baseline. It runs ``repeats`` inferences, resetting the mark before each. "1st inference"
   and "later" are the high-water mark of the first / of the later inferences minus the baseline:
   activations, workspaces, thread pools and caches (one-time costs show in the first), not the
   weights nor the libraries, which are reported separately (RSS after import, after the model).
2. Convolution workspace: one 3x3 convolution (64 -> 64 channels, VGG16's conv1_2) at batch 1 on
   224, 448 and 896 pixel images, per fastconv algorithm (and torch's conv2d when installed). The
   input and weights exist before the baseline; peak minus baseline minus the output's bytes is
   what the call needed besides its output: its workspace. fastconv's im2col unfolds tiles of about
   1 MB per thread (FC_IM2COL_TILE_BYTES, plus the GEMM's packing buffers), so its workspace stays
   flat while a whole-image im2col (shown for scale, never allocated) grows with the image.

High-water mark: ``VmHWM`` in /proc/self/status, reset by writing "5" to /proc/self/clear_refs
(Linux >= 4.0), so it covers exactly the measured calls; the baseline is ``VmHWM`` read right
after the reset (the kernel's RSS figure at that moment). Without /proc the child falls back to
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the lifetime peak (method "ru_maxrss"), which
can only overstate a call's peak (construction may have peaked higher).
"""
import json
import os
import subprocess
import sys
import time

MB = 1 << 20
DEFAULT_ARCH = "resnet50"
DEFAULT_SIZES = (224, 448, 896)
DEFAULT_ALGOS = ("im2col", "winograd", "direct")
CONV = {"C": 64, "K": 64, "R": 3, "pad": 1}   # VGG16 conv1_2 at batch 1


# ---- in the child ------------------------------------------------------------------------------

def _status_kb(field):
    try:
        with open("/proc/self/status", "r", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss():
    """Resident set size of this process in bytes (None where /proc is missing).

    Read twice, 10 ms apart, keeping the second: right after large frees the first read was seen
    to lag by tens of MB (Linux 6.18), the next one was exact."""
    _status_kb("VmRSS")
    time.sleep(0.01)
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


def reset_peak():
    """Reset the kernel's RSS high-water mark to the current RSS; False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_rss(method):
    """Peak RSS in bytes since reset_peak() ("hwm") or since the process started ("ru_maxrss")."""
    if method == "hwm":
        return _status_kb("VmHWM") * 1024
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024   # bytes on macOS, KiB elsewhere


def release_free_heap():
    """Give the C heap's free pages back to the OS (glibc's malloc_trim; a no-op elsewhere).

    Without it, memory freed while the model was built (fuse's old weights, state_dict copies)
    stays resident in the heap and the inference reuses it unseen: the peak above the baseline
    would understate what the inference needs."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _measure(run, repeats):
    """Peak RSS of ``repeats`` calls of run() above the RSS before them. With /proc, the baseline is
    the high-water mark right after its reset: the kernel's own RSS figure at that moment, the
    same book-keeping the final high-water mark comes from."""
    import gc
    gc.collect()
    release_free_heap()
    baseline = current_rss()
    if reset_peak():
        method = "hwm"
        baseline = peak_rss("hwm")
    else:
        method = "ru_maxrss"
        if baseline is None:  # no /proc: the lifetime peak so far stands for the baseline
            baseline = peak_rss("ru_maxrss")
    out, peaks = None, []
    for i in range(repeats):
        if i and method == "hwm":
            reset_peak()  # each call's own peak (what the previous call left resident included)
        out = None
        out = run()
        peaks.append(peak_rss(method))
    peak = max(peaks)
    steady = max(peaks[1:]) - baseline if len(peaks) > 1 and method == "hwm" else None
    return {"method": method, "baseline": baseline, "peak": peak, "extra": peak - baseline,
            "first_extra": peaks[0] - baseline, "steady_extra": steady}, out


def _state_bytes(net):
    """Bytes of a fastconv model's parameters and buffers (without copying them as state_dict does)."""
    return (sum(p.data.nbytes for p in net.parameters())
            + sum(b.nbytes for b in net.buffers() if b is not None))


def _model_worker(spec):
    import numpy as np

    import fastconv
    if spec.get("threads"):
        fastconv.set_num_threads(spec["threads"])
    impl, arch, size = spec["impl"], spec["arch"], spec["size"]
    if impl == "torch":
        import torch
        torch.set_num_threads(fastconv.get_num_threads())
        from . import _torch_models
    from . import functional, inference, models, nn  # noqa: F401  (imported before the RSS reading)
    from .bench_models import build_fastconv
    rss_import = current_rss()
    net = build_fastconv(arch).eval()
    x = np.random.default_rng(0).standard_normal((1, 3, size, size), dtype=np.float32)
    weights = _state_bytes(net)
    if impl == "torch":
        twin = _torch_models.from_fastconv(net, arch).eval()
        del net
        xt = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                return twin(xt)
    else:
        if impl == "fused":
            net = inference.fuse(net, inplace=True)
            weights = _state_bytes(net)

        def run():
            with fastconv.no_grad():
                return net(x)
    result, _ = _measure(run, spec.get("repeats", 2))
    result.update(rss_import=rss_import, weights=weights)
    return result


def _conv_worker(spec):
    import numpy as np

    import fastconv
    import fastconv.functional as F
    if spec.get("threads"):
        fastconv.set_num_threads(spec["threads"])
    C, K, R, pad, size, algo = spec["C"], spec["K"], spec["R"], spec["pad"], spec["size"], spec["algo"]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((K, C, R, R), dtype=np.float32) * 0.05
    if algo == "torch":
        import torch
        torch.set_num_threads(fastconv.get_num_threads())
        tw = torch.from_numpy(w)

        def conv(a):
            with torch.inference_mode():
                return torch.nn.functional.conv2d(torch.from_numpy(a), tw, None, 1, pad).numpy()
    else:
        def conv(a):
            return F.conv2d(a, w, None, 1, pad, algo=algo)
    conv(rng.standard_normal((1, C, 32, 32), dtype=np.float32))  # warm-up: code paged in, thread
    # pools started: one-time costs that are not workspace
    x = rng.standard_normal((1, C, size, size), dtype=np.float32)
    result, y = _measure(lambda: conv(x), 1)
    result.update(input=x.nbytes, output=y.nbytes, weight=w.nbytes,
                  workspace=result["extra"] - y.nbytes)
    return result


def _worker_main(spec_json):
    spec = json.loads(spec_json)
    result = _model_worker(spec) if spec["kind"] == "model" else _conv_worker(spec)
    sys.stdout.write(json.dumps(result) + "\n")


# ---- in the parent -----------------------------------------------------------------------------

def measure_in_subprocess(spec, timeout=600):
    """Run one measurement (a dict: kind "model" or "conv", see the workers) in a fresh interpreter;
    returns its result dict (bytes)."""
    import fastconv
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-m", "fastconv.bench_memory", "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"memory measurement {spec} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _torch_installed():
    import importlib.util
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def full_im2col_bytes(size, C=CONV["C"], R=CONV["R"], pad=CONV["pad"], itemsize=4):
    """Bytes of a whole-image im2col matrix (C*R*S x P*Q), the workspace a naive im2col needs."""
    P = size + 2 * pad - R + 1
    return C * R * R * P * P * itemsize


def run(arch=DEFAULT_ARCH, image_size=224, sizes=DEFAULT_SIZES, algos=DEFAULT_ALGOS, use_torch=True,
        threads=None, repeats=2, json_out=None, progress=True, models=True, convs=True):
    """Both measurements; returns (result dict, printable table)."""
    from ._bench_util import progress_bar, write_json
    from ._config import get_num_threads
    threads = get_num_threads() if threads is None else int(threads)
    impls = ["fastconv", "fused"]
    algos = list(algos)
    if use_torch and _torch_installed():
        impls.append("torch")
        if "torch" not in algos:
            algos.append("torch")
    else:
        algos = [a for a in algos if a != "torch"]
    specs = []
    if models:
        specs += [{"kind": "model", "impl": i, "arch": arch, "size": image_size, "threads": threads,
                   "repeats": repeats} for i in impls]
    if convs:
        specs += [{"kind": "conv", "algo": a, "size": s, "threads": threads, **CONV}
                  for a in algos for s in sizes]
    bar = progress_bar(len(specs), "memory", progress)
    model_rows, conv_rows = [], []
    try:
        for spec in specs:
            bar.set_description(f"{spec.get('impl', spec.get('algo'))} {spec['size']}")
            res = {**spec, **measure_in_subprocess(spec)}
            if spec["kind"] == "model":
                model_rows.append(res)
            else:
                res["full_im2col"] = full_im2col_bytes(spec["size"], spec["C"], spec["R"], spec["pad"])
                conv_rows.append(res)
            bar.update(1)
    finally:
        bar.close()
    result = {"threads": threads, "models": model_rows, "convs": conv_rows}
    if json_out:
        write_json(json_out, result)
    return result, format_table(result)


def format_table(result):
    lines = []
    if result["models"]:
        m0 = result["models"][0]
        lines += [f"{m0['arch']} inference, batch 1, {m0['size']}x{m0['size']}, float32, {result['threads']} "
                  f"thread(s), {m0['repeats']} inferences; each implementation in a fresh process; MB = 2^20 B",
                  f"{'impl':9s} {'after import':>12s} {'+ model':>8s} {'weights':>8s} {'peak RSS':>9s} "
                  f"{'1st inference':>13s} {'later':>7s} {'method':>9s}"]
        for r in result["models"]:
            steady = "-" if r["steady_extra"] is None else f"{r['steady_extra'] / MB:.1f}"
            lines.append(f"{r['impl']:9s} {r['rss_import'] / MB:12.0f} {r['baseline'] / MB:8.0f} "
                         f"{r['weights'] / MB:8.0f} {r['peak'] / MB:9.0f} {r['first_extra'] / MB:13.1f} "
                         f"{steady:>7s} {r['method']:>9s}")
        lines.append("1st inference / later = peak RSS during the first / a later inference minus the RSS "
                     "before the first (library, weights and input loaded, free heap released): activations, "
                     "workspaces, thread pools, caches.")
    if result["convs"]:
        c0 = result["convs"][0]
        if lines:
            lines.append("")
        lines += [f"3x3 convolution {c0['C']} -> {c0['K']} channels, batch 1, stride 1, pad 1; peak RSS "
                  f"above input + weights, minus the output = workspace",
                  f"{'algo':9s} {'image':>7s} {'input MB':>9s} {'output MB':>10s} {'peak-base MB':>12s} "
                  f"{'workspace MB':>12s} {'full im2col MB':>14s}"]
        for r in result["convs"]:
            lines.append(f"{r['algo']:9s} {r['size']:7d} {r['input'] / MB:9.1f} {r['output'] / MB:10.1f} "
                         f"{r['extra'] / MB:12.1f} {r['workspace'] / MB:12.1f} {r['full_im2col'] / MB:14.1f}")
        lines.append("full im2col = the C*R*S x P*Q matrix a whole-image im2col would allocate (not run).")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2])
    else:
        sys.exit("usage: python -m fastconv.bench_memory --worker SPEC_JSON "
                 "(use `fastconv bench --memory` or benchmarks/bench_memory.py)")
