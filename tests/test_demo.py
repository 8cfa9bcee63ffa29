"""`fastconv demo`: its pieces (shifts, scenes, detection, matching) by hand, and the whole
command with a small budget, writing valid PNGs and a summary."""
import io
import re

import numpy as np
import pytest
from PIL import Image

import fastconv
from fastconv import demo
from fastconv.datasets import digits


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny images: with OpenMP threads on a busy machine, synchronisation dominates
    prev = fastconv.get_num_threads()
    fastconv.set_num_threads(1)
    yield
    fastconv.set_num_threads(prev)


def test_shift_image():
    img = np.arange(16.0).reshape(1, 4, 4)
    out = demo.shift_image(img, 1, -2)
    assert out[0, 0].tolist() == [0, 0, 0, 0]
    assert out[0, 1].tolist() == [2, 3, 0, 0]
    assert demo.shift_image(img, 0, 0).tolist() == img.tolist()
    assert not demo.shift_image(img, 4, 0).any()


def test_training_set_and_context_crops():
    x, y = digits("train")
    x, y = x[:100], y[:100]
    rng = np.random.default_rng(0)
    xs, ys = demo.training_set(x, y, rng, copies=2)
    assert xs.shape[1:] == (1, 8, 8) and len(xs) == len(ys)
    assert np.array_equal(xs[:100], x) and np.array_equal(ys[:200], np.concatenate([y, y]))
    assert np.count_nonzero(ys == demo.BACKGROUND) == len(ys) - 200
    cx, cy = demo.context_crops(x, y, rng, 50)
    assert cx.shape == (50, 1, 16, 16) and set(np.unique(cy)) <= set(range(11))
    positive = cy != demo.BACKGROUND
    # a positive crop has its digit within 1 px of the centre window
    for k in np.flatnonzero(positive)[:10]:
        assert cx[k, 0, 5:11, 5:11].sum() > 0


def test_make_scene_places_digits_apart():
    x, y = digits("test")
    scene, placed = demo.make_scene(x, y, np.random.default_rng(1), n_digits=8, size=(64, 96), gap=3)
    assert scene.shape == (64, 96) and len(placed) == 8
    for i, a in enumerate(placed):
        assert 0 <= a.top <= 56 and 0 <= a.left <= 88
        for b in placed[i + 1:]:
            assert abs(a.top - b.top) >= 11 or abs(a.left - b.left) >= 11
    total = sum(float(x[np.flatnonzero(y == p.label)].sum()) > 0 for p in placed)
    assert total == 8
    assert np.isclose(scene.sum(), sum(scene[p.top:p.top + 8, p.left:p.left + 8].sum() for p in placed))
    with pytest.raises(ValueError, match="n_digits"):
        demo.make_scene(x, y, np.random.default_rng(1), n_digits=40, size=(20, 20))


def test_find_digits_and_match_by_hand():
    probs = np.zeros((11, 20, 30))
    probs[demo.BACKGROUND] = 1.0
    # a "3" around window (4, 5): peak there, neighbours weaker; a lone "7" at (12, 20)
    for (i, j, p) in [(4, 5, 0.95), (4, 6, 0.8), (5, 5, 0.7)]:
        probs[3, i, j], probs[demo.BACKGROUND, i, j] = p, 1 - p
    probs[7, 12, 20], probs[demo.BACKGROUND, 12, 20] = 0.9, 0.1
    probs[1, 13, 20], probs[demo.BACKGROUND, 13, 20] = 0.6, 0.4  # a weaker, suppressed neighbour
    found = demo.find_digits(probs)
    assert [(d.label, d.top, d.left) for d in found] == [(3, 4, 5), (7, 12, 20)]
    assert found[0].box == (5, 4, 13, 12)
    placed = [demo.Placement(3, 5, 4), demo.Placement(7, 30, 30), demo.Placement(7, 11, 21)]
    pairs, missed, false = demo.match(found, placed)
    assert [(p.label, d.label) for p, d in pairs] == [(3, 3), (7, 7)]
    assert missed == [demo.Placement(7, 30, 30)] and false == []
    pairs, missed, false = demo.match(found, [demo.Placement(8, 4, 5)])
    assert pairs == [] and len(false) == 2 and len(missed) == 1


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from fastconv.cli import main
    out = tmp_path_factory.mktemp("demo")
    rc = main(["demo", "--out", str(out), "--epochs", "3", "--scene-epochs", "1", "--seed", "3",
               "--eval-scenes", "4", "--no-progress"])
    return rc, out


def test_demo_command_writes_pictures_and_summary(small_run):
    rc, out = small_run
    assert rc == 0
    summary = (out / "summary.txt").read_text()
    acc = float(re.search(r"test accuracy \(359 test digits\): ([\d.]+)%", summary).group(1))
    assert acc > 60
    m = re.search(r"with (\d+) test digits: found (\d+) of (\d+), (\d+) false", summary)
    assert m.group(1) == m.group(3) == "6"
    assert "timings: training" in summary
    m = re.search(r"4 more random scenes: found (\d+) of 24 digits", summary)
    assert m and 0 <= int(m.group(1)) <= 24
    names = re.search(r"files: (.*)", summary).group(1).split(", ")
    pngs = [n for n in names if n.endswith(".png")]
    assert {"scene.png", "detections.png", "filters.png", "activations.png"} <= set(pngs)
    assert sum(n.startswith("digit_") for n in pngs) >= 1
    for name in pngs:
        with Image.open(out / name) as img:
            img.verify()
        with Image.open(out / name) as img:
            assert img.format == "PNG"
            if name != "scene.png" and name.startswith(("digit_", "detections")):
                assert img.size == (96 * 4, 64 * 4)
    with Image.open(out / "scene.png") as img:
        assert img.size == (96, 64)
    assert (out / "classes.txt").read_text().split()[-1] == "background"


def test_demo_weights_work_with_localize(small_run, capsys):
    from fastconv.cli import main
    rc, out = small_run
    assert main(["localize", str(out / "scene.png"), "--arch", "simple_cnn", "--weights",
                 str(out / "model.safetensors"), "--labels", str(out / "classes.txt"), "--dense",
                 "-o", str(out / "localized.png")]) == 0
    assert "score map 57x89" in capsys.readouterr().out
    with Image.open(out / "localized.png") as img:
        assert img.size == (96 * 4, 64 * 4)


def test_demo_is_reproducible_and_restores_threads(tmp_path):
    before = fastconv.get_num_threads()
    a = demo.run(tmp_path / "a", epochs=1, scene_epochs=0, seed=5, eval_scenes=2, progress=False, file=io.StringIO())
    b = demo.run(tmp_path / "b", epochs=1, scene_epochs=0, seed=5, eval_scenes=2, progress=False, file=io.StringIO())
    assert fastconv.get_num_threads() == before
    assert a["test_accuracy"] == b["test_accuracy"]
    assert a["placements"] == b["placements"] and a["detections"] == b["detections"]
    assert a["more_scenes"] == b["more_scenes"] and a["more_scenes"]["placed"] == 12
    assert (tmp_path / "a" / "scene.png").read_bytes() == (tmp_path / "b" / "scene.png").read_bytes()


def test_demo_bad_arguments(tmp_path):
    from fastconv.cli import build_parser
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--epochs", "-1"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--digits", "0"])
    with pytest.raises(ValueError, match="n_digits"):
        demo.run(tmp_path, epochs=0, scene_epochs=0, n_digits=50, progress=False, file=io.StringIO())
