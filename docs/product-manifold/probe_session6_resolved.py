"""Issue 12, session 6: which product windows lie inside the resolved spectrum of one run.

    python docs/product-manifold/probe_session6_resolved.py \\
        --out docs/product-manifold/probe_session6_resolved.json
    python docs/product-manifold/probe_session6_resolved.py --n 3000 --seed 81 --vertex 2 \\
        --out docs/product-manifold/probe_session6_resolved_81.json

Three-part images (default n = 10,000, SNR 0.1, seed 72; ``--n --snr --seed``), the steps of
``factorize`` done one by one with public functions (``pca_denoise``, ``laplacian_spectrum``,
``factorize_spectrum``, one generator seeded with the data seed, as ``factorize(images,
rng=seed)``), so that the resolved eigenvectors
(Markov eigenvalue above the graph's noise floor: the columns the library searches and takes
windows from) are known; then :func:`conformap.product.window_energy` of ``--vertex``
(default 5) with every other binned eigenvector over those columns (``None``: the window
reaches beyond them).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from conformap.datasets import make_product_cryoem
from conformap.product import factorize_spectrum, laplacian_spectrum, pca_denoise, window_energy


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--snr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=72)
    p.add_argument("--vertex", type=int, default=5, help="the eigenvector paired with the others")
    a = p.parse_args(argv)
    images, _truth = make_product_cryoem(a.n, snr=a.snr, slide=True, rng=a.seed)
    gen = np.random.default_rng(a.seed)
    den = pca_denoise(images, "auto", rng=gen)
    spec = laplacian_spectrum(den.scores, n_eigenvectors=100, rng=gen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = factorize_spectrum(spec, rng=gen)
    cols = np.flatnonzero(spec.markov_eigenvalues > spec.noise_floor)
    cols = cols[cols > 0]
    phi, lam = res.eigenvectors, res.eigenvalues
    unit = phi / np.linalg.norm(phi, axis=0)
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)  # delta="auto"
    pairs = []
    for other in res.factors:
        for v in other.tolist():
            if v == a.vertex:
                continue
            e = window_energy(a.vertex, v, unit, lam, delta, cols)
            pairs.append({"u": a.vertex, "v": v,
                          "sum_lambda": round(float(lam[a.vertex] + lam[v]), 4),
                          "e_win": None if e is None else round(e[0], 3),
                          "e_low": None if e is None else round(e[1], 3)})
    out = {"n": a.n, "snr": a.snr, "seed": a.seed,
           "factors": [f.tolist() for f in res.factors], "n_resolved": int(cols.size),
           "largest_resolved_lambda": round(float(lam[cols].max()), 4),
           "lambda": {int(c): round(float(lam[c]), 4) for c in range(1, 16)}, "pairs": pairs}
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
