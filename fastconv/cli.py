"""The `fastconv` command line. Each subcommand lives in fastconv/commands/<name>.py and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function to run."""
import argparse
import importlib
import pkgutil
import sys

from . import commands


def build_parser():
    parser = argparse.ArgumentParser(prog="fastconv", description="Convolutional networks on CPUs.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"fastconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into a reader that stopped early (`fastconv summary vgg16 | head`): not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, FileNotFoundError, OSError) as exc:
        # user-facing errors: one clear line, no traceback
        print(f"fastconv {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
