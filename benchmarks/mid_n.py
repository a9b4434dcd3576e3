"""Mid-n diagnosis of the adaptive kernel on noisy clustered circles (docs/large-n/MID_N.md).

Each variant changes one ingredient of the default graph of ``DiffusionMap(metric="euclidean")``
and keeps the rest: the method (dense / kNN: the kernel tails that kNN truncates), the scale
neighbour, the dimension ``m`` of the normalisation (forced, possibly fractional), and the
eigensolver. The points are those of ``benchmarks.bench_density``'s robustness rows
(``clustered_circle(n, seed=1000 * seed + n)``).

    python -m benchmarks.mid_n --ns 2000,3000 --seeds 0,1,2 --out /tmp/midn.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks._harness import emit_row
from benchmarks.bench_density import SETS, clustered_circle, score


def data(name, n, seed):
    if name == "rotor angles":  # clean circle at the paper's angle mixture (bench_density)
        from benchmarks.bench_density import _small_data

        return _small_data(name, n, 1000 * seed + n)
    _, width, noise = next(s for s in SETS if s[0] == name)
    return clustered_circle(n, width=width, noise=noise, seed=1000 * seed + n)


def default_graph(X, method):
    from conformap.graph import build_graph

    g, fs = build_graph(X, metric="euclidean", method=method, rng=0)
    return g, fs


def solve(graph, eigen_solver="auto"):
    from conformap.diffusion import diffusion_core

    return diffusion_core(graph, n_components=2, eigen_solver=eigen_solver, rng=0).embedding


def with_scale_neighbor(X, graph, j):
    """The dense graph with scales rho_i = distance to the j-th neighbour (k, m unchanged)."""
    from conformap.distances import pairwise_distances
    from conformap.scales import dense_kernel, dense_neighbors, local_scales

    d = pairwise_distances(X, metric="l2")
    _, nn = dense_neighbors(d, j)
    scales = local_scales(nn, j)
    return replace(graph, kernel=dense_kernel(d, scales), scales=scales,
                   bandwidth=float(np.median(scales)), scale_neighbor=j)


def variants(X, kinds):
    """Yield (label, embedding, info) per variant."""
    out = {}
    if kinds == ["knnm"]:  # the kNN path only: default (rounded m) and the unrounded m
        from conformap import graph as G

        gk, _ = default_graph(X, "knn")
        _, dist = G.neighbor_search(X, gk.n_neighbors, "l2")
        m = G.normalization_dimension(dist, rounded=False)
        return {"knn default": (solve(gk), {"m": gk.dimension}),
                "knn m unrounded": (solve(replace(gk, dimension=m)), {"m": m})}
    gd, _ = default_graph(X, "dense")
    t = time.perf_counter()
    out[f"dense (auto m={gd.dimension:d})"] = (solve(gd), time.perf_counter() - t)
    if "knn" in kinds:
        gk, _ = default_graph(X, "knn")
        out[f"knn (auto m={gk.dimension:d})"] = (solve(gk), 0.0)
        for m in (1, 1.5, 2):
            out[f"knn m={m}"] = (solve(replace(gk, dimension=m)), 0.0)
    if "m" in kinds:
        for m in (1, 1.25, 1.5, 1.75, 2):
            out[f"dense m={m}"] = (solve(replace(gd, dimension=m)), 0.0)
    if "sn" in kinds:
        for j in (8, 12, 24, 32, 48):
            out[f"dense sn={j}"] = (solve(with_scale_neighbor(X, gd, j)), 0.0)
    if "rule" in kinds:
        from conformap import graph as G

        # m unrounded (the sparsest-quarter estimate before rounding)
        from conformap.distances import pairwise_distances
        from conformap.scales import dense_neighbors, intrinsic_dimension
        d = pairwise_distances(X, metric="l2")
        _, nn = dense_neighbors(d, gd.n_neighbors)
        pooled = intrinsic_dimension(nn)
        sparse = intrinsic_dimension(nn, sparsest=G.DIMENSION_SPARSEST)
        m = sparse if sparse >= G.DIMENSION_MIN_RATIO * pooled else pooled
        out[f"dense m=unrounded {m:.2f}"] = (solve(replace(gd, dimension=m)), 0.0)
        # scale neighbour round(sqrt(n)/2) without the upper clip, k = 3 sn (the dense rule)
        old = G.SCALE_NEIGHBOR_MAX
        try:
            G.SCALE_NEIGHBOR_MAX = 10**9
            g2, _ = default_graph(X, "dense")
        finally:
            G.SCALE_NEIGHBOR_MAX = old
        out[f"dense sn={g2.scale_neighbor} k={g2.n_neighbors} (m={g2.dimension})"] = (
            solve(g2), 0.0)
    if "solver" in kinds:
        out["dense eigen_solver=dense"] = (solve(gd, "dense"), 0.0)
    return out


def _unrounded_m(X, graph):
    """The rule's dimension estimate before rounding (at least 1, as the dense path uses it)."""
    from conformap import graph as G
    from conformap.distances import pairwise_distances
    from conformap.scales import dense_neighbors

    _, nn = dense_neighbors(pairwise_distances(X, metric="l2"), graph.n_neighbors)
    return G.normalization_dimension(nn, rounded=False)


