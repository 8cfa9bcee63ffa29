"""Fine-tuning: new heads, freezing, the trainable/frozen report, what a frozen trunk costs
(counted in convolution work, not timed), and training a head on cached features."""
import numpy as np
import pytest

import fastconv
import fastconv.functional as F
from fastconv import finetune, models, nn, optim
from fastconv.data import DataLoader, TensorDataset
from fastconv.datasets import digits
from fastconv.train import evaluate, fit
from helpers import assert_close, randn


@pytest.fixture(autouse=True)
def _seed():
    fastconv.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny images: with OpenMP threads on a busy machine, synchronisation dominates
    prev = fastconv.get_num_threads()
    fastconv.set_num_threads(1)
    yield
    fastconv.set_num_threads(prev)


class NarrowVGG(models.VGG):
    """torchvision's VGG layout (classifier.0/3/6) with small widths, cheap to build."""

    def __init__(self, num_classes=6):
        nn.Module.__init__(self)
        self.features = models.make_layers([4, "M", 8, "M"], in_channels=3)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(8 * 49, 16), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(16, 16), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(16, num_classes))
        self.flatten = nn.Flatten()


# ---- heads and freezing ----------------------------------------------------------------------------

def test_replace_head_resnet_vgg_simple_cnn():
    r = models.resnet18(num_classes=10)
    new = finetune.replace_head(r, 3)
    assert r.fc is new and new.weight.shape == (3, 512) and new.bias.shape == (3,)
    assert finetune.head_of(r) == ("fc", new)

    v = NarrowVGG()
    new = finetune.replace_head(v, 4)
    assert v.classifier[6] is new and new.weight.shape == (4, 16)
    assert finetune.head_of(v)[0] == "classifier.6"
    assert "classifier.6.weight" in v.state_dict()

    s = models.simple_cnn(hidden=(32, 16))
    new = finetune.replace_head(s, 2)
    assert s.classifier[-1] is new and new.weight.shape == (2, 16)
    assert s(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 2)

    d = models.simple_cnn().double()
    assert finetune.replace_head(d, 5).weight.dtype == np.float64


def test_replace_head_errors():
    with pytest.raises(ValueError, match="num_classes"):
        finetune.replace_head(models.simple_cnn(), 0)
    with pytest.raises(TypeError, match="head"):
        finetune.replace_head(nn.Sequential(nn.Conv2d(1, 2, 3)), 3)


def test_freeze_trunk_and_report_resnet18():
    model = models.resnet18()
    finetune.replace_head(model, 5)
    finetune.freeze_trunk(model)
    rep = finetune.parameter_report(model)
    assert rep.total == 11_176_512 + 2_565
    assert rep.trainable == 2_565 and rep.frozen == 11_176_512
    assert [r[0] for r in rep.rows] == ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"]
    text = str(rep)
    assert "11,176,512" in text and "2,565" in text and "(0.02% trainable)" in text
    assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith("fc."))

    finetune.freeze_trunk(model, keep=["layer4"])
    rep = finetune.parameter_report(model)
    assert rep.trainable == 2_565 + sum(p.size for p in model.layer4.parameters())
    finetune.unfreeze(model)
    assert finetune.parameter_report(model).frozen == 0


def test_report_depth_and_vgg_head():
    v = NarrowVGG()
    finetune.freeze_trunk(v)
    rows = dict((r[0], r[1:]) for r in finetune.parameter_report(v, depth=2).rows)
    assert rows["classifier.6"] == (16 * 6 + 6, 16 * 6 + 6)
    assert rows["classifier.0"] == (8 * 49 * 16 + 16, 0)
    assert rows["features.0"] == (3 * 4 * 9 + 4, 0)


# ---- a frozen trunk stays frozen, and is cheap -------------------------------------------------------

def _steps(model, x, y, n=3, lr=0.1):
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    for _ in range(n):
        opt.zero_grad()
        crit(model(x), y)
        model.backward(crit.backward())
        opt.step()


