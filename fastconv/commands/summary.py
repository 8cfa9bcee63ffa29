"""`fastconv summary`: the layer table of a model (output shapes, parameters, FLOPs, receptive
fields) and its totals, computed from the architecture alone (no weights, no forward pass).

    fastconv summary vgg16                       # 138,357,544 parameters, 30.9 GFLOPs at 224
    fastconv summary resnet50 --input-size 448
    fastconv summary simple_cnn --input-size 1,8,8
"""
from __future__ import annotations

import json


def register(subparsers):
    p = subparsers.add_parser(
        "summary", help="layer table of a model: shapes, parameters, FLOPs, receptive fields",
        description="Print each layer's output shape, parameter count, FLOPs (a multiply-add "
                    "counts 2) and receptive field, then the totals.")
    p.add_argument("arch", metavar="ARCH", help="model name, e.g. resnet50, vgg16_bn, simple_cnn")
    p.add_argument("--input-size", default=None, metavar="S|H,W|C,H,W",
                   help="input image size (default: 224; simple_cnn: 8)")
    p.add_argument("--batch-size", type=int, default=1, help="batch size for shapes and FLOPs (default: 1)")
    p.add_argument("--num-classes", type=int, default=None, help="classes of the last layer (default: the model's)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def parse_size(text):
    """'224' -> 224, '224x160' or '224,160' -> (224, 160), '3,224,224' -> (3, 224, 224)."""
    parts = str(text).replace("x", ",").split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--input-size: expected integers like 224, 224,160 or 3,224,224, got {text!r}") from None
    if not 1 <= len(values) <= 3 or min(values) < 1:
        raise ValueError(f"--input-size: expected 1 to 3 positive integers, got {text!r}")
    return values[0] if len(values) == 1 else values


def run(args):
    from .. import models
    from ..models._utils import skip_init
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {args.batch_size}")
    kwargs = {}
    if args.num_classes is not None:
        if args.num_classes < 1:
            raise ValueError(f"--num-classes must be a positive integer, got {args.num_classes}")
        kwargs["num_classes"] = args.num_classes
    if args.arch == "simple_cnn":
        # the lecture's CNN is built for one input size (its dense layer depends on it)
        size = parse_size(args.input_size or "8")
        if isinstance(size, tuple) and len(size) == 3:
            kwargs["in_channels"] = size[0]
        kwargs["input_size"] = size if isinstance(size, int) else size[-2:]
    else:
        size = parse_size(args.input_size or "224")
    with skip_init():  # shapes only: no need to draw the weights
        model = models.get_model(args.arch, **kwargs)
    result = models.summary(model, size, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{args.arch}: {result}")
    return 0
