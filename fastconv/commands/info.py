"""`fastconv info`: version, SIMD path, OpenMP and threads."""


def register(subparsers):
    p = subparsers.add_parser("info", help="show the version, SIMD path, OpenMP and thread count")
    p.set_defaults(func=run)


def run(args):
    from .._config import config_text
    print(config_text())
    return 0
