"""``conformap embed``: diffusion-map embedding of maps, image stacks or arrays."""

from __future__ import annotations

import json
import sys

import numpy as np

from ._common import add_embedding_options, output_stem


def register(sub) -> None:
    p = sub.add_parser(
        "embed",
        help="embed densities with a WEMD (or Euclidean) diffusion map",
        description="Read INPUT (a directory or glob of .mrc/.map maps, an .mrcs stack, an .npy "
        "or .npz array of shape (n, ...)), compute a diffusion map and write OUT.npz "
        "(embedding, eigenvalues, names, bandwidth, ...), OUT.csv and OUT.png.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or globs")
    p.add_argument("--out", required=True, help="output stem: writes OUT.npz, OUT.csv, OUT.png")
    p.add_argument("--color-by", default=None, metavar="FILE.csv:COLUMN",
                   help="colour the plot by a ground-truth column, joined on item names")
    p.add_argument("--cyclic", action="store_true", help="use a cyclic colour map (angles)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_embedding_options(p)
    p.set_defaults(func=run)


def make_estimator(args):
    from ..estimators import DiffusionMap

    params = None
    if args.metric == "wemd":
        params = {"wavelet": args.wavelet, "level": args.level, "negative": args.negative,
                  "progress": not getattr(args, "quiet", True)}
    return DiffusionMap(
        args.n_components,
        metric=args.metric,
        metric_params=params,
        alpha=args.alpha,
        t=args.t,
        bandwidth=args.bandwidth,
        method=args.method,
        n_neighbors=args.n_neighbors,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        progress=not getattr(args, "quiet", True),
    )


def write_outputs(stem, dm, names, *, color=None, color_label=None, cyclic=False, title=None,
                  params=None):
    """Write OUT.npz, OUT.csv and OUT.png for a fitted DiffusionMap; return the paths."""
    from ..io import write_csv, write_npz
    from ..plotting import scatter_embedding

    stem.parent.mkdir(parents=True, exist_ok=True)
    emb = dm.embedding_
    npz = write_npz(
        stem.with_suffix(".npz"),
        embedding=emb,
        eigenvalues=dm.eigenvalues_,
        eigenvectors=dm.eigenvectors_,
        names=np.array(names),
        bandwidth=np.float64(dm.bandwidth_),
        metric=np.array(dm.metric),
        params=np.array(json.dumps(params or {}, default=str)),
    )
    header = ["name"] + [f"psi{k + 1}" for k in range(emb.shape[1])]
    csv = write_csv(stem.with_suffix(".csv"), header,
                    [[n, *(f"{v:.8g}" for v in row)] for n, row in zip(names, emb, strict=True)])
    png = scatter_embedding(emb, stem.with_suffix(".png"), color=color, color_label=color_label,
                            cyclic=cyclic, title=title)
    return npz, csv, png


def run(args) -> int:
    from ..io import read_metadata_column, read_stack

    stem = output_stem(args.out)
    stack = read_stack(args.inputs)
    color = label = None
    if args.color_by:  # read before the long computation so a bad table fails fast
        color = read_metadata_column(args.color_by, stack.names)
        label = args.color_by.rsplit(":", 1)[1]
    dm = make_estimator(args).fit(stack.data)
    params = {k: v for k, v in vars(args).items() if k not in ("func", "inputs")}
    title = f"{args.metric} diffusion map, n={len(stack.names)}, σ={dm.bandwidth_:.3g}"
    paths = write_outputs(stem, dm, stack.names, color=color, color_label=label,
                          cyclic=args.cyclic, title=title, params=params)
    print(f"embedded {len(stack.names)} items (bandwidth {dm.bandwidth_:.4g}); wrote "
          + ", ".join(str(p) for p in paths), file=sys.stdout)
    return 0
