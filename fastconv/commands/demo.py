"""`fastconv demo`: train a CNN on the bundled digits, make it fully convolutional, find digits
in a scene, and write the pictures (see fastconv/demo.py)."""
import argparse


def _non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def register(subparsers):
    p = subparsers.add_parser(
        "demo", help="train a CNN on the bundled digits and find digits in a larger scene",
        description="Train the lecture's simple CNN on the bundled 8x8 digits, make it fully "
                    "convolutional, scan a larger scene of test digits placed at random, and write "
                    "score-map overlays, the filters and a summary into --out.")
    p.add_argument("--out", default="fastconv-demo", metavar="DIR",
                   help="output directory (created if needed; default: ./fastconv-demo)")
    p.add_argument("--epochs", type=_non_negative, default=20, help="training epochs (default: 20)")
    p.add_argument("--scene-epochs", type=_non_negative, default=2,
                   help="epochs of fine-tuning on scene crops after the conversion (default: 2)")
    p.add_argument("--seed", type=_non_negative, default=0, help="random seed (default: 0)")
    p.add_argument("--digits", type=_positive, default=6, help="digits placed in the scene (default: 6)")
    p.add_argument("--eval-scenes", type=_non_negative, default=50,
                   help="more random scenes scanned for the digits-found rate (default: 50)")
    p.add_argument("--threads", type=_positive, default=1,
                   help="threads for the kernels (default: 1; the demo's images are tiny)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or step messages")
    p.set_defaults(func=run)


def run(args):
    from ..demo import run as run_demo
    run_demo(args.out, epochs=args.epochs, scene_epochs=args.scene_epochs, seed=args.seed,
             n_digits=args.digits, eval_scenes=args.eval_scenes, threads=args.threads,
             progress=not args.no_progress)
    return 0
