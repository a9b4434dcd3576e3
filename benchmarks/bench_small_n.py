"""Small-n bandwidth candidates for ``bandwidth="auto"`` (dense path, n = 25-1000).

Usage (from the repository root)::

    python -m benchmarks.bench_small_n --seeds 0,1,2 --out docs/large-n/parts/small_n_rules.json
    python -m benchmarks.bench_small_n --seeds 0,1,2 --sizes 400,500,600,700,850,1000 \
        --real-max 1000 --cache /tmp/small_n_cache --out docs/large-n/parts/small_n_transition.json

Every candidate is run on the same dense distance matrices (one draw per data set, n and
seed; for the real maps the first n of one draw per seed), scored by
:func:`conformap.evaluate.circle_recovery` (median / p90 degrees). Data: clustered circles in
the plane (``bench_density.SETS``), the rotor angle
mixture on a planar circle, a saddle-shaped closed curve in 3-D sampled with three dwells
(:func:`saddle`; its known parameter is the arc-length angle, which is what the
Laplace-Beltrami eigenfunctions ``cos, sin`` of a closed curve recover, and which a PCA-like
wide kernel misses), and the paper's real rotor map
(``../shared/data/rotating_shaft_res6.mrc``, clean and noise 0.1, WEMD coif3 level 5).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SIZES = (25, 50, 100, 200, 400, 700, 1000)
MAP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "rotating_shaft_res6.mrc"
REAL_MAX = 400


def saddle(n, seed, noise=0.0, width=3.0, frac=0.6, height=1.0):
    """A curved closed curve, ``(cos t, sin t, height cos 2t)``, ``frac`` of the draws of t in
    three dwells; truth: the arc-length angle in degrees.

    Its projection on the plane is the unit circle, so a kernel so wide that the diffusion map
    tends to PCA recovers ``t``, which differs from the arc-length angle (what the
    Laplace-Beltrami eigenfunctions recover) by 3.0 degrees median, 4.2 at most at
    ``height`` = 0.8 (3.7 and 5.2 at 1.0, where the three coordinates have equal variance and
    PCA's plane is not even defined): a PCA-like embedding misses the target, a correct one
    does not.
    """
    from conformap.datasets import make_clustered_circle

    _, deg = make_clustered_circle(n, width=width, frac=frac, rng=seed)
    t = np.radians(deg)
    curve = lambda s: np.c_[np.cos(s), np.sin(s), height * np.cos(2 * s)]  # noqa: E731
    grid = np.linspace(0, 2 * np.pi, 20001)
    arc = np.r_[0, np.cumsum(np.linalg.norm(np.diff(curve(grid), axis=0), axis=1))]
    truth = 360.0 * np.interp(t, grid, arc) / arc[-1]
    X = curve(t)
    if noise:
        X = X + noise * np.random.default_rng(1000 + seed).standard_normal(X.shape)
    return X, truth


def planar(kind, n, seed):
    from benchmarks.bench_density import _small_data

    return _small_data(kind, n, seed)


def real_maps(n, seed, noise):
    from conformap.datasets import rotate_map
    from conformap.io import read_stack
    from conformap.wemd import wemd_embedding

    vol = read_stack(str(MAP)).data[0]
    maps, deg = rotate_map(vol, n, noise=noise, rng=seed)
    return wemd_embedding(maps, level=5, negative="keep"), deg


def candidates():
    """(name, kwargs for diffusion_map, scale neighbour or None)."""
    out = [("connect", {"bandwidth": "connect"}, None)]
    out += [(f"{c} x connect", {"factor": c}, None) for c in (1.5, 2.0, 3.0, 4.0, 6.0, 8.0)]
    out += [("kernel-sum", {"bandwidth": "kernel-sum"}, None),
            ("median", {"bandwidth": "median"}, None)]
    out += [(f"adaptive sn={j}", {"bandwidth": "adaptive"}, j) for j in (3, 5, 8, 16, 24)]
    out += [("adaptive (current sn)", {"bandwidth": "adaptive"}, None)]
    out += [("auto", {"bandwidth": "auto"}, None)]
    return out


def fit(D, deg, kw, sn):
    import conformap.graph as G
    from conformap import diffusion_map, select_bandwidth
    from conformap.evaluate import circle_recovery

    kw = dict(kw)
    if "factor" in kw:
        kw = {"bandwidth": kw["factor"] * select_bandwidth(D, rule="connect")}
    saved = G.scale_neighbor
    if sn is not None:
        G.scale_neighbor = lambda n, k=None, j=sn: int(max(1, min(j, n - 1, k or j)))
    try:
        res = diffusion_map(D, n_components=2, **kw)
    except ValueError as exc:
        return {"status": str(exc)[:60]}
    finally:
        G.scale_neighbor = saved
    r = circle_recovery(res.embedding, deg)
    return {"median": round(r.median_error, 3), "p90": round(r.p90_error, 3)}


def data_sets(sizes=SIZES, real_max=REAL_MAX):
    from benchmarks.bench_density import SETS

    sets = [("rotor angles", lambda n, s: planar("rotor angles", n, s), sizes)]
    sets += [(k, (lambda n, s, k=k: planar(k, n, s)), sizes) for k, _, _ in SETS]
    sets += [("saddle 3 deg, clean", lambda n, s: saddle(n, s), sizes),
             ("saddle 3 deg, noise 0.01", lambda n, s: saddle(n, s, noise=0.01), sizes),
             ("saddle 0.8, 3 deg, clean", lambda n, s: saddle(n, s, height=0.8), sizes)]
    if MAP.exists():
        real = tuple(x for x in sizes if x <= real_max)
        sets += [("real rotor map, clean", lambda n, s: real_maps(n, s, 0.0), real),
                 ("real rotor map, noise 0.1", lambda n, s: real_maps(n, s, 0.1), real)]
    return sets


def real_distances(name, make, n, seed, cache=None):
    """WEMD (L1) distances of the first ``n`` maps of one draw, and their angles; kept as
    ``.npy`` in ``cache`` (the maps and their WEMD take ~90 s and 4 GB at n = 1000)."""
    from conformap.distances import pairwise_distances

    stem = "".join(c if c.isalnum() else "_" for c in name) + f"_n{n}_s{seed}"
    files = (Path(cache) / f"{stem}_D.npy", Path(cache) / f"{stem}_deg.npy") if cache else None
    if files and files[0].exists():
        return np.load(files[0]), np.load(files[1])
    F, deg = make(n, seed)
    D = pairwise_distances(F, metric="l1")
    del F
    if files:
        files[0].parent.mkdir(parents=True, exist_ok=True)
        np.save(files[0], D)
        np.save(files[1], deg)
    return D, deg


def main(argv=None):
    from conformap.distances import pairwise_distances

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sets", default=None, help="substring filter on the data set names")
    ap.add_argument("--max-n", type=int, default=1000)
    ap.add_argument("--candidates", default=None, help="comma-separated candidate names")
    ap.add_argument("--sizes", default=None, help="comma-separated n (default: SIZES)")
    ap.add_argument("--real-max", type=int, default=REAL_MAX, help="largest n of the real maps")
    ap.add_argument("--cache", default=None,
                    help="folder keeping the real maps' WEMD distances (.npy) between runs")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    seeds = [int(x) for x in a.seeds.split(",")]
    rows = []
    t0 = time.perf_counter()
    sizes_all = tuple(int(x) for x in a.sizes.split(",")) if a.sizes else SIZES
    for name, make, sizes in data_sets(sizes_all, a.real_max):
        if a.sets and a.sets not in name:
            continue
        sizes = [x for x in sizes if x <= a.max_n]
        real = name.startswith("real")
        for seed in seeds:
            if real:  # i.i.d. angles: the first n maps of one draw are a draw of n
                Dall, deg_all = real_distances(name, make, max(sizes), seed, a.cache)
            for n in sizes:
                if real:
                    D, deg = np.ascontiguousarray(Dall[:n, :n]), deg_all[:n]
                else:  # the generators put the dwells first: draw each n afresh
                    F, deg = make(n, seed)
                    D = pairwise_distances(F, metric="l2")
                row = {"data": name, "n": n, "seed": seed}
                for cname, kw, sn in candidates():
                    if a.candidates and cname not in a.candidates.split(","):
                        continue
                    row[cname] = fit(D, deg, kw, sn)
                rows.append(row)
                print(json.dumps(row), flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"command": " ".join(["-m benchmarks.bench_small_n",
                                                           *(argv or sys.argv[1:])]),
                                       "seconds": round(time.perf_counter() - t0, 1),
                                       "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
