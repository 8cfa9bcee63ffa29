"""`fastconv predict` on images written by the test, and `fastconv summary`."""
import json

import numpy as np
import pytest
from PIL import Image

import fastconv
from fastconv import inference, io as fio, models
from fastconv.cli import main
from fastconv.data.transforms import imagenet_transform

CLASSES = ["tench", "goldfish", "shark", "cock", "hen", "ostrich", "finch"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict")
    r = np.random.default_rng(0)
    paths = []
    for name, mode, size in (("a.png", "RGB", (50, 40)), ("b.jpg", "L", (33, 61)),
                             ("c.png", "RGBA", (40, 40))):
        arr = r.integers(0, 256, size=(size[1], size[0], len(mode)), dtype=np.uint8)
        Image.fromarray(arr.squeeze(), mode).save(d / name)
        paths.append(str(d / name))
    fastconv.manual_seed(0)
    model = models.resnet18(num_classes=len(CLASSES))
    # non-trivial BatchNorm statistics so that folding them matters
    for m in model.modules():
        if isinstance(m, fastconv.nn.BatchNorm2d):
            m.running_mean[...] = r.normal(0, 0.1, m.num_features)
            m.running_var[...] = r.uniform(0.5, 2, m.num_features)
    weights = d / "r18.safetensors"
    fio.save(model, weights)
    labels = d / "labels.txt"
    labels.write_text("\n".join(CLASSES) + "\n")
    return d, paths, str(weights), str(labels), model.eval()


ARGS = ["--resize", "40", "--crop", "32"]  # small images keep the test fast


def _run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_predict_json_matches_the_model(capsys, setup):
    d, paths, weights, labels, model = setup
    rc, out, err = _run(capsys, ["predict", *paths, "--arch", "resnet18", "--weights", weights,
                                 "--labels", labels, "--topk", "3", "--json", "--batch-size", "2", *ARGS])
    assert rc == 0, err
    results = json.loads(out)
    assert [r["image"] for r in results] == paths
    expected = inference.predict_proba(model, paths, transform=imagenet_transform(40, 32))
    assert expected.shape == (3, len(CLASSES))
    np.testing.assert_allclose(expected.sum(axis=1), 1, rtol=1e-12)
    for r, probs in zip(results, expected):
        preds = r["predictions"]
        assert len(preds) == 3
        assert [p["class"] for p in preds] == list(np.argsort(-probs, kind="stable")[:3])
        assert [p["label"] for p in preds] == [CLASSES[p["class"]] for p in preds]
        # the command runs the fused model: same probabilities within float32 rounding
        np.testing.assert_allclose([p["probability"] for p in preds], np.sort(probs)[::-1][:3], atol=1e-5)


def test_predict_table_output(capsys, setup):
    d, paths, weights, labels, _ = setup
    rc, out, err = _run(capsys, ["predict", paths[0], "--arch", "resnet18", "--weights", weights,
                                 "--topk", "2", *ARGS])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == paths[0] and len(lines) == 3
    for rank, line in enumerate(lines[1:], 1):
        assert line.strip().startswith(f"{rank}.") and "%" in line and "class " in line
    probs = [float(line.split()[1].rstrip("%")) for line in lines[1:]]
    assert probs == sorted(probs, reverse=True)


def test_batching_and_fusing_do_not_change_results(capsys, setup):
    d, paths, weights, labels, _ = setup
    outs = []
    for extra in (["--batch-size", "1"], ["--batch-size", "8"], ["--no-fuse"]):
        rc, out, err = _run(capsys, ["predict", *paths, "--arch", "resnet18", "--weights", weights,
                                     "--json", "--topk", "7", *ARGS, *extra])
        assert rc == 0, err
        outs.append([[p["probability"] for p in r["predictions"]] for r in json.loads(out)])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-5)


def test_json_labels_in_keras_index_format(capsys, setup, tmp_path):
    d, paths, weights, _, _ = setup
    labels = tmp_path / "index.json"
    labels.write_text(json.dumps({str(i): [f"n{i:08d}", c] for i, c in enumerate(CLASSES)}))
    rc, out, err = _run(capsys, ["predict", paths[0], "--arch", "resnet18", "--weights", weights,
                                 "--labels", str(labels), "--json", "--topk", "7", *ARGS])
    assert rc == 0, err
    assert sorted(p["label"] for p in json.loads(out)[0]["predictions"]) == sorted(CLASSES)


@pytest.mark.parametrize("make_argv, message", [
    (lambda d, p, w, l: ["predict", str(d / "missing.png"), "--arch", "resnet18", "--weights", w],
     "not found"),
    (lambda d, p, w, l: ["predict", str(d / "corrupt.png"), "--arch", "resnet18", "--weights", w],
     "corrupt.png"),
    (lambda d, p, w, l: ["predict", p[0], "--arch", "resnet34", "--weights", w], "do not fit"),
    (lambda d, p, w, l: ["predict", p[0], "--arch", "vgg11", "--weights", w], "classifier.6.weight"),
    (lambda d, p, w, l: ["predict", p[0], "--arch", "simple_cnn", "--weights", w], "--arch"),
    (lambda d, p, w, l: ["predict", p[0], "--arch", "resnet18", "--weights", w, "--labels",
                         str(d / "short.txt")], "3 names but the model has 7 classes"),
    (lambda d, p, w, l: ["predict", p[0], "--arch", "resnet18", "--weights", w, "--topk", "0"],
     "--topk"),
    (lambda d, p, w, l: ["predict", p[0], "--arch", "resnet18", "--weights", str(d / "bad.npz")],
     "bad.npz"),
])
def test_predict_errors_are_one_clear_line(capsys, setup, make_argv, message):
    d, paths, weights, labels, _ = setup
    (d / "corrupt.png").write_bytes(open(paths[0], "rb").read()[:60])
    (d / "short.txt").write_text("a\nb\nc\n")
    (d / "bad.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    rc, out, err = _run(capsys, make_argv(d, paths, weights, labels) + ARGS)
    assert rc != 0
    assert message in err and "Traceback" not in err


def test_summary_command(capsys):
    rc, out, err = _run(capsys, ["summary", "vgg16"])
    assert rc == 0, err
    assert "138,357,544" in out and "features.0 (Conv2d)" in out and "1,792" in out
    rc, out, err = _run(capsys, ["summary", "resnet18", "--input-size", "3,64,48", "--json",
                                 "--num-classes", "10", "--batch-size", "2"])
    assert rc == 0, err
    data = json.loads(out)
    assert data["input_shape"] == [2, 3, 64, 48] and data["output_shape"] == [2, 10]
    rc, out, err = _run(capsys, ["summary", "simple_cnn"])
    assert rc == 0 and "13,706" in out
    rc, out, err = _run(capsys, ["summary", "vgg11", "--input-size", "16"])
    assert rc == 1 and "too small" in err
    rc, out, err = _run(capsys, ["summary", "vgg11", "--input-size", "a,b"])
    assert rc == 1 and "--input-size" in err
    rc, out, err = _run(capsys, ["summary", "lenet"])
    assert rc == 1 and "unknown model" in err


def test_summary_command_does_not_leave_init_patched(capsys):
    from fastconv.nn import init
    before = init.kaiming_normal_
    _run(capsys, ["summary", "resnet18"])
    assert init.kaiming_normal_ is before
    m = models.resnet18()
    assert m.conv1.weight.data.std() > 0