def candidates(X, which):
    """Candidate rules on the default path (method "auto"), each changing one rule:
    ``base`` (the code as it is), ``unclipped`` (dense path: scale neighbour round(sqrt(n)/2)
    without the upper clip, k = 3 sn), ``sqrt`` (dense: round(sqrt(n)), k = 3 sn),
    ``unrounded`` (m not rounded)."""
    import math

    from conformap import graph as G

    out = {}
    for c in which:
        saved, flag = G.scale_neighbor, getattr(G, "UNROUNDED_DIMENSION", False)
        try:
            # the variants are written against the rule before
            # UNROUNDED_DIMENSION ("base": m rounded)
            G.UNROUNDED_DIMENSION = False
            if c in ("unclipped", "sqrt", "both") and X.shape[0] <= G.DENSE_MAX_ITEMS:
                f = (lambda n: round(math.sqrt(n) / 2)) if c != "sqrt" else \
                    (lambda n: round(math.sqrt(n)))
                G.scale_neighbor = lambda n, k=None, f=f, dense=False: int(max(1, min(
                    max(G.SCALE_NEIGHBOR_MIN, f(n)), n - 1, k or 10**9)))
            g, _ = default_graph(X, "auto")
        finally:
            G.scale_neighbor, G.UNROUNDED_DIMENSION = saved, flag
        if c in ("unrounded", "both") and g.adaptive:
            g = replace(g, dimension=_unrounded_m(X, g))
        t = time.perf_counter()
        emb = solve(g)
        out[c] = (emb, {"sn": g.scale_neighbor, "k": g.n_neighbors, "m": g.dimension,
                        "method": g.method, "solve_s": round(time.perf_counter() - t, 2)})
    return out


def _unrounded_m_of(graph, fs):
    from conformap import graph as G
    from conformap.distances import pairwise_distances
    from conformap.scales import dense_neighbors

    d = pairwise_distances(fs.features, metric=fs.lp)
    _, nn = dense_neighbors(d, graph.n_neighbors)
    return G.normalization_dimension(nn, rounded=False)


#: The real rotor map (``../shared``), for :func:`rotor_rows`.
ROTOR_MAP = "../shared/data/rotating_shaft_res6.mrc"


def rotor_rows(n, seed, snr, which):
    """Projections of the real rotor map (``make_particles``, 47 x 47, the paper's angle
    mixture), WEMD features prepared once, the graph of each candidate rule (dense)."""
    import math

    from conformap import graph as G
    from conformap.datasets import make_particles

    imgs, th = make_particles(n, size=47, snr=snr, map=ROTOR_MAP, rng=seed)
    _, fs = G.build_graph(imgs, metric="wemd", method="dense", rng=0)
    out = {}
    for c in which:
        saved, flag = G.scale_neighbor, getattr(G, "UNROUNDED_DIMENSION", False)
        try:
            G.UNROUNDED_DIMENSION = False
            if c in ("unclipped", "sqrt", "both"):
                f = (lambda n: round(math.sqrt(n) / 2)) if c != "sqrt" else \
                    (lambda n: round(math.sqrt(n)))
                G.scale_neighbor = lambda n, k=None, f=f, dense=False: int(max(1, min(
                    max(G.SCALE_NEIGHBOR_MIN, f(n)), n - 1, k or 10**9)))
            g, _ = G.build_graph(features=fs, metric="wemd", method="dense", rng=0)
        finally:
            G.scale_neighbor, G.UNROUNDED_DIMENSION = saved, flag
        if c in ("unrounded", "both") and g.adaptive:
            g = replace(g, dimension=_unrounded_m_of(g, fs))
        out[c] = (solve(g), {"sn": g.scale_neighbor, "k": g.n_neighbors, "m": g.dimension,
                             "summary": g.summary()}, th)
    return out


