"""The adaptive kernel at n = 700-1,000 with its scales floored, against "wide" (issue 10).

``docs/large-n/SMALL_N.md`` section 6. On the data sets of ``bench_small_n`` (planar clustered
circles, the rotor mixture, the saddle curves, the real rotor maps clean and noise 0.1; the
same draws and the ``--cache`` of its real maps' WEMD distances), dense, per cell:

* ``auto``: ``diffusion_map`` defaults (the adaptive kernel from ``ADAPTIVE_MIN_ITEMS``, with
  the localisation guard), its localisation ratio ``kappa`` and the smaller participation
  ratio ``pr`` of its two coordinates (``conformap.localisation``);
* ``floor F x connect``: the same adaptive graph (same ``m``) with every scale raised to at
  least ``F`` times the fixed rule "connect": a blend that keeps the local scales where they
  are wider and a fixed width where the density would make them narrower;
* ``smoothed rho`` (``--smooth``): the same adaptive graph with each scale replaced by the
  geometric mean of the scales of the item and of its ``scale_neighbor`` nearest neighbours
  (less sampling noise in the local scales, as a kernel density estimate would give);
* ``wide``: the fixed rule "wide" (4 x "connect").

::

    python -m benchmarks.adaptive_floor --seeds 0,1,2 --sizes 700,850,1000 --floors 1,2 \\
        --cache /tmp/smalln/cache --out docs/large-n/parts/adaptive_floor_choose.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

import numpy as np


def run(graph, deg):
    from conformap.diffusion import diffusion_core
    from conformap.evaluate import circle_recovery
    from conformap.localisation import participation_ratio

    res = diffusion_core(graph, n_components=2, rng=0)
    cr = circle_recovery(res.embedding, deg)
    kappa = res.graph["localisation_ratio"]
    return {"median": round(float(cr.median_error), 3), "p90": round(float(cr.p90_error), 3),
            "pr": round(min(participation_ratio(res.embedding[:, j]) for j in range(2)), 4),
            "kappa": None if kappa is None else round(float(kappa), 4),
            "guard": "its median scale" in res.graph["summary"]}


def with_scales(graph, distances, scales):
    """The dense adaptive ``graph`` of ``distances`` with its scales replaced (same ``m``,
    no localisation fallback)."""
    from conformap.scales import dense_kernel

    return replace(graph, scales=scales, kernel=dense_kernel(distances, scales),
                   fallback_distances=None)


def main(argv=None):
    from benchmarks._harness import emit_row
    from benchmarks.bench_small_n import data_sets, real_distances
    from conformap import select_bandwidth
    from conformap.distances import pairwise_distances
    from conformap.graph import graph_from_distances
    from conformap.scales import dense_neighbors

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sizes", default="700,850,1000")
    ap.add_argument("--floors", default="1,2", help="comma-separated; '' for none")
    ap.add_argument("--smooth", action="store_true",
                    help="also the adaptive kernel with each scale replaced by the geometric "
                         "mean of the scales of the item and its scale_neighbor nearest")
    ap.add_argument("--sets", default=None, help="substring filter on the data set names")
    ap.add_argument("--cache", default=None, help="the real maps' WEMD distances (.npy)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    seeds = [int(x) for x in a.seeds.split(",")]
    sizes = [int(x) for x in a.sizes.split(",")]
    floors = [float(x) for x in a.floors.split(",") if x]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        for name, make, _ in data_sets(tuple(sizes), max(sizes)):
            if a.sets and a.sets not in name:
                continue
            real = name.startswith("real")
            for seed in seeds:
                if real:  # the first n maps of one draw, as bench_small_n
                    d_all, deg_all = real_distances(name, make, max(sizes), seed, a.cache)
                for n in sizes:
                    if real:
                        D, deg = np.ascontiguousarray(d_all[:n, :n]), deg_all[:n]
                    else:
                        F, deg = make(n, seed)
                        D = pairwise_distances(F, metric="l2")
                    g = graph_from_distances(D, validate=False)
                    row = {"data": name, "n": n, "seed": seed, "auto": run(g, deg)}
                    conn = select_bandwidth(D, rule="connect")
                    for f in floors:
                        row[f"floor {f:g} x connect"] = run(
                            with_scales(g, D, np.maximum(g.scales, f * conn)), deg)
                    if a.smooth:  # scales averaged (geometric mean) over their own neighbours
                        idx, _ = dense_neighbors(D, g.scale_neighbor)
                        ls = np.log(g.scales)
                        sc = np.exp((ls + ls[idx].sum(axis=1)) / (idx.shape[1] + 1))
                        row["smoothed rho"] = run(with_scales(g, D, sc), deg)
                    row["wide"] = run(graph_from_distances(D, bandwidth="wide", validate=False),
                                      deg)
                    emit_row(row, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
