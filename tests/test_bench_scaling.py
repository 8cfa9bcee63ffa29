"""`fastconv bench --scaling` (fastconv.bench_scaling): speed-ups come from the two measured times,
the flag follows the layer's size and the target, the thread count is restored, the JSON and table
have every row. No timing thresholds."""
import json
import os
import subprocess
import sys

import pytest

import fastconv
from fastconv import _bench_util, cli
from fastconv import bench_scaling as bs

BIG = {"name": "big", "N": 1, "C": 64, "H": 56, "W": 56, "K": 64, "R": 3, "S": 3, "stride": 1, "pad": 1}  # 0.23 GFLOP
SMALL = {"name": "small", "N": 1, "C": 8, "H": 12, "W": 12, "K": 8, "R": 3, "S": 3, "stride": 1, "pad": 1}


def test_speedup_and_flag():
    assert bs.speedup_target(2) == pytest.approx(1.8)
    ok = bs.scaling_row(BIG, {1: 0.010, 2: 0.005}, 2, backward=False)
    assert ok["speedup"] == pytest.approx(2.0) and not ok["flagged"]
    assert ok["ms"] == pytest.approx({"1": 10.0, "2": 5.0})
    assert ok["layer_gflop"] == pytest.approx(0.231, abs=1e-3) and ok["gflop"] == ok["layer_gflop"]
    slow = bs.scaling_row(BIG, {1: 0.010, 2: 0.0060}, 2, backward=False)
    assert slow["speedup"] == pytest.approx(10 / 6) and slow["flagged"]
    # a small layer is never flagged (it may run on one thread on purpose)
    assert not bs.scaling_row(SMALL, {1: 0.010, 2: 0.010}, 2, backward=False)["flagged"]
    # backward: twice the GFLOP, flagged by the layer's (forward) size
    back = bs.scaling_row(BIG, {1: 0.020, 2: 0.015}, 2, backward=True)
    assert back["pass"] == "backward" and back["gflop"] == pytest.approx(2 * back["layer_gflop"])
    assert back["flagged"]
    # 4 threads: the target is 3.6x
    assert bs.scaling_row(BIG, {1: 0.010, 4: 0.0030}, 4, backward=False)["flagged"]


def test_table_lists_the_flagged_layers_and_warns_on_a_busy_machine():
    rows = [bs.scaling_row(BIG, {1: 0.010, 2: 0.005}, 2, False),
            bs.scaling_row(dict(BIG, name="slow"), {1: 0.010, 2: 0.008}, 2, False),
            bs.scaling_row(dict(BIG, name="slow"), {1: 0.020, 2: 0.016}, 2, True)]
    result = {"threads": 2, "rounds": 3, "rows": rows, "other_cpus": 0.0}
    lines = bs.format_table(result).splitlines()
    assert lines[3].split()[-1] == "2.00x" and lines[4].endswith("1.25x  << below target")
    assert lines[-2:] == ["1 of 3 rows of >= 0.2 GFLOP reach 1.80x:", "below: slow (for), slow (bac)"]
    busy = bs.format_table(dict(result, other_cpus=1.0)).splitlines()[-1]
    assert busy.startswith("warning: other processes kept 1.00 CPUs busy") and "understated" in busy


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs /proc/stat")
def test_other_load_counts_another_process():
    load = _bench_util.OtherLoad()
    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 0.6: pass"])
    busy.wait()
    assert load.cpus() > 0.3   # the child spun for most of the window (ideally ~1 CPU)


def test_layer_timing_restores_the_thread_count():
    saved = fastconv.get_num_threads()
    fastconv.set_num_threads(3)
    try:
        row = bs.bench_layer_scaling(SMALL, threads=2, backward=True, min_time=0, rounds=2)
        assert fastconv.get_num_threads() == 3
    finally:
        fastconv.set_num_threads(saved)
    assert row["name"] == "small" and row["pass"] == "backward" and row["algo"] == "im2col"
    assert set(row["ms"]) == {"1", "2"} and min(row["ms"].values()) > 0
    assert row["speedup"] == pytest.approx(row["ms"]["1"] / row["ms"]["2"])