def render(paths, variants=None) -> str:
    """A markdown table from JSONL rows: one line per (data, n, seed), one column per variant
    (median / p90 degrees); ``variants`` picks and orders the columns (default: all, in the
    order first seen)."""
    rows, cols = {}, []
    for p in paths:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            key = (r["data"], r["n"], r["seed"])
            rows.setdefault(key, {})[r["variant"]] = r
            if r["variant"] not in cols:
                cols.append(r["variant"])
    cols = variants or cols
    out = ["| data | n | seed | " + " | ".join(cols) + " |",
           "|---|---|---|" + "---|" * len(cols)]
    for key in sorted(rows, key=lambda k: (k[0], k[1], k[2])):
        cells = [f"{rows[key][c]['median']:.2f} / {rows[key][c]['p90']:.2f}"
                 if c in rows[key] else "-" for c in cols]
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def summarize(diagnosis, candidates, rotor) -> dict:
    """The derived figures of docs/large-n/MID_N.md (differences, counts, ranges) from the
    row files, so that each number written there is in a results file."""
    import collections

    def load(p):
        d = collections.defaultdict(dict)
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            d[(r["data"], r["n"], r["seed"])].setdefault(r["variant"], r)
        return d

    def diff(d, a, b, f, keep=lambda k: True):
        x = [v[b][f] - v[a][f] for k, v in d.items() if a in v and b in v and keep(k)]
        return [round(min(x), 2), round(max(x), 2)] if x else None

    def within(d, v, keep):
        rows = [x[v] for k, x in d.items() if v in x and keep(k)]
        return {"runs": len(rows), "within": sum(r["median"] <= 2 and r["p90"] <= 5 for r in rows)}

    dg, cd, ro = load(diagnosis), load(candidates), load(rotor)
    mid = lambda k: "noise" in k[0] and k[1] in (2000, 3000)  # noqa: E731
    clean = lambda k: "noise" not in k[0] and k[1] in (2000, 3000)  # noqa: E731
    out = {"diagnosis": {
        "knn_minus_dense_median": diff(dg, "dense default", "knn default", "median"),
        "knn_minus_dense_p90": diff(dg, "dense default", "knn default", "p90"),
        "solver_minus_dense": diff(dg, "dense default", "dense eigen_solver=dense", "median")}}
    out["within"] = {v: {"mid_n_seeds_0_2": within(cd, v, lambda k: mid(k) and k[2] < 3),
                         "mid_n_seeds_3_5": within(cd, v, lambda k: mid(k) and k[2] >= 3)}
                     for v in ("base", "unrounded", "both", "unclipped", "sqrt")}
    out["clean_unrounded_minus_base"] = {
        "median": diff(cd, "base", "unrounded", "median", clean),
        "p90": diff(cd, "base", "unrounded", "p90", clean)}
    out["clean_both_minus_base_p90"] = diff(cd, "base", "both", "p90", clean)
    rc = lambda k: "clean" in k[0]  # noqa: E731
    out["rotor_clean_unrounded_minus_base"] = {
        "median": diff(ro, "base", "unrounded", "median", rc),
        "p90": diff(ro, "base", "unrounded", "p90", rc)}
    out["rotor_clean_within"] = {v: within(ro, v, rc) for v in ("base", "unrounded")}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="2000,3000")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sets", default="dwell 3 deg, noise 0.01;dwell 5 deg, noise 0.01")
    ap.add_argument("--kinds", default="knn,m,sn,solver")
    ap.add_argument("--out", default=None)
    ap.add_argument("--rotor", default=None, metavar="SNR",
                    help="real rotor map projections instead of circles: 'clean' or an SNR")
    ap.add_argument("--candidates", default=None,
                    help="comma-separated rules of candidates() instead of --kinds")
    ap.add_argument("--render", nargs="+", default=None, metavar="JSONL",
                    help="print a markdown table of these rows (--candidates: the columns)")
    ap.add_argument("--summarize", nargs=3, default=None,
                    metavar=("DIAGNOSIS", "CANDIDATES", "ROTOR"),
                    help="print the derived figures of docs/large-n/MID_N.md as JSON")
    a = ap.parse_args(argv)
    if a.summarize:
        print(json.dumps(summarize(*a.summarize), indent=1))
        return 0
    if a.render:
        print(render(a.render, a.candidates.split(",") if a.candidates else None))
        return 0
    kinds = a.kinds.split(",")
    with open(a.out, "a") if a.out else contextlib.nullcontext() as fh:
        if a.rotor:
            snr = None if a.rotor == "clean" else float(a.rotor)
            for n in map(int, a.ns.split(",")):
                for seed in map(int, a.seeds.split(",")):
                    for label, (emb, info, th) in rotor_rows(
                            n, seed, snr, a.candidates.split(",")).items():
                        row = {"data": f"rotor map 47x47, snr {a.rotor}", "n": n, "seed": seed,
                               "variant": label, **score(emb, th), **info}
                        emit_row(row, fh)
            return 0
        for name in a.sets.split(";"):
            for n in map(int, a.ns.split(",")):
                for seed in map(int, a.seeds.split(",")):
                    X, th = data(name, n, seed)
                    got = (candidates(X, a.candidates.split(",")) if a.candidates
                           else variants(X, kinds))
                    for label, (emb, info) in got.items():
                        row = {"data": name, "n": n, "seed": seed, "variant": label,
                               **score(emb, th), **(info if isinstance(info, dict) else {})}
                        emit_row(row, fh)
        return 0


if __name__ == "__main__":
    sys.exit(main())
