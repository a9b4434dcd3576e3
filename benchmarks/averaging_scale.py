"""The two-pass graph of denoised items (conformap.averaging) against the size of the data set.

For one ``make_particles`` set (64 x 64, the paper's angle mixture) the first graph is built
once with the defaults, then three graphs are embedded and scored as ``bench_largen`` scores
(``circle_recovery`` of the first two coordinates on 5,000 random images):

* ``one-pass``: the first graph itself (GRAPH_AVERAGING_STEPS = 0);
* ``two-pass``: the graph of the items averaged by one step of the first graph's Markov
  operator, with its own normalisation dimension ``m`` (the builder's rule on the averaged
  items);
* ``two-pass, first m``: the same averaged graph with ``m`` estimated on the first pass's
  items (``dimension`` of the first graph; m enters only the alpha = 1 normalisation).

Usage::

    python -m benchmarks.averaging_scale --n 20000 --seed 0 --json rows.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace


def run(n: int, seed: int, snr: float, size: int = 64) -> list[dict]:
    import numpy as np

    from conformap.averaging import averaged_features
    from conformap.datasets import make_particles
    from conformap.diffusion import diffusion_core
    from conformap.evaluate import circle_recovery
    from conformap.graph import build_graph
    from conformap.truncation import measure_dropped_mass

    images, angles = make_particles(n, size=size, snr=snr, rng=seed)
    sub = np.random.default_rng(1).choice(n, min(n, 5000), replace=False)
    params = {"negative": "keep"}
    rows = []

    def score(name, graph, fs, seconds):
        t = time.perf_counter()
        res = diffusion_core(graph, n_components=2, rng=0,
                             remeasure=lambda g: measure_dropped_mass(g, fs, rng=0))
        rec = circle_recovery(res.embedding[sub, :2], angles[sub])
        rows.append({"n": n, "seed": seed, "snr": snr, "size": size, "variant": name,
                     "m": float(graph.dimension), "method": graph.method,
                     "median_error_deg": float(rec.median_error),
                     "p90_error_deg": float(rec.p90_error),
                     "seconds": seconds + time.perf_counter() - t})
        print(json.dumps(rows[-1]), flush=True)

    t = time.perf_counter()
    g1, fs1 = build_graph(images, metric="wemd", metric_params=params, rng=0)
    t1 = time.perf_counter() - t
    den = fs1.denoiser
    score("one-pass", g1, fs1, t1)
    del fs1
    t = time.perf_counter()
    fs2 = averaged_features(g1, den, images, params, steps=1)
    g2, fs2 = build_graph(features=fs2, metric="wemd", rng=0)
    t2 = time.perf_counter() - t
    score("two-pass", g2, fs2, t1 + t2)
    # the same averaged graph with the first pass's m (m enters only the normalisation)
    score("two-pass, first m", replace(g2, dimension=g1.dimension), fs2, t1 + t2)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="+", default=[20000])
    p.add_argument("--seed", type=int, nargs="+", default=[0])
    p.add_argument("--snr", type=float, default=0.5)
    p.add_argument("--json", default=None, metavar="FILE", help="append the rows (JSONL)")
    a = p.parse_args(argv)
    for n in a.n:
        for seed in a.seed:
            rows = run(n, seed, a.snr)
            if a.json:
                with open(a.json, "a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
