"""ImageFolder: one sub-folder per class, images read safely with Pillow.

Safety rules (issue 7): Pillow's decompression-bomb limit stays on (we never touch
``Image.MAX_IMAGE_PIXELS``); only common formats are decoded (``Image.open(formats=...)``), so an
exotic decoder is never reached through a renamed file; truncated images are refused (we never set
``ImageFile.LOAD_TRUNCATED_IMAGES``); EXIF orientation is applied; any failure raises
:class:`ImageReadError` naming the file.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageOps

from .dataset import Dataset, _check_index

__all__ = ["ImageFolder", "ImageReadError", "load_image", "find_classes", "IMG_EXTENSIONS", "IMG_FORMATS"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
# Pillow format names allowed to decode, whatever a file's extension claims.
IMG_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP", "PPM")


class ImageReadError(OSError):
    """An image file could not be read (not an image, corrupt, truncated, unsupported or too large)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read image {path!r}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # so the error crosses from a DataLoader worker process intact
        return (type(self), (self.path, self.reason))


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open ``path`` as an RGB ``PIL.Image`` with its EXIF orientation applied, fully decoded.

    Raises :class:`ImageReadError` (an ``OSError``) naming the file on any failure.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    path = os.fspath(path)
    try:
        with Image.open(path, formats=IMG_FORMATS) as img:
            img.load()  # decode now, inside the try, so a truncated file fails here and names itself
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith("I;16"):
                # 16-bit grey: keep the top 8 bits (convert("RGB") would clip everything above 255 to white)
                img = Image.fromarray((np.asarray(img).astype(np.uint16) >> 8).astype(np.uint8), mode="L")
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageReadError(path, f"too many pixels (decompression bomb protection): {exc}") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageReadError(path, f"not an image in a supported format ({', '.join(IMG_FORMATS)})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        # OSError covers truncated/corrupt data; SyntaxError, ValueError and EOFError come from some plugins.
        if isinstance(exc, FileNotFoundError):
            raise
        raise ImageReadError(path, f"{type(exc).__name__}: {exc}") from exc


def _has_image_extension(name: str, extensions: tuple[str, ...]) -> bool:
    return name.lower().endswith(extensions)


def find_classes(root: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """Class names (sorted sub-folder names, hidden ones skipped) and their indices."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a directory path, got {type(root).__name__}")
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"ImageFolder root {root!r} is not a directory")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"ImageFolder root {root!r} has no class sub-folders")
    return classes, {c: i for i, c in enumerate(classes)}


class ImageFolder(Dataset):
    """A dataset laid out as ``root/<class name>/**/<image>``; classes are the sorted folder names.

    ``dataset[i]`` is ``(transform(image), class_index)``. Attributes: ``classes``, ``class_to_idx``,
    ``samples`` (list of ``(path, class_index)``, sorted), ``targets``.
    Only files with an extension in ``extensions`` are listed; hidden files and folders are skipped.
    """

    def __init__(self, root: str | os.PathLike, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None,
                 loader: Callable[[str], Any] = load_image,
                 extensions: tuple[str, ...] = IMG_EXTENSIONS, allow_empty: bool = False) -> None:
        self.classes, self.class_to_idx = find_classes(root)
        self.root = os.fspath(root)
        self.transform = transform
        self.target_transform = target_transform
        self.loader = loader
        self.extensions = tuple(e.lower() for e in extensions)
        self.samples = self._make_samples(allow_empty)
        self.targets = [t for _, t in self.samples]

    def _make_samples(self, allow_empty: bool) -> list[tuple[str, int]]:
        samples, empty = [], []
        for cls in self.classes:
            found = []
            for dirpath, dirnames, filenames in os.walk(os.path.join(self.root, cls), followlinks=True):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith(".") and _has_image_extension(name, self.extensions):
                        found.append((os.path.join(dirpath, name), self.class_to_idx[cls]))
            if not found:
                empty.append(cls)
            samples.extend(found)
        if empty and not allow_empty:
            raise FileNotFoundError(f"no image files ({', '.join(self.extensions)}) found for the classes "
                                    f"{empty} under {self.root!r}")
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[_check_index(index, len(self))]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __repr__(self) -> str:
        return f"ImageFolder(root={self.root!r}, {len(self.classes)} classes, {len(self)} images)"
