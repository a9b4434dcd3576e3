"""``conformap embed``: diffusion-map embedding of maps, image stacks or arrays."""

from __future__ import annotations

import json
import sys

import numpy as np

from ._common import (
    add_embedding_options,
    add_output_options,
    check_stem_outputs,
    flag_spelling,
    output_stem,
    progress_enabled,
    stem_path,
)

#: What ``embed`` writes next to OUT.
OUTPUT_ENDINGS = (".npz", ".csv", ".png")


def memory_arg(text: str) -> int:
    import argparse

    from ..resources import parse_bytes

    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub) -> None:
    p = sub.add_parser(
        "embed",
        help="embed densities with a WEMD (or Euclidean) diffusion map",
        description="Read INPUT (a directory or glob of .mrc/.map maps, an .mrcs stack, an .npy "
        "or .npz array of shape (n, ...)), compute a diffusion map and write OUT.npz "
        "(embedding, eigenvalues, names, bandwidth, ...), OUT.csv and OUT.png.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or globs")
    p.add_argument("--out", required=True,
                   help="output stem: writes OUT.npz, OUT.csv, OUT.png (OUT's directory must "
                   "exist; existing files are refused unless --overwrite)")
    p.add_argument("--datadir", default=None, metavar="DIR",
                   help="for a .star/.cs particle file: the folder its stack paths are relative to")
    p.add_argument("--color-by", default=None, metavar="FILE.csv:COLUMN",
                   help="colour the plot by a ground-truth column, joined on item names")
    p.add_argument("--cyclic", action="store_true", help="use a cyclic colour map (angles)")
    add_output_options(p)
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="keep the WEMD coefficients and distances in DIR, keyed by the inputs and "
                   "parameters, so an interrupted or repeated run resumes where it stopped; on "
                   "the WEMD kNN path the input is memory-mapped and the coefficients go to an "
                   "on-disk store, so memory does not grow with the data (as --scheduler)")
    p.add_argument("--max-memory", type=memory_arg, default=None, metavar="SIZE",
                   help="memory the run may use, e.g. 8G (default: 80%% of the available "
                   "memory); checked before the all-pairs computation")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the WEMD transform and the neighbour search as Dask tasks: "
                   "tcp://HOST:PORT of a running scheduler, or local:N for N worker processes "
                   "here (the eigenproblem runs here); the input is memory-mapped and the "
                   "coefficients go to an on-disk store, so memory does not grow with the data")
    add_embedding_options(p)
    p.set_defaults(func=run)


def make_estimator(args, *, method=None):
    from ..estimators import DiffusionMap

    params = None
    if args.metric == "wemd":
        params = {"wavelet": args.wavelet, "level": args.level, "negative": args.negative,
                  "progress": progress_enabled(args)}
    return DiffusionMap(
        args.n_components,
        metric=args.metric,
        metric_params=params,
        alpha=args.alpha,
        t=args.t,
        bandwidth=args.bandwidth,
        method=method or args.method,
        n_neighbors=args.n_neighbors,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        progress=progress_enabled(args),
        denoise=args.denoise,
    )


def write_outputs(stem, dm, names, *, color=None, color_label=None, cyclic=False, title=None,
                  params=None, metric=None, extra=None):
    """Write OUT.npz, OUT.csv and OUT.png for a fitted DiffusionMap; return the paths.

    ``metric`` overrides ``dm.metric`` in OUT.npz (the cached path fits on precomputed
    distances); ``extra`` holds more arrays for OUT.npz (:func:`conformap.diagnostics.
    embedding_extras`: thumbnails and bandwidth diagnostics for ``conformap report``).
    """
    from ..io import write_csv, write_npz
    from ..plotting import scatter_embedding

    emb = dm.embedding_
    npz = write_npz(
        stem_path(stem, ".npz"),
        embedding=emb,
        eigenvalues=dm.eigenvalues_,
        eigenvectors=dm.eigenvectors_,
        names=np.array(names),
        bandwidth=np.float64(dm.bandwidth_),
        metric=np.array(metric or dm.metric),
        params=np.array(json.dumps(params or {}, default=str)),
        **(extra or {}),
    )
    header = ["name"] + [f"psi{k + 1}" for k in range(emb.shape[1])]
    csv = write_csv(stem_path(stem, ".csv"), header,
                    [[n, *(f"{v:.8g}" for v in row)] for n, row in zip(names, emb, strict=True)])
    png = scatter_embedding(emb, stem_path(stem, ".png"), color=color, color_label=color_label,
                            cyclic=cyclic, title=title)
    return npz, csv, png


