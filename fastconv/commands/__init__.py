"""Subcommands of the `fastconv` command line: one module each, exposing register(subparsers)."""
