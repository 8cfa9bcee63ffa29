"""`fastconv bench`: time every convolution algorithm on the VGG16/ResNet layer table."""


def register(subparsers):
    p = subparsers.add_parser("bench", help="compare the convolution algorithms layer by layer (and torch)")
    p.add_argument("--layers", help="a conv_layers.json file (default: the VGG16/ResNet table shipped with fastconv)")
    p.add_argument("--only", nargs="+", metavar="SUBSTR", help="only layers whose name contains one of these")
    p.add_argument("--backward", action="store_true", help="also time the backward pass (grad input + grad weight)")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the measurements as JSON")
    p.add_argument("--no-torch", action="store_true", help="do not compare with torch even if installed")
    p.add_argument("--min-time", type=float, default=0.25, help="seconds of repeats per measurement (default 0.25)")
    p.add_argument("--threads", type=int, help="threads for fastconv and torch (default: fastconv's setting)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    import sys

    from .. import bench
    from .._config import set_num_threads

    if args.threads is not None:
        set_num_threads(args.threads)
    _, table = bench.run(args.layers, args.only, args.backward, args.json_out, not args.no_torch,
                         args.min_time, progress=not args.no_progress and sys.stderr.isatty())
    print(table)
    return 0
