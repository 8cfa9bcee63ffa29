"""DataLoader(num_workers=N): same batches in order, errors and dead workers surface, no hang, no leak."""
import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pytest
from PIL import Image

from fastconv.data import DataLoader, Dataset, ImageFolder, ImageReadError, TensorDataset
from fastconv.data._workers import WorkerError


class Indexed(Dataset):
    def __init__(self, n, fail_at=None, kill_at=None, sleep_at=None):
        self.n, self.fail_at, self.kill_at, self.sleep_at = n, fail_at, kill_at, sleep_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"sample {i} is broken")
        if i == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if i == self.sleep_at:
            time.sleep(30)
        return np.full((2,), i, dtype=np.float32), i


class Noisy(Dataset):
    """Holds its own generator, like a random augmentation."""

    def __init__(self, n):
        self.n = n
        self.rng = np.random.default_rng(0)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([self.rng.random()], dtype=np.float64), i


def _no_children_left():
    deadline = time.monotonic() + 5
    while mp.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not mp.active_children()


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_same_batches_in_order(workers):
    ds = Indexed(23)
    ref = list(DataLoader(ds, batch_size=4, shuffle=True, seed=5))
    got = list(DataLoader(ds, batch_size=4, shuffle=True, seed=5, num_workers=workers))
    assert len(got) == len(ref) == 6
    for (xr, yr), (xg, yg) in zip(ref, got):
        np.testing.assert_array_equal(xg, xr)
        np.testing.assert_array_equal(yg, yr)
        assert yg.dtype == np.int64
    fast = list(DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=3, drop_last=True,
                           num_workers=2))
    assert [b[1].tolist() for b in fast] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert _no_children_left()


def test_worker_exception_is_reraised():
    with pytest.raises(ValueError, match="sample 9 is broken") as info:
        list(DataLoader(Indexed(20, fail_at=9), batch_size=4, num_workers=2))
    notes = "".join(getattr(info.value, "__notes__", []))
    assert "DataLoader worker 0" in notes or not hasattr(info.value, "add_note")
    assert _no_children_left()


def test_corrupt_image_in_worker_names_the_file(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "a" / "good.png")
    (tmp_path / "a" / "zbad.png").write_bytes(b"garbage")
    with pytest.raises(ImageReadError, match="zbad.png") as info:
        list(DataLoader(ImageFolder(tmp_path), batch_size=1, num_workers=2,
                        collate_fn=lambda s: s))
    assert info.value.path.endswith("zbad.png")


def test_dead_worker_raises_instead_of_hanging():
    t0 = time.monotonic()
    with pytest.raises(WorkerError, match="exited unexpectedly"):
        list(DataLoader(Indexed(16, kill_at=6), batch_size=2, num_workers=2))
    assert time.monotonic() - t0 < 20
    assert _no_children_left()


def test_timeout():
    with pytest.raises(WorkerError, match="timed out"):
        list(DataLoader(Indexed(8, sleep_at=0), batch_size=2, num_workers=1, timeout=0.5))
    assert _no_children_left()  # the sleeping worker was terminated


def test_early_break_shuts_workers_down():
    it = iter(DataLoader(Indexed(100), batch_size=2, num_workers=2))
    next(it)
    assert mp.active_children()
    it.close()
    assert _no_children_left()


def test_workers_get_independent_reproducible_random_streams():
    def draws(epoch_count=2):
        loader = DataLoader(Noisy(8), batch_size=2, num_workers=2, seed=11)
        return [np.concatenate([b[0][:, 0] for b in loader]) for _ in range(epoch_count)]

    e0, e1 = draws()
    assert len(set(np.round(e0, 12))) == 8, "two workers must not repeat each other's draws"
    assert not np.array_equal(e0, e1), "each epoch draws anew"
    r0, r1 = draws()
    np.testing.assert_array_equal(e0, r0)
    np.testing.assert_array_equal(e1, r1)


def test_kernels_run_in_forked_workers_after_threads():
    import fastconv
    import fastconv.functional as F

    x = np.random.default_rng(0).standard_normal((2, 8, 32, 32)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((8, 8, 3, 3)).astype(np.float32)
    F.conv2d(x, w, padding=1)  # the parent has now used the kernels' thread pool (if any)

    class Convolving(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return F.conv2d(x[:1], w, padding=1)[0, 0, 0, :4], i

    expected = F.conv2d(x[:1], w, padding=1)[0, 0, 0, :4]
    batches = list(DataLoader(Convolving(), batch_size=2, num_workers=2, timeout=60))
    np.testing.assert_allclose(batches[0][0][0], expected, rtol=1e-6)
    assert fastconv.get_num_threads() >= 1


def test_spawn_context():
    ds = TensorDataset(np.arange(6.0).reshape(6, 1), np.arange(6))
    got = list(DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn", timeout=120))
    assert [b[1].tolist() for b in got] == [[0, 1, 2, 3], [4, 5]]


def test_bad_worker_arguments():
    ds = Indexed(4)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        DataLoader(ds, multiprocessing_context="threads")
