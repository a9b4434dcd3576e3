"""``conformap reproduce PAPER``: regenerate a paper's figures and tables."""

from __future__ import annotations

import functools
import importlib
import logging
import sys

#: paper name -> module in conformap.reproduce with register_options(parser) and run(args)
PAPERS = {"earthmover": "earthmover", "product-manifold": "product_manifold"}


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="regenerate a paper's figures and tables",
        description="Regenerate the figures and tables of a paper.",
    )
    papers = p.add_subparsers(dest="paper", required=True, metavar="PAPER")
    for name, module in PAPERS.items():
        mod = importlib.import_module(f"..reproduce.{module}", __package__)
        q = papers.add_parser(
            name, help=mod.__doc__.strip().splitlines()[0], description=mod.__doc__
        )
        mod.register_options(q)
        q.set_defaults(func=functools.partial(_run_with_progress, mod, name))


def _run_with_progress(mod, name: str, args) -> int:
    """Run a reproduction with its progress lines (INFO records of its logger) on stdout."""
    log = logging.getLogger(mod.__name__)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"[{name}] %(message)s"))
    old = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # not a second time through the root's "conformap:" warnings handler
    try:
        return mod.run(args)
    finally:
        log.removeHandler(handler)
        log.setLevel(old[0])
        log.propagate = old[1]
