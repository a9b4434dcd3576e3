"""What limits the dense adaptive kernel at n = 1,000 on clustered circles (issue 10).

``docs/large-n/SMALL_N.md`` section 7. The planar clustered circles of ``bench_density.SETS``
(``make_clustered_circle``: 60 % of the points in three dwells 120 degrees apart), and a
uniform circle (no dwell, clean and noise 0.01), drawn as ``bench_density``'s small-n section
draws them (``rng=seed``); dense, per cell:

* ``auto``: ``diffusion_map`` defaults (the adaptive kernel at this n);
* ``true density``: the same graph with every scale replaced by the one the *true* sampling
  density gives, :math:`\\rho_i \\propto p(\\theta_i)^{-1/m}`, rescaled to the same median
  (a floor for any estimate of the scales);
* ``width x C``: the same graph with the kernel's width multiplied by C (every scale by
  :math:`\\sqrt C`; the normalisation is unchanged by a common factor);
* ``connect``: the fixed rule "connect".

::

    python -m benchmarks.kernel_floor --n 1000 --seeds 0,1,2 \\
        --out docs/large-n/parts/kernel_floor.jsonl
    python -m benchmarks.kernel_floor --render docs/large-n/parts/kernel_floor.jsonl

(``--render``: the markdown table of SMALL_N.md section 7, per data set and candidate the
seeds within the target and the median over seeds of the median / p90 error.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

WIDTHS = (0.5, 2.0)


def true_density(deg, width_deg, frac):
    """The sampling density on the circle (per radian) of ``make_clustered_circle``."""
    th = np.radians(np.asarray(deg, float))
    w = np.radians(width_deg)
    p = np.full(th.shape, (1 - frac) / (2 * np.pi))
    if frac > 0 and w > 0:
        for mu in (0.0, 2 * np.pi / 3, 4 * np.pi / 3):
            z = ((th - mu + np.pi) % (2 * np.pi) - np.pi) / w
            p += frac / 3 * np.exp(-0.5 * z * z) / (w * np.sqrt(2 * np.pi))
    return p


CANDIDATES = ("auto", "true density", *(f"width x {c:g}" for c in WIDTHS), "connect")


def render(path) -> str:
    from benchmarks.summarize_small_n import ok

    with open(path) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    out = ["| data | n | " + " | ".join(CANDIDATES) + " |",
           "|---|---|" + "---|" * len(CANDIDATES)]
    for name in dict.fromkeys(r["data"] for r in rows):
        rs = [r for r in rows if r["data"] == name]
        cells = []
        for c in CANDIDATES:
            med = np.median([r[c]["median"] for r in rs])
            p90 = np.median([r[c]["p90"] for r in rs])
            cells.append(f"{sum(ok(r[c]) for r in rs)}/{len(rs)}: {med:.2f} / {p90:.2f}")
        out.append(f"| {name} | {rs[0]['n']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    from benchmarks._harness import emit_row
    from benchmarks.adaptive_floor import run, with_scales
    from benchmarks.bench_density import SETS
    from conformap.datasets import make_clustered_circle
    from conformap.distances import pairwise_distances
    from conformap.graph import graph_from_distances

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out")
    ap.add_argument("--render", help="print the table of a written .jsonl and stop")
    a = ap.parse_args(argv)
    if a.render:
        print(render(a.render))
        return 0
    if not a.out:
        ap.error("--out is required (or --render FILE)")
    sets = [*SETS, ("uniform, clean", 0.0, 0.0), ("uniform, noise 0.01", 0.0, 0.01)]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        for name, width, noise in sets:
            frac = 0.0 if name.startswith("uniform") else 0.6
            for seed in (int(s) for s in a.seeds.split(",")):
                X, deg = make_clustered_circle(a.n, width=max(width, 1.0), frac=frac,
                                               noise=noise, rng=seed)
                D = pairwise_distances(X, metric="l2")
                g = graph_from_distances(D, validate=False)
                row = {"data": name, "n": a.n, "seed": seed, "m": float(g.dimension),
                       "auto": run(g, deg)}
                t = true_density(deg, width, frac) ** (-1.0 / float(g.dimension))
                cells = {"true density": t * np.median(g.scales) / np.median(t)}
                cells |= {f"width x {c:g}": g.scales * np.sqrt(c) for c in WIDTHS}
                for label, sc in cells.items():
                    row[label] = run(with_scales(g, D, sc), deg)
                row["connect"] = run(graph_from_distances(D, bandwidth="connect",
                                                          validate=False), deg)
                emit_row(row, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
