"""``conformap report``: one self-contained interactive HTML page for an embedding."""

from __future__ import annotations

import sys
from pathlib import Path

from ._common import StepProgress, add_output_options, check_stem_outputs, positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write an interactive, self-contained HTML report of an embedding",
        description="Write one HTML page (plotly.js inlined: it opens offline) with the "
        "embedding coloured by any metadata column, item names and thumbnails on hover, the "
        "eigenvalue spectrum, bandwidth diagnostics, the factors of 'conformap factorize' "
        "output and the run's parameters. A lasso or box selection downloads the selected row "
        "indices for 'conformap export --indices'.",
    )
    p.add_argument("embedding", metavar="EMB.npz",
                   help="output of conformap embed (or conformap factorize)")
    p.add_argument("--out", required=True, help="output .html file")
    p.add_argument("--color-by", action="append", default=[], metavar="FILE.csv[:COLUMN]",
                   help="metadata table joined on item names (first column); every numeric "
                   "column is offered in the page's colour menu, COLUMN first; repeatable. "
                   "Default: the --color-by of the embed run, if that file still exists")
    p.add_argument("--input", nargs="+", default=None, metavar="INPUT",
                   help="read the embedded items again for thumbnails (default: the thumbnails "
                   "conformap embed stored in EMB.npz)")
    p.add_argument("--max-thumbnails", type=positive_int, default=500,
                   help="thumbnails on the page at most (a random subsample; default 500)")
    p.add_argument("--max-points", type=positive_int, default=100_000,
                   help="points plotted at most (a random subsample; default 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subsamples (default 0)")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io import InputError
    from ..report import build_report, load_embedding

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {out}: the report is HTML; name it e.g. report.html")
    check_stem_outputs(args, out, [""])  # before reading anything
    with StepProgress(args, "report", ["read embedding", "thumbnails, figures, page"]) as bar:
        emb = load_embedding(args.embedding)
        color_by = list(args.color_by)
        if not color_by and emb.params.get("color_by"):
            spec = str(emb.params["color_by"])
            if Path(spec.rsplit(":", 1)[0]).is_file():
                color_by = [spec]
        bar.done()
        path = build_report(emb, out, color_by=color_by, input_override=args.input,
                            max_thumbnails=args.max_thumbnails, max_points=args.max_points,
                            seed=args.seed, overwrite=args.overwrite)
        bar.done()
    size = path.stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB, {len(emb.names)} items)", file=sys.stdout)
    return 0
