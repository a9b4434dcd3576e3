"""Issue 12, session 12: are the vectors harmonic completion adds products of other bins?

    cd docs/product-manifold && python probe_products_session12.py --runs 3000:1:130:3:100 ... \\
        --cache /tmp/p12harm --out probe_products_session12.jsonl

For each run (``n:snr:seed:parts:N`` as ``measure_session8.py``) the spectrum is factorized
as ``measure_session8.py``'s ``session10`` variant does (the library default without the
product test, ``HARMONIC_MAX_PRODUCT``, that these rows led to) and, for every vector harmonic
completion adds, this writes
its ground truth (``conformap.evaluate.factor_assignment``: right factor, relative score) and
how much of it the products of two *other-bin* eigenvectors explain: the largest squared
correlation with one centred unit product, and the adjusted R^2 on all the cross-bin products
whose eigenvalue sum lies within the window's tolerance of the vector's eigenvalue.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import probe_session7 as p7
from measure_session8 import run_variant

from conformap.evaluate import factor_assignment
from conformap.product import HARMONIC_FIT, harmonic_basis


def adjusted_r2(r2, n, p):
    """R^2 adjusted for p regressors on n items (the chance fit of p random columns removed)."""
    return 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1)


def unit(x):
    x = x - x.mean(axis=0)
    return x / np.linalg.norm(x, axis=0)


def product_fit(res, col, added, tol):
    """Largest squared correlation of column ``col`` with one product of eigenvectors of two
    different bins (neither added), and the adjusted R^2 on the products with
    |lam_i + lam_j - lam_col| <= tol * lam_col (all cross-bin pairs if none)."""
    phi, lam = res.eigenvectors, res.eigenvalues
    owner = {int(c): b for b, f in enumerate(res.factors) for c in f.tolist()
             if int(c) not in added}
    cols = sorted(owner)
    pairs = [(i, j) for t, i in enumerate(cols) for j in cols[t + 1:] if owner[i] != owner[j]]
    v = unit(phi[:, [col]])[:, 0]
    u = {c: unit(phi[:, [c]])[:, 0] for c in cols}
    prods = unit(np.column_stack([u[i] * u[j] for i, j in pairs]))
    corr2 = (prods.T @ v) ** 2
    near = [t for t, (i, j) in enumerate(pairs)
            if abs(lam[i] + lam[j] - lam[col]) <= tol * lam[col]]
    out = {"best_pair": list(pairs[int(np.argmax(corr2))]),
           "best_corr2": round(float(corr2.max()), 3), "n_near": len(near)}
    for name, sel in (("near", near), ("all", list(range(len(pairs))))):
        if not sel:
            out[f"r2_{name}"] = None
            continue
        q, _ = np.linalg.qr(prods[:, sel])
        r2 = float(((q.T @ v) ** 2).sum())
        out[f"r2_{name}"] = round(float(adjusted_r2(r2, phi.shape[0], q.shape[1])), 3)
    return out


def cross_fit(res, col, b, added):
    """Adjusted R^2 of column ``col`` on the centred products q * g of bin ``b``'s harmonic
    basis Q (its lead's polynomials, as complete_harmonics builds it) and the eigenvectors g of
    every other bin (none added): a function of b's factor alone is orthogonal to all of
    them by independence."""
    phi = res.eigenvectors
    members = [c for c in res.factors[b].tolist() if c not in added]
    q1 = harmonic_basis(phi[:, members[:1]])
    q = q1
    if len(members) >= 2:
        v = unit(phi[:, [members[1]]])[:, 0]
        fit1 = float(adjusted_r2(float(((q1.T @ v) ** 2).sum()), phi.shape[0], q1.shape[1]))
        if fit1 < HARMONIC_FIT:
            q = harmonic_basis(phi[:, members[:2]])
    others = [c for f, cols in enumerate(res.factors) if f != b for c in cols.tolist()
              if c not in added]
    if not others:
        return None
    g = unit(phi[:, others])
    prods = np.column_stack([q[:, i] * g[:, j] for i in range(q.shape[1])
                             for j in range(g.shape[1])])
    basis, _ = np.linalg.qr(unit(prods))
    v = unit(phi[:, [col]])[:, 0]
    r2 = float(((basis.T @ v) ** 2).sum())
    return round(float(adjusted_r2(r2, phi.shape[0], basis.shape[1])), 3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--cache", default="/tmp/p12harm")
    p.add_argument("--tol", type=float, default=0.1)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    with open(a.out, "a") as fh:
        for r in a.runs:
            n, snr, seed, parts, n_vec = r.split(":")
            n, snr, seed, n_vec = int(n), float(snr), int(seed), int(n_vec)
            spec, gen, truth = p7.spectrum(n, snr, seed, a.cache, parts == "3", n_vec)
            res = run_variant(spec, gen, "session10")
            ev = factor_assignment(res.factors, res.eigenvectors, truth)
            at = {int(c): k for k, c in enumerate(ev.columns.tolist())}
            r2c = np.nan_to_num(ev.r2)
            signal = np.maximum(np.nan_to_num(ev.r2_all), r2c.max(axis=1))
            rel = r2c / np.maximum(signal, 1e-12)[:, None]
            steps = [st for lv in res.levels if lv["split"] == "harmonics" for st in lv["steps"]
                     if st["kind"] == "add"]
            added = {st["column"] for st in steps}
            for st in steps:
                c = st["column"]
                k = at[c]
                row = {"run": r, "column": c, "bin": st["bin"], "fit": st["fit"],
                       "spread": st["spread"], "share": st["share"], "window": st["window"],
                       "correct": bool(ev.correct[k]), "true_label": int(ev.true_label[k]),
                       "predicted": int(ev.predicted[k]), "confident": bool(ev.confident[k]),
                       "rel": [round(float(x), 3) for x in rel[k]],
                       "r2_all_truth": round(float(np.nan_to_num(ev.r2_all[k])), 3),
                       "cross_r2": cross_fit(res, c, st["bin"], added),
                       **product_fit(res, c, added, a.tol)}
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
