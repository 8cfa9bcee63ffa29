"""Small real datasets shipped inside the package (no download needed).

``digits()``: the UCI "Optical Recognition of Handwritten Digits" test set as distributed with
scikit-learn — 1,797 grey 8x8 images of the digits 0-9, pixel values 0..16 — CC BY 4.0, by
E. Alpaydin and C. Kaynak (see ``ATTRIBUTION.txt`` beside this file).
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["digits", "DIGITS_CLASSES"]

DIGITS_CLASSES = tuple(str(d) for d in range(10))

# SHA-256 of the raw arrays in digits.npz: a damaged or altered file is refused instead of silently
# training on wrong data.
_DIGITS_SHA256 = {
    "images": "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3",
    "labels": "8ba4f891220f5e4c9c819638d1602d74b83618f167043c6da52a2a247841ddf0",
    "split": "907b0a637ad26c8d1f52dce3aa4481e5eacd3aeca93b8fab68fb7b84e18ca166",
}
_DIGITS_SHAPES = {"images": (1797, 8, 8), "labels": (1797,), "split": (1797,)}


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> dict[str, np.ndarray]:
    ref = resources.files(__name__).joinpath("digits.npz")
    with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in _DIGITS_SHA256}
    for name, arr in arrays.items():
        if arr.dtype != np.uint8 or arr.shape != _DIGITS_SHAPES[name]:
            raise ValueError(f"digits.npz is damaged: {name} is {arr.dtype}{arr.shape}, "
                             f"expected uint8{_DIGITS_SHAPES[name]}")
        if hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest() != _DIGITS_SHA256[name]:
            raise ValueError(f"digits.npz is damaged: the checksum of {name} does not match; reinstall fastconv")
        arr.setflags(write=False)  # cached and shared: callers get copies
    return arrays


def digits(split: str = "train", normalize: bool = True, dtype: Any = np.float32, as_dataset: bool = False):
    """The handwritten digits: ``x`` of shape (N, 1, 8, 8) and ``y`` int64 class indices 0..9.

    Parameters
    ----------
    split : ``"train"`` (1,438 images), ``"test"`` (359 images) or ``"all"`` (1,797).
        The split is fixed and stratified: 20% of each class (rounded) is in the test set. It was drawn
        once (``numpy.random.default_rng(0)``, a permutation per class) and is stored in the file, so
        it never changes with the NumPy version.
    normalize : scale pixels from 0..16 to [0, 1] (``x / 16``); ``False`` keeps the raw 0..16 values.
    dtype : floating dtype of ``x`` (float32 by default, float64 for gradient checks).
    as_dataset : return a ``fastconv.data.TensorDataset(x, y)`` instead of the ``(x, y)`` pair.

    Source: UCI ML repository, "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak,
    1998), CC BY 4.0.
    """
    arrays = _digits_arrays()
    if split == "all":
        mask = np.ones(arrays["split"].shape, dtype=bool)
    elif split in ("train", "test"):
        mask = arrays["split"] == (1 if split == "test" else 0)
    else:
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    x = arrays["images"][mask][:, None, :, :].astype(dtype)
    if normalize:
        x /= dtype.type(16)
    y = arrays["labels"][mask].astype(np.int64)
    if as_dataset:
        from ..data import TensorDataset
        return TensorDataset(x, y)
    return x, y
