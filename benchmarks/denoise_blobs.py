"""Noisy images of a blob moving on a circle: PCA denoising "auto" against "off" (issue 10).

The synthetic set of ``tests/test_denoise.py`` (a Gaussian blob ``exp(-d^2 / 8)`` on a circle in
24 x 24 images, white noise, uniform angles), over radii, noise levels and seeds, through
``DiffusionMap(metric="euclidean")`` with ``denoise="auto"`` and ``"off"`` (and "auto" with
``bandwidth="connect"``). 400 images of 576 pixels (p/n = 1.44): the sizes where
``conformap.denoise.DENOISE_MAX_RATIO`` now projects and the rule before (p <= n) did not::

    python -m benchmarks.denoise_blobs --out docs/large-n/noisy/blobs.jsonl
    python -m benchmarks.denoise_blobs --n 700 --size 32 --radii 7 --noises 0.3,0.5 \
        --out docs/large-n/noisy/blobs-700.jsonl
    python -m benchmarks.denoise_blobs --n 700 --size 32 --radii 7 --noises 0.3,0.5 \
        --variants auto,off,auto+connect,auto+adaptive \
        --out docs/large-n/noisy/blobs-700-guard.jsonl
    python -m benchmarks.denoise_blobs --n 700 --size 32 --radii 7 --noises 0.3,0.5 \
        --seeds 0,1,2,3,4,5,6,7 --variants auto,dense,off \
        --out docs/large-n/noisy/blobs-700-merged.jsonl

One JSON line per run (written fresh). Each line: the error against the true angles (median /
p90 degrees), the projection's rank, the graph line, the adaptive kernel's localisation ratio
(``conformap.localisation``; None for a fixed kernel), and the participation ratio
``(sum v^2)^2 / (n sum v^4)`` of the first two diffusion coordinates (1 for a coordinate
spread evenly over the items, about 1 / n for one localised on a single item).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from conformap import DiffusionMap
from conformap.evaluate import circle_recovery
from conformap.localisation import participation_ratio as participation


def blobs(n: int, radius: float, noise: float, seed: int, size: int = 24):
    """``(images (n, size, size), angles in degrees)``."""
    r = np.random.default_rng(seed)
    t = r.uniform(0, 360, n)
    yy, xx = np.mgrid[:size, :size]
    tr = np.radians(t)
    c = (size - 1) / 2
    imgs = np.exp(-((yy - c - radius * np.sin(tr)[:, None, None]) ** 2
                    + (xx - c - radius * np.cos(tr)[:, None, None]) ** 2) / 8.0)
    return imgs + noise * r.standard_normal(imgs.shape), t


#: "auto+adaptive": the adaptive kernel without the localisation guard
#: (``conformap.localisation``), i.e. what "auto" was before it at n >= ADAPTIVE_MIN_ITEMS.
VARIANTS = {"auto": {}, "off": {"denoise": "off"}, "auto+connect": {"bandwidth": "connect"},
            "auto+adaptive": {"bandwidth": "adaptive"},
            # the complete dense kernel (what "auto" built below the dense limit before
            # conformap.truncation.DENOISED_TRUNCATION_MASS), with the localisation guard
            "dense": {"method": "dense"}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--size", type=int, default=24)
    ap.add_argument("--radii", default="5,7")
    ap.add_argument("--noises", default="0.3,0.5,0.8")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--variants", default="auto,off,auto+connect",
                    help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    lines = []
    for radius in [float(x) for x in a.radii.split(",")]:
        for noise in [float(x) for x in a.noises.split(",")]:
            for seed in [int(x) for x in a.seeds.split(",")]:
                X, t = blobs(a.n, radius, noise, seed, size=a.size)
                for name in a.variants.split(","):
                    kw = VARIANTS[name]
                    dm = DiffusionMap(metric="euclidean", random_state=0, **kw).fit(X)
                    cr = circle_recovery(dm.embedding_, t)
                    line = {"n": a.n, "size": a.size, "radius": radius, "noise": noise,
                            "seed": seed,
                            "variant": name, "median_error_deg": round(cr.median_error, 3),
                            "p90_error_deg": round(cr.p90_error, 3),
                            "denoise_rank": dm.denoise_rank_,
                            "participation": [round(participation(dm.embedding_[:, j]), 4)
                                              for j in range(2)],
                            "localisation_ratio": dm.result_.graph.get("localisation_ratio"),
                            "graph": dm.graph_summary_}
                    print(json.dumps(line), flush=True)
                    lines.append(line)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in lines)


if __name__ == "__main__":
    main()
