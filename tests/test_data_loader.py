"""DataLoader batching, drop_last, seeded per-epoch shuffling; TensorDataset, Subset, collation."""
import numpy as np
import pytest

from fastconv.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


class ListDataset(Dataset):
    """Samples built one by one (no get_batch): exercises the per-sample collation path."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((2, 3), i, dtype=np.float32), i % 3


def _tensor_ds(n=10):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 1, 2, 2)
    y = (np.arange(n) % 3).astype(np.uint8)
    return TensorDataset(x, y)


@pytest.mark.parametrize("make", [_tensor_ds, lambda n=10: ListDataset(n)])
def test_batches_cover_dataset_in_order(make):
    ds = make(10)
    batches = list(DataLoader(ds, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert len(DataLoader(ds, batch_size=4)) == 3
    y = np.concatenate([b[1] for b in batches])
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, np.arange(10) % 3)
    x0 = batches[0][0]
    assert x0.dtype == np.float32 and x0.shape[0] == 4


def test_drop_last():
    ds = _tensor_ds(10)
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2
    batches = list(loader)
    assert [len(b[0]) for b in batches] == [4, 4]
    assert len(DataLoader(ds, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(ds, batch_size=11, drop_last=True)) == 0
    assert list(DataLoader(ds, batch_size=11, drop_last=True)) == []


def _order(loader):
    """The sample indices served by one epoch (sample i's first pixel is 4 * i)."""
    return np.concatenate([b[0][:, 0, 0, 0] for b in loader]) / 4


def test_seeded_shuffle_is_reproducible_per_epoch():
    ds = _tensor_ds(50)
    a = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    e0, e1 = _order(a), _order(a)
    np.testing.assert_array_equal(e0, _order(b))
    np.testing.assert_array_equal(e1, _order(b))
    assert not np.array_equal(e0, e1), "each epoch must draw a new order"
    np.testing.assert_array_equal(np.sort(e0), np.arange(50))  # a permutation: nothing lost or repeated
    # resuming at epoch 1 gives epoch 1's order, whatever was iterated before
    c = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    c.set_epoch(1)
    np.testing.assert_array_equal(_order(c), e1)
    # documented derivation: default_rng([seed, epoch])
    np.testing.assert_array_equal(e1, np.random.default_rng([3, 1]).permutation(50))
    assert not np.array_equal(e0, _order(DataLoader(ds, batch_size=7, shuffle=True, seed=4)))


def test_unseeded_shuffle_records_its_seed():
    ds = _tensor_ds(30)
    a = DataLoader(ds, batch_size=30, shuffle=True)
    first = _order(a)
    b = DataLoader(ds, batch_size=30, shuffle=True, seed=a.seed)
    np.testing.assert_array_equal(_order(b), first)


def test_generator_shuffle_consumes_generator():
    ds = _tensor_ds(20)
    a = DataLoader(ds, batch_size=20, shuffle=True, generator=np.random.default_rng(9))
    b = DataLoader(ds, batch_size=20, shuffle=True, generator=np.random.default_rng(9))
    np.testing.assert_array_equal(_order(a), _order(b))
    np.testing.assert_array_equal(_order(a), _order(b))
    with pytest.raises(ValueError, match="either seed or generator"):
        DataLoader(ds, shuffle=True, seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, generator=np.random.RandomState(1))


def test_fast_path_equals_per_sample_path():
    ds = _tensor_ds(13)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1, collate_fn=default_collate))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf, xs)
        np.testing.assert_array_equal(yf, ys)
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype == np.int64


def test_subset_and_random_split():
    ds = _tensor_ds(10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][0][0, 0, 0] == 28 and sub[-1][1] == 5 % 3
    xb, yb = next(iter(DataLoader(sub, batch_size=3)))
    np.testing.assert_array_equal(yb, [7 % 3, 2 % 3, 5 % 3])
    listsub = Subset(ListDataset(6), [5, 0])
    assert not hasattr(listsub, "get_batch")
    xb, yb = next(iter(DataLoader(listsub, batch_size=2)))
    np.testing.assert_array_equal(xb[:, 0, 0], [5, 0])
    parts = random_split(ds, [6, 4], seed=0)
    idx = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(idx), np.arange(10))
    np.testing.assert_array_equal(random_split(ds, [6, 4], seed=0)[0].indices, parts[0].indices)
    with pytest.raises(ValueError, match="sum to len"):
        random_split(ds, [5, 4])


def test_collate_kinds():
    batch = default_collate([(np.zeros(2, np.float32), 1, 0.5, {"k": 2}), (np.ones(2, np.float32), 2, 1.5, {"k": 3})])
    x, y, w, d = batch
    assert x.shape == (2, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and w.dtype == np.float64
    np.testing.assert_array_equal(d["k"], [2, 3])
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([(np.zeros(2), 0), (np.zeros(3), 1)])


def test_bad_arguments():
    ds = _tensor_ds(4)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(ds, batch_size=2.5)
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(object())
    with pytest.raises(ValueError, match="same length"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(IndexError):
        ds[4]
    with pytest.raises(IndexError):
        Subset(ds, [0, 9])


def test_bad_seed_names_the_argument():
    ds = _tensor_ds(4)
    with pytest.raises(TypeError, match="seed"):
        DataLoader(ds, shuffle=True, seed="a")
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, shuffle=True, seed=-3)
