"""The bundled UCI digits: content, fixed stratified split, no pickle, shipped as package data."""
import hashlib
import zipfile
from importlib import resources

import numpy as np
import pytest

from fastconv.data import TensorDataset
from fastconv.datasets import digits


def test_shapes_dtypes_and_scaling():
    x, y = digits("train")
    assert x.shape == (1438, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1438,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    xt, yt = digits("test")
    assert xt.shape == (359, 1, 8, 8) and len(yt) == 359
    raw, _ = digits("test", normalize=False)
    np.testing.assert_array_equal(raw / 16, xt)
    assert set(np.unique(raw)) <= set(range(17))
    x64, _ = digits("all", dtype=np.float64)
    assert x64.shape == (1797, 1, 8, 8) and x64.dtype == np.float64


def test_split_is_fixed_stratified_and_disjoint():
    _, y_all = digits("all")
    _, y_tr = digits("train")
    _, y_te = digits("test")
    np.testing.assert_array_equal(np.bincount(y_all), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    np.testing.assert_array_equal(np.bincount(y_te), np.round(0.2 * np.bincount(y_all)).astype(int))
    assert len(y_tr) + len(y_te) == len(y_all)
    x_all, _ = digits("all", normalize=False)
    x_tr, _ = digits("train", normalize=False)
    x_te, _ = digits("test", normalize=False)
    # every image of the whole set is in exactly one split (compare as multisets of images)
    assert sorted(map(bytes, x_all.reshape(1797, -1).astype(np.uint8))) == sorted(
        map(bytes, np.concatenate([x_tr, x_te]).reshape(1797, -1).astype(np.uint8)))
    # the split does not change between calls (and is stored, not drawn at load time)
    np.testing.assert_array_equal(digits("test")[1], y_te)


def test_known_samples():
    x, y = digits("all", normalize=False)
    # first sample of the UCI set is a 0: its well-known top row
    assert y[0] == 0
    np.testing.assert_array_equal(x[0, 0, 0], [0, 0, 5, 13, 9, 1, 0, 0])
    assert y[1] == 1 and y[-1] == 8


def test_returns_copies():
    x, y = digits("train")
    x[...] = -1
    y[...] = 99
    x2, y2 = digits("train")
    assert x2.min() == 0 and y2.max() == 9


def test_as_dataset():
    ds = digits("test", as_dataset=True)
    assert isinstance(ds, TensorDataset) and len(ds) == 359
    xi, yi = ds[0]
    assert xi.shape == (1, 8, 8)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        digits("validation")
    with pytest.raises(TypeError, match="floating"):
        digits(dtype=np.int32)


def test_file_is_pickle_free_package_data_with_attribution():
    pkg = resources.files("fastconv.datasets")
    data = pkg.joinpath("digits.npz")
    with data.open("rb") as f, zipfile.ZipFile(f) as z:
        assert sorted(z.namelist()) == ["images.npy", "labels.npy", "split.npy"]
    with data.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        assert {k: npz[k].dtype for k in npz.files} == {k: np.dtype(np.uint8) for k in ("images", "labels", "split")}
        h = hashlib.sha256(npz["images"].tobytes()).hexdigest()
    assert h.startswith("8f26b2bd")
    text = pkg.joinpath("ATTRIBUTION.txt").read_text(encoding="utf-8")
    for needle in ("Alpaydin", "Kaynak", "CC BY 4.0", "UCI"):
        assert needle in text


def test_pyproject_ships_the_data():
    import fnmatch
    import pathlib
    tomllib = pytest.importorskip("tomllib")
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not running from a source checkout")
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["fastconv"]
    for name in ("datasets/digits.npz", "datasets/ATTRIBUTION.txt", "datasets/README.txt"):
        assert any(fnmatch.fnmatch(name, pat) for pat in patterns), f"{name} is not shipped by {patterns}"
