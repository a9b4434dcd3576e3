"""Issue 12, session 6: the over-split three-part image runs, scored pair by pair.

    python docs/product-manifold/probe_session6.py --out docs/product-manifold/probe_session6.json

For each run (``make_product_cryoem(slide=True)``, SNR 1, library defaults with N = 100 and
``rng`` = the data seed, as ``measure_images.py``) the bins *before* the merge step
(``levels``) and, for every pair of binned eigenvectors u < v: the ground-truth factor of each
(``factor_assignment``; -1 = none), the separability weight, the pair vote
(:func:`conformap.product.pair_votes`) and where their product lies
(:func:`conformap.product.window_energy`: E_win, E_low and the low share
E_low / (E_win + E_low)), with the windows of ``delta="auto"`` (max(0.5 lambda_1,
0.05 lambda_k)) over all computed columns (the library uses the resolved ones, those above the
graph's noise floor).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from conformap.datasets import make_product_cryoem
from conformap.evaluate import factor_assignment
from conformap.product import FactorizationWarning, factorize, pair_votes, window_energy

#: (n, SNR, seed, slide): the two over-split runs of the brief, then the held-out misses
RUNS = [(3000, 1.0, 1, True), (4000, 1.0, 41, True), (4000, 0.1, 70, False),
        (6000, 1.0, 70, True), (10000, 0.1, 72, True)]


def bins_before_merge(levels) -> list:
    """The whole partition before the first merge step, rebuilt from ``levels``."""
    before = []
    for lv in levels:
        if lv["split"] == "merge":
            break
        if isinstance(lv["split"], list):  # a hierarchical split of one bin
            before = [b for b in before if b != lv["split"]] + lv["bins"]
        elif lv["split"] in ("all", "refine"):  # the top cut, or all bins revised
            before = lv["bins"]
    return sorted(before, key=min)


def pair_rows(res, before, label) -> list:
    """Per pair u < v of the binned eigenvectors of ``before``: their ground-truth factors
    (``label``; -1 = none), whether they share a bin, the separability weight, the pair vote
    and the window energies of their product (the module docstring)."""
    verts = np.array(sorted(v for b in before for v in b))
    phi, lam = res.eigenvectors, res.eigenvalues
    unit = phi / np.linalg.norm(phi, axis=0)
    delta = np.maximum(0.5 * lam[1], 0.05 * lam)
    cols = np.arange(1, lam.size)
    votes = pair_votes(verts, phi, lam, degeneracy=0.05)
    bin_of = {v: t for t, b in enumerate(before) for v in b}
    out = []
    for a, u in enumerate(verts.tolist()):
        for b, v in enumerate(verts.tolist()):
            if b <= a:
                continue
            e = window_energy(u, v, unit, lam, delta, cols)
            out.append({
                "u": u, "v": v, "factor_u": label.get(u, -1), "factor_v": label.get(v, -1),
                "same_bin": bin_of[u] == bin_of[v], "W": round(float(res.separability[u, v]), 3),
                "vote": round(float(votes[a, b]), 3),
                "e_win": None if e is None else round(e[0], 3),
                "e_low": None if e is None else round(e[1], 3),
                "low_share": None if e is None or sum(e) <= 0 else round(e[1] / sum(e), 3)})
    return out


def probe(n: int, snr: float, seed: int, slide: bool) -> dict:
    images, truth = make_product_cryoem(n, snr=snr, slide=slide, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        res = factorize(images, n_eigenvectors=100, rng=seed)
    merges = [lv for lv in res.levels if lv["split"] == "merge"]
    before = bins_before_merge(res.levels)
    verts = np.array(sorted(v for b in before for v in b))
    ev = factor_assignment([np.array(b) for b in before], res.eigenvectors, truth)
    label = dict(zip(ev.columns.tolist(), ev.true_label.tolist(), strict=True))
    lam = res.eigenvalues
    pairs = pair_rows(res, before, label)
    final = factor_assignment(res.factors, res.eigenvectors, truth)
    names = [sp["name"] for sp in truth["spec"]]
    wrong = [{"column": int(c), "true": int(t), "binned_as": int(q), "confident": bool(cf),
              "r2": [round(float(x), 3) for x in np.nan_to_num(r2)],
              "r2_all": round(float(np.nan_to_num(ra)), 3)}
             for c, t, q, ok, cf, r2, ra in zip(final.columns, final.true_label, final.predicted,
                                                final.correct, final.confident, final.r2,
                                                final.r2_all, strict=True)
             if q != -1 and not ok]
    return {"n": n, "snr": snr, "seed": seed, "slide": slide, "factor_names": names,
            "levels": res.levels, "wrong": wrong, "bins_before_merge": before,
            "merges": merges, "factors": [f.tolist() for f in res.factors],
            "eigenvalues": {int(v): round(float(lam[v]), 4) for v in verts},
            "confident_accuracy": round(float(final.confident_accuracy), 3),
            "accuracy": round(float(final.accuracy), 3), "pairs": pairs}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, nargs="+", help="indices into RUNS (default all)")
    a = p.parse_args(argv)
    out = [probe(*RUNS[i]) for i in (a.runs if a.runs else range(len(RUNS)))]
    brief = out[:2] if not a.runs else []  # the ranges: the two over-split runs only
    same = [q for r in brief for q in r["pairs"] if q["factor_u"] == q["factor_v"] >= 0
            and q["low_share"] is not None]
    cross = [q for r in brief for q in r["pairs"] if q["factor_u"] != q["factor_v"]
             and min(q["factor_u"], q["factor_v"]) >= 0 and q["low_share"] is not None]
    summary = {}
    for name, group in (("same_factor", same), ("cross_factor", cross)):
        for f in ("low_share", "e_low") if group else ():
            summary[f"{name}_{f}"] = [min(q[f] for q in group), max(q[f] for q in group)]
    Path(a.out).write_text(json.dumps({"runs": out, "ranges": summary}, indent=1) + "\n")
    print(json.dumps(summary))
    for r in out:
        print(r["n"], r["seed"], r["bins_before_merge"], "->", r["factors"], r["merges"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
