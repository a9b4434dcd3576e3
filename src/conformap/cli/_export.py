"""``conformap export``: write a STAR or cryoSPARC .cs particle set back with the embedding."""

from __future__ import annotations

import sys
from pathlib import Path

from ._common import StepProgress, add_output_options, check_stem_outputs


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a .star/.cs particle set back with the embedding coordinates (or a subset)",
        description="Copy IN.star (or IN.cs) to OUT with every block, row, column and value "
        "kept in its order, add the embedding coordinates as columns conformapPsi1..K "
        "(conformap/psi1..K in .cs), and optionally keep only the rows selected by --where "
        "and/or --indices. Rows are matched to the embedding by item name (rlnImageName).",
    )
    p.add_argument("embedding", metavar="EMB.npz", help="output of conformap embed")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--star", metavar="IN.star", help="the RELION particle file embedded")
    src.add_argument("--cs", metavar="IN.cs", help="the cryoSPARC particle file embedded")
    p.add_argument("--out", required=True, help="output .star (or .cs) file")
    p.add_argument("--where", default=None, metavar="CONDITION",
                   help='keep rows where CONDITION holds, e.g. "psi1 > 0 and psi2 < 0.3" '
                   "(psiN, numbers, < <= > >= == !=, and, or, not, parentheses)")
    p.add_argument("--indices", default=None, metavar="FILE",
                   help="keep the rows listed in FILE: one 0-based embedding row index or item "
                   "name a line (the report's selection download)")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..export import export_cs, export_star, parse_where, read_selection
    from ..report import load_embedding

    check_stem_outputs(args, Path(args.out), [""])  # before reading anything
    source = Path(args.star or args.cs)
    export = export_star if args.star else export_cs
    with StepProgress(args, "export", ["read embedding", f"read {source.name} and write"]) as bar:
        emb = load_embedding(args.embedding)
        where = parse_where(args.where, emb.embedding.shape[1]) if args.where else None
        indices = read_selection(args.indices, emb.names) if args.indices else None
        bar.done()
        out, kept, total = export(emb.embedding, emb.names, source, args.out, where=where,
                                  indices=indices, overwrite=args.overwrite)
        bar.done()
    print(f"wrote {out}: {kept} of {total} particles, with {emb.embedding.shape[1]} coordinate "
          "columns", file=sys.stdout)
    return 0
