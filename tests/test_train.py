"""fastconv.train: a CNN learns the bundled digits; resume is bit-identical; NaN loss; clipping."""
import io
import math
import re

import numpy as np
import pytest

import fastconv
from fastconv import nn, optim, train
from fastconv.data import DataLoader, TensorDataset
from fastconv.datasets import digits


def lecture_cnn(c1=8, c2=16, hidden=32, dropout=0.0):
    """conv-relu-pool x2, dense-relu, dense, for 8x8 grey digits."""
    layers = [nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
              nn.Flatten(), nn.Linear(c2 * 4, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, 10))
    return nn.Sequential(*layers)


def standardized(split):
    x, y = digits(split)
    return (x - np.float32(0.3)) / np.float32(0.4), y  # roughly zero-mean, unit-variance pixels


def test_cnn_learns_digits():
    fastconv.manual_seed(0)
    model = lecture_cnn(16, 32, 64)
    train_loader = DataLoader(TensorDataset(*standardized("train")), batch_size=32, shuffle=True, seed=0)
    test_loader = DataLoader(TensorDataset(*standardized("test")), batch_size=512)
    opt = optim.Adam(model.parameters(), lr=0.005)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    history = train.fit(model, train_loader, nn.CrossEntropyLoss(), opt, 6, scheduler=sched,
                        val_loader=test_loader, progress=False)
    assert [r["epoch"] for r in history] == list(range(1, 7))
    assert history[-1]["loss"] < history[0]["loss"]
    result = train.evaluate(model, test_loader)
    assert result["n"] == 359
    assert result["accuracy"] >= 0.95, history
    assert result["accuracy"] == pytest.approx(history[-1]["val_accuracy"])
    # "lr" is the rate used during the epoch: the cosine schedule stepped once per epoch
    assert history[0]["lr"] == 0.005
    assert history[-1]["lr"] == pytest.approx(0.005 * (1 + math.cos(5 * math.pi / 6)) / 2)


def _resume_setup(seed_init, loader_seed=5):
    fastconv.manual_seed(seed_init)
    model = lecture_cnn(4, 8, 16, dropout=0.2)  # Dropout: the run depends on nn's generator too
    x, y = digits("train")
    loader = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=32, shuffle=True, seed=loader_seed)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, loader, opt, sched


class FailingLoss(nn.CrossEntropyLoss):
    """Raises KeyboardInterrupt at its n-th call: a run killed in the middle of an epoch."""

    def __init__(self, fail_at):
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def forward(self, input, target):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return super().forward(input, target)


def test_resume_is_bit_identical(tmp_path):
    epochs = 3
    model_a, loader_a, opt_a, sched_a = _resume_setup(seed_init=1)
    hist_a = train.fit(model_a, loader_a, nn.CrossEntropyLoss(), opt_a, epochs, scheduler=sched_a,
                       checkpoint=tmp_path / "a.npz", progress=False)

    # The same run, killed in the middle of epoch 2 (10 batches per epoch).
    ckpt = tmp_path / "b.npz"
    model_b, loader_b, opt_b, sched_b = _resume_setup(seed_init=1)
    with pytest.raises(KeyboardInterrupt):
        train.fit(model_b, loader_b, FailingLoss(fail_at=15), opt_b, epochs, scheduler=sched_b,
                  checkpoint=ckpt, progress=False)
    assert train.load_checkpoint(ckpt)["epoch"] == 1

    # A new process: different initial weights, a loader with an unknown seed, random states moved on.
    model_c, _, opt_c, sched_c = _resume_setup(seed_init=99)
    x, y = digits("train")
    loader_c = DataLoader(TensorDataset(x[:320], y[:320]), batch_size=32, shuffle=True)
    np.random.seed(1234)
    fastconv.manual_seed(4321)
    hist_c = train.fit(model_c, loader_c, nn.CrossEntropyLoss(), opt_c, epochs, scheduler=sched_c,
                       checkpoint=ckpt, resume=True, progress=False)

    sd_a, sd_c = model_a.state_dict(), model_c.state_dict()
    assert list(sd_a) == list(sd_c)
    for k in sd_a:
        assert sd_a[k].dtype == sd_c[k].dtype
        np.testing.assert_array_equal(sd_c[k], sd_a[k], err_msg=k)  # bit-identical, not just close
    st_a, st_c = opt_a.state_dict(), opt_c.state_dict()
    for i in st_a["state"]:
        np.testing.assert_array_equal(st_c["state"][i]["momentum_buffer"], st_a["state"][i]["momentum_buffer"])
    assert opt_c.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]
    assert [h["loss"] for h in hist_c] == [h["loss"] for h in hist_a]
    # the final checkpoints agree too, and hold no pickled object
    final_a, final_c = train.load_checkpoint(tmp_path / "a.npz"), train.load_checkpoint(ckpt)
    assert final_a["epoch"] == final_c["epoch"] == epochs
    with np.load(ckpt, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_resume_without_checkpoint_starts_fresh_and_finished_run_is_kept(tmp_path):
    model, loader, opt, sched = _resume_setup(seed_init=2)
    ckpt = tmp_path / "run.npz"
    hist = train.fit(model, loader, nn.CrossEntropyLoss(), opt, 1, checkpoint=ckpt, resume=True, progress=False)
    assert len(hist) == 1 and ckpt.exists()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    hist2 = train.fit(model, loader, nn.CrossEntropyLoss(), opt, 1, checkpoint=ckpt, resume=True, progress=False)
    assert hist2 == hist  # nothing left to do
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="checkpoint"):
        train.fit(model, loader, nn.CrossEntropyLoss(), opt, 1, resume=True)


