"""Training for hours: a run killed at any moment loses at most the epoch in progress (the
checkpoint is always loadable and a resume ends bit-identical to an uninterrupted run), a
non-finite loss is caught before it reaches the weights or the checkpoint, and gradient
clipping matches torch.

tests/test_train.py checks the messages and policies of fit(); this file kills real processes.
"""
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastconv
from fastconv import nn, optim, train
from fastconv.data import DataLoader, TensorDataset
from fastconv.datasets import digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))

SCRIPT = textwrap.dedent("""
    import sys, numpy as np, fastconv
    from fastconv import nn, optim, train
    from fastconv.data import DataLoader, TensorDataset
    from fastconv.datasets import digits
    fastconv.set_num_threads(1)
    fastconv.manual_seed(0)
    x, y = digits("train")
    x, y = x[:1024], y[:1024]
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 4 * 4, 10))
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=3)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, 2, 0.5)
    ckpt, epochs = sys.argv[1], int(sys.argv[2])
    train.fit(model, loader, nn.CrossEntropyLoss(), opt, epochs, scheduler=sched, checkpoint=ckpt,
              resume=True, progress=False)
    np.savez(ckpt + ".final.npz", **model.state_dict())
    print("finished")
""")


def _start(tmp_path, ckpt, epochs):
    script = tmp_path / "train_run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, str(script), str(ckpt), str(epochs)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _final(ckpt):
    with np.load(str(ckpt) + ".final.npz") as f:
        return {k: f[k] for k in f.files}


def _wait_for_checkpoint(proc, ckpt, since_ns, timeout=120.0):
    """Poll until this run has written a checkpoint (modified after since_ns) or has ended.
    Returns the time waited, or None."""
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        try:
            if ckpt.stat().st_mtime_ns > since_ns:
                return time.monotonic() - t0
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    return None


def test_sigkill_at_any_moment_then_resume_matches_an_uninterrupted_run(tmp_path):
    epochs = 6
    ref_ckpt = tmp_path / "ref.ckpt.npz"
    t0 = time.monotonic()
    proc = _start(tmp_path, ref_ckpt, epochs)
    first = _wait_for_checkpoint(proc, ref_ckpt, 0)   # start-up plus the first epoch
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "finished" in out, err[-3000:]
    span = time.monotonic() - t0      # start-up plus six epochs, on this machine, now
    assert first is not None
    epoch_time = max((span - first) / (epochs - 1), 1e-3)
    startup = max(first - epoch_time, 0.01)
    reference = _final(ref_ckpt)

    # Kill the same run repeatedly and resume each time, until it finishes. The moments are
    # tied to the run's own progress, not to a fixed fraction of its length (training got
    # fast enough that fixed fractions all fell into Python's start-up): the first kill
    # during start-up, the next ones a random fraction of an epoch after the run has written
    # a checkpoint (mid-epoch, or during the next checkpoint write); the last runs finish.
    ckpt = tmp_path / "run.ckpt.npz"
    kills, rng, seen_epochs = 0, np.random.default_rng(0), set()
    from fastconv._checkpoint import load_state
    for attempt in range(8):
        since = time.time_ns()
        proc = _start(tmp_path, ckpt, epochs)
        if attempt == 0:
            time.sleep(startup * 0.5)
        elif attempt < 6:
            if _wait_for_checkpoint(proc, ckpt, since) is not None:
                time.sleep(float(rng.uniform(0, epoch_time)))
        if attempt < 6 and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        out, err = proc.communicate(timeout=600)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err[-3000:]
        if ckpt.exists():   # whatever moment the kill hit, the checkpoint on disk loads
            state = load_state(ckpt)
            assert 1 <= int(state["epoch"]) <= epochs
            seen_epochs.add(int(state["epoch"]))
    else:
        pytest.fail("the run never finished")
    print(f"{kills} kills, {attempt + 1} runs, span {span:.2f} s (epoch {epoch_time * 1e3:.0f} ms), "
          f"checkpoints seen at epochs {sorted(seen_epochs)}")
    assert kills >= 2, f"only {kills} kill(s): the run is too short to interrupt"
    # kills landed in the middle of training, not only during start-up
    assert len(seen_epochs & set(range(1, epochs))) >= 1, seen_epochs
    final = _final(ckpt)
    assert set(final) == set(reference)
    for k in reference:
        assert np.array_equal(final[k], reference[k]), f"{k} differs after {kills} kill(s) and resumes"
    leftovers = [p for p in os.listdir(tmp_path) if p.startswith(".") or ".tmp" in p]
    # temp files of killed saves may remain (a SIGKILL runs no cleanup) but never replace the file
    assert all("run.ckpt" in p or "ref.ckpt" in p for p in leftovers), leftovers


