"""Atomic writes and pickle-free checkpoints: a failed save never destroys the previous file."""
import os

import numpy as np
import pytest

from fastconv import _atomic, _checkpoint
from fastconv._atomic import atomic_open, atomic_write_bytes
from fastconv._checkpoint import CheckpointError, load_state, save_state


def _listing(d):
    return sorted(os.listdir(d))


def test_atomic_write_replaces_content(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"one")
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert _listing(tmp_path) == ["f.bin"]


def test_atomic_write_respects_umask_not_0600(tmp_path):
    p = tmp_path / "f.bin"
    old = os.umask(0o022)
    try:
        atomic_write_bytes(p, b"x")
    finally:
        os.umask(old)
    assert os.stat(p).st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where", ["during_write", "fsync", "replace"])
def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch, where):
    p = tmp_path / "weights.bin"
    p.write_bytes(b"precious old content")
    if where == "fsync":
        monkeypatch.setattr(_atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left")))
    if where == "replace":
        monkeypatch.setattr(_atomic.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        with atomic_open(p) as f:
            f.write(b"half of the new")
            if where == "during_write":
                raise OSError(28, "No space left on device")
            f.write(b" content")
    assert p.read_bytes() == b"precious old content"
    assert _listing(tmp_path) == ["weights.bin"], "the temporary file must be removed"


def test_keyboard_interrupt_mid_save_keeps_old_file(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(p) as f:
            f.write(b"new")
            raise KeyboardInterrupt
    assert p.read_bytes() == b"old" and _listing(tmp_path) == ["w.bin"]


def test_atomic_write_through_symlink_updates_target(tmp_path):
    target = tmp_path / "real.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_atomic_open_rejects_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path, b"x")


STATE = {
    "model": {"features.0.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "bn.num_batches_tracked":
              np.array(7, dtype=np.int64)},
    "optimizer": {"state": {0: {"momentum_buffer": np.full(3, 0.1), "step": np.float32(5)}},
                  "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}]},
    "rng": np.random.RandomState(3).get_state(),
    "gen": np.random.default_rng(1).bit_generator.state,
    "history": [{"loss": float("nan"), "accuracy": 1 / 3}],
    "none": None,
}


def test_checkpoint_roundtrip_exact(tmp_path):
    p = tmp_path / "ck.npz"
    save_state(p, STATE)
    back = load_state(p)
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)  # tuple kept
    assert list(back["optimizer"]["state"]) == [0]  # integer key kept
    step = back["optimizer"]["state"][0]["step"]
    assert isinstance(step, np.float32) and step == 5
    w = back["model"]["features.0.weight"]
    assert w.dtype == np.float32 and np.array_equal(w, STATE["model"]["features.0.weight"])
    assert back["model"]["bn.num_batches_tracked"].shape == ()
    assert back["history"][0]["accuracy"] == 1 / 3 and np.isnan(back["history"][0]["loss"])
    assert back["gen"] == STATE["gen"]
    rs = np.random.RandomState()
    rs.set_state(back["rng"])
    assert rs.randint(1 << 30) == np.random.RandomState(3).randint(1 << 30)
    assert back["none"] is None


def test_checkpoint_never_pickles(tmp_path):
    with pytest.raises(TypeError, match="object"):
        save_state(tmp_path / "x.npz", {"a": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(TypeError, match="type"):
        save_state(tmp_path / "x.npz", {"a": object()})
    assert not (tmp_path / "x.npz").exists()


def test_failed_checkpoint_save_keeps_previous(tmp_path, monkeypatch):
    p = tmp_path / "ck.npz"
    save_state(p, STATE)
    before = p.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 partial zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_checkpoint.np, "savez", broken_savez)
    with pytest.raises(OSError, match="No space"):
        save_state(p, {"model": {}})
    assert p.read_bytes() == before and _listing(tmp_path) == ["ck.npz"]
    monkeypatch.undo()
    assert load_state(p)["optimizer"]["param_groups"][0]["lr"] == 0.1


def test_damaged_checkpoints_give_clear_errors(tmp_path):
    p = tmp_path / "ck.npz"
    save_state(p, STATE)
    data = p.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.npz"):
        load_state(cut)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x80\x04\x95 pickle-looking bytes")
    with pytest.raises(CheckpointError, match="junk.npz"):
        load_state(junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a fastconv checkpoint"):
        load_state(plain)
    liar = tmp_path / "liar.npz"
    bad_meta = b'{"format": "fastconv-checkpoint", "version": 1, "state": {"__ndarray__": "missing"}}'
    np.savez(liar, __checkpoint__=np.frombuffer(bad_meta, np.uint8))
    with pytest.raises(CheckpointError, match="does not contain"):
        load_state(liar)
    future = tmp_path / "future.npz"
    np.savez(future, __checkpoint__=np.frombuffer(b'{"format": "fastconv-checkpoint", "version": 99}', np.uint8))
    with pytest.raises(CheckpointError, match="version"):
        load_state(future)
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "absent.npz")