def _nan_loader():
    x, y = digits("train")
    x, y = x[:96].copy(), y[:96]
    x[40] = np.nan  # in the second batch of 32
    return DataLoader(TensorDataset(x, y), batch_size=32)


def test_nan_loss_raises_with_clear_message():
    fastconv.manual_seed(0)
    model = lecture_cnn()
    opt = optim.SGD(model.parameters(), lr=0.01)
    snapshot = {}

    class Spy(nn.CrossEntropyLoss):
        def forward(self, input, target):
            if np.isnan(input).any() and not snapshot:
                snapshot.update({k: v.copy() for k, v in model.state_dict().items()})
            return super().forward(input, target)

    with pytest.raises(train.NonFiniteLossError, match=r"loss is nan at epoch 1, batch 1.*on_nonfinite") as info:
        train.fit(model, _nan_loader(), Spy(), opt, 2, progress=False)
    assert isinstance(info.value, FloatingPointError)
    for k, v in model.state_dict().items():  # the bad batch never reached the weights
        np.testing.assert_array_equal(v, snapshot[k])
        assert np.all(np.isfinite(v))


def test_nan_loss_skip_and_stop():
    fastconv.manual_seed(0)
    model = lecture_cnn()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    out = io.StringIO()
    hist = train.fit(model, _nan_loader(), nn.CrossEntropyLoss(), opt, 2, on_nonfinite="skip", file=out)
    assert [h["skipped"] for h in hist] == [1, 1]
    assert all(math.isfinite(h["loss"]) for h in hist)
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())
    assert "non-finite" in out.getvalue()

    hist = train.fit(model, _nan_loader(), nn.CrossEntropyLoss(), opt, 5, on_nonfinite="stop", progress=False)
    assert len(hist) == 1 and "loss is nan" in hist[0]["stopped"]
    with pytest.raises(ValueError, match="on_nonfinite"):
        train.fit(model, _nan_loader(), nn.CrossEntropyLoss(), opt, 1, on_nonfinite="ignore")


def test_diverging_training_is_caught():
    fastconv.manual_seed(0)
    model = lecture_cnn()
    x, y = digits("train")
    loader = DataLoader(TensorDataset(x[:256] * 1e3, y[:256]), batch_size=32)
    opt = optim.SGD(model.parameters(), lr=1e6)
    with pytest.raises(train.NonFiniteLossError, match="is (nan|inf)"):
        train.fit(model, loader, nn.CrossEntropyLoss(), opt, 5, progress=False)


