"""Seeing what a network does: where it looks (class activation maps) and what it learned
(filters, activations, feature visualisation). Pictures are written as PNG with Pillow.

    from fastconv import viz
    cam = viz.class_activation_map(model, x)          # (N, H, W) in [0, 1], top class
    viz.overlay(x[0], cam[0], "cam.png", box=viz.cam_box(cam[0]))
    viz.filter_grid(model.conv1.weight, "filters.png")
    viz.activation_grid(model, x[:1], "layer2", "layer2.png")
    img = viz.maximize_activation(model, "features.3", channel=5)

Class activation maps (Zhou et al., "Learning Deep Features for Discriminative Localization",
CVPR 2016): in a network that ends with global average pooling and one dense layer, the score of
class c is the spatial mean of sum_k w_ck f_k(x, y), so that sum, before the mean, shows where
the evidence for c lies. ``fastconv.models.fully_convolutional`` computes exactly this map for
ResNet (``fc`` as a 1x1 convolution before the pool); for networks with a dense head (VGG,
simple_cnn) the map of the fully convolutional version holds the class score of each window.
Either way the map is scaled to [0, 1] and resampled bilinearly to the input's resolution.
"""
from collections import namedtuple

import numpy as np

from . import _imaging as im
from ._chain import find_layer, forward_chain, run_backward, run_forward
from ._grad_mode import enable_grad, no_grad

__all__ = ["class_activation_map", "score_map", "ScoreMap", "overlay", "cam_box", "filter_grid",
           "activation_grid", "layer_output", "maximize_activation", "save_image"]


# ---- helpers --------------------------------------------------------------------------------------

class _EvalMode:
    """Put a model in eval mode (and optionally freeze it) for the duration of a block."""

    def __init__(self, model, freeze=False):
        self.model, self.freeze = model, freeze

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        if self.freeze:
            # an input gradient must not leave gradients in the model's parameters
            self.flags = [(p, p.requires_grad) for p in self.model.parameters()]
            for p, _ in self.flags:
                p.requires_grad = False
        return self.model

    def __exit__(self, *exc):
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)
        if self.freeze:
            for p, flag in self.flags:
                p.requires_grad = flag
        return False


def _as_batch(x, name="x"):
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an (N, C, H, W) or (C, H, W) array, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a float array, got dtype {x.dtype}")
    return np.ascontiguousarray(x)


def _model_dtype(model):
    p = next(iter(model.parameters()), None)
    return None if p is None else p.data.dtype


def _font(size):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _check_model(model):
    from .nn import Module
    if not isinstance(model, Module):
        raise TypeError(f"model: expected a fastconv.nn.Module, got {type(model).__name__}")


# ---- class activation maps -----------------------------------------------------------------------

