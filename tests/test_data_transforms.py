"""Pillow transforms against hand-computed expectations, on images the test writes itself."""
import numpy as np
import pytest
from PIL import Image

from fastconv.data import transforms as T


def _grid_image(h, w):
    """An 'L' image whose pixel (r, c) is 10 * r + c: every crop position is recognisable."""
    return Image.fromarray((10 * np.arange(h)[:, None] + np.arange(w)[None, :]).astype(np.uint8), mode="L")


def _png_roundtrip(img, tmp_path, name="img.png"):
    path = tmp_path / name
    img.save(path)
    with Image.open(path) as im:
        return im.copy()


def test_to_array_rgb_and_grey(tmp_path):
    rgb = np.array([[[0, 51, 255], [102, 204, 153]]], dtype=np.uint8)  # 1 x 2 pixels, HWC
    img = _png_roundtrip(Image.fromarray(rgb, mode="RGB"), tmp_path)
    out = T.ToArray()(img)
    assert out.dtype == np.float32 and out.shape == (3, 1, 2)
    expected = np.array([[[0.0, 0.4]], [[0.2, 0.8]], [[1.0, 0.6]]], dtype=np.float32)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)
    grey = T.ToArray()(_grid_image(2, 3))
    assert grey.shape == (1, 2, 3)
    np.testing.assert_allclose(grey[0] * 255, [[0, 1, 2], [10, 11, 12]], atol=1e-4)
    with pytest.raises(TypeError, match="ToArray"):
        T.ToArray()([1, 2, 3])


def test_normalize_hand_computed():
    x = np.array([[[0.5, 1.0]], [[0.0, 0.25]]], dtype=np.float32)  # C=2, H=1, W=2
    out = T.Normalize(mean=(0.5, 0.25), std=(0.5, 0.25))(x)
    np.testing.assert_allclose(out, [[[0.0, 1.0]], [[-1.0, 0.0]]], atol=1e-7)
    assert out.dtype == np.float32 and x[0, 0, 0] == 0.5  # input untouched
    batch = T.Normalize((0.5, 0.25), (0.5, 0.25))(np.stack([x, x]))
    np.testing.assert_allclose(batch[1], out)
    with pytest.raises(ValueError, match="channel"):
        T.Normalize((0.5, 0.5, 0.5), (1, 1, 1))(x)
    with pytest.raises(ValueError, match="std"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(TypeError, match="ToArray first"):
        T.Normalize((0.5,), (1.0,))(np.zeros((1, 2, 2), np.uint8))


def test_resize_int_matches_shorter_side():
    wide = Image.new("RGB", (8, 6))  # W=8, H=6
    assert T.Resize(4)(wide).size == (5, 4)  # short 6 -> 4, long int(4 * 8 / 6) = 5
    tall = Image.new("RGB", (6, 9))
    assert T.Resize(4)(tall).size == (4, 6)
    assert T.Resize((3, 7))(tall).size == (7, 3)  # (h, w) pair
    assert T.Resize(256)(Image.new("RGB", (500, 375))).size == (341, 256)  # torchvision: int(256*500/375)


def test_resize_values():
    img = _grid_image(4, 4)
    near = np.asarray(T.Resize((2, 2), interpolation="nearest")(img))
    np.testing.assert_array_equal(near, [[11, 13], [31, 33]])  # source pixel floor((i + 0.5) * 2)
    box = np.asarray(T.Resize(2, interpolation="box")(Image.fromarray(
        np.array([[0, 2, 4, 8], [2, 4, 6, 10], [10, 10, 20, 20], [10, 10, 20, 20]], np.uint8), mode="L")))
    np.testing.assert_array_equal(box, [[2, 7], [10, 20]])  # 2x2 block means
    const = Image.new("RGB", (37, 23), (200, 100, 50))
    out = np.asarray(T.Resize(10)(const))
    assert out.shape == (10, 16, 3) and np.all(out == [200, 100, 50])
    with pytest.raises(ValueError, match="interpolation"):
        T.Resize(4, interpolation="cubic-ish")
    with pytest.raises(ValueError, match="size"):
        T.Resize(0)


def test_center_crop_positions():
    img = _grid_image(5, 5)
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(3)(img)),
                                  [[11, 12, 13], [21, 22, 23], [31, 32, 33]])
    # (5 - 2) / 2 = 1.5 rounds half to even -> 2, as torchvision's int(round(...))
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(2)(img)), [[22, 23], [32, 33]])
    np.testing.assert_array_equal(np.asarray(T.CenterCrop((1, 3))(img)), [[21, 22, 23]])


