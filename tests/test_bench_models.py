"""`fastconv bench --models` (fastconv.bench_models): the rows, how times become ratios, the JSON,
the torch twin holding the same weights, and flag validation. No timing thresholds: timings are
benchmarks, not tests."""
import functools
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fastconv import _bench_util
from fastconv import bench_models as bm
from fastconv import cli

KEYS_DIR = Path(__file__).parent / "data" / "torchvision_keys"


def test_default_rows_are_the_three_models_and_the_training_step():
    cases = bm.model_cases()
    assert [(c["name"], c["arch"], c["task"], c["batch"], c["size"]) for c in cases] == [
        ("resnet18", "resnet18", "inference", 1, 224), ("resnet50", "resnet50", "inference", 1, 224),
        ("vgg16", "vgg16", "inference", 1, 224), ("resnet18_train", "resnet18", "train", 8, 224)]
    assert [c["name"] for c in bm.model_cases(only=["vgg", "train"])] == ["vgg16", "resnet18_train"]
    assert bm.model_cases(only=["nothing"]) == []


def test_ratios_are_torch_time_over_fastconv_time():
    case = bm.model_cases()[0]
    row = bm.make_row(case, {"fastconv": 0.020, "fused": 0.016, "torch": 0.030})
    assert row["ms"] == pytest.approx({"fastconv": 20.0, "fused": 16.0, "torch": 30.0})
    assert row["vs_torch"] == pytest.approx(1.5) and row["fused_vs_torch"] == pytest.approx(1.875)
    train = bm.make_row(bm.model_cases()[-1], {"fastconv": 0.5, "torch": 0.4})
    assert train["ms"]["fused"] is None and train["fused_vs_torch"] is None
    assert train["vs_torch"] == pytest.approx(0.8)
    alone = bm.make_row(case, {"fastconv": 0.02, "fused": 0.01})
    assert alone["ms"]["torch"] is None and alone["vs_torch"] is None and alone["fused_vs_torch"] is None


def test_table_has_one_line_per_row_and_the_columns():
    cases = bm.model_cases()
    rows = [bm.make_row(cases[0], {"fastconv": 0.020, "fused": 0.016, "torch": 0.030}),
            bm.make_row(cases[3], {"fastconv": 0.5, "torch": 0.4})]
    table = bm.format_table({"threads": 2, "torch": "2.x", "rounds": 3, "rows": rows})
    lines = table.splitlines()
    for column in ("model", "task", "fastconv ms", "fused ms", "torch ms", "vs torch", "fused vs torch"):
        assert column in lines[1]
    assert lines[3].split() == ["resnet18", "inference", "b1", "224x224", "20.0", "16.0", "30.0", "1.50x", "1.88x"]
    assert lines[4].split() == ["resnet18", "train", "step", "b8", "224x224", "500.0", "-", "400.0", "0.80x", "-"]


def test_table_warns_when_other_processes_kept_the_machine_busy():
    rows = [bm.make_row(bm.model_cases()[0], {"fastconv": 0.020, "fused": 0.016, "torch": 0.030})]
    result = {"threads": 2, "torch": None, "rounds": 3, "rows": rows}
    assert "warning" not in bm.format_table(dict(result, other_cpus=0.1))
    assert "warning" not in bm.format_table(dict(result, other_cpus=None))
    assert bm.format_table(dict(result, other_cpus=0.9)).splitlines()[-1].startswith(
        "warning: other processes kept 0.90 CPUs busy")


def test_interleaved_rounds_rotate_and_keep_each_best(monkeypatch):
    # a fake clock: each implementation "takes" a fixed time per call, the first call of each
    # round a little more, so the best must be the per-call time and nothing else
    clock, calls = itertools.count(), []
    now = [0.0]
    monkeypatch.setattr(_bench_util.time, "perf_counter", lambda: now[0])   # the timer's module
    monkeypatch.setattr(_bench_util.time, "sleep", lambda s: None)

    def impl(name, cost):
        def call():
            calls.append(name)
            now[0] += cost + (0.5 if next(clock) % 3 == 0 else 0.0)
            return name
        return call
    best, outputs = bm.time_interleaved({"a": impl("a", 1.0), "b": impl("b", 2.0), "c": impl("c", 4.0)},
                                        rounds=3, min_time=0)
    assert outputs == {"a": "a", "b": "b", "c": "c"}
    assert calls == ["a", "b", "c",  # warm-up
                     "a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert best == {"a": 1.0, "b": 2.0, "c": 4.0}


def test_fill_weights_is_deterministic_and_scaled():
    a, b = bm.build_fastconv("resnet18", seed=0), bm.build_fastconv("resnet18", seed=0)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(x, y), name
        assert np.all(np.isfinite(x)), name
    w = a.layer4[0].conv1.weight.data
    bound = np.sqrt(6.0 / w[0].size)
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.9 * bound
    assert np.all(a.bn1.running_var == 1) and np.all(a.bn1.weight.data == 1)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "vgg16"])
