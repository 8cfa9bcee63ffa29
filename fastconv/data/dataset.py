"""Map-style datasets: anything with ``__len__`` and ``__getitem__(i) -> (x, y)``.

A dataset may also define ``get_batch(indices) -> (xs, ys)`` returning a whole, already stacked
batch; ``DataLoader`` (with its default collation) uses it when present, which turns a batch of
in-memory samples into one fancy-index instead of a Python loop (``TensorDataset`` does this, and
``Subset`` passes it through).
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split"]


class Dataset:
    """Base class of map-style datasets (same protocol as ``torch.utils.data.Dataset``)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def _check_index(index: Any, length: int) -> int:
    try:
        i = operator.index(index)
    except TypeError:
        raise TypeError(f"index must be an integer, got {type(index).__name__}") from None
    if not -length <= i < length:
        raise IndexError(f"index {i} is out of range for a dataset of length {length}")
    return i + length if i < 0 else i


def _as_index_array(indices: Any, length: int, name: str = "indices") -> np.ndarray:
    idx = np.asarray(indices)
    if idx.size == 0:
        return np.zeros(0, dtype=np.intp)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-D sequence of integers, got {idx.dtype} with shape {idx.shape}")
    if idx.min() < -length or idx.max() >= length:
        raise IndexError(f"{name} must lie in [-{length}, {length}), got values in [{idx.min()}, {idx.max()}]")
    return idx.astype(np.intp, copy=False)


class TensorDataset(Dataset):
    """Samples are the i-th rows of the given arrays: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    The arrays are kept as given (no copy); they must share their first dimension.
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        arrays = tuple(np.asarray(a) for a in arrays)
        for k, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"array {k} of TensorDataset must have a first (sample) dimension, got a scalar")
            if a.dtype == object:
                raise TypeError(f"array {k} of TensorDataset has dtype object; use a numeric array")
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError(f"TensorDataset arrays must have the same length, got {[len(a) for a in arrays]}")
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple:
        i = _check_index(index, len(self))
        return tuple(a[i] for a in self.arrays)

    def get_batch(self, indices: Sequence[int]) -> tuple:
        """The samples at ``indices`` stacked along a new first axis, one array per field."""
        idx = _as_index_array(indices, len(self))
        return tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = _as_index_array(indices, len(dataset))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_check_index(index, len(self))])]

    def __getattr__(self, name: str) -> Any:
        # Offer get_batch exactly when the wrapped dataset does, so DataLoader's fast path follows it.
        if name == "get_batch" and "dataset" in self.__dict__ and hasattr(self.dataset, "get_batch"):
            return self._get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_batch(self, indices: Sequence[int]) -> Any:
        return self.dataset.get_batch(self.indices[_as_index_array(indices, len(self))])

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


def random_split(dataset: Any, lengths: Sequence[int], seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths (reproducible with ``seed``)."""
    lengths = [operator.index(n) for n in lengths]
    if any(n < 0 for n in lengths) or sum(lengths) != len(dataset):
        raise ValueError(f"lengths must be non-negative and sum to len(dataset) = {len(dataset)}, got {lengths}")
    perm = np.random.default_rng(seed).permutation(len(dataset))
    out, start = [], 0
    for n in lengths:
        out.append(Subset(dataset, perm[start:start + n]))
        start += n
    return out
