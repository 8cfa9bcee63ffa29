"""Small NumPy image helpers behind fastconv.viz: conversions to 8-bit RGB, a colour map,
bilinear resampling of score maps, Gaussian blur, connected regions, tiling into grids.

Nothing here knows about networks; everything works on plain arrays (and Pillow images at the
edges), so it can be tested on its own.
"""
from collections import deque

import numpy as np
from PIL import Image

__all__ = ["to_rgb_uint8", "jet", "resample_bilinear", "gaussian_blur", "largest_region",
           "tile_grid", "normalize01", "save_png"]


def normalize01(a, axis=None):
    """Min-max scale to [0, 1] (over ``axis``); a constant array becomes zeros."""
    a = np.asarray(a, dtype=np.float64)
    lo = a.min(axis=axis, keepdims=axis is not None)
    hi = a.max(axis=axis, keepdims=axis is not None)
    span = hi - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1), 0.0)


def to_rgb_uint8(image):
    """An image as an (H, W, 3) uint8 array.

    Accepts a PIL image, or an array (H, W), (H, W, 1|3), (1|3, H, W) or (1, 1|3, H, W). uint8
    arrays are taken as they are; float arrays with values in [0, 1] are scaled by 255, other
    float arrays (e.g. normalised network inputs) are min-max scaled.
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    a = np.asarray(image)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
        a = a.transpose(1, 2, 0)  # CHW (a network input) -> HWC
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"image: expected (H, W), (H, W, 3), (C, H, W) with C in (1, 3) or a PIL "
                         f"image, got an array of shape {np.shape(image)}")
    if a.dtype == np.uint8:
        out = a
    elif a.dtype.kind in "biuf":
        f = a.astype(np.float64)
        if not np.all(np.isfinite(f)):
            f = np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)
        if f.size and (f.min() < 0 or f.max() > 1):
            f = normalize01(f)
        out = np.round(f * 255).astype(np.uint8)
    else:
        raise TypeError(f"image: expected a numeric array, got dtype {a.dtype}")
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def jet(values):
    """The classic 'jet' colour map (blue -> cyan -> yellow -> red) of values in [0, 1], as
    (..., 3) uint8."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)[..., None]
    centres = np.array([3.0, 2.0, 1.0])  # red, green, blue peaks at v = 3/4, 1/2, 1/4
    rgb = np.clip(1.5 - np.abs(4.0 * v - centres), 0.0, 1.0)
    return np.round(rgb * 255).astype(np.uint8)


def _axis_weights(n_out, n_in, stride, offset):
    """Indices and weights to interpolate ``n_in`` samples centred on ``offset + stride * i``
    at the output pixel centres 0..n_out-1 (clamped at the ends)."""
    t = (np.arange(n_out, dtype=np.float64) - offset) / stride
    t = np.clip(t, 0.0, n_in - 1)
    i0 = np.floor(t).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, t - i0


def resample_bilinear(maps, size, stride=None, offset=None):
    """Bilinear resampling of (..., h, w) maps to (..., H, W) = ``size``.

    Map sample (i, j) sits at output coordinates ``(offset[0] + stride[0] * i, offset[1] +
    stride[1] * j)`` (pixel centres at integers). Without ``stride``/``offset``, the map is
    spread evenly over the output, as ``torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False)``: stride = H / h, offset = (stride - 1) / 2. Beyond the first and last
    samples the map is held constant.
    """
    maps = np.asarray(maps)
    h, w = maps.shape[-2:]
    H, W = size
    if stride is None:
        stride = (H / h, W / w)
    if offset is None:
        offset = ((stride[0] - 1) / 2, (stride[1] - 1) / 2)
    out = maps.astype(np.float64, copy=False)
    y0, y1, wy = _axis_weights(H, h, stride[0], offset[0])
    out = out[..., y0, :] * (1 - wy)[:, None] + out[..., y1, :] * wy[:, None]
    x0, x1, wx = _axis_weights(W, w, stride[1], offset[1])
    return out[..., :, x0] * (1 - wx) + out[..., :, x1] * wx


def gaussian_blur(x, sigma):
    """Separable Gaussian blur of the last two axes (reflect padding); sigma in pixels."""
    if sigma <= 0:
        return x
    r = max(1, int(np.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (-2, -1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        p = np.pad(x, pad, mode="reflect" if x.shape[axis] > r else "edge")
        n = x.shape[axis]
        acc = np.zeros_like(x)
        for i, kv in enumerate(k):
            acc += kv * np.take(p, np.arange(i, i + n), axis=axis)
        x = acc
    return x


def largest_region(mask):
    """Bounding box (y0, x0, y1, x1), ends exclusive, of the largest 8-connected True region of
    a 2-D mask; None if the mask is empty. Ties go to the region found first (row-major)."""
    mask = np.asarray(mask, dtype=bool)
    H, W = mask.shape
    seen = np.zeros_like(mask)
    best, best_size = None, 0
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        seen[y, x] = True
        queue = deque([(y, x)])
        size, y0, x0, y1, x1 = 0, y, x, y, x
        while queue:
            cy, cx = queue.popleft()
            size += 1
            y0, y1, x0, x1 = min(y0, cy), max(y1, cy), min(x0, cx), max(x1, cx)
            for ny in (cy - 1, cy, cy + 1):
                if 0 <= ny < H:
                    for nx in (cx - 1, cx, cx + 1):
                        if 0 <= nx < W and mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
        if size > best_size:
            best, best_size = (int(y0), int(x0), int(y1) + 1, int(x1) + 1), size
    return best


def tile_grid(tiles, ncols=None, pad=1, background=255):
    """Lay (N, h, w, 3) uint8 tiles in a grid of ``ncols`` columns (default: near square) with
    ``pad`` pixels of ``background`` between and around them; returns (H, W, 3) uint8."""
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    if n == 0:
        raise ValueError("tiles: nothing to lay out (0 tiles)")
    ncols = int(np.ceil(np.sqrt(n))) if ncols is None else max(1, min(int(ncols), n))
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), background, np.uint8)
    for k in range(n):
        r, c = divmod(k, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + h, x:x + w] = tiles[k]
    return out


def upscale_nearest(rgb, scale):
    """Enlarge an (H, W, 3) array by an integer factor, each pixel a block (sharp filters)."""
    scale = int(scale)
    if scale <= 1:
        return rgb
    return np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)


def save_png(rgb, path):
    """Write an (H, W, 3) uint8 array (or a PIL image) as PNG, atomically; returns the PIL image."""
    from ._atomic import atomic_open
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    if path is not None:
        with atomic_open(path) as f:
            img.save(f, format="PNG", optimize=True)
    return img
