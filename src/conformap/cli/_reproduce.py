"""``conformap reproduce PAPER``: regenerate a paper's figures and tables."""

from __future__ import annotations

import importlib

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
        q.set_defaults(func=mod.run)