def test_frozen_parameters_bit_identical_without_grad():
    model = models.resnet18(num_classes=10)
    finetune.replace_head(model, 3)
    finetune.freeze_trunk(model)
    before = {n: p.data.copy() for n, p in model.named_parameters()}
    x = randn((4, 3, 32, 32), np.float32, seed=1)
    y = np.array([0, 1, 2, 1])
    _steps(model, x, y)
    for n, p in model.named_parameters():
        if n.startswith("fc."):
            assert not np.array_equal(p.data, before[n]), n
            assert p.grad is not None
        else:
            assert np.array_equal(p.data, before[n]), n   # bit-identical
            assert p.grad is None, n


class _ConvWork:
    """Counts the multiply-adds of every convolution kernel call (forward and backward)."""

    def __init__(self, monkeypatch):
        self.forward = self.backward = 0
        self.backward_calls = 0
        fwd, bwd = F.conv2d, F.conv2d_backward

        def macs(grad_or_y_shape, w):
            n, _, h, w_ = grad_or_y_shape
            return n * h * w_ * w.size

        def conv2d(x, weight, *args, **kwargs):
            y = fwd(x, weight, *args, **kwargs)
            self.forward += macs(y.shape, weight)
            return y

        def conv2d_backward(grad_y, x, weight, *args, need_input_grad=True, need_weight_grad=True,
                            need_bias_grad=True, **kwargs):
            self.backward_calls += 1
            self.backward += macs(grad_y.shape, weight) * (int(need_input_grad) + int(need_weight_grad))
            return bwd(grad_y, x, weight, *args, need_input_grad=need_input_grad,
                       need_weight_grad=need_weight_grad, need_bias_grad=need_bias_grad, **kwargs)

        monkeypatch.setattr(F, "conv2d", conv2d)
        monkeypatch.setattr(F, "conv2d_backward", conv2d_backward)

    @property
    def total(self):
        return self.forward + self.backward


@pytest.mark.parametrize("build", [lambda: models.resnet18(num_classes=4),
                                   lambda: models.simple_cnn(channels=(8, 16), num_classes=4)])
def test_head_only_step_costs_at_most_0_6_of_a_full_step(monkeypatch, build):
    model = build()
    size = 32 if isinstance(model, models.ResNet) else 8
    c = 3 if isinstance(model, models.ResNet) else 1
    x = randn((4, c, size, size), np.float32, seed=2)
    y = np.array([0, 1, 2, 3])
    work = _ConvWork(monkeypatch)
    _steps(model, x, y, n=1)
    full = work.total
    assert work.backward > 0

    finetune.freeze_trunk(model)
    work.forward = work.backward = work.backward_calls = 0
    _steps(model, x, y, n=1)
    head_only = work.total
    assert work.backward_calls == 0                # no convolution gradient at all
    assert head_only <= 0.6 * full, (head_only, full)
    assert head_only == work.forward               # about one forward pass


# ---- feature caching -------------------------------------------------------------------------------

def test_split_frozen_composes_to_the_model():
    model = models.resnet18(num_classes=4).eval()
    finetune.freeze_trunk(model)
    trunk, head = finetune.split_frozen(model)
    assert len(head) == 1 and head[0] is model.fc
    x = randn((2, 3, 32, 32), np.float32, seed=3)
    with fastconv.no_grad():
        assert_close(head(trunk(x)), model(x))
    finetune.unfreeze(model)
    with pytest.raises(ValueError, match="freeze"):
        finetune.split_frozen(model)
    finetune.freeze(model)
    with pytest.raises(ValueError, match="frozen"):
        finetune.split_frozen(model)


