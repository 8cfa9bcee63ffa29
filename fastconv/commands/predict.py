"""`fastconv predict`: classify images with a pretrained VGG or ResNet.

    fastconv predict cat.jpg dog.png --arch resnet50 --weights resnet50.safetensors \\
        --labels imagenet_classes.txt --topk 5
    fastconv predict *.jpg --arch vgg16 --weights vgg16.npz --json

Weights: torchvision's state dicts (.safetensors, .npz, or .pth when PyTorch is installed; timm
VGG and ``module.``-prefixed checkpoints are renamed); the number of classes is read from the
file. Images get ImageNet's evaluation preprocessing (resize 256, centre crop 224, normalise)
and go through the model in batches, BatchNorm folded and ReLUs fused (``--no-fuse`` to skip).
"""
from __future__ import annotations

import json
import os
import sys

# the parameter holding the number of classes, per family (torchvision's names)
_HEADS = {"resnet": "fc.weight", "vgg": "classifier.6.weight"}


def register(subparsers):
    p = subparsers.add_parser(
        "predict", help="classify images with a VGG or ResNet and its weights",
        description="Print the top-k classes of each image with their probabilities.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    p.add_argument("--arch", required=True, metavar="NAME",
                   help="model name: resnet18/34/50/101/152, vgg11/13/16/19[_bn]")
    p.add_argument("--weights", required=True, metavar="FILE",
                   help="weights file (.safetensors, .npz, or .pt/.pth with PyTorch installed)")
    p.add_argument("--labels", metavar="FILE",
                   help="class names: a text file with one name per line, or JSON (a list, or "
                        "{\"0\": name} / {\"0\": [wnid, name]})")
    p.add_argument("--topk", type=int, default=5, help="classes shown per image (default: 5)")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass (default: 8)")
    p.add_argument("--resize", type=int, default=256, help="shorter side after resizing (default: 256)")
    p.add_argument("--crop", type=int, default=224, help="side of the centre crop (default: 224)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-fuse", action="store_true",
                   help="run the model as is (default: BatchNorm folded, ReLU fused)")
    p.set_defaults(func=run)


def _positive(name, value):
    if value < 1:
        raise ValueError(f"--{name} must be a positive integer, got {value}")


def read_labels(path):
    """Class names from a text file (one per line) or a JSON list / index dict."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
        if isinstance(data, dict):
            try:
                items = sorted((int(k), v) for k, v in data.items())
            except ValueError:
                raise ValueError(f"{path}: JSON keys must be class indices") from None
            if [i for i, _ in items] != list(range(len(items))):
                raise ValueError(f"{path}: class indices must be 0..{len(items) - 1}")
            data = [v[-1] if isinstance(v, list) and v else v for _, v in items]
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list or object of class names")
        return [str(v) for v in data]
    return [line.strip() for line in text.splitlines() if line.strip()]


def build_model(arch, weights_path):
    """The model named ``arch`` with the weights of ``weights_path``, sized from the file."""
    from .. import io, models
    names = [n for n in models.list_models() if n.startswith(tuple(_HEADS))]
    if arch not in names:
        raise ValueError(f"--arch: expected an ImageNet model, one of {', '.join(names)}; got {arch!r}")
    state = io.to_torchvision_names(io.load(weights_path))
    head = _HEADS["resnet" if arch.startswith("resnet") else "vgg"]
    if head not in state or state[head].ndim != 2:
        raise ValueError(f"{weights_path}: no 2-D {head!r} in the file: not {arch} weights?")
    from ..models._utils import skip_init
    with skip_init():  # every value is overwritten by the file (strict load)
        model = models.get_model(arch, num_classes=int(state[head].shape[0]))
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise ValueError(f"{weights_path}: weights do not fit {arch}: {e}") from None
    return model


def run(args):
    from .. import inference
    from ..data.transforms import imagenet_transform

    for name in ("topk", "batch_size", "resize", "crop"):
        _positive(name.replace("_", "-"), getattr(args, name))
    for path in args.images:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image not found: {path!r}")
    model = build_model(args.arch, args.weights).eval()
    if not args.no_fuse:
        model = inference.fuse(model, inplace=True)  # the unfused model is not needed
    labels = read_labels(args.labels) if args.labels else None
    probs = inference.predict_proba(model, args.images, batch_size=args.batch_size,
                                    transform=imagenet_transform(args.resize, args.crop))
    classes = probs.shape[1]
    if labels is not None and len(labels) != classes:
        raise ValueError(f"--labels: {args.labels} has {len(labels)} names but the model has "
                         f"{classes} classes")
    idx, val = inference.topk(probs, args.topk)
    results = [{"image": path,
                "predictions": [{"class": int(i), "label": labels[i] if labels else str(int(i)),
                                 "probability": float(p)} for i, p in zip(idx[n], val[n])]}
               for n, path in enumerate(args.images)]
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in results:
            print(r["image"])
            for rank, pred in enumerate(r["predictions"], 1):
                name = f"{pred['label']} ({pred['class']})" if labels else f"class {pred['class']}"
                print(f"  {rank}. {pred['probability']:7.2%}  {name}")
    return 0
