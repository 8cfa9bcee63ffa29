"""Image transforms with Pillow, following torchvision's definitions (PIL code path).

Geometric transforms take and return ``PIL.Image.Image``; ``ToArray`` turns an image into a float32
CHW array in [0, 1] (torchvision's ``ToTensor``); ``Normalize`` works on such arrays.
Random transforms draw from a ``numpy.random.Generator`` given as ``generator=`` (or ``seed=``),
so augmentation is reproducible.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image, ImageOps

__all__ = ["Compose", "Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip", "ToArray",
           "Normalize", "imagenet_transform", "imagenet_train_transform", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def _interpolation(value: Any) -> Image.Resampling:
    if isinstance(value, str):
        try:
            return _INTERPOLATIONS[value.lower()]
        except KeyError:
            raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {value!r}") from None
    try:
        return Image.Resampling(value)
    except ValueError:
        raise ValueError(f"interpolation must be one of {sorted(_INTERPOLATIONS)} or a PIL.Image.Resampling, "
                         f"got {value!r}") from None


def _size_pair(size: Any, name: str) -> tuple[int, int]:
    """An int or an (h, w) pair of positive ints -> (h, w)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        pair = (int(size), int(size))
    elif isinstance(size, Sequence) and len(size) == 1:
        pair = (operator.index(size[0]),) * 2
    elif isinstance(size, Sequence) and len(size) == 2:
        pair = (operator.index(size[0]), operator.index(size[1]))
    else:
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {size!r}")
    if pair[0] <= 0 or pair[1] <= 0:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return pair


def _check_image(img: Any, who: str) -> Image.Image:
    if not isinstance(img, Image.Image):
        raise TypeError(f"{who} expects a PIL.Image.Image, got {type(img).__name__}")
    return img


def _make_rng(generator: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    if generator is not None:
        if seed is not None:
            raise ValueError("pass either generator or seed, not both")
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        return generator
    return np.random.default_rng(seed)


class Compose:
    """Apply transforms in order: ``Compose([Resize(256), CenterCrop(224), ToArray()])``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"every transform must be callable, got {type(t).__name__}")

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Resize:
    """Resize to ``size``: an (h, w) pair exactly, or an int that the *shorter* side is matched to,
    keeping the aspect ratio (longer side = ``int(size * long / short)``, as torchvision)."""

    def __init__(self, size: int | Sequence[int], interpolation: Any = "bilinear") -> None:
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            if size <= 0:
                raise ValueError(f"size must be positive, got {size}")
            self.size: int | tuple[int, int] = int(size)
        else:
            self.size = _size_pair(size, "size")
        self.interpolation = _interpolation(interpolation)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the result for an input of ``width`` x ``height``."""
        if isinstance(self.size, int):
            short, long = (width, height) if width <= height else (height, width)
            new_short, new_long = self.size, int(self.size * long / short)
            return (new_short, new_long) if width <= height else (new_long, new_short)
        return self.size[1], self.size[0]

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _check_image(img, "Resize")
        size = self.output_size(*img.size)
        if size == img.size:
            return img
        return img.resize(size, self.interpolation)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={self.interpolation.name.lower()})"


