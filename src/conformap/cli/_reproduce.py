"""``conformap reproduce PAPER``: regenerate a paper's figures and tables.

The reproductions in :mod:`conformap.reproduce` take plain keyword arguments; this module owns
their command-line options and translates the parsed options into those arguments.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys

from ._common import add_output_options, check_output_directory, progress_enabled

#: paper name -> module in conformap.reproduce with run(**params)
PAPERS = {"earthmover": "earthmover", "product-manifold": "product_manifold"}


def _earthmover_options(p) -> None:
    p.add_argument("--out", default="docs/earthmover", help="output directory")
    p.add_argument("--full", action="store_true",
                   help="paper sizes n = 25..800 and 5 seeds (default: n <= 200, 2 seeds)")
    p.add_argument("--map", default=None,
                   help="rotate this MRC map instead of the procedural rotor")
    p.add_argument("--level", type=int, default=5, help="WEMD levels (paper: 5)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="sample sizes (default 25 50 100 200; --full: up to 800)")


def _earthmover_params(args) -> dict:
    return {"out": args.out, "map_path": args.map, "full": args.full, "level": args.level,
            "seeds": args.seeds, "sizes": args.sizes}


def _product_options(p) -> None:
    from ..reproduce.product_manifold import EXPERIMENTS

    p.add_argument("--out", default="docs/product-manifold", help="output directory")
    p.add_argument("--full", action="store_true", help="the paper's sizes (slow)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=None,
                   help="run only these experiments")


def _product_params(args) -> dict:
    return {"out": args.out, "full": args.full, "seed": args.seed, "only": args.only}


#: paper -> (add its options to a parser, parsed options -> keyword arguments of run)
OPTIONS = {"earthmover": (_earthmover_options, _earthmover_params),
           "product-manifold": (_product_options, _product_params)}


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
        add_options, to_params = OPTIONS[name]
        add_options(q)
        add_output_options(q)
        q.set_defaults(func=functools.partial(_run_with_progress, mod, name, to_params))


def _run_with_progress(mod, name: str, to_params, args) -> int:
    """Run a reproduction with its progress lines (INFO records of its logger) on stdout.

    The output directory is checked first (see cli/_common.py); each progress line also
    advances a tqdm bar of the stages done (stderr). ``--quiet`` shows neither.
    """
    check_output_directory(args)  # before any computation
    if not progress_enabled(args):
        mod.run(**to_params(args))
        return 0
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
        mod.run(**to_params(args))
        return 0
    finally:
        bar.close()
        log.removeHandler(handler)
        log.setLevel(old[0])
        log.propagate = old[1]
