"""Thread scaling per layer (behind `fastconv bench --scaling`).

For each layer of a conv_layers.json table: the ``auto`` forward (and, with ``backward``, the
backward pass: grad input + grad weight) timed at 1 thread and at ``threads`` threads
(``fastconv.set_num_threads``) in the same run, interleaved (round r starts with the other thread
count), best time of each. The speed-up is the 1-thread time over the n-thread time.

Target: at 2 threads, a speed-up of at least 1.8x (90% parallel efficiency; in general
``TARGET_EFFICIENCY * threads``) on every layer of at least ``FLAG_MIN_GFLOP`` GFLOP (the layer's
forward GFLOP, so a layer is flagged or not by its size, whichever pass is timed). Smaller layers
are shown but not flagged: below 2 MFLOP fastconv runs them on one thread on purpose.

A process that takes one of the two cores for a few seconds slows only the 2-thread times (1
thread still has a core to itself), so on a shared machine a row falls below the target now and
then whatever the code. Rows below it are measured again, ``retries`` times, after the others:
each thread count keeps its best time over every measurement, and the row says how many it had.
"""
import textwrap
import time

import numpy as np

from . import functional as F
from ._bench_util import OtherLoad, busy_warning, progress_bar, write_json
from ._config import get_num_threads, set_num_threads
from .bench import best_time, layer_flops, load_layers

TARGET_EFFICIENCY = 0.9   # 2 threads -> 1.8x
FLAG_MIN_GFLOP = 0.2
# pause after changing the thread count: the previous team's idle threads spin a few ms (libgomp's
# default) before sleeping, and would share the cores with the next measurement
THREAD_SETTLE_SECONDS = 0.02


def _auto_algo(l, backward):
    P = (l["H"] + 2 * l["pad"] - l["R"]) // l["stride"] + 1
    Q = (l["W"] + 2 * l["pad"] - l["S"]) // l["stride"] + 1
    desc = (l["N"], l["C"], l["H"], l["W"], l["K"], l["R"], l["S"], l["stride"], l["stride"],
            l["pad"], l["pad"], P, Q)
    if not backward:
        return F.select_conv_algo(desc)
    algo = F.select_conv_backward_algo(desc)
    # under auto, grad_x of a 3x3 stride-1 layer may itself run as a Winograd convolution
    grad_input_desc = getattr(F, "_grad_input_desc", None)
    gi = grad_input_desc(desc) if grad_input_desc is not None and algo != "1x1" else None
    if gi is not None and F.select_conv_algo(gi) == "winograd":
        algo += "+wg"
    return algo


def speedup_target(threads):
    return TARGET_EFFICIENCY * threads


def scaling_row(layer, times, threads, backward):
    """A result row from {thread count: best seconds}: speed-up = t(1) / t(threads), flagged when the
    layer has >= FLAG_MIN_GFLOP forward GFLOP and the speed-up is below speedup_target(threads)."""
    fwd_gflop = layer_flops(layer) / 1e9
    speedup = times[1] / times[threads]
    return {"name": layer["name"], "pass": "backward" if backward else "forward",
            "gflop": fwd_gflop * (2 if backward else 1), "layer_gflop": fwd_gflop,
            "algo": _auto_algo(layer, backward), "threads": threads,
            "ms": {str(n): t * 1e3 for n, t in times.items()}, "speedup": speedup,
            "flagged": bool(fwd_gflop >= FLAG_MIN_GFLOP and speedup < speedup_target(threads))}


def bench_layer_scaling(layer, threads=2, backward=False, min_time=0.25, rounds=3):
    """Best seconds of the layer's auto pass at 1 and at ``threads`` threads, interleaved; returns
    the row (scaling_row). Restores the thread count it found."""
    rng = np.random.default_rng(0)
    l = layer
    x = rng.standard_normal((l["N"], l["C"], l["H"], l["W"]), dtype=np.float32)
    w = rng.standard_normal((l["K"], l["C"], l["R"], l["S"]), dtype=np.float32) * 0.1
    s, p = l["stride"], l["pad"]
    if backward:
        gy = F.conv2d(x, w, None, s, p)

        def fn():
            return F.conv2d_backward(gy, x, w, s, p, need_bias_grad=False)
    else:
        def fn():
            return F.conv2d(x, w, None, s, p)
    counts = (1, threads)
    best = {n: float("inf") for n in counts}
    saved = get_num_threads()
    try:
        for r in range(rounds):
            for i in range(len(counts)):
                n = counts[(i + r) % len(counts)]
                set_num_threads(n)
                time.sleep(THREAD_SETTLE_SECONDS)
                best[n] = min(best[n], best_time(fn, min_time / rounds))
    finally:
        set_num_threads(saved)
    return scaling_row(layer, best, threads, backward)


