"""Why the built-in particle set fails at n = 1,000-3,000: the scale-neighbour probe.

Usage (from the repository root)::

    python -m benchmarks.simulated_dwell --n 2000 --seeds 3,4 --sn 4,6,8 --k 3x --method knn

The images of ``conformap simulate-particles`` (:func:`benchmarks.simulated_particles.images`)
at ``--noise``, their features prepared once (:func:`conformap.features.prepare_features`,
denoised as "auto" does), then one graph per forced scale neighbour ``sn``
(:func:`conformap.graph.scale_neighbor` replaced for the probe, restored after) with
``k = 48`` or ``k = 3 sn`` (at least 10) stored neighbours, on the path ``--method``, through
the diffusion core at ``rng=0``. Each row: per ``sn``, [median, p90, path initial, m].
A probe, not a rule: nothing here changes a default.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from benchmarks.bench_density import score
from benchmarks.simulated_particles import NOISE, images


def probe(n: int, seed: int, sns, kmode: str, noise: float, method: str) -> dict:
    """One row: the scores of the graphs with scale neighbour ``sn`` forced, for each ``sn``."""
    import conformap.graph as G
    from conformap.diffusion import diffusion_core
    from conformap.features import prepare_features

    X, th = images(n, seed, noise)
    fs = prepare_features(X, "wemd")
    out = {"n": n, "seed": seed, "k": kmode, "noise": noise, "method": method}
    orig = G.scale_neighbor
    try:
        for sn in sns:
            G.scale_neighbor = lambda n_, k_=None, sn=sn: int(min(sn, k_ or sn, n_ - 1))
            k = 48 if kmode == "48" else max(3 * sn, 10)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g, _ = G.build_graph(features=fs, metric="wemd", n_neighbors=k, rng=0,
                                     method=method)
                r = diffusion_core(g, n_components=2, rng=0)
            s = score(r.embedding, th)
            out[str(sn)] = [s["median"], s["p90"], g.method[0], round(float(g.dimension), 2)]
    finally:
        G.scale_neighbor = orig
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="2000")
    p.add_argument("--seeds", default="3,4")
    p.add_argument("--sn", default="6,16")
    p.add_argument("--k", choices=["48", "3x"], default="3x")
    p.add_argument("--noise", type=float, default=NOISE)
    p.add_argument("--method", choices=["auto", "dense", "knn"], default="knn")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    sns = [int(s) for s in a.sn.split(",")]
    import contextlib

    with (open(a.out, "a") if a.out else contextlib.nullcontext(sys.stdout)) as fh:
        for n in (int(s) for s in a.n.split(",")):
            for seed in (int(s) for s in a.seeds.split(",")):
                fh.write(json.dumps({"probe": "scale neighbour forced",
                                     **probe(n, seed, sns, a.k, a.noise, a.method)}) + "\n")
                fh.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