def test_run_json_and_table(tmp_path):
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps({"layers": [SMALL, dict(SMALL, name="small_s2", stride=2)]}))
    out = tmp_path / "scaling.json"
    result, table = bs.run(layers, backward=True, threads=2, json_out=out, min_time=0, rounds=1, progress=False)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["threads"] == 2 and result["target_speedup"] == pytest.approx(1.8)
    assert result["flag_min_gflop"] == 0.2
    assert [(r["name"], r["pass"]) for r in result["rows"]] == [
        ("small", "forward"), ("small_s2", "forward"), ("small", "backward"), ("small_s2", "backward")]
    lines = table.splitlines()
    assert "speed-up" in lines[1] and "2 thr ms" in lines[1]
    assert len(lines) in (3 + 4 + 1, 3 + 4 + 2)  # + a warning when the machine was busy
    assert lines[3 + 4] == "0 of 0 rows of >= 0.2 GFLOP reach 1.80x."


def test_run_rejects_one_thread_and_empty_selections():
    with pytest.raises(ValueError, match="compares 1 thread"):
        bs.run(threads=1)
    with pytest.raises(ValueError, match="no layer matches"):
        bs.run(only=["alexnet"])


def test_cli_scaling(tmp_path, capsys):
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps({"layers": [SMALL]}))
    out = tmp_path / "s.json"
    assert cli.main(["bench", "--scaling", "--layers", str(layers), "--threads", "2", "--min-time", "0",
                     "--rounds", "1", "--json", str(out), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "1 vs 2 threads" in stdout and "small" in stdout
    assert [r["name"] for r in json.loads(out.read_text())["rows"]] == ["small"]


def test_rows_below_target_are_measured_again_and_keep_each_count_best(monkeypatch, tmp_path):
    """A row below 1.8x is timed again after the others; each thread count keeps its best time
    over both measurements (here the second 2-thread time is the better one, the 1-thread time
    of the first), rows on target are not timed again, and retries=0 keeps the first result."""
    timings = {"big": [{1: 0.010, 2: 0.0070}, {1: 0.012, 2: 0.0052}], "fine": [{1: 0.010, 2: 0.0050}]}
    calls = []

    def fake(layer, threads, backward, min_time, rounds):
        calls.append(layer["name"])
        return bs.scaling_row(layer, timings[layer["name"]][calls.count(layer["name"]) - 1], threads, backward)

    monkeypatch.setattr(bs, "bench_layer_scaling", fake)
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps({"layers": [BIG, dict(BIG, name="fine")]}))
    result, table = bs.run(layers, threads=2, min_time=0, rounds=1, progress=False)
    assert calls == ["big", "fine", "big"]
    big, fine = result["rows"]
    assert big["ms"] == pytest.approx({"1": 10.0, "2": 5.2}) and big["speedup"] == pytest.approx(10 / 5.2)
    assert big["measurements"] == 2 and not big["flagged"] and "measurements" not in fine
    assert result["retries"] == 1
    assert "(best of 2 measurements)" in table and "measured again (up to 1x)" in table.splitlines()[0]
    assert table.splitlines()[-1] == "2 of 2 rows of >= 0.2 GFLOP reach 1.80x."
    calls.clear()
    result0, _ = bs.run(layers, threads=2, min_time=0, rounds=1, progress=False, retries=0)
    assert calls == ["big", "fine"] and result0["rows"][0]["flagged"]
    with pytest.raises(ValueError, match="retries"):
        bs.run(layers, threads=2, retries=-1)


def test_cli_retries_only_with_scaling(capsys):
    assert cli.main(["bench", "--models", "--retries", "2", "--no-progress"]) == 1
    assert "--retries only applies to --scaling" in capsys.readouterr().err
    assert cli.main(["bench", "--scaling", "--retries", "-1", "--no-progress"]) == 1
    assert "--retries must be at least 0" in capsys.readouterr().err