def test_center_crop_pads_small_images():
    img = _grid_image(2, 3)  # H=2, W=3; pixels 0 1 2 / 10 11 12
    out = np.asarray(T.CenterCrop((4, 4))(img))
    # torchvision pads left/top by floor(shortfall / 2): 0 columns left, 1 right; 1 row top, 1 bottom
    np.testing.assert_array_equal(out, [[0, 0, 0, 0], [0, 1, 2, 0], [10, 11, 12, 0], [0, 0, 0, 0]])


def test_horizontal_flip():
    img = _grid_image(2, 3)
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=1.0, seed=0)(img)), [[2, 1, 0], [12, 11, 10]])
    assert T.RandomHorizontalFlip(p=0.0, seed=0)(img) is img
    arr = np.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(arr), arr[..., ::-1])
    a, b = T.RandomHorizontalFlip(0.5, seed=11), T.RandomHorizontalFlip(0.5, seed=11)
    assert [a(arr)[0, 0, 0] for _ in range(20)] == [b(arr)[0, 0, 0] for _ in range(20)]
    c = T.RandomHorizontalFlip(0.5, seed=2)
    n = sum(c(arr)[0, 0, 0] == 2 for _ in range(400))
    assert 150 < n < 250
    with pytest.raises(ValueError, match="probability"):
        T.RandomHorizontalFlip(1.5)


def test_random_resized_crop_params_and_seed():
    t = T.RandomResizedCrop(8, seed=5)
    for _ in range(200):
        top, left, h, w = t.get_params(40, 30)  # width 40, height 30
        assert 0 < h <= 30 and 0 < w <= 40 and 0 <= top <= 30 - h and 0 <= left <= 40 - w
        assert 0.08 * 1200 * 0.9 <= h * w <= 1200
    a, b = T.RandomResizedCrop(8, seed=5), T.RandomResizedCrop(8, seed=5)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8))
    for _ in range(5):
        np.testing.assert_array_equal(np.asarray(a(img)), np.asarray(b(img)))
    assert a(img).size == (8, 8)


def test_random_resized_crop_whole_image_and_fallback():
    img = _grid_image(6, 6)
    whole = T.RandomResizedCrop(6, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    assert whole.get_params(6, 6) == (0, 0, 6, 6)
    np.testing.assert_array_equal(np.asarray(whole(img)), np.asarray(img))
    # an aspect ratio no crop can reach in 10 tries falls back to a centre crop clamped to the ratio
    tall = T.RandomResizedCrop(4, scale=(1.0, 1.0), ratio=(2.0, 3.0), seed=0)
    assert tall.get_params(10, 20) == (7, 0, 5, 10)  # in_ratio 0.5 < 2: w = 10, h = round(10 / 2) = 5


def test_compose_and_imagenet_preset(tmp_path):
    img = _png_roundtrip(Image.new("RGB", (300, 400), (255, 128, 0)), tmp_path)
    tf = T.imagenet_transform()
    out = tf(img)
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    expected = (np.array([255, 128, 0]) / 255 - np.array(T.IMAGENET_MEAN)) / np.array(T.IMAGENET_STD)
    np.testing.assert_allclose(out[:, 100, 100], expected, rtol=1e-6)
    np.testing.assert_allclose(out.reshape(3, -1).std(axis=1), 0, atol=1e-6)
    assert [type(t).__name__ for t in tf.transforms] == ["Resize", "CenterCrop", "ToArray", "Normalize"]
    assert tf.transforms[0].size == 256 and tf.transforms[0].interpolation == Image.Resampling.BILINEAR
    assert "Resize(size=256" in repr(tf)
    train_tf = T.imagenet_train_transform(seed=0)
    assert train_tf(img).shape == (3, 224, 224)
    with pytest.raises(TypeError, match="callable"):
        T.Compose([T.ToArray(), 3])
    with pytest.raises(TypeError, match="PIL"):
        T.Resize(4)(np.zeros((4, 4)))


def test_random_crop_windows_of_the_padded_image():
    img = _grid_image(4, 4)
    padded = np.pad(np.asarray(img), 1)
    windows = {padded[r:r + 4, c:c + 4].tobytes() for r in range(3) for c in range(3)}
    t = T.RandomCrop(4, padding=1, seed=3)
    seen = set()
    for _ in range(60):
        out = np.asarray(t(img))
        assert out.shape == (4, 4) and out.tobytes() in windows
        seen.add(out.tobytes())
    assert len(seen) == 9  # every offset is reachable
    a, b = T.RandomCrop(2, seed=1), T.RandomCrop(2, seed=1)
    assert [np.asarray(a(img)).tolist() for _ in range(5)] == [np.asarray(b(img)).tolist() for _ in range(5)]
    np.testing.assert_array_equal(np.asarray(T.RandomCrop(4, seed=0)(img)), np.asarray(img))
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(5)(img)