def test_clip_grad_norm_hand_computed():
    p1, p2 = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros((1, 1)))
    p1.grad, p2.grad = np.array([3.0, 0.0]), np.array([[4.0]])
    total = train.clip_grad_norm_([p1, p2], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(p1.grad, [0.6 / (1 + 2e-7), 0.0], rtol=1e-6)
    np.testing.assert_allclose(p2.grad, [[0.8]], rtol=1e-6)
    p1.grad = np.array([0.3, 0.0])
    p2.grad = np.array([[0.4]])
    assert train.clip_grad_norm_([p1, p2], max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(p1.grad, [0.3, 0.0])  # under the limit: untouched
    p1.grad = np.array([np.inf, 0.0])
    assert math.isinf(train.clip_grad_norm_([p1], 1.0))
    with pytest.raises(ValueError, match="max_norm"):
        train.clip_grad_norm_([p1], 0.0)


def test_fit_clips_gradients():
    fastconv.manual_seed(0)
    model = lecture_cnn()
    before = [p.data.copy() for p in model.parameters()]
    x, y = digits("train")
    loader = DataLoader(TensorDataset(x[:32], y[:32]), batch_size=32)
    opt = optim.SGD(model.parameters(), lr=1.0)
    train.fit(model, loader, nn.CrossEntropyLoss(), opt, 1, grad_clip=1e-3, progress=False)
    step = math.sqrt(sum(float(np.sum((p.data.astype(np.float64) - b) ** 2))
                         for p, b in zip(model.parameters(), before)))
    assert 0 < step <= 1e-3 * 1.001  # one SGD step of lr 1 moves the weights by the clipped gradient


def test_evaluate_restores_mode_and_progress_output():
    fastconv.manual_seed(0)
    model = lecture_cnn()
    x, y = digits("test")
    loader = DataLoader(TensorDataset(x, y), batch_size=100)
    model.train()
    res = train.evaluate(model, loader)
    assert model.training and res["n"] == 359 and 0 <= res["accuracy"] <= 1
    model.eval()
    train.evaluate(model, loader)
    assert not model.training
    out = io.StringIO()  # not a terminal: no bar, one line per epoch
    train.fit(model, DataLoader(TensorDataset(x[:64], y[:64]), batch_size=32), nn.CrossEntropyLoss(),
              optim.SGD(model.parameters(), lr=0.01), 2, val_loader=loader, file=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2") and "img/s" in lines[1] and "val_acc" in lines[1]
    out = io.StringIO()
    train.fit(model, DataLoader(TensorDataset(x[:64], y[:64]), batch_size=32), nn.CrossEntropyLoss(),
              optim.SGD(model.parameters(), lr=0.01), 1, progress=False, file=out)
    assert out.getvalue() == ""


def test_progress_bar_on_a_terminal():
    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    fastconv.manual_seed(0)
    model = lecture_cnn()
    x, y = digits("test")
    out = FakeTTY()
    train.fit(model, DataLoader(TensorDataset(x[:96], y[:96]), batch_size=32), nn.CrossEntropyLoss(),
              optim.SGD(model.parameters(), lr=0.01), 1, file=out)
    text = out.getvalue()
    assert re.search(r"epoch 1/1: .*\d/3 \[", text), text  # the tqdm bar was drawn (0/3 at least)
    assert "\r" in text  # redrawn in place, as a live bar


class NoisyFlipped:
    """A user dataset with its own random state: a flip transform and additive noise."""

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.rng = np.random.default_rng(7)
        from fastconv.data.transforms import RandomHorizontalFlip
        self.transform = RandomHorizontalFlip(0.5, seed=8)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.transform(self.x[i]) + self.rng.normal(0, 0.05, self.x[i].shape).astype(np.float32)
        return x, self.y[i]


def test_resume_restores_generators_held_by_the_data(tmp_path):
    x, y = digits("train")

    def setup():
        fastconv.manual_seed(3)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        loader = DataLoader(NoisyFlipped(x[:128], y[:128]), batch_size=32, shuffle=True, seed=1)
        return model, loader, optim.SGD(model.parameters(), lr=0.1)

    model_a, loader_a, opt_a = setup()
    train.fit(model_a, loader_a, nn.CrossEntropyLoss(), opt_a, 3, progress=False)
    ckpt = tmp_path / "c.npz"
    model_b, loader_b, opt_b = setup()
    train.fit(model_b, loader_b, nn.CrossEntropyLoss(), opt_b, 2, checkpoint=ckpt, progress=False)
    saved = train.load_checkpoint(ckpt)["rng"]["objects"]
    assert sorted(saved) == ["dataset.rng", "dataset.transform.generator"]
    model_c, loader_c, opt_c = setup()  # fresh generators: resuming must move them on
    train.fit(model_c, loader_c, nn.CrossEntropyLoss(), opt_c, 3, checkpoint=ckpt, resume=True, progress=False)
    for (k, a), c in zip(model_a.state_dict().items(), model_c.state_dict().values()):
        np.testing.assert_array_equal(c, a, err_msg=k)


def test_load_checkpoint_is_all_or_nothing(tmp_path):
    model, loader, opt, sched = _resume_setup(seed_init=1)
    train.fit(model, loader, nn.CrossEntropyLoss(), opt, 1, scheduler=sched, checkpoint=tmp_path / "c.npz",
              progress=False)
    other, _, _, _ = _resume_setup(seed_init=2)
    before = {k: v.copy() for k, v in other.state_dict().items()}
    two_groups = optim.SGD([{"params": list(other.parameters())[:2]}, {"params": list(other.parameters())[2:]}],
                           lr=0.1)
    with pytest.raises(ValueError, match="parameter groups"):
        train.load_checkpoint(tmp_path / "c.npz", other, two_groups)
    for k, v in other.state_dict().items():  # the model was loaded first, then put back
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(train.CheckpointError, match="not a fastconv.train checkpoint"):
        from fastconv._checkpoint import save_state
        save_state(tmp_path / "other.npz", {"kind": "something else"})
        train.load_checkpoint(tmp_path / "other.npz", other)


def test_interrupt_says_where_to_resume(tmp_path):
    model, loader, opt, sched = _resume_setup(seed_init=1)
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        train.fit(model, loader, FailingLoss(fail_at=13), opt, 3, checkpoint=tmp_path / "r.npz", file=out)
    assert "r.npz' holds epoch 1; continue with resume=True" in out.getvalue()
