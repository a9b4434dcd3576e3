"""Issue 12, session 4: unmixing near-degenerate eigenvectors, scored against analytic ones.

    python docs/product-manifold/measure_unmix.py box --n 6000 --seeds 3 --eigenvectors \\
        --unmix 0 0.08 --out docs/product-manifold/measure_unmix.jsonl
    python docs/product-manifold/measure_unmix.py box --n 6000 --seeds 0 1 5 6 7 \\
        --unmix 0 0.08 --out docs/product-manifold/measure_unmix.jsonl
    python docs/product-manifold/measure_unmix.py rect --n 1500 --seeds 0 1 2 3 4 5 6 7 8 9 10 11 12 13 \\
        --unmix 0 0.08 --out docs/product-manifold/measure_unmix.jsonl
    python docs/product-manifold/measure_unmix.py box --n 6000 --seeds 3 0 1 --unmix 0.05 0.1 \\
        --out docs/product-manifold/measure_unmix.jsonl
    python docs/product-manifold/measure_unmix.py rect --n 1500 --seeds 0 1 2 3 4 5 6 --unmix 0.05 0.1 \\
        --out docs/product-manifold/measure_unmix.jsonl
    python docs/product-manifold/measure_unmix.py box --n 6000 --seeds 5 6 7 --unmix 0.1 \\
        --out docs/product-manifold/measure_unmix.jsonl
    python docs/product-manifold/measure_unmix.py rect --n 1500 --seeds 7 8 9 10 11 12 13 --unmix 0.1 \\
        --out docs/product-manifold/measure_unmix.jsonl

For every data seed one graph spectrum (``laplacian_spectrum``, N = 100, solver seed 0) is
factorized with ``unmix=0`` (the eigenvectors as the graph gives them) and with the given
``unmix`` tolerances (``conformap.product.unmix_eigenvectors``; default 0 and the library
default). Scored on the same spectrum:

* eigenvectors: for each of the first 40 eigenvectors, the largest squared correlation with
  one analytic eigenfunction (products of Neumann cosines, ``_modes``); ``pure40`` counts
  those >= 0.9 (a separable eigenfunction, not a rotation of several);
* factorization: accuracy, confident accuracy and confident correct eigenvectors per factor
  (``conformap.evaluate.factor_assignment``) for auto, MAX-3-CUT and hierarchical (box) or
  auto (rectangle).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings
from unittest import mock

import numpy as np

import conformap.product._factorize as factorize_module
import conformap.product._harmonics as harmonics_module
from conformap.datasets import (
    BOX_SIDES,
    RECTANGLE_SIDES,
    TORUS_RADII,
    make_box,
    make_rectangle,
    make_torus,
)
from conformap.evaluate import factor_assignment
from conformap.product import (
    DEFAULT_UNMIX,
    factorize_spectrum,
    laplacian_spectrum,
    unmix_eigenvectors,
)


def _modes(X, sides, n_modes=300):
    """The first ``n_modes`` analytic eigenfunctions (columns), orthonormalised on X, their
    eigenvalues and names (``x1*z4``: mode 1 along x times mode 4 along z)."""
    ms = sorted((np.pi**2 * sum((p / s) ** 2 for p, s in zip(t, sides, strict=True)), t)
                for t in itertools.product(range(12), repeat=len(sides)) if sum(t))[:n_modes]
    F = np.ones((X.shape[0], len(ms)))
    for c, (_lam, t) in enumerate(ms):
        for i, p in enumerate(t):
            if p:
                F[:, c] *= np.sqrt(2) * np.cos(p * np.pi * X[:, i] / sides[i])
    q, r = np.linalg.qr(F - F.mean(axis=0))
    q *= np.sign(np.diag(r))
    names = ["*".join(f"{'xyz'[i]}{p}" for i, p in enumerate(t) if p) for _l, t in ms]
    return q, np.array([m[0] for m in ms]), names


def _torus_modes(truth, radii, n_modes=300):
    """The first ``n_modes`` real Fourier products of the flat torus, orthonormalised."""
    t1, t2 = truth["theta1"], truth["theta2"]
    ms = sorted(((a / radii[0]) ** 2 + (b / radii[1]) ** 2, a, b)
                for a in range(12) for b in range(-11, 12) if (a, b) > (0, 0) or (a == 0 < b))
    cols, names, lams = [], [], []
    for lam, a, b in ms:
        ph = a * t1 + b * t2
        for f, tag in ((np.cos, "c"), (np.sin, "s")):
            cols.append(np.sqrt(2) * f(ph))
            names.append(f"{tag}({a},{b})")
            lams.append(lam)
    F = np.column_stack(cols[:n_modes])
    q, r = np.linalg.qr(F - F.mean(axis=0))
    q *= np.sign(np.diag(r))
    return q, np.array(lams[:n_modes]), names[:n_modes]


def _shares(phi, q):
    """Squared correlation of every column of phi with every analytic eigenfunction."""
    p = phi - phi.mean(axis=0)
    p /= np.linalg.norm(p, axis=0)
    return (q.T @ p) ** 2


def _top(share, alam, names, lam):
    """Per eigenvector: its eigenvalue and its two largest analytic components."""
    out = []
    for c in range(share.shape[1]):
        best = np.argsort(-share[:, c])[:2]
        out.append({"column": c + 1, "lambda": round(float(lam[c]), 2),
                    "top": [[names[m], round(float(alam[m]), 2), round(float(share[m, c]), 2)]
                            for m in best]})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", choices=["rect", "box", "torus"])
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--unmix", type=float, nargs="+", default=[0.0, DEFAULT_UNMIX],
                   help="unmix values to factorize with (0 = eigenvectors as given)")
    p.add_argument("--eigenvectors", action="store_true",
                   help="also record the analytic components of the first 40 eigenvectors")
    p.add_argument("--harmonics", type=int, nargs="+", default=[1],
                   help="harmonic completion off (0) / on (1, the default since session 7)")
    p.add_argument("--clean-products", type=int, nargs="+", default=[0],
                   help="clean_products off (0, the default) / on (1; session 8)")
    p.add_argument("--rejoin", type=int, nargs="+", default=[0],
                   help="conformap.product._factorize.REJOIN values to run (session 13)")
    p.add_argument("--unmix-bins", type=int, nargs="+", default=[0],
                   help="conformap.product._harmonics.UNMIX_BINS values to run (session 14)")
    p.add_argument("--label", default="", help="stored with every row (e.g. session5)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    make, sides = {"box": (make_box, BOX_SIDES), "rect": (make_rectangle, RECTANGLE_SIDES),
                   "torus": (make_torus, TORUS_RADII)}[a.data]
    modes = ([("auto", {}), ("max3cut", {"n_factors": 3}),
              ("hier3", {"n_factors": 3, "hierarchical": True})] if a.data == "box"
             else [("auto", {})])
    with open(a.out, "a") as fh:
        for seed in a.seeds:
            t0 = time.perf_counter()
            X, truth = make(a.n, rng=seed)
            spec = laplacian_spectrum(X, n_eigenvectors=100, rng=0)
            q, alam, names = (_torus_modes(truth, sides) if a.data == "torus"
                              else _modes(X[:, :len(sides)], sides))
            cols = np.flatnonzero(spec.resolved[1:]) + 1
            for unmix in a.unmix:
                vec, lam = spec.eigenvectors.copy(), spec.eigenvalues.copy()
                aligned = 0
                if unmix > 0:
                    um = unmix_eigenvectors(vec[:, cols], lam[cols], tol=unmix)
                    vec[:, cols], lam[cols] = um.eigenvectors, um.eigenvalues
                    aligned = len(um.aligned)
                share = _shares(vec[:, 1:41], q)
                pur = share.max(axis=0)
                for (mode, kw), harm, clean, rejoin, ub in (
                        (m, h, c, r, u) for m in modes for h in a.harmonics
                        for c in a.clean_products for r in a.rejoin for u in a.unmix_bins):
                    with warnings.catch_warnings(), mock.patch.object(
                            factorize_module, "REJOIN", bool(rejoin)), mock.patch.object(
                            harmonics_module, "UNMIX_BINS", bool(ub)):
                        warnings.simplefilter("ignore")
                        res = factorize_spectrum(spec, rng=0, unmix=unmix,
                                                 harmonics=bool(harm),
                                                 clean_products=bool(clean), **kw)
                    ev = factor_assignment(res.factors, res.eigenvectors, truth)
                    ca = ev.confident & (ev.predicted >= 0)
                    per = [int(((ev.true_label == g) & ca & ev.correct).sum())
                           for g in range(ev.r2.shape[1])]
                    # plain R^2 (factor_assignment before session 7), for comparison
                    ep = factor_assignment(res.factors, res.eigenvectors, truth,
                                           adjusted=False)
                    cp = ep.confident & (ep.predicted >= 0)
                    per_p = [int(((ep.true_label == g) & cp & ep.correct).sum())
                             for g in range(ep.r2.shape[1])]
                    row = {"data": a.data, "n": a.n, "seed": seed, "mode": mode,
                           "label": a.label, "harmonics": bool(harm),
                           "clean_products": bool(clean), "rejoin": bool(rejoin),
                           "unmix_bins": bool(ub),
                           "unmix": unmix, "factors": [f.tolist() for f in res.factors],
                           "n_factors_found": res.n_factors,
                           "accuracy": round(float(ev.accuracy), 3),
                           "confident_accuracy": round(float(ev.confident_accuracy), 3),
                           "confident_correct_per_factor": per,
                           "plain_r2": {"accuracy": round(float(ep.accuracy), 3),
                                        "confident_accuracy":
                                            round(float(ep.confident_accuracy), 3),
                                        "confident_correct_per_factor": per_p},
                           "pure40": int((pur >= 0.9).sum()),
                           "median_purity40": round(float(np.median(pur)), 3),
                           "n_aligned": aligned,
                           "seconds": round(time.perf_counter() - t0, 1)}
                    if a.eigenvectors and mode == "auto":
                        row["eigenvectors"] = _top(share, alam, names, lam[1:41])
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                    print(json.dumps({k: v for k, v in row.items() if k != "eigenvectors"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
