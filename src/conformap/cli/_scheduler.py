"""``conformap embed --scheduler``: the kNN graph built by Dask tasks, the eigenproblem here."""

from __future__ import annotations

import sys


def check_scheduler_args(args) -> None:
    """Refuse option combinations the distributed path does not run, before any work."""
    from ..distributed import parse_scheduler

    kind, _ = parse_scheduler(args.scheduler)
    if args.metric != "wemd":
        raise ValueError(f"--scheduler: runs the WEMD pipeline only, not --metric {args.metric}; "
                         "drop --scheduler or use --metric wemd")
    if args.method == "dense":
        raise ValueError("--scheduler: builds the sparse k-nearest-neighbour graph; use "
                         "--method knn (or auto) or drop --scheduler")
    if kind == "address" and not args.cache:
        raise ValueError(f"--scheduler {args.scheduler}: the workers write the WEMD "
                         "coefficients themselves; add --cache DIR on a filesystem they all see")


def open_input(args, scope):
    """The input stack memory-mapped (:func:`conformap.stream.open_stack`); a particle set's
    spill file lives in a temporary directory (inside ``--cache`` when it exists) that
    ``scope`` removes at the end of the run."""
    import tempfile

    from ..particles import is_particle_file
    from ..stream import open_stack

    spill = None
    if is_particle_file(args.inputs):
        from pathlib import Path

        where = args.cache if args.cache and Path(args.cache).is_dir() else None
        spill = scope.enter_context(tempfile.TemporaryDirectory(prefix="conformap-input-",
                                                                dir=where))
    return open_stack(args.inputs, densities=args.metric != "euclidean", datadir=args.datadir,
                      spill_dir=spill)


def fit_distributed(args, data):
    """``DiffusionMap(..., scheduler=args.scheduler, cache_dir=args.cache, method="knn")``:
    coefficients and kNN graph as tasks over the on-disk store (on the scheduler's workers, or
    here one after the other without --scheduler), resumable with --cache; the diffusion map of
    the graph on this machine."""
    from ..estimators import DiffusionMap

    params = {"wavelet": args.wavelet, "level": args.level, "negative": args.negative}
    dm = DiffusionMap(args.n_components, metric="wemd", metric_params=params, alpha=args.alpha,
                      t=args.t, bandwidth=args.bandwidth, method="knn",
                      n_neighbors=args.n_neighbors, n_jobs=args.n_jobs, random_state=args.seed,
                      progress=not args.quiet, scheduler=args.scheduler, cache_dir=args.cache,
                      denoise=args.denoise)
    try:
        dm.fit(data)
    except ValueError as exc:  # e.g. a bandwidth that disconnects the graph
        if not args.cache:
            raise
        raise ValueError(f"{exc} (the coefficients and neighbour lists are kept in --cache "
                         f"{args.cache}, so a re-run with other --bandwidth/--n-components/"
                         "--alpha reuses them)") from exc
    if not args.quiet:
        t, s = dm.scheduler_stats_["transform"], dm.scheduler_stats_["search"]
        where = (f"scheduler {args.scheduler}" if args.scheduler
                 else f"out-of-core store in --cache {args.cache}")
        print(f"conformap embed: {where}: {t['chunks_computed']} transform "
              f"chunk(s) computed, {t['chunks_reused']} reused; {s['tasks_run']} search "
              f"task(s) run, {s['panels_reused']} row panel(s) reused; {dm.graph_summary_}",
              file=sys.stderr)
    return dm