def test_train_head_on_cached_features(monkeypatch):
    xtr, ytr = digits("train")
    xte, yte = digits("test")
    # a trunk that learned something: two quick epochs on the digits
    model = models.simple_cnn(channels=(8, 16), hidden=32)
    fit(model, DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True, seed=0),
        nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3), epochs=2, progress=False)
    model.zero_grad()
    finetune.replace_head(model, 10)       # a fresh, untrained head
    finetune.freeze_trunk(model)
    trunk_before = {n: p.data.copy() for n, p in model.named_parameters() if not p.requires_grad}
    test_loader = DataLoader(TensorDataset(xte, yte), batch_size=256)
    fresh = evaluate(model, test_loader)["accuracy"]

    work = _ConvWork(monkeypatch)
    train_loader = DataLoader(TensorDataset(xtr, ytr), batch_size=64)
    history = finetune.train_head_cached(model, train_loader, epochs=15, val_loader=test_loader,
                                         lr=0.05, progress=False)
    # the trunk ran once over the training set and once over the validation set, whatever the epochs
    assert work.forward == (8 * 1 * 9 * 64 + 16 * 8 * 9 * 16) * (len(xtr) + len(xte))
    assert len(history) == 15 and "val_accuracy" in history[-1]
    after = evaluate(model, test_loader)["accuracy"]
    assert after > 0.75 and after > fresh + 0.5, (fresh, after)
    assert abs(history[-1]["val_accuracy"] - after) < 1e-12
    for n, p in model.named_parameters():
        if n in trunk_before:
            assert np.array_equal(p.data, trunk_before[n]) and p.grad is None


# ---- the command line ------------------------------------------------------------------------------

def _image_folder(root, classes=("cats", "dogs"), per_class=6, size=(40, 48)):
    """Tiny ImageFolder written with Pillow: class 0 reddish images, class 1 bluish ones."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 90, size=size + (3,))
            a[..., 0 if c == 0 else 2] += 150
            Image.fromarray(a.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("extra", [[], ["--no-cache"]])
def test_finetune_command(tmp_path, capsys, extra):
    from fastconv import io, train
    from fastconv.cli import main
    data = _image_folder(tmp_path / "data")
    weights = tmp_path / "resnet18.safetensors"
    pretrained = models.resnet18()
    io.save(pretrained.state_dict(), weights)
    out = tmp_path / "ft.safetensors"
    rc = main(["finetune", str(data), "--arch", "resnet18", "--weights", str(weights), "--epochs", "3",
               "--image-size", "32", "--batch-size", "4", "--val-split", "0.25", "--lr", "0.05",
               "-o", str(out), "--no-progress"] + extra)
    assert rc == 0
    text = capsys.readouterr().out
    assert "validation accuracy" in text and "cats, dogs" in text and "(0.01% trainable)" in text
    assert (tmp_path / "ft.safetensors.classes.txt").read_text().split() == ["cats", "dogs"]
    tuned = finetune.load_pretrained("resnet18", out)
    assert tuned.fc.weight.shape == (2, 512)
    before = pretrained.state_dict()
    for key, value in tuned.state_dict().items():
        if not key.startswith("fc.") and "running" not in key and "num_batches" not in key:
            assert np.array_equal(value, before[key]), key   # the trunk is untouched
    state = train.load_checkpoint(tmp_path / "ft.ckpt.npz")
    assert state["epoch"] == 3 and state["classes"] == ["cats", "dogs"] and state["arch"] == "resnet18"
    assert len(state["history"]) == 3 and "val_accuracy" in state["history"][-1]


def test_finetune_command_errors(tmp_path, capsys):
    from fastconv.cli import main
    (tmp_path / "empty").mkdir()
    assert main(["finetune", str(tmp_path / "empty"), "--epochs", "1", "--no-progress"]) == 1
    assert "error" in capsys.readouterr().err
    data = _image_folder(tmp_path / "data")
    assert main(["finetune", str(data), "--val-split", "1.5", "--no-progress"]) == 1
    assert "--val-split" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"conv1.weight": np.zeros((3, 3))})
    assert main(["finetune", str(data), "--weights", str(bad), "--no-progress"]) == 1
    assert "bad.npz" in capsys.readouterr().err
