"""Command-line interface: a thin layer that parses arguments, calls the library and formats results.

Each subcommand lives in its own module ``caffecx/cli/cmd_<name>.py`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func=run`` where
``run(args) -> int`` returns the exit status. Errors from the library
(`CaffecxError`) are printed as ``path:line:col: layer 'x': message`` and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from caffecx import __version__
from caffecx.errors import CaffecxError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caffecx",
        description="Read, upgrade, analyze, run, export and audit Caffe nets, weights and training logs without Caffe.",
    )
    parser.add_argument("--version", action="version", version=f"caffecx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    pkg = importlib.import_module("caffecx.cli")
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"caffecx.cli.{info.name}").register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except CaffecxError as err:
        print(f"caffecx: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `caffecx analyze ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
