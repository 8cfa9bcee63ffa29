"""`fastconv finetune DATA_DIR --arch resnet18 --weights FILE --epochs N`: train a new head for
the classes of an image folder on a frozen pretrained network (see fastconv/finetune.py)."""
import os


def register(subparsers):
    p = subparsers.add_parser(
        "finetune", help="fine-tune a pretrained network on an image folder (new head, frozen trunk)",
        description="Replace the classifier's last layer by one for the classes of DATA_DIR (one "
                    "sub-folder per class), freeze the rest, train, report validation accuracy, "
                    "and save the weights and a checkpoint atomically. By default the frozen "
                    "trunk's features are computed once and the head trains on them.")
    p.add_argument("data_dir", metavar="DATA_DIR", help="image folder: DATA_DIR/<class>/<image>")
    p.add_argument("--arch", default="resnet18", help="model architecture (default: resnet18)")
    p.add_argument("--weights", metavar="FILE", help="pretrained weights (without: random init)")
    p.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    p.add_argument("--val-dir", metavar="DIR", help="validation image folder (same classes)")
    p.add_argument("--val-split", type=float, default=0.2,
                   help="fraction of DATA_DIR held out for validation when there is no --val-dir "
                        "(default: 0.2; 0 for none)")
    p.add_argument("--image-size", type=int, default=224, help="crop size (default: 224)")
    p.add_argument("--resize", type=int, default=None,
                   help="shorter side before the centre crop (default: image-size * 8/7, 256 for 224)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default: 0.01)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    p.add_argument("--train-layers", action="append", default=[], metavar="NAME",
                   help="also train this submodule, e.g. layer4 (repeatable)")
    p.add_argument("--no-cache", action="store_true",
                   help="run the frozen trunk at every step instead of caching its features")
    p.add_argument("-o", "--output", default="finetuned.safetensors", metavar="FILE",
                   help="weights to write (default: finetuned.safetensors; the class names go "
                        "to FILE.classes.txt)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="checkpoint (.npz: model, epoch, history, classes) written atomically "
                        "(default: next to --output, with .ckpt.npz)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or epoch lines")
    p.set_defaults(func=run)


def _check(args):
    if args.epochs < 0:
        raise ValueError(f"--epochs: expected a non-negative number, got {args.epochs}")
    if not 0.0 <= args.val_split < 1.0:
        raise ValueError(f"--val-split: expected a fraction in [0, 1), got {args.val_split}")
    for name in ("image_size", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: expected a positive number")


def _transform(model, image_size, resize):
    from .. import nn
    from ..data import transforms as T
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    if first.in_channels == 3:
        return T.imagenet_transform(resize or round(image_size * 8 / 7), image_size)
    if first.in_channels == 1:  # grey models such as simple_cnn: the model's own input size
        size = tuple(getattr(model, "input_size", (image_size, image_size)))
        to_array = T.ToArray()
        return lambda img: to_array(img.convert("L").resize(size[::-1]))
    raise ValueError(f"--arch: models with {first.in_channels} input channels are not supported")


def _datasets(args, transform):
    from ..data import ImageFolder, random_split
    train = ImageFolder(args.data_dir, transform=transform)
    if args.val_dir:
        val = ImageFolder(args.val_dir, transform=transform)
        if val.classes != train.classes:
            raise ValueError(f"--val-dir: classes {val.classes} differ from DATA_DIR's {train.classes}")
        return train, val, train.classes
    n_val = int(round(args.val_split * len(train)))
    if n_val == 0:
        return train, None, train.classes
    if n_val >= len(train):
        raise ValueError(f"--val-split: {len(train)} images leave nothing to train on")
    tr, va = random_split(train, [len(train) - n_val, n_val], seed=args.seed)
    return tr, va, train.classes


def _train(args, model, train_set, val_loader, progress):
    from .. import finetune, nn, optim, train
    from ..data import DataLoader
    if args.no_cache:
        # fit() trains in train mode, where BatchNorm needs batches of more than one image
        loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                            drop_last=len(train_set) > args.batch_size)
        opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                        momentum=args.momentum)
        return train.fit(model, loader, nn.CrossEntropyLoss(), opt, args.epochs,
                         val_loader=val_loader, progress=progress)
    # features once (in order, no augmentation), then the head trains on them
    loader = DataLoader(train_set, batch_size=args.batch_size)
    return finetune.train_head_cached(model, loader, args.epochs, val_loader=val_loader, lr=args.lr,
                                      momentum=args.momentum, seed=args.seed, progress=progress)


def run(args):
    import fastconv
    from .. import finetune, io, train
    from .._atomic import atomic_write_bytes
    from ..data import DataLoader

    _check(args)
    progress = not args.no_progress
    fastconv.manual_seed(args.seed)
    model = finetune.load_pretrained(args.arch, args.weights)
    train_set, val_set, classes = _datasets(args, _transform(model, args.image_size, args.resize))
    if len(classes) < 2:
        raise ValueError(f"{args.data_dir}: found {len(classes)} class folder(s); need at least 2")
    finetune.replace_head(model, len(classes))
    finetune.freeze_trunk(model, keep=args.train_layers)
    print(f"{args.arch} on {len(train_set):,} training images"
          + (f", {len(val_set):,} validation images" if val_set is not None else "")
          + f", {len(classes)} classes: {', '.join(classes)}")
    print(finetune.parameter_report(model))

    val_loader = DataLoader(val_set, batch_size=args.batch_size) if val_set is not None else None
    try:
        history = _train(args, model, train_set, val_loader, progress)
    except train.NonFiniteLossError as e:
        # a user-facing failure (the CLI prints ValueErrors as one line), not a crash
        raise ValueError(f"training diverged: {e}") from e

    out = args.output
    checkpoint = args.checkpoint or (os.path.splitext(out)[0] + ".ckpt.npz")
    io.save(model.state_dict(), out)
    atomic_write_bytes(out + ".classes.txt", ("\n".join(classes) + "\n").encode("utf-8"))
    train.save_checkpoint(checkpoint, model, epoch=len(history), history=history, classes=list(classes),
                          arch=args.arch)
    last = history[-1] if history else {}
    if "val_accuracy" in last:
        print(f"validation accuracy {100 * last['val_accuracy']:.1f}% after {len(history)} epochs")
    print(f"saved {out} (classes in {out}.classes.txt) and checkpoint {checkpoint}")
    return 0