class CenterCrop:
    """Crop the centre ``size`` (int or (h, w)); an image smaller than that is zero-padded first,
    as torchvision does. The top-left corner is ``round((H - h) / 2), round((W - w) / 2)``."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair(size, "size")

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _check_image(img, "CenterCrop")
        ch, cw = self.size
        w, h = img.size
        if cw > w or ch > h:
            # torchvision pads (left, top) by floor of half the shortfall, (right, bottom) by the rest.
            pw, ph = max(cw - w, 0), max(ch - h, 0)
            canvas = Image.new(img.mode, (w + pw, h + ph))
            canvas.paste(img, (pw // 2, ph // 2))
            img, (w, h) = canvas, canvas.size
        top = int(round((h - ch) / 2.0))
        left = int(round((w - cw) / 2.0))
        return img.crop((left, top, left + cw, top + ch))

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """Crop a random ``size`` window, after zero-padding ``padding`` pixels on every side (torchvision's
    ``RandomCrop(size, padding)``: top in ``[0, H - h]``, left in ``[0, W - w]``, uniformly)."""

    def __init__(self, size: int | Sequence[int], padding: int = 0, generator: np.random.Generator | None = None,
                 seed: int | None = None) -> None:
        self.size = _size_pair(size, "size")
        self.padding = operator.index(padding)
        if self.padding < 0:
            raise ValueError(f"padding must be non-negative, got {padding}")
        self.generator = _make_rng(generator, seed)

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _check_image(img, "RandomCrop")
        if self.padding:
            img = ImageOps.expand(img, border=self.padding, fill=0)
        w, h = img.size
        th, tw = self.size
        if th > h or tw > w:
            raise ValueError(f"RandomCrop size {self.size} is larger than the (padded) image {h}x{w}")
        top = int(self.generator.integers(0, h - th + 1))
        left = int(self.generator.integers(0, w - tw + 1))
        return img.crop((left, top, left + tw, top + th))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomResizedCrop:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio`` (log-uniform), resized to
    ``size``; after 10 failed draws, a centre crop clamped to ``ratio`` (torchvision's algorithm)."""

    def __init__(self, size: int | Sequence[int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0), interpolation: Any = "bilinear",
                 generator: np.random.Generator | None = None, seed: int | None = None) -> None:
        self.size = _size_pair(size, "size")
        scale, ratio = tuple(map(float, scale)), tuple(map(float, ratio))
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (min, max) with 0 < min <= max, got {scale}")
        if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must be (min, max) with 0 < min <= max, got {ratio}")
        self.scale, self.ratio = scale, ratio
        self.interpolation = _interpolation(interpolation)
        self.generator = _make_rng(generator, seed)

    def get_params(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Draw a crop box ``(top, left, h, w)`` for an image of ``width`` x ``height``."""
        rng = self.generator
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _check_image(img, "RandomResizedCrop")
        top, left, h, w = self.get_params(*img.size)
        crop = img.crop((left, top, left + w, top + h))
        return crop.resize((self.size[1], self.size[0]), self.interpolation)

    def __repr__(self) -> str:
        return (f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"interpolation={self.interpolation.name.lower()})")


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (PIL image, or an array whose last axis is the width)."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None, seed: int | None = None):
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p}")
        self.p = p
        self.generator = _make_rng(generator, seed)

    def __call__(self, img: Any) -> Any:
        if self.generator.random() >= self.p:
            return img
        if isinstance(img, Image.Image):
            return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if isinstance(img, np.ndarray):
            return np.ascontiguousarray(img[..., ::-1])
        raise TypeError(f"RandomHorizontalFlip expects a PIL.Image.Image or ndarray, got {type(img).__name__}")

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class ToArray:
    """PIL image (or HWC/HW uint8 array) -> float32 array CHW; 8-bit values are scaled to [0, 1].

    Like torchvision's ``ToTensor``: other integer or float modes keep their values (no scaling).
    """

    def __init__(self, dtype: Any = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"dtype must be a floating dtype, got {self.dtype}")

    def __call__(self, img: Any) -> np.ndarray:
        if isinstance(img, Image.Image):
            arr = np.asarray(img)
        elif isinstance(img, np.ndarray):
            arr = img
        else:
            raise TypeError(f"ToArray expects a PIL.Image.Image or ndarray, got {type(img).__name__}")
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"ToArray expects an HW or HWC image, got shape {arr.shape}")
        out = arr.transpose(2, 0, 1).astype(self.dtype)
        if arr.dtype == np.uint8:
            out /= 255.0
        return np.ascontiguousarray(out)

    def __repr__(self) -> str:
        return "ToArray()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a CHW (or NCHW) float array; returns a new array."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean and std must have the same length, got {self.mean.size} and {self.std.size}")
        if not np.all(np.isfinite(self.std)) or np.any(self.std == 0):
            raise ValueError(f"std must be finite and non-zero, got {self.std.tolist()}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            raise TypeError("Normalize expects a float array (apply ToArray first), got "
                            f"{type(x).__name__}{'' if not isinstance(x, np.ndarray) else ' of ' + str(x.dtype)}")
        if x.ndim not in (3, 4):
            raise ValueError(f"Normalize expects a CHW or NCHW array, got shape {x.shape}")
        c = x.shape[-3]
        if self.mean.size not in (1, c):
            raise ValueError(f"Normalize has {self.mean.size} channel statistics but the input has {c} channels")
        mean = self.mean.astype(x.dtype).reshape(-1, 1, 1)
        std = self.std.astype(x.dtype).reshape(-1, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def imagenet_transform(resize: int = 256, crop: int = 224) -> Compose:
    """Evaluation preset for ImageNet models: resize 256 (bilinear), centre crop 224, ToArray, Normalize."""
    return Compose([Resize(resize, "bilinear"), CenterCrop(crop), ToArray(), Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def imagenet_train_transform(crop: int = 224, generator: np.random.Generator | None = None,
                             seed: int | None = None) -> Compose:
    """Training preset: RandomResizedCrop 224, RandomHorizontalFlip, ToArray, Normalize (one shared generator)."""
    rng = _make_rng(generator, seed)
    return Compose([RandomResizedCrop(crop, generator=rng), RandomHorizontalFlip(generator=rng), ToArray(),
                    Normalize(IMAGENET_MEAN, IMAGENET_STD)])