def _model():
    fastconv.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def test_nonfinite_loss_never_reaches_weights_or_checkpoint(tmp_path):
    x, y = digits("train")
    x, y = x[:128].copy(), y[:128]
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ckpt = tmp_path / "c.ckpt.npz"
    train.fit(model, DataLoader(TensorDataset(x, y), batch_size=32), nn.CrossEntropyLoss(), opt, 1,
              checkpoint=ckpt, progress=False)
    saved = ckpt.read_bytes()
    weights = {k: v.copy() for k, v in model.state_dict().items()}
    for poison in (np.nan, np.inf, -np.inf, 3e38):
        bad = x.copy()
        bad[70] = poison          # third batch
        with pytest.raises(train.NonFiniteLossError) as info:
            train.fit(model, DataLoader(TensorDataset(bad, y), batch_size=32), nn.CrossEntropyLoss(), opt, 2,
                      checkpoint=ckpt, resume=True, progress=False)
        # batch indices count from 0: the poisoned sample sits in batch 2; a huge finite value
        # may only overflow once its (finite) update has been applied, one batch later
        assert ("epoch 2, batch 2" if poison != 3e38 else "epoch 2, batch") in str(info.value), str(info.value)
        assert ckpt.read_bytes() == saved, "a failed epoch rewrote the checkpoint"
        # the two good batches of epoch 2 were applied, the poisoned one was not: all finite
        assert all(np.all(np.isfinite(v)) for v in model.state_dict().values())
        model.load_state_dict(weights)
        train.load_checkpoint(ckpt, model, opt)
    # momentum buffers stayed finite too, so training continues normally
    hist = train.fit(model, DataLoader(TensorDataset(x, y), batch_size=32), nn.CrossEntropyLoss(), opt, 2,
                     checkpoint=ckpt, resume=True, progress=False)
    assert all(math.isfinite(h["loss"]) for h in hist)


def test_skip_policy_keeps_optimizer_state_finite():
    x, y = digits("train")
    x, y = x[:160].copy(), y[:160]
    x[33] = np.nan
    x[140] = np.inf
    model = _model()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    hist = train.fit(model, DataLoader(TensorDataset(x, y), batch_size=32), nn.CrossEntropyLoss(), opt, 3,
                     on_nonfinite="skip", progress=False)
    assert [h["skipped"] for h in hist] == [2, 2, 2]
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())
    for st in opt.state_dict()["state"].values():
        for v in st.values():
            assert np.all(np.isfinite(np.asarray(v, dtype=np.float64))), "non-finite optimizer state"


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(int(norm_type * 10 if norm_type != math.inf else 99))
    shapes = [(4, 3, 3, 3), (4,), (10, 36), (10,)]
    grads = [rng.standard_normal(s).astype(np.float32) * 3 for s in shapes]
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = g.copy()
        params.append(p)
    tparams = []
    for g in grads:
        t = torch.zeros(g.shape, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        tparams.append(t)
    total = train.clip_grad_norm_(params, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert total == pytest.approx(float(ttotal), rel=1e-5)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_with_nonfinite_gradients_reports_and_leaves_them():
    p = nn.Parameter(np.zeros(3, np.float32))
    for bad in (np.nan, np.inf):
        p.grad = np.array([1.0, bad, 2.0], np.float32)
        before = p.grad.copy()
        total = train.clip_grad_norm_([p], 1.0)
        assert not math.isfinite(total)
        np.testing.assert_array_equal(p.grad, before)
