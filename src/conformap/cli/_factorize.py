"""``conformap factorize``: split a data set's Laplacian eigenvectors into independent factors."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from ._common import (
    StepProgress,
    add_output_options,
    bandwidth_arg,
    check_stem_outputs,
    number_arg,
    output_stem,
    positive_int,
    progress_enabled,
    stem_path,
)

#: What ``factorize`` writes next to OUT.
OUTPUT_ENDINGS = (".json", ".npz", "_factors.png", "_separability.png", "_embeddings.png")

POINT_SUFFIXES = (".npy", ".npz", ".csv", ".txt")
#: Fewest items factorize accepts (a constant and two non-trivial eigenvectors).
MIN_ITEMS = 3


_unit_float = number_arg(low=0, below=1, what="gamma")
_delta_arg = number_arg(words=("auto",), low=0, strict=True, what="delta")
_factors_arg = number_arg(int, words=("auto",), low=2, what="the number of factors")
_pca_arg = number_arg(int, words=("auto", "none"), low=1, what="the number of components")
_unmix_arg = number_arg(low=0, below=1, what="unmix")


def register(sub) -> None:
    p = sub.add_parser(
        "factorize",
        help="product manifold learning: split eigenvectors into independent factors",
        description="Compute Laplacian eigenvectors of INPUT (a point cloud .npy/.csv of shape "
        "(n, d), or anything 'embed' reads), find product eigenvectors (Algorithm 1 of Zhang, "
        "Moscovich & Singer 2021) and split the factor eigenvectors into factors by a MAX-CUT "
        "SDP. Writes OUT.json (factors, triplets, scores, ...), OUT.npz (eigenvectors, "
        "eigenvalues, separability, per-factor embeddings) and plots OUT_factors.png, "
        "OUT_separability.png, OUT_embeddings.png.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or globs")
    p.add_argument("--out", required=True,
                   help="output stem: OUT.json, OUT.npz, OUT_*.png (OUT's directory must exist; "
                   "existing files are refused unless --overwrite)")
    p.add_argument("--metric", choices=["euclidean", "wemd", "precomputed"], default="euclidean",
                   help="distance between items: euclidean (default), wemd (maps), or "
                   "precomputed (INPUT is an (n, n) distance matrix)")
    p.add_argument("-N", "--n-eigenvectors", type=positive_int, default=100,
                   help="non-trivial eigenvectors searched (default 100)")
    p.add_argument("--delta", type=_delta_arg, default="auto",
                   help="eigenvalue criterion |l_i + l_j - l_k| < delta in log-eigenvalue units "
                   "(default auto: max(0.5 lambda_1, 0.05 lambda_k) for eigenvector k)")
    p.add_argument("--gamma", type=_unit_float, default=0.75,
                   help="eigenvector criterion: minimum similarity (default 0.75)")
    p.add_argument("--factors", type=_factors_arg, default="auto",
                   help="number of factors: auto (default: from the data; 1 when no product "
                   "is found) or an integer >= 2")
    p.add_argument("--hierarchical", action="store_true",
                   help="with --factors > 2: repeated two-way splits instead of MAX-k-CUT")
    p.add_argument("--harmonics", action=argparse.BooleanOptionalAction, default=None,
                   help="complete each factor with the harmonics of its leading eigenvectors "
                   "that no triplet names (default: factorize's, "
                   "conformap.product.DEFAULT_HARMONICS, on; --no-harmonics turns it off; "
                   "docs/product-manifold/diagnosis.md sections 10-12)")
    p.add_argument("--clean-products", action="store_true",
                   help="after the cut, rotate products of eigenvectors of different factors "
                   "out of each factor eigenvector (off by default: diagnosis.md section 11)")
    p.add_argument("--unmix", type=_unmix_arg, default=None, metavar="TOL",
                   help="rotate blocks of eigenvectors whose eigenvalues are within TOL "
                   "(relative) into factor-pure ones before the triplet search (default: "
                   "factorize's, conformap.product.DEFAULT_UNMIX = 0.1; 0 turns it off, the "
                   "paper's algorithm)")
    p.add_argument("--bandwidth", type=bandwidth_arg, default="auto",
                   help="kernel sigma or a rule (default auto = minimum-spanning-tree scale)")
    p.add_argument("--pca", type=_pca_arg, default="auto", metavar="auto|none|K",
                   help="principal components before the graph: auto (default: for items "
                   "with more than 100 features, e.g. images, the components above the noise's "
                   "Marchenko-Pastur edge), none, or K components")
    p.add_argument("--standardize", action="store_true",
                   help="with --pca K: scale each component to unit variance (the paper's "
                   "preprocessing of cryo-EM images is --pca 4 --standardize)")
    p.add_argument("--labels", default=None, metavar="FILE.csv[:COL1,COL2]",
                   help="ground-truth coordinates (rows in input order or joined on names) to "
                   "plot the factor eigenvectors on; default: the first two numeric columns")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_output_options(p)
    p.add_argument("--datadir", default=None, metavar="DIR",
                   help="for a .star/.cs particle file: the folder its stack paths are relative to")
    p.set_defaults(func=run)


def _read_points(inputs: list[str], *, datadir=None, densities=True):
    """A point cloud / feature array and item names."""
    from ..io import InputError, read_stack

    if len(inputs) == 1 and Path(inputs[0]).suffix.lower() in POINT_SUFFIXES:
        path = Path(inputs[0])
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                data = np.load(path, allow_pickle=False)
            elif suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    keys = [k for k in ("X", "data", "points", "densities") if k in z]
                    if not keys and len(z.files) != 1:
                        raise InputError(f"{path}: .npz holds {z.files}; name the array 'X'")
                    data = z[keys[0] if keys else z.files[0]]
            else:
                data = _read_csv_matrix(path)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{path}: cannot read the array ({exc})") from exc
        data = np.asarray(data)
        if data.ndim < 2 or not np.issubdtype(data.dtype, np.number):
            raise InputError(
                f"{path}: expected a numeric array of shape (n, d), got {data.dtype} "
                f"{data.shape}"
            )
        if not np.isfinite(data).all():
            bad = int(np.flatnonzero(~np.isfinite(data.reshape(len(data), -1)).all(1))[0])
            raise InputError(f"{path}: row {bad} contains NaN or infinite values")
        return data, [str(i) for i in range(len(data))]
    stack = read_stack(inputs, datadir=datadir, densities=densities)
    return stack.data, stack.names


def _read_csv_matrix(path: Path) -> np.ndarray:
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise ValueError("empty file")
    try:
        float(rows[0][0])
    except ValueError:
        rows = rows[1:]  # a header
    return np.array([[float(v) for v in r] for r in rows])


def _read_labels(spec: str, names: list[str]):
    """(n, 2) coordinates and their names from FILE.csv[:A,B]."""
    from ..io import InputError, read_metadata_column

    file, _, cols = spec.rpartition(":") if not Path(spec).is_file() else (spec, "", "")
    if not Path(file).is_file():
        raise InputError(f"--labels {spec!r}: no such CSV file")
    if cols:
        columns = cols.split(",")
    else:
        with open(file, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows:
            raise InputError(f"{file}: the CSV has no data rows")

        def numeric(c):
            try:
                [float(r[c]) for r in rows]
            except (TypeError, ValueError):
                return False
            return True

        columns = [c for c in rows[0] if numeric(c)][:2]
    if not 1 <= len(columns) <= 2:
        raise InputError(f"--labels {spec!r}: need one or two numeric columns, got {columns}")
    values = [read_metadata_column(f"{file}:{c}", names) for c in columns]
    if len(values) == 1:
        values.append(np.zeros_like(values[0]))
        columns.append("")
    return np.column_stack(values), columns


def run(args) -> int:
    from ..datasets import pca_standardize
    from ..plotting import pyplot
    from ..product import factorize

    pyplot()  # fail early if matplotlib is broken
    stem = output_stem(args.out, (".json", ".npz"))
    check_stem_outputs(args, stem, OUTPUT_ENDINGS)  # before the long computation
    if args.hierarchical and (args.factors == "auto" or args.factors < 3):
        raise ValueError("--hierarchical: needs --factors 3 or more (the first split is the "
                         "ordinary two-factor algorithm)")
    if args.standardize and not isinstance(args.pca, int):
        raise ValueError("--standardize: needs --pca K (a number of components), got "
                         f"--pca {args.pca}")
    if isinstance(args.pca, int) and args.metric != "euclidean":
        raise ValueError(f"--pca {args.pca}: needs Euclidean features, not --metric "
                         f"{args.metric}; use --pca none")
    steps = ["read", *(["wavelet transform"] if args.metric == "wemd" else []),
             *(["PCA"] if args.standardize else []),
             "eigenvectors, triplets, max-cut", "write"]
    with StepProgress(args, "factorize", steps) as bar:
        data, names = _read_points(args.inputs, datadir=args.datadir,
                                   densities=args.metric == "wemd")  # images may be zero-mean
        if len(names) < MIN_ITEMS:
            raise ValueError(
                f"{' '.join(map(str, args.inputs))}: {len(names)} item(s); factorize needs at "
                f"least {MIN_ITEMS} (a graph Laplacian of fewer points has no non-trivial "
                "eigenvectors to split)"
            )
        coords = coord_names = None
        if args.labels:  # read before the long computation so a bad table fails fast
            coords, coord_names = _read_labels(args.labels, names)
        bar.done()
        preprocess = args.pca
        if args.metric == "precomputed":
            x, metric = data, "precomputed"
        elif args.metric == "wemd":
            from ..wemd import wemd_embedding

            x, metric = wemd_embedding(data, progress=progress_enabled(args)), "l1"
            bar.done()
        else:
            x, metric = data.reshape(len(data), -1).astype(np.float64), "l2"
        if args.standardize:
            x, preprocess = pca_standardize(x, args.pca), "none"
            bar.done()
        if metric != "l2":
            preprocess = "none"  # WEMD coefficients / distances are used as they are
        res = factorize(x, n_eigenvectors=args.n_eigenvectors, n_factors=args.factors,
                        delta=args.delta, gamma=args.gamma, bandwidth=args.bandwidth,
                        metric=metric, hierarchical=args.hierarchical, preprocess=preprocess,
                        clean_products=args.clean_products, rng=args.seed,
                        **({} if args.unmix is None else {"unmix": args.unmix}),
                        **({} if args.harmonics is None else {"harmonics": args.harmonics}))
        bar.done()
        paths = _write(args, stem, res, names, coords, coord_names)
        bar.done()
    json_path, npz, *figs = paths
    if res.n_factors == 1:
        found = f"{res.message}"
    else:
        found = "; ".join(
            f"factor {i + 1}: {f.tolist()[:12]}{' ...' if f.size > 12 else ''} "
            f"(confidence {float(np.median(c)):.2f} median)"
            for i, (f, c) in enumerate(zip(res.factors, res.confidence, strict=True)))
        found = f"{res.message}. {found}"
    print(f"{len(names)} items: {found}; wrote {json_path}, {npz}, "
          + ", ".join(str(p) for p in figs), file=sys.stdout)
    return 0


def _write(args, stem, res, names, coords, coord_names):
    """Write OUT.json, OUT.npz and the three figures; return their paths."""
    from ..io import atomic_path, write_npz
    from ..product import plot_embeddings, plot_factor_eigenvectors, plot_separability

    params = {k: v for k, v in vars(args).items() if k not in ("func", "inputs")}
    if params.get("unmix") is None:  # the library default that factorize used
        from ..product import DEFAULT_UNMIX

        params["unmix"] = DEFAULT_UNMIX
    if params.get("harmonics") is None:  # likewise
        from ..product import DEFAULT_HARMONICS

        params["harmonics"] = DEFAULT_HARMONICS
    summary = {
        "n_factors": res.n_factors,
        "message": res.message,
        "factors": [f.tolist() for f in res.factors],
        "confidence": [[round(float(c), 4) for c in conf] for conf in res.confidence],
        "cut_fraction": [round(float(f), 4) for f in res.cut_fraction],
        "preprocessing": res.preprocessing,
        "products": res.products.tolist(),
        "triplets": res.triplets.tolist(),
        "scores": [round(float(s), 6) for s in res.scores],
        "best_pair": res.best_pair.tolist(),
        "best_score": [round(float(s), 6) for s in res.best_score],
        "unassigned": res.unassigned.tolist(),
        "eigenvalues": [float(v) for v in res.eigenvalues],
        "bandwidth": res.bandwidth,
        "delta": res.delta,
        "gamma": res.gamma,
        "cut_weight": res.cut_weight,
        "sdp_bound": res.sdp_bound,
        "levels": res.levels,
        "timings_s": {k: round(v, 4) for k, v in res.timings.items()},
        "n_items": len(names),
        "inputs": [str(i) for i in args.inputs],
        "params": params,
        "index_convention": "column indices into eigenvectors (column 0 = constant)",
    }
    json_path = stem_path(stem, ".json")
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=1, default=str))
    emb = {f"factor{f}_embedding": res.embedding(f, 2) for f in range(len(res.factors))}
    npz = write_npz(stem_path(stem, ".npz"), eigenvectors=res.eigenvectors,
                    eigenvalues=res.eigenvalues, separability=res.separability,
                    triplets=res.triplets, scores=res.scores, names=np.array(names), **emb)
    figs = [
        plot_factor_eigenvectors(res, stem_path(stem, "_factors.png"), coords=coords,
                                 coord_labels=coord_names or ("", "")),
        plot_separability(res, stem_path(stem, "_separability.png")),
        plot_embeddings(res, stem_path(stem, "_embeddings.png"),
                        color=None if coords is None else [coords[:, 0], coords[:, 1]],
                        color_labels=coord_names),
    ]
    return [json_path, npz, *figs]
