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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with ``command``'s alone when that one is named (a command
    imports only what it uses: ``caffecx log`` starts without the analyzer, the executor or ONNX)."""
    parser = argparse.ArgumentParser(
        prog="caffecx",
        description="Read, upgrade, analyze, run, export and audit Caffe nets, weights and training logs without Caffe.",
    )
    parser.add_argument("--version", action="version", version=f"caffecx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    pkg = importlib.import_module("caffecx.cli")
    names = sorted(info.name for info in pkgutil.iter_modules(pkg.__path__) if info.name.startswith("cmd_"))
    for name in [f"cmd_{command}"] if f"cmd_{command}" in names else names:
        importlib.import_module(f"caffecx.cli.{name}").register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
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