def merge_rows(layer, first, again):
    """One row from two measurements of the same layer and pass: each thread count's best time."""
    n = first["threads"]
    best = {int(k): min(first["ms"][k], again["ms"][k]) / 1e3 for k in first["ms"]}
    row = scaling_row(layer, best, n, first["pass"] == "backward")
    row["measurements"] = first.get("measurements", 1) + again.get("measurements", 1)
    return row


def format_table(result):
    n = result["threads"]
    target = speedup_target(n)
    head = (f"{'layer':42s} {'pass':8s} {'GFLOP':>6s} {'auto':>9s} {'1 thr ms':>9s} "
            f"{f'{n} thr ms':>9s} {'speed-up':>8s}")
    retries = result.get("retries", 0)
    again = f"; rows below it measured again (up to {retries}x) at the end" if retries else ""
    lines = [f"float32, auto algorithm, 1 vs {n} threads (interleaved, best of {result['rounds']} rounds); "
             f"flag: layers of >= {FLAG_MIN_GFLOP} GFLOP below {target:.2f}x{again}", head, "-" * len(head)]
    for r in result["rows"]:
        flag = "  << below target" if r["flagged"] else ""
        again = f"  (best of {r['measurements']} measurements)" if r.get("measurements", 1) > 1 else ""
        lines.append(f"{r['name']:42s} {r['pass']:8s} {r['gflop']:6.2f} {r['algo']:>9s} "
                     f"{r['ms']['1']:9.2f} {r['ms'][str(n)]:9.2f} {r['speedup']:7.2f}x{flag}{again}")
    if any(r["algo"].endswith("+wg") for r in result["rows"]):
        lines.append("+wg: the backward's grad_x runs as a Winograd convolution (auto's rule).")
    flagged = [r for r in result["rows"] if r["flagged"]]
    big = [r for r in result["rows"] if r["layer_gflop"] >= FLAG_MIN_GFLOP]
    lines.append(f"{len(big) - len(flagged)} of {len(big)} rows of >= {FLAG_MIN_GFLOP} GFLOP reach {target:.2f}x"
                 + (":" if flagged else "."))
    if flagged:
        below = ", ".join(f"{r['name']} ({r['pass'][:3]})" for r in flagged)
        lines.append(textwrap.fill(f"below: {below}", width=110, subsequent_indent="  "))
    warning = busy_warning(result.get("other_cpus"), f"with fewer than {n} free cores the {n}-thread times, "
                                                     "hence the speed-ups, are understated.")
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def run(layers_path=None, only=None, backward=False, threads=None, json_out=None, min_time=0.25,
        rounds=3, progress=True, retries=1):
    """Time every selected layer at 1 and ``threads`` threads (default: fastconv's setting, at least
    2); rows below the target are measured again up to ``retries`` times at the end (module
    docstring). Returns (result dict, printable table)."""
    threads = max(2, get_num_threads()) if threads is None else int(threads)
    if threads < 2:
        raise ValueError(f"threads: scaling compares 1 thread with more, got {threads}")
    if int(rounds) < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if int(retries) < 0:
        raise ValueError(f"retries must be at least 0, got {retries}")
    layers = load_layers(layers_path, only)
    if not layers:
        raise ValueError(f"--only {' '.join(only or [])}: no layer matches")
    passes = (False, True) if backward else (False,)
    work = [(l, b) for b in passes for l in layers]
    bar = progress_bar(len(work), "scaling", progress)
    load = OtherLoad()
    rows = []
    try:
        for l, b in work:
            bar.set_description(l["name"])
            rows.append(bench_layer_scaling(l, threads, b, min_time, int(rounds)))
            bar.update(1)
        for _ in range(int(retries)):
            again = [i for i, r in enumerate(rows) if r["flagged"]]
            for i in again:
                l, b = work[i]
                bar.set_description(f"again: {l['name']}")
                rows[i] = merge_rows(l, rows[i], bench_layer_scaling(l, threads, b, min_time, int(rounds)))
    finally:
        bar.close()
    result = {"threads": threads, "target_speedup": speedup_target(threads),
              "flag_min_gflop": FLAG_MIN_GFLOP, "rounds": int(rounds), "min_time": min_time,
              "retries": int(retries), "other_cpus": load.cpus(), "rows": rows}
    if json_out:
        write_json(json_out, result)
    return result, format_table(result)
