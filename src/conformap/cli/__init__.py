"""The ``conformap`` command line: ``conformap COMMAND --help`` for each command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from .._validation import ConformapWarning
from ._common import Parser, format_warning

__all__ = ["build_parser", "main"]

#: Sub-command modules (``_<name>.py``), each with ``register(subparsers)``.
COMMANDS = ("simulate", "embed", "demo", "reproduce", "factorize",
            "particles", "export", "report", "trajectory")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(
        prog="conformap",
        description="Map conformation spaces of densities, images and point clouds.",
    )
    parser.add_argument("--version", action="version", version=f"conformap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"._{name}", __name__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input, 1 unexpected failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="conformap: %(message)s")
    warnings.simplefilter("default", ConformapWarning)
    warnings.formatwarning = format_warning
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `conformap demo | head`: the reader left; not our error
        sys.stderr.close()
        return 141
    except (ValueError, TypeError, OSError) as exc:
        print(f"conformap {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"conformap {args.command}: error: out of memory; use --method knn (sparse graph), "
            "fewer or smaller inputs, or check the plan printed with --max-memory",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        cached = (
            " (chunks already saved under --cache are kept)" if getattr(args, "cache", None) else ""
        )
        print(
            f"conformap {args.command}: interrupted; no output was written{cached}",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
