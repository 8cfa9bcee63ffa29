"""`fastconv bench`: time every convolution algorithm on the VGG16/ResNet layer table; with
--models whole networks, with --scaling the thread speed-up per layer, with --memory peak memory."""


MIN_TIME = 0.25
ROUNDS = 3


def register(subparsers):
    p = subparsers.add_parser(
        "bench", help="compare the convolution algorithms layer by layer (and torch); whole models, thread "
                      "scaling, memory",
        description="Without a mode flag: every convolution algorithm on each layer of the VGG16/ResNet "
                    "table, vs NumPy and torch. --models: whole networks vs torch. --scaling: 1 vs N "
                    "threads per layer. --memory: peak memory, each case in a fresh process.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--models", action="store_true",
                      help="whole models: ResNet-18/50 and VGG16 inference at batch 1 (as built and fused) and a "
                           "ResNet-18 training step at batch 8, vs the same networks in torch")
    mode.add_argument("--scaling", action="store_true",
                      help="each layer's auto pass at 1 thread and at --threads threads (default: the current "
                           "setting, at least 2), interleaved; flags layers of >= 0.2 GFLOP below 0.9x linear")
    mode.add_argument("--memory", action="store_true",
                      help="ResNet-50 inference peak memory vs torch, and a convolution's workspace at 224/448/896 "
                           "pixels (fresh subprocess per case)")
    p.add_argument("--layers", help="a conv_layers.json file (default: the VGG16/ResNet table shipped with fastconv)")
    p.add_argument("--only", nargs="+", metavar="SUBSTR",
                   help="only layers (with --models: model rows) whose name contains one of these")
    p.add_argument("--backward", action="store_true", help="also time the backward pass (grad input + grad weight)")
    p.add_argument("--json", dest="json_out", metavar="OUT", help="write the measurements as JSON")
    p.add_argument("--no-torch", action="store_true", help="do not compare with torch even if installed")
    p.add_argument("--min-time", type=float, default=None,
                   help=f"seconds of repeats per measurement, over all rounds (default {MIN_TIME})")
    p.add_argument("--rounds", type=int, default=None,
                   help=f"interleaved rounds per measurement, best time kept (default {ROUNDS})")
    p.add_argument("--threads", type=int, help="threads for fastconv and torch (default: fastconv's setting); "
                                               "with --scaling the count compared with 1")
    p.add_argument("--retries", type=int, default=None,
                   help="with --scaling: measure rows below the target again this many times at the end, "
                        "each thread count keeping its best time (default 1; 0: never)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def check_args(args):
    """Reject flag combinations that a mode would ignore, before any measurement starts."""
    mode = "--models" if args.models else "--scaling" if args.scaling else "--memory" if args.memory else None
    if args.rounds is not None and args.rounds < 1:
        raise ValueError(f"--rounds must be at least 1, got {args.rounds}")
    if args.min_time is not None and not args.min_time >= 0:
        raise ValueError(f"--min-time must be a non-negative number of seconds, got {args.min_time}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    not_with = {"--models": ("--backward", "--layers"), "--scaling": ("--no-torch",),
                "--memory": ("--backward", "--layers", "--only", "--min-time", "--rounds")}
    given = {"--backward": args.backward, "--layers": args.layers is not None, "--only": bool(args.only),
             "--no-torch": args.no_torch, "--min-time": args.min_time is not None, "--rounds": args.rounds is not None}
    for flag in not_with.get(mode, ()):
        if given[flag]:
            raise ValueError(f"{flag} does not apply to {mode}")
    if args.retries is not None and mode != "--scaling":
        raise ValueError("--retries only applies to --scaling")
    if args.retries is not None and args.retries < 0:
        raise ValueError(f"--retries must be at least 0, got {args.retries}")
    if args.scaling and args.threads is not None and args.threads < 2:
        raise ValueError(f"--scaling compares 1 thread with --threads >= 2, got {args.threads}")
    return mode


def run(args):
    import sys

    from .._config import set_num_threads

    mode = check_args(args)
    rounds = ROUNDS if args.rounds is None else args.rounds
    min_time = MIN_TIME if args.min_time is None else args.min_time
    progress = not args.no_progress and sys.stderr.isatty()
    if args.scaling:
        from .. import bench_scaling
        _, table = bench_scaling.run(args.layers, args.only, args.backward, args.threads, args.json_out,
                                     min_time, rounds, progress=progress,
                                     retries=1 if args.retries is None else args.retries)
        print(table)
        return 0
    if args.threads is not None:
        set_num_threads(args.threads)
    if mode == "--models":
        from .. import bench_models
        _, table = bench_models.run(args.only, args.json_out, not args.no_torch, rounds, min_time,
                                    progress=progress)
    elif mode == "--memory":
        from .. import bench_memory
        _, table = bench_memory.run(use_torch=not args.no_torch, json_out=args.json_out, progress=progress)
    else:
        from .. import bench
        _, table = bench.run(args.layers, args.only, args.backward, args.json_out, not args.no_torch,
                             min_time, progress=progress, rounds=rounds)
    print(table)
    return 0