def _softmax_classes(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ScoreMap = namedtuple("ScoreMap", ["scores", "stride", "offset", "global_pool", "window"])
ScoreMap.__doc__ = """A class-score map (N, classes, h, w) and where its values sit in the input:
sample (i, j) is centred on pixel (offset[0] + stride[0] * i, offset[1] + stride[1] * j);
global_pool is "avg" when the model's logits are the map's mean (ResNet), else None; window is
the (h, w) input window each sample classifies (None for ResNet)."""


def score_map(model, x, *, shift_and_stitch=False):
    """The class-score map of ``model`` (made fully convolutional) on ``x``, as a
    :class:`ScoreMap`. Computed in eval mode, without gradient bookkeeping.

    ``shift_and_stitch`` (Long et al. 2015): run the network on the input shifted by every
    offset below its stride and interleave the maps, giving a score for every pixel position
    (stride 1) at the cost of stride**2 passes: 16 for simple_cnn (stride 4), 1024 for VGG or
    ResNet (stride 32).
    """
    from .models.fully_convolutional import fully_convolutional
    _check_model(model)
    x = _as_batch(x)
    fcn = fully_convolutional(model)
    x = x.astype(_model_dtype(fcn) or x.dtype, copy=False)
    with _EvalMode(fcn), no_grad():
        if not shift_and_stitch:
            return ScoreMap(fcn(x), fcn.stride, fcn.offset, fcn.global_pool, fcn.window)
        sy, sx = fcn.stride
        first = fcn(x)
        out = np.zeros(first.shape[:2] + (sy * (first.shape[2] - 1) + 1, sx * (first.shape[3] - 1) + 1),
                       first.dtype)
        for dy in range(sy):
            for dx in range(sx):
                rows = len(range(dy, out.shape[2], sy))
                cols = len(range(dx, out.shape[3], sx))
                if rows == 0 or cols == 0:
                    continue
                s = first if dy == dx == 0 else fcn(np.ascontiguousarray(x[:, :, dy:, dx:]))
                out[:, :, dy::sy, dx::sx] = s[:, :, :rows, :cols]
        return ScoreMap(out, (1, 1), fcn.offset, fcn.global_pool, fcn.window)


def class_activation_map(model, x, target=None, *, shift_and_stitch=False, return_target=False):
    """Class activation map of ``target`` (default: the top class) for each image of ``x``.

    ``model``: a ResNet (map = fc weights applied to the last features, Zhou et al. 2016), a
    VGG/simple_cnn or any model ``fully_convolutional`` accepts (map = the class's window
    scores), or an already fully convolutional one. ``x``: (N, C, H, W) or (C, H, W).
    ``target``: None, an int, or one int per image. ``shift_and_stitch``: a map at every pixel
    position instead of the network's stride (see :func:`score_map`); worth it for small
    strides, e.g. simple_cnn's 4, whose 8x8 windows otherwise miss objects halfway between two.

    For ResNet the map is Zhou et al.'s class activation map, the class score before pooling.
    For window classifiers (VGG, simple_cnn) it is the class probability of each window (the
    softmax of its scores), the usual output of a sliding-window classifier.

    Returns an (N, H, W) float array in [0, 1] at the input's resolution (bilinear resampling
    that puts each map value at the centre of its receptive field; min-max scaled per image, a
    constant map, e.g. the 1x1 map of VGG at 224x224, gives zeros); with ``return_target`` also
    the (N,) classes used. The top class is the model's own prediction: the argmax of the mean
    of the map for ResNet, of the best window probability otherwise.
    """
    x = _as_batch(x)
    smap = score_map(model, x, shift_and_stitch=shift_and_stitch)
    scores = smap.scores
    n, k = scores.shape[:2]
    if smap.global_pool is None:
        # each position is a whole window's classification: its class probabilities are
        # comparable from window to window (raw scores are not, the softmax couples them)
        scores = _softmax_classes(scores)
    if target is None:
        pooled = scores.mean(axis=(2, 3)) if smap.global_pool == "avg" else scores.max(axis=(2, 3))
        target = pooled.argmax(axis=1)
    else:
        target = np.broadcast_to(np.asarray(target), (n,))
        if target.dtype.kind not in "iu" or np.any(target < 0) or np.any(target >= k):
            raise ValueError(f"target: expected class indices in [0, {k}), got {target.tolist()}")
    maps = scores[np.arange(n), target]
    maps = im.normalize01(maps.reshape(n, -1), axis=1).reshape(maps.shape)
    cam = im.resample_bilinear(maps, x.shape[2:], stride=smap.stride, offset=smap.offset)
    cam = np.clip(cam, 0.0, 1.0)
    return (cam, np.asarray(target)) if return_target else cam


def cam_box(cam, threshold=0.2):
    """Bounding box of the largest connected region where ``cam`` >= threshold * its maximum
    (Zhou et al. 2016 use 20%).

    Returns ``(x0, y0, x1, y1)`` in pixels with x1, y1 exclusive (``cam[y0:y1, x0:x1]`` is the
    box), or None for an all-zero map; for an (N, H, W) stack, a list of such boxes.
    """
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim == 3:
        return [cam_box(c, threshold) for c in cam]
    if cam.ndim != 2:
        raise ValueError(f"cam: expected an (H, W) or (N, H, W) map, got shape {cam.shape}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold: expected a fraction in [0, 1], got {threshold}")
    peak = np.nanmax(cam) if cam.size else 0.0
    if not peak > 0:
        return None
    region = im.largest_region(cam >= threshold * peak)
    y0, x0, y1, x1 = region
    return (x0, y0, x1, y1)


def overlay(image, cam, path=None, *, alpha=0.5, scale=1, box=None, label=None, colormap="jet"):
    """Blend a heat map of ``cam`` (values in [0, 1], the image's size or any size: it is
    resampled) over ``image`` and write a PNG to ``path`` (when given). Returns the PIL image.
    The blend weight grows with the map, from 0.3 * ``alpha`` where it is 0 to ``alpha`` where
    it is 1.

    ``image``: a PIL image or an array (H, W), (H, W, 3), (C, H, W); ``scale``: enlarge the
    picture by this integer factor (pixels stay sharp, the heat map is resampled smoothly);
    ``box``: (x0, y0, x1, y1) in image pixels (e.g. from :func:`cam_box`) drawn as a rectangle;
    ``label``: text written in the top-left corner of the box (or of the picture).
    """
    from PIL import ImageDraw
    if colormap != "jet":
        raise ValueError(f"colormap: only 'jet' is available, got {colormap!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a value in [0, 1], got {alpha}")
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale: expected a positive integer, got {scale}")
    base = im.upscale_nearest(im.to_rgb_uint8(image), scale)
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim == 3 and cam.shape[0] == 1:
        cam = cam[0]
    if cam.ndim != 2:
        raise ValueError(f"cam: expected an (H, W) map, got shape {cam.shape}")
    # each image pixel is a scale x scale block: its centre sits at scale*i + (scale-1)/2
    heat = im.resample_bilinear(np.clip(np.nan_to_num(cam), 0, 1), base.shape[:2],
                                stride=(base.shape[0] / cam.shape[0], base.shape[1] / cam.shape[1]))
    # cold regions tint the picture lightly, hot ones strongly, so the image stays readable
    a = alpha * (0.3 + 0.7 * heat)[..., None]
    rgb = np.round((1 - a) * base + a * im.jet(heat)).astype(np.uint8)
    img = im.save_png(rgb, None)
    if box is not None or label is not None:
        draw = ImageDraw.Draw(img)
        font = _font(max(10, 3 * scale + 2))
        x0, y0 = 0, 0
        if box is not None:
            x0, y0, x1, y1 = (int(v) * scale for v in box)
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(255, 255, 255), width=max(1, scale // 2))
        if label is not None:
            text = str(label)
            _, _, tw, th = draw.textbbox((0, 0), text, font=font)
            # above the box when there is room, else just inside it; never off the picture
            ty = y0 - th - 3 if y0 - th - 3 >= 0 else y0 + 2
            tx = max(0, min(x0 + 2, img.width - tw - 2))
            draw.text((tx, ty), text, fill=(255, 255, 255), font=font)
    return im.save_png(img, path)


# ---- filters and activations ---------------------------------------------------------------------

def filter_grid(weight, path=None, *, scale=8, normalize="filter", ncols=None, pad=1):
    """First-layer filters as a grid of tiles (PNG at ``path`` when given; returns the PIL image).

    ``weight``: (O, C, kh, kw) array or Parameter. With C = 3 each filter is an RGB tile; with
    C = 1 a grey tile; otherwise each filter gives a row of C grey tiles (one per input channel).
    ``normalize``: ``"filter"`` scales each filter on its own, ``"all"`` all of them together;
    both map 0 to mid-grey (value = 0.5 + w / (2 max|w|)), so the sign of a weight reads as
    lighter or darker. ``scale``: pixels per weight.
    """
    w = np.asarray(getattr(weight, "data", weight), dtype=np.float64)
    if w.ndim != 4 or w.shape[0] == 0:
        raise ValueError(f"weight: expected an (O, C, kh, kw) array, got shape {w.shape}")
    if normalize not in ("filter", "all"):
        raise ValueError(f"normalize: expected 'filter' or 'all', got {normalize!r}")
    axes = (1, 2, 3) if normalize == "filter" else None
    m = np.max(np.abs(w), axis=axes, keepdims=True)
    v = 0.5 + w / (2 * np.where(m > 0, m, 1))
    o, c = w.shape[:2]
    if c == 3:
        tiles = v.transpose(0, 2, 3, 1)
    else:
        tiles = np.repeat(v.reshape(o * c, *w.shape[2:])[..., None], 3, axis=3)
        if c > 1:
            ncols = c
    tiles = np.round(np.clip(tiles, 0, 1) * 255).astype(np.uint8)
    tiles = np.stack([im.upscale_nearest(t, scale) for t in tiles])
    return im.save_png(im.tile_grid(tiles, ncols, pad), path)


def _links_to(model, layer):
    chain = forward_chain(model)
    k = find_layer(chain, layer, model)
    return chain[:k + 1]


def layer_output(model, x, layer):
    """The output of ``layer`` (a name such as ``"features.3"`` or ``"layer2"``, or the module)
    for input ``x``, in eval mode and without keeping anything for backward."""
    _check_model(model)
    x = _as_batch(x)
    links = _links_to(model, layer)
    with _EvalMode(model), no_grad():
        return run_forward(links, x)


def activation_grid(model, x, layer, path=None, *, scale=None, ncols=None, max_channels=64, pad=1):
    """The feature maps of ``layer`` for one image ``x`` as a grid of grey tiles (each scaled to
    its own min..max; the first ``max_channels`` channels). Returns the PIL image, written as
    PNG to ``path`` when given. ``scale`` defaults to enlarging small maps to about 32 pixels."""
    x = _as_batch(x)
    if len(x) != 1:
        raise ValueError(f"x: expected one image, got a batch of {len(x)}")
    act = layer_output(model, x, layer)
    if act.ndim != 4:
        raise ValueError(f"layer: {layer!r} gives an output of shape {act.shape}, not feature maps")
    maps = act[0, :max_channels]
    maps = im.normalize01(maps.reshape(len(maps), -1), axis=1).reshape(maps.shape)
    if scale is None:
        scale = max(1, int(np.ceil(32 / max(maps.shape[1:]))))
    tiles = np.repeat(np.round(maps * 255).astype(np.uint8)[..., None], 3, axis=3)
    tiles = np.stack([im.upscale_nearest(t, scale) for t in tiles])
    return im.save_png(im.tile_grid(tiles, ncols, pad), path)


# ---- feature visualisation -----------------------------------------------------------------------

def maximize_activation(model, layer, channel, *, size=None, steps=64, lr=0.05, jitter=1,
                        blur_sigma=0.5, blur_every=4, decay=0.0, value_range=None, seed=0,
                        init=None, return_history=False):
    """An input that strongly excites channel ``channel`` of ``layer`` (a feature map's mean, or
    one unit of a dense layer's output, e.g. a class score), by gradient ascent on
    the input (Erhan et al. 2009; Olah et al., "Feature Visualization", Distill 2017).

    Each step shifts the image by a random offset of up to ``jitter`` pixels (so the pattern
    cannot rely on exact pixel positions), runs the network up to ``layer``, backpropagates the
    mean of the channel's map to the input, undoes the shift and takes a step of ``lr`` along the
    gradient scaled to unit mean magnitude; every ``blur_every`` steps the image is blurred
    (Gaussian, ``blur_sigma`` pixels) to suppress high-frequency noise, and ``decay`` shrinks it
    toward zero; ``value_range=(lo, hi)`` clips the image to the range the network was trained
    on (e.g. (0, 1) for the digits) after every step. The model's parameters get no gradient
    and its modes are restored.

    ``size``: (H, W) of the image (default: the model's ``input_size``, else 224x224);
    ``init``: a starting image (C, H, W) instead of small random noise from ``seed``.
    Returns the image as a (1, C, H, W) array in the model's dtype (and, with
    ``return_history``, the list of the objective's values, one per step).
    """
    _check_model(model)
    links = _links_to(model, layer)
    dtype = _model_dtype(model) or np.float32
    rng = np.random.default_rng(seed)
    if init is not None:
        x = _as_batch(init, "init").astype(dtype, copy=True)
    else:
        from .nn import Conv2d
        first = next((m for m in model.modules() if isinstance(m, Conv2d)), None)
        if first is None:
            raise ValueError("model: no Conv2d found to tell the number of input channels")
        if size is None:
            size = getattr(model, "input_size", None) or (224, 224)
        size = (size, size) if np.isscalar(size) else tuple(size)
        x = 0.01 * rng.standard_normal((1, first.in_channels) + size)
        if value_range is not None:  # small noise around the middle of the allowed range
            x = np.clip(x + (value_range[0] + value_range[1]) / 2, *value_range)
        x = x.astype(dtype)
    steps, jitter = int(steps), int(jitter)
    history = []
    with _EvalMode(model, freeze=True), enable_grad():
        for step in range(steps):
            dy, dx = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
            xs = np.roll(x, (dy, dx), axis=(2, 3))
            act = run_forward(links, xs)
            if act.ndim not in (2, 4) or not 0 <= channel < act.shape[1]:
                for _, m in links:
                    m.clear_cache()
                raise ValueError(f"channel: {layer!r} has output shape {act.shape}; expected "
                                 f"a channel index in [0, {act.shape[1] if act.ndim > 1 else 0})")
            history.append(float(act[:, channel].mean()))
            grad = np.zeros_like(act)
            # the mean of the channel's map (or the unit itself for a dense layer's output)
            grad[:, channel] = 1.0 / (act[0, 0].size if act.ndim == 4 else 1)
            g = run_backward(links, grad, need_input_grad=True)
            g = np.roll(g, (-dy, -dx), axis=(2, 3))
            x = x + (lr / (np.abs(g).mean() + 1e-12)) * g
            if decay:
                x *= 1.0 - decay
            if blur_every and (step + 1) % blur_every == 0:
                x = im.gaussian_blur(x, blur_sigma)
            if value_range is not None:
                x = np.clip(x, value_range[0], value_range[1])
            x = x.astype(dtype, copy=False)
    return (x, history) if return_history else x


def save_image(image, path, *, scale=1):
    """Write an image array ((H, W), (H, W, 3), (C, H, W) or (1, C, H, W); floats outside
    [0, 1] are min-max scaled) as PNG, enlarged ``scale`` times. Returns the PIL image."""
    return im.save_png(im.upscale_nearest(im.to_rgb_uint8(image), scale), path)
