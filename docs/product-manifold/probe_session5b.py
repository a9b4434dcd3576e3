"""Issue 12, session 5b: the step-by-step numbers quoted in diagnosis.md section 8 (5b).

    python docs/product-manifold/probe_session5b.py --out docs/product-manifold/probe_session5b.json

Three-part images (``make_product_cryoem(slide=True)``, defaults, N = 100, data seed = solver
seed as in ``measure_images.py``), for the runs that failed in session 5 and one that still
over-splits. For each run, with the current code:

* every binned eigenvector and every eigenvector up to the last binned one: eigenvalue, the
  two analytic modes (single-factor cosines, or a product of two low modes of two factors)
  with the largest squared correlation, and its factor R^2 (``conformap.evaluate``);
* the bar's modes slide_1..slide_3: eigenvalue and share of the eigenvector that holds most
  of each (is the second mode in the computed spectrum, and where);
* the binned eigenvectors' pure-product share, single pair against the window span
  (``product_share``: the single-pair part is recomputed here);
* the hierarchy's levels, including ``refine`` steps (``refine_bins``), the pair votes of
  the separability graph's vertices, and the confident accuracy.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from conformap.datasets import make_product_cryoem
from conformap.evaluate import factor_assignment
from conformap.product import FactorizationWarning, factorize, pair_votes, product_share

RUNS = [(10000, 1.0, 2), (10000, 0.1, 0), (3000, 1.0, 0), (3000, 0.1, 2), (3000, 1.0, 1)]
r3 = lambda v: round(float(v), 3)  # noqa: E731


def _modes(truth):
    modes, names = [], []
    for fac in truth["spec"]:
        th = np.asarray(truth[fac["coordinate"]], float)
        lo, hi = fac["range"]
        tag = {"angle": "an", "stretch_x": "st", "slide": "sl"}.get(fac["name"], fac["name"][:2])
        if fac["kind"] == "circle":
            u = 2 * np.pi * (th - lo) / (hi - lo)
            for m in range(1, 6):
                modes.append(np.column_stack([np.cos(m * u), np.sin(m * u)]))
                names.append(f"{tag}{m}")
        else:
            u = (th - lo) / (hi - lo)
            for m in range(1, 8):
                modes.append(np.cos(m * np.pi * u)[:, None])
                names.append(f"{tag}{m}")
    n1 = len(names)
    for a in range(n1):
        for b in range(a + 1, n1):
            if names[a][:2] != names[b][:2] and int(names[a][2:]) <= 3 and int(names[b][2:]) <= 3:
                A, B = modes[a], modes[b]
                names.append(names[a] + "*" + names[b])
                modes.append((A[:, :, None] * B[:, None, :]).reshape(len(A), -1))
    return modes, names


def _single_pair_share(phi, lam, v, delta, purity=0.6):
    """product_share without the window span (session 5's rule)."""
    from conformap.product import product_purity

    phi, lam, delta, v = phi[:, 1:], lam[1:], delta[1:], v - 1  # no constant column
    unit = phi / np.linalg.norm(phi, axis=0)
    i, j = np.triu_indices(v, 1)
    ok = np.abs(lam[i] + lam[j] - lam[v]) < delta[v]
    i, j = i[ok], j[ok]
    if i.size == 0:
        return 0.0
    prods = unit[:, i] * unit[:, j]
    sim = np.abs(unit[:, v] @ prods) / np.linalg.norm(prods, axis=0)
    top = np.argsort(-sim)[:5]
    pur = product_purity(unit, lam, delta, [np.array([[i[b], j[b]]]) for b in top],
                         np.full(top.size, v))
    good = top[pur >= purity]
    return float(sim[good].max()) if good.size else 0.0


def probe(n, snr, seed):
    images, truth = make_product_cryoem(n, snr=snr, slide=True, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        res = factorize(images, n_eigenvectors=100, rng=seed)
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    phi, lam = res.eigenvectors, res.eigenvalues
    modes, names = _modes(truth)
    c = phi - phi.mean(0)
    c /= np.linalg.norm(c, axis=0) + 1e-300
    share = np.zeros((len(modes), phi.shape[1]))
    for t, m in enumerate(modes):
        q = np.linalg.qr(m - m.mean(0))[0]
        share[t] = ((q.T @ c) ** 2).sum(0)
    binned = {int(v): b for b, f in enumerate(res.factors) for v in f.tolist()}
    conf = {int(v): r3(x) for f, cs in zip(res.factors, res.confidence, strict=True)
            for v, x in zip(f.tolist(), cs.tolist(), strict=True)}
    last = max([*binned, *res.unassigned.tolist(), 16])
    cols = []
    for r, col in enumerate(ev.columns.tolist()):
        if col > last:
            break
        top = np.argsort(-share[:, col])[:2]
        cols.append({"col": col, "lam": round(float(lam[col]), 4),
                     "modes": {names[t]: r3(share[t, col]) for t in top},
                     "r2": [r3(x) for x in np.nan_to_num(ev.r2[r])],
                     "r2_all": r3(np.nan_to_num(ev.r2_all[r])),
                     "best_pair": res.best_pair[col].tolist(),
                     "best_score": r3(res.best_score[col]),
                     "true": int(ev.true_label[r]), "bin": binned.get(col),
                     "confidence": conf.get(col), "confident": bool(ev.confident[r]),
                     "correct": bool(ev.correct[r]) if col in binned else None})
    slide = {}
    for m in ("sl1", "sl2", "sl3"):
        t = names.index(m)
        k = int(np.argmax(share[t, 1:])) + 1
        slide[m] = {"col": k, "lam": round(float(lam[k]), 4), "share": r3(share[t, k]),
                    "ratio_to_sl1": None}
    for m in ("sl2", "sl3"):
        slide[m]["ratio_to_sl1"] = round(slide[m]["lam"] / slide["sl1"]["lam"], 2)
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)
    check = sorted(set(binned) | set(res.unassigned.tolist()))
    window = product_share(phi[:, 1:], lam[1:], np.array(check) - 1, delta=delta[1:],
                           purity=0.6)
    shares = {int(v): {"with_window": r3(w),
                       "single_pair": r3(_single_pair_share(phi, lam, v, delta))}
              for v, w in zip(check, window, strict=True)}
    verts = np.flatnonzero(res.separability.any(axis=1))
    votes = pair_votes(verts, phi, lam, degeneracy=0.05)
    return {"n": n, "snr": snr, "seed": seed, "message": res.message,
            "factors": [f.tolist() for f in res.factors], "levels": res.levels,
            "cut_fraction": [r3(f) for f in res.cut_fraction],
            "confident_accuracy": r3(ev.confident_accuracy),
            "unassigned": res.unassigned.tolist(), "columns": cols, "slide_modes": slide,
            "product_share": shares, "vertices": verts.tolist(),
            "pair_votes": np.round(votes, 3).tolist(),
            "links": [[int(a), int(b), r3(res.separability[a, b])] for a in verts for b in verts
                      if a < b and res.separability[a, b] > 0]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = [probe(*r) for r in RUNS]
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
