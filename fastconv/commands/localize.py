"""`fastconv localize IMAGE --arch ARCH --weights FILE -o out.png`: where in the image is the
class? A class activation map (fastconv.viz) over the image, its bounding box, written as PNG."""


def register(subparsers):
    p = subparsers.add_parser(
        "localize", help="class activation map and bounding box of the top class of an image",
        description="Run a classifier fully convolutionally over an image, and write the class "
                    "activation map of the top class (or --target) blended over the image with "
                    "its bounding box (threshold at 20%% of the maximum, largest region; for "
                    "window classifiers such as VGG and simple_cnn the box is widened by half a "
                    "window, since their map marks window centres).")
    p.add_argument("image", metavar="IMAGE", help="an image file (JPEG, PNG, ...)")
    p.add_argument("--arch", required=True,
                   help="model architecture, e.g. resnet18, resnet50, vgg16, simple_cnn")
    p.add_argument("--weights", required=True, metavar="FILE",
                   help="weights (.safetensors, .npz; .pt/.pth with torch installed)")
    p.add_argument("-o", "--output", default="localized.png", metavar="OUT",
                   help="PNG to write (default: localized.png)")
    p.add_argument("--target", metavar="CLASS",
                   help="class to localize (index or name from --labels; default: the top class)")
    p.add_argument("--labels", metavar="FILE", help="class names, one per line")
    p.add_argument("--exclude", action="append", default=[], metavar="CLASS",
                   help="never pick this class as the top class (repeatable; a class named "
                        "'background' in --labels is excluded automatically)")
    p.add_argument("--size", type=int, default=None,
                   help="resize the image's shorter side to this many pixels (default: 224 for "
                        "ResNet, 448 for VGG, whose 224x224 windows then give a map of 8 or more "
                        "per side; unchanged for grey models)")
    p.add_argument("--threshold", type=float, default=0.2,
                   help="box threshold as a fraction of the map's maximum (default: 0.2)")
    p.add_argument("--dense", action="store_true",
                   help="a score at every pixel position (shift-and-stitch: stride**2 passes; "
                        "16 for simple_cnn, 1024 for VGG/ResNet)")
    p.set_defaults(func=run)


def _read_labels(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _class_index(value, labels, num_classes, what):
    if value.lstrip("-").isdigit():
        index = int(value)
    elif labels and value in labels:
        index = labels.index(value)
    else:
        raise ValueError(f"{what}: {value!r} is neither a class index nor a name in --labels")
    if not 0 <= index < num_classes:
        raise ValueError(f"{what}: class {index} is out of range for {num_classes} classes")
    return index


def _load_input(path, in_channels, size, window=None):
    """(model input (1, C, H, W) float32, picture (H, W, 3) uint8 of the same pixels)."""
    import numpy as np
    from PIL import Image

    from ..data import load_image
    from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
    img = load_image(path)
    if size is None and in_channels == 3:
        # ResNet: 224 (7x7 cells); a window classifier (VGG) needs several windows: twice its window
        size = 224 if window is None else 2 * max(window)
    if size is not None:
        if size < 1:
            raise ValueError(f"--size: expected a positive number of pixels, got {size}")
        w, h = img.size
        scale = size / min(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    picture = np.asarray(img)
    if in_channels == 1:
        x = np.asarray(img.convert("L"), dtype=np.float32)[None, None] / 255.0
    elif in_channels == 3:
        x = picture.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        x = (x - np.array(IMAGENET_MEAN, np.float32)[:, None, None]) / np.array(IMAGENET_STD, np.float32)[:, None, None]
    else:
        raise ValueError(f"--arch: models with {in_channels} input channels are not supported")
    return np.ascontiguousarray(x, dtype=np.float32), picture


def run(args):
    import numpy as np

    from .. import nn, viz
    from ..finetune import load_pretrained
    from ..models.fully_convolutional import fully_convolutional

    model = load_pretrained(args.arch, args.weights).eval()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    x, picture = _load_input(args.image, first.in_channels, args.size,
                             fully_convolutional(model).window)
    smap = viz.score_map(model, x, shift_and_stitch=args.dense)
    scores = smap.scores
    k = scores.shape[1]
    labels = _read_labels(args.labels) if args.labels else None
    if labels is not None and len(labels) != k:
        raise ValueError(f"--labels: {len(labels)} names for a model with {k} classes")
    name = (lambda i: labels[i]) if labels else str

    # the model's own class probabilities: softmax of the map's mean (ResNet, whose logits it
    # is) or, for window classifiers, each class's best window probability
    if smap.global_pool == "avg":
        pooled = scores.mean(axis=(2, 3))
        probs = np.exp(pooled[0] - pooled[0].max())
        probs /= probs.sum()
    else:
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        pooled = (e / e.sum(axis=1, keepdims=True)).max(axis=(2, 3))
        probs = pooled[0]
    if args.target is not None:
        target = _class_index(args.target, labels, k, "--target")
    else:
        excluded = {_class_index(c, labels, k, "--exclude") for c in args.exclude}
        if labels and "background" in labels:
            excluded.add(labels.index("background"))
        ranked = [int(i) for i in np.argsort(-pooled[0]) if int(i) not in excluded]
        if not ranked:
            raise ValueError("--exclude: every class is excluded")
        target = ranked[0]
    cam = viz.class_activation_map(model, x, target, shift_and_stitch=args.dense)[0]
    box = viz.cam_box(cam, args.threshold)
    if box is not None and smap.window is not None:
        # a window classifier's map marks window centres: the object spans the windows
        (hy, hx), (H, W) = ((w - 1) / 2 for w in smap.window), cam.shape
        box = (max(0, int(box[0] - hx)), max(0, int(box[1] - hy)),
               min(W, int(np.ceil(box[2] + hx))), min(H, int(np.ceil(box[3] + hy))))
    scale = max(1, int(np.ceil(256 / min(picture.shape[:2]))))
    viz.overlay(picture, cam, args.output, box=box, label=name(target), scale=scale)
    where = "no box (flat map)" if box is None else "box x0={} y0={} x1={} y1={}".format(*box)
    print(f"{args.image}: class {name(target)} (p={probs[target]:.3f}), {where}, "
          f"score map {scores.shape[2]}x{scores.shape[3]} -> {args.output}")
    return 0
