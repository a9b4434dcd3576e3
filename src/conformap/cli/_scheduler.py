"""``conformap embed --scheduler``: the kNN graph built by Dask tasks, the eigenproblem here."""

from __future__ import annotations

import math
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


def fit_distributed(args, data):
    """Coefficients and exact kNN graph on the scheduler's workers (resumable with --cache),
    then the diffusion map of the graph on this machine."""
    from ..engine import knn_graph
    from ..estimators import DiffusionMap

    n = data.shape[0]
    # the default k of DiffusionMap(method="knn")
    k = args.n_neighbors or int(max(15, math.ceil(2 * math.log2(max(n, 2)))))
    stats: dict = {}
    graph = knn_graph(data, min(k, n - 1), cache_dir=args.cache, scheduler=args.scheduler,
                      wavelet=args.wavelet, level=args.level, negative=args.negative,
                      n_jobs=args.n_jobs, progress=not args.quiet, stats=stats)
    if not args.quiet:
        t, s = stats["transform"], stats["search"]
        print(f"conformap embed: scheduler {args.scheduler}: {t['chunks_computed']} transform "
              f"chunk(s) computed, {t['chunks_reused']} reused; {s['tasks_run']} search "
              f"task(s) run, {s['panels_reused']} row panel(s) reused", file=sys.stderr)
    dm = DiffusionMap(args.n_components, metric="precomputed", alpha=args.alpha, t=args.t,
                      bandwidth=args.bandwidth, random_state=args.seed)
    return dm.fit(graph), min(k, n - 1)