def plan(args, stack):
    """Pre-flight estimate of the all-pairs computation; returns the resources.Estimate."""
    import math

    from ..estimators import DENSE_MAX_ITEMS
    from ..resources import ResourceError, plan_all_pairs
    from ..wemd import default_level, wemd_size

    n, shape = stack.data.shape[0], stack.data.shape[1:]
    if args.n_components + 2 > n:  # fail before the long computation, as diffusion_map would
        raise ValueError(
            f"--n-components {args.n_components}: needs at least {args.n_components + 2} "
            f"items, got {n}; use fewer components or more data"
        )
    voxels = math.prod(shape)
    if args.metric == "wemd" and args.level is not None and args.level > default_level(shape):
        raise ValueError(
            f"--level {args.level}: too deep for the grid of shape {shape}; use at most "
            f"{default_level(shape)} (ceil(log2(max(shape))), the default)"
        )
    if args.metric == "wemd":
        n_features = wemd_size(shape, wavelet=args.wavelet, level=args.level)
    else:
        n_features = voxels
    method = "knn" if getattr(args, "scheduler", None) else args.method
    if args.metric == "emd" and method == "auto":
        method = "dense"
    try:
        est = plan_all_pairs(
            n, n_features, dtype=stack.data.dtype, method=method, n_neighbors=args.n_neighbors,
            n_voxels=voxels if args.metric == "wemd" else None, memory_limit=args.max_memory,
            features_in_memory=not (args.cache or getattr(args, "scheduler", None)),
            exact_emd=args.metric == "emd",
        )
    except ResourceError as err:
        raise err.respell(flag_spelling) from None
    if not args.quiet:
        note = ""
        if args.method == "auto" and est.method == "knn" and n <= DENSE_MAX_ITEMS:
            note = " (the dense path would not fit in memory)"
        print(f"conformap embed: plan: {est.summary()}{note}", file=sys.stderr)
    return est


def builder_method(args, est, n: int) -> str:
    """The method to hand the graph builder: "auto" where the plan chose what "auto" resolves
    to (so that the builder's own rules for "auto" apply, e.g. :mod:`conformap.truncation`
    on denoised items), else the plan's choice (kNN where the dense path would not fit)."""
    from ..graph import resolve_method

    if args.method == "auto" and est.method == resolve_method("auto", n, metric=args.metric):
        return "auto"
    return est.method


def fit_cached(args, data, method: str):
    """Fit through the on-disk cache: coefficients and distances resume from ``args.cache``."""
    from ..cache import cached_distances
    from ..estimators import DiffusionMap

    if args.metric == "emd":
        raise ValueError("--cache: exact EMD distances are not cached; use --metric wemd or "
                         "drop --cache")
    stats: dict = {}
    params = None
    if args.metric == "wemd":
        params = {"wavelet": args.wavelet, "level": args.level, "negative": args.negative}
    # the distances the in-memory builder's graph is built from (its rules for "auto" on
    # denoised items, conformap.truncation and conformap.averaging, included)
    dist = cached_distances(data, args.cache, metric=args.metric, method=method,
                            n_neighbors=args.n_neighbors, metric_params=params,
                            n_jobs=args.n_jobs, progress=not args.quiet, stats=stats,
                            denoise=args.denoise, bandwidth=args.bandwidth, rng=args.seed)
    den = stats.pop("denoiser", None)
    stats.pop("features", None)
    steps = stats.pop("averaging_steps", 0)
    if not args.quiet:
        done = "; ".join(f"{kind}: {s['reused']} chunk(s) reused, {s['computed']} computed"
                         for kind, s in stats.items())
        print(f"conformap embed: cache {args.cache}: {done}", file=sys.stderr)
        if den is not None:
            print(f"conformap embed: {den.summary()}", file=sys.stderr)
    dm = DiffusionMap(args.n_components, metric="precomputed", alpha=args.alpha, t=args.t,
                      bandwidth=args.bandwidth, random_state=args.seed)
    try:
        dm.fit(dist)
    except ValueError as exc:  # e.g. a bandwidth that disconnects the graph
        raise ValueError(f"{exc} (the distances are kept in --cache {args.cache}, so a re-run "
                         "with other --bandwidth/--n-components/--alpha reuses them)") from exc
    if steps:  # the precomputed fit cannot know that these are distances of averaged items
        from ..affinity import averaging_phrase

        dm.result_.graph["averaging_steps"] = steps
        dm.graph_summary_ = f"{dm.graph_summary_}; {averaging_phrase(steps)}"
    return dm


