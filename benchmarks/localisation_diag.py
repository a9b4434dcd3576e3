"""Which items the adaptive kernel's coordinates localise on, and why (NOISY_IMAGES.md §6).

The blob images of ``benchmarks/denoise_blobs.py`` (700 of 32 x 32, radius 7), projected as
``denoise="auto"`` does, their dense L2 distances and the adaptive graph of
``bandwidth="adaptive"`` (what "auto" was before the localisation guard). For the items with
the largest entries of the first two coordinates: their scale ``rho`` (and its rank), the
self share ``W_ii / D_i`` of their normalised kernel row, the mass ``M_i = D_i rho_i^2``, the
Rayleigh quotient ``r_i = (D_i - W_ii) / M_i`` of a vector on that item alone, their
distance to their nearest neighbour, and the eigenvalues ``lambda_1, lambda_2``::

    python -m benchmarks.localisation_diag --noise 0.5 --seeds 1,2 \
        --out docs/large-n/noisy/localised-items.jsonl
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def main(argv=None):
    from benchmarks.denoise_blobs import blobs
    from conformap.diffusion import diffusion_core, normalized_operator
    from conformap.distances import pairwise_distances
    from conformap.features import prepare_features
    from conformap.graph import graph_from_distances
    from conformap.localisation import participation_ratio

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--top", type=int, default=4)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    rows = []
    for seed in (int(x) for x in a.seeds.split(",")):
        X, _ = blobs(700, 7.0, a.noise, seed, size=32)
        F = prepare_features(X, "euclidean", None, denoise="auto").features
        d = pairwise_distances(F, metric="l2")
        g = graph_from_distances(d, bandwidth="adaptive", validate=False)
        res = diffusion_core(g, n_components=2, rng=0)
        _, _, u, deg, mass = normalized_operator(g, 1.0)
        self_share = u * u / deg  # W_ii = u_i^2 (unit kernel diagonal)
        r = (deg - u * u) / mass
        rho = g.scales
        nn = np.sort(d, axis=1)[:, 1]
        lam = res.laplacian_eigenvalues / 2
        row = {"noise": a.noise, "seed": seed, "rank": int(F.shape[1]), "m": g.dimension,
               "lambda": [round(float(x), 5) for x in lam[1:]],
               "rayleigh_floor": round(float(r.min()), 5),
               "participation": [round(participation_ratio(res.embedding[:, j]), 4)
                                 for j in range(2)],
               "rho_median": round(float(np.median(rho)), 4),
               "rho_max_over_median": round(float(rho.max() / np.median(rho)), 3),
               "mass_median": round(float(np.median(mass)), 5),
               "self_share_median": round(float(np.median(self_share)), 4),
               "nn_median": round(float(np.median(nn)), 3), "items": []}
        top = np.argsort(-np.abs(res.embedding).max(axis=1))[:a.top]
        for i in top:
            row["items"].append({
                "item": int(i), "rho": round(float(rho[i]), 4),
                "rho_rank": int((rho < rho[i]).sum()) + 1,
                "self_share": round(float(self_share[i]), 4),
                "mass": round(float(mass[i]), 5), "rayleigh": round(float(r[i]), 5),
                "nn": round(float(nn[i]), 3),
                "coordinate": [round(float(v), 3) for v in res.embedding[i]]})
        print(json.dumps(row), flush=True)
        rows.append(row)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in rows)


if __name__ == "__main__":
    main()
