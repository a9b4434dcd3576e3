"""``conformap reproduce PAPER``: regenerate a paper's figures and tables."""

from __future__ import annotations

import functools
import importlib
import logging
import sys

from ._common import add_output_options, check_output_directory, progress_enabled

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
        add_output_options(q)
        q.set_defaults(func=functools.partial(_run_with_progress, mod, name))


def _run_with_progress(mod, name: str, args) -> int:
    """Run a reproduction with its progress lines (INFO records of its logger) on stdout.

    The output directory is checked first (see cli/_common.py); each progress line also
    advances a tqdm bar of the stages done (stderr). ``--quiet`` shows neither.
    """
    check_output_directory(args)  # before any computation
    if not progress_enabled(args):
        return mod.run(args)
    from tqdm.auto import tqdm

    bar = tqdm(desc=f"reproduce {name}", unit="stage", leave=False)

    class _Handler(logging.Handler):
        def emit(self, record):
            tqdm.write(f"[{name}] {record.getMessage()}", file=sys.stdout)
            bar.update(1)

    log = logging.getLogger(mod.__name__)
    handler = _Handler()
    old = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # not a second time through the root's "conformap:" warnings handler
    try:
        return mod.run(args)
    finally:
        bar.close()
        log.removeHandler(handler)
        log.setLevel(old[0])
        log.propagate = old[1]
