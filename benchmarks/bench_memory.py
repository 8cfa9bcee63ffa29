"""Peak memory: ResNet-50 batch-1 inference in fastconv (as built, fused) vs torch, and the workspace
of one 3x3 convolution (64 -> 64 channels) as the image grows (224, 448, 896 pixels): fastconv's
stays flat (tiled im2col), a whole-image im2col would grow with the image.

    python benchmarks/bench_memory.py [--arch resnet50] [--sizes 224 448 896] [--algos im2col winograd direct]
                                      [--no-torch] [--threads N] [--json OUT] [--models-only | --convs-only]

Each case runs in a fresh Python process; the method (RSS high-water mark reset through
/proc/self/clear_refs, glibc heap trimmed before the baseline) is described in
fastconv/bench_memory.py. Same as `fastconv bench --memory` with the defaults.
"""
import argparse
import sys

from fastconv import bench_memory


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default=bench_memory.DEFAULT_ARCH, help="model for the inference rows (default resnet50)")
    ap.add_argument("--image-size", type=int, default=224, help="input size of the inference rows")
    ap.add_argument("--repeats", type=int, default=2, help="inferences per process (the first shows one-time costs)")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(bench_memory.DEFAULT_SIZES),
                    help="image sizes of the convolution rows")
    ap.add_argument("--algos", nargs="+", default=list(bench_memory.DEFAULT_ALGOS),
                    help="fastconv algorithms of the convolution rows (torch is added when installed)")
    ap.add_argument("--no-torch", action="store_true", help="no torch rows even if installed")
    ap.add_argument("--threads", type=int, help="threads for fastconv and torch (default: fastconv's setting)")
    ap.add_argument("--json", dest="json_out", metavar="OUT", help="write the measurements as JSON")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--models-only", action="store_true", help="only the inference rows")
    only.add_argument("--convs-only", action="store_true", help="only the convolution rows")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.image_size < 32 or min(args.sizes) < 8:
        ap.error("--repeats must be >= 1, --image-size >= 32, --sizes >= 8")
    _, table = bench_memory.run(arch=args.arch, image_size=args.image_size, sizes=args.sizes, algos=args.algos,
                                use_torch=not args.no_torch, threads=args.threads, repeats=args.repeats,
                                json_out=args.json_out, progress=sys.stderr.isatty(),
                                models=not args.convs_only, convs=not args.models_only)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
