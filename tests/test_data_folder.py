"""ImageFolder layout rules and safe image loading (issue 7 item 9)."""
import io

import numpy as np
import pytest
from PIL import Image

from fastconv.data import DataLoader, ImageFolder, ImageReadError, load_image
from fastconv.data import transforms as T


def _save(path, size=(6, 4), color=(10, 20, 30), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    _save(root / "dog" / "b.jpg")
    _save(root / "dog" / "sub" / "c.PNG")
    _save(root / "cat" / "a.png", color=(255, 0, 0))
    _save(root / "cat" / "z.bmp")
    (root / "cat" / "notes.txt").write_text("not listed")
    _save(root / "cat" / ".hidden.png")
    _save(root / ".cache" / "x.png")
    (root / "README").write_text("a file at the top is not a class")
    return root


def test_layout(tree):
    ds = ImageFolder(tree)
    assert ds.classes == ["cat", "dog"]
    assert ds.class_to_idx == {"cat": 0, "dog": 1}
    names = [(p.replace(str(tree), "").replace("\\", "/"), t) for p, t in ds.samples]
    assert names == [("/cat/a.png", 0), ("/cat/z.bmp", 0), ("/dog/b.jpg", 1), ("/dog/sub/c.PNG", 1)]
    assert ds.targets == [0, 0, 1, 1] and len(ds) == 4
    img, target = ds[0]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (6, 4) and target == 0
    assert img.getpixel((0, 0)) == (255, 0, 0)


def test_with_transform_and_loader(tree):
    ds = ImageFolder(tree, transform=T.Compose([T.Resize((8, 8)), T.ToArray()]))
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 3, 8, 8) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 1, 1])
    assert y.dtype == np.int64


def test_empty_class_and_missing_root(tmp_path, tree):
    (tree / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        ImageFolder(tree)
    assert ImageFolder(tree, allow_empty=True).classes == ["cat", "dog", "empty"]
    with pytest.raises(FileNotFoundError, match="not a directory"):
        ImageFolder(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        ImageFolder(tmp_path / "flat")


def test_non_image_file_names_itself(tree):
    bad = tree / "cat" / "broken.png"
    bad.write_bytes(b"this is not a png at all")
    ds = ImageFolder(tree)
    i = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(ImageReadError, match="broken.png") as info:
        ds[i]
    assert info.value.path == str(bad)
    assert isinstance(info.value, OSError)
    with pytest.raises(ImageReadError, match="broken.png"):
        list(DataLoader(ds, batch_size=2))


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png")])
def test_truncated_image_names_itself(tmp_path, fmt, ext):
    buf = io.BytesIO()
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(buf, format=fmt)
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match=f"cut.{ext}"):
        load_image(path)


def test_unsupported_format_refused_whatever_the_extension(tmp_path):
    path = tmp_path / "disguised.png"
    Image.new("RGB", (4, 4)).save(path, format="TGA")  # a real image, in a format we do not open
    with pytest.raises(ImageReadError, match="disguised.png.*supported format"):
        load_image(path)
    gif_as_png = tmp_path / "gif.png"
    Image.new("RGB", (4, 4), (0, 255, 0)).save(gif_as_png, format="GIF")  # allowed format, wrong extension
    assert load_image(gif_as_png).getpixel((1, 1)) == (0, 255, 0)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)   # left half red
    arr[:, 20:] = (0, 0, 255)   # right half blue
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    out = load_image(path)
    assert out.size == (20, 40)  # width and height swapped
    top, bottom = np.asarray(out)[5, 10], np.asarray(out)[35, 10]
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60  # left side went to the top


def test_decompression_bomb_limit_stays_on(tmp_path, monkeypatch):
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS >= 89_000_000
    path = _save(tmp_path / "big.png", size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1,600 pixels > 2 x 500: Pillow refuses
    with pytest.raises(ImageReadError, match="big.png.*decompression bomb"):
        load_image(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "absent.png")


def test_grey_and_palette_images_become_rgb(tmp_path):
    grey = tmp_path / "g.png"
    Image.new("L", (3, 2), 77).save(grey)
    assert load_image(grey).getpixel((0, 0)) == (77, 77, 77)
    pal = tmp_path / "p.gif"
    Image.new("RGB", (3, 2), (1, 2, 3)).convert("P").save(pal)
    assert load_image(pal).mode == "RGB"


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 256 * 100, 65535]], dtype=np.uint16)).save(path)
    out = np.asarray(load_image(path))
    np.testing.assert_array_equal(out[0, :, 0], [0, 100, 255])
    assert out.shape == (1, 3, 3)


def test_bad_argument_types_name_the_argument():
    with pytest.raises(TypeError, match="root"):
        ImageFolder(None)
    with pytest.raises(TypeError, match="path"):
        load_image(3)