def report_extras(args, stack, dm) -> dict:
    """Inputs (absolute, for ``conformap trajectory``), thumbnails, bandwidth diagnostics."""
    from pathlib import Path

    from ..diagnostics import embedding_extras

    params = None
    if args.metric == "wemd":
        params = {"wavelet": args.wavelet, "level": args.level, "negative": args.negative}
    extra = embedding_extras(stack.data, dm, metric=args.metric, metric_params=params,
                             rng=args.seed)
    extra["inputs"] = np.array(json.dumps([str(Path(i).absolute()) for i in args.inputs]))
    extra["datadir"] = np.array(str(Path(args.datadir).absolute()) if args.datadir else "")
    return extra


def run(args) -> int:
    import contextlib

    with contextlib.ExitStack() as scope:
        return _run(args, scope)


def _run(args, scope) -> int:
    from ..io import read_metadata_column, read_stack

    stem = output_stem(args.out)
    check_stem_outputs(args, stem, OUTPUT_ENDINGS)  # before the long computation
    # out of core (a scheduler, or --cache on the WEMD kNN path): the input memory-mapped and
    # read chunk by chunk, the coefficients in the on-disk store
    streamed = bool(args.scheduler) or (bool(args.cache) and args.metric == "wemd"
                                        and args.method != "dense")
    if streamed:
        from ._scheduler import open_input

        stack = open_input(args, scope)
    else:
        stack = read_stack(args.inputs, densities=args.metric != "euclidean",
                           datadir=args.datadir)
    color = label = None
    if args.color_by:  # read before the long computation so a bad table fails fast
        color = read_metadata_column(args.color_by, stack.names)
        label = args.color_by.rsplit(":", 1)[1]
    if args.scheduler:  # bad options fail here, before any work
        from ._scheduler import check_scheduler_args

        check_scheduler_args(args)
    est = plan(args, stack)
    if args.scheduler or (streamed and est.method == "knn"):
        from ._scheduler import fit_distributed

        dm = fit_distributed(args, stack.data)
    elif args.cache:  # small n, dense: the all-pairs distances cached in memory-sized chunks
        dm = fit_cached(args, np.asarray(stack.data),
                        builder_method(args, est, len(stack.names)))
    else:
        dm = make_estimator(args, method=builder_method(args, est, len(stack.names))).fit(
            stack.data)
    # the graph actually built, with its measured kernel truncation
    if not args.quiet and hasattr(dm, "graph_summary_"):
        print(f"conformap embed: graph: {dm.graph_summary_}", file=sys.stderr)
    params = {k: v for k, v in vars(args).items() if k not in ("func", "inputs")}
    params["method_used"] = est.method
    params["voxel_size"], params["origin"] = stack.voxel_size, stack.origin  # (z, y, x) Å
    extra = report_extras(args, stack, dm)
    title = f"{args.metric} diffusion map, n={len(stack.names)}, σ={dm.bandwidth_:.3g}"
    paths = write_outputs(stem, dm, stack.names, color=color, color_label=label,
                          cyclic=args.cyclic, title=title, params=params, metric=args.metric,
                          extra=extra)
    print(f"embedded {len(stack.names)} items (bandwidth {dm.bandwidth_:.4g}); wrote "
          + ", ".join(str(p) for p in paths), file=sys.stdout)
    return 0