def test_torch_twins_have_torchvisions_keys_and_shapes(arch):
    torch = pytest.importorskip("torch")
    from fastconv import _torch_models as tm
    with torch.device("meta"):
        twin = tm.build(arch)
    expected = [line.split("\t")[:2] for line in (KEYS_DIR / f"{arch}.txt").read_text().splitlines()
                if not line.startswith("#")]
    assert [[k, ",".join(map(str, v.shape))] for k, v in twin.state_dict().items()] == expected


def _small_run(tmp_path, **kwargs):
    out = tmp_path / "models.json"
    result, table = bm.run(only=["resnet18"], json_out=out, rounds=1, min_time=0, image_size=32, train_batch=2,
                           progress=False, **kwargs)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    return result, table


def test_run_without_torch_writes_the_rows_and_json(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    result, table = _small_run(tmp_path)
    assert result["torch"] is None and result["rounds"] == 1 and result["threads"] >= 1
    rows = result["rows"]
    assert [(r["name"], r["task"], r["batch"], r["size"]) for r in rows] == [
        ("resnet18", "inference", 1, 32), ("resnet18_train", "train", 2, 32)]
    assert rows[0]["ms"]["fastconv"] > 0 and rows[0]["ms"]["fused"] > 0 and rows[1]["ms"]["fastconv"] > 0
    assert all(r["ms"]["torch"] is None and r["vs_torch"] is None for r in rows)
    assert rows[1]["ms"]["fused"] is None
    assert len(table.splitlines()) in (3 + len(rows) + 1, 3 + len(rows) + 2)  # + a warning on a busy machine


def test_run_with_torch_compares_the_same_network_with_the_same_weights(tmp_path):
    pytest.importorskip("torch")
    result, _ = _small_run(tmp_path)
    assert result["torch"]
    for r in result["rows"]:
        assert r["ms"]["torch"] > 0
        assert r["vs_torch"] == pytest.approx(r["ms"]["torch"] / r["ms"]["fastconv"])
        # the warm-up logits (the training row's before any update) agree: same network, same
        # weights (different weights would differ by O(1)); training-mode BatchNorm over the few
        # values of a batch-2 32x32 run amplifies rounding, hence the looser bound there
        assert r["rel_diff_vs_torch"] < (1e-4 if r["task"] == "inference" else 1e-2)
    inference = result["rows"][0]
    assert inference["fused_vs_torch"] == pytest.approx(inference["ms"]["torch"] / inference["ms"]["fused"])


def test_cli_models_prints_the_table_and_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bm, "run", functools.partial(bm.run, image_size=32, train_batch=2))
    out = tmp_path / "m.json"
    assert cli.main(["bench", "--models", "--only", "resnet18_train", "--no-torch", "--rounds", "1",
                     "--min-time", "0", "--json", str(out), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "fastconv ms" in stdout and "train step b2 32x32" in stdout
    rows = json.loads(out.read_text())["rows"]
    assert [r["name"] for r in rows] == ["resnet18_train"]


@pytest.mark.parametrize("argv, message", [
    (["--models", "--backward"], "--backward does not apply to --models"),
    (["--models", "--layers", "x.json"], "--layers does not apply to --models"),
    (["--models", "--only", "alexnet"], "no model row matches"),
    (["--models", "--rounds", "0"], "--rounds must be at least 1"),
    (["--models", "--min-time", "-1"], "--min-time must be a non-negative"),
    (["--models", "--threads", "0"], "--threads must be at least 1"),
    (["--scaling", "--threads", "1"], "--scaling compares 1 thread with --threads >= 2"),
    (["--scaling", "--no-torch"], "--no-torch does not apply to --scaling"),
    (["--scaling", "--only", "alexnet"], "no layer matches"),
    (["--memory", "--only", "resnet"], "--only does not apply to --memory"),
    (["--memory", "--backward"], "--backward does not apply to --memory"),
    (["--memory", "--rounds", "2"], "--rounds does not apply to --memory"),
])
def test_cli_rejects_flags_a_mode_would_ignore(argv, message, capsys):
    assert cli.main(["bench", *argv, "--no-progress"]) == 1
    assert message in capsys.readouterr().err


def test_cli_modes_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--models", "--memory"])
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err
