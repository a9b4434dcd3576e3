"""Issue 12, session 8: what tells harmonic completion's right vectors from its mixed ones.

    cd docs/product-manifold && python probe_session8_spread.py --runs 3000:1:0:3:100 ... \\
        --cache /tmp/p8cache --out probe_session8_spread.jsonl

For each run (``n:snr:seed:parts:N``, the cached spectrum of ``probe_session7.spectrum``,
library defaults) the bins are computed without harmonic completion and then completed as
``factorize_spectrum(..., harmonics=True)`` does, but with the session-7 rule (no limit on the
spread, ``max_spread=inf``). For every vector cleaned or added: its adjusted fit on the
polynomials, the window size, the participation ratio of its rotation coefficients over the
window (``conformap.product.participation``, the quantity ``HARMONIC_MAX_SPREAD`` bounds,
as the step records it), the largest squared coefficient (``share``, the quantity
``HARMONIC_MIN_SHARE`` bounds; session 10), its
Rayleigh quotient over the bin's first eigenvalue, the library confidence it would get, and the
ground truth (``conformap.evaluate.factor_assignment``: relative score for the bin's factor,
R^2_all, label, confident, correct). One JSON row per vector.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import probe_session7 as p7

from conformap.evaluate import factor_assignment
from conformap.product import complete_harmonics, factorize_spectrum


def rows(run: str, cache: str) -> list[dict]:
    n, snr, seed, parts, n_vec = run.split(":")
    spec, gen, truth = p7.spectrum(int(n), float(snr), int(seed), cache, parts == "3",
                                   int(n_vec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = factorize_spectrum(spec, rng=gen, harmonics=False)
    resolved = np.flatnonzero(spec.markov_eigenvalues > spec.noise_floor)
    free = np.setdiff1d(resolved[resolved > 0], np.concatenate(res.factors))
    phi0, lam0 = res.eigenvectors, res.eigenvalues
    phi, lam, bins, steps = complete_harmonics(res.factors, phi0, lam0, free,
                                               max_spread=np.inf, min_share=0.0, clean=True)
    ev = factor_assignment(bins, phi, truth)
    pos = {int(c): i for i, c in enumerate(ev.columns)}
    signal = np.maximum(np.nan_to_num(ev.r2_all), np.nan_to_num(ev.r2).max(axis=1))
    conf0 = {int(v): float(x) for f, cs in zip(res.factors, res.confidence, strict=True)
             for v, x in zip(f.tolist(), cs.tolist(), strict=True)}
    out = []
    for st in steps:
        b, c, win = st["bin"], st["column"], st["window"]
        lead = [int(v) for v in res.factors[b][:2]]
        i = pos[c]
        f = ev.bin_to_factor[b]
        lead_conf = min(conf0[v] for v in lead)
        out.append({
            "run": run, "kind": st["kind"], "bin": b, "column": c, "fit": st["fit"],
            "window_size": len(win), "spread": st["spread"],
            "share": st["share"],
            "lambda_ratio": round(float(lam[c] / lam0[lead[0]]), 2),
            "library_confidence": round(st["fit"] * lead_conf, 3) if st["kind"] == "add"
            else round(conf0.get(c, float("nan")), 3),
            "gt_relative": round(float(np.nan_to_num(ev.r2[i, f]) / max(signal[i], 1e-12)), 3)
            if f >= 0 else 0.0,
            "gt_r2_all": round(float(signal[i]), 3), "gt_label": int(ev.true_label[i]),
            "gt_confident": bool(ev.confident[i]), "correct": bool(ev.correct[i])})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed:parts:N")
    p.add_argument("--cache", default="/tmp/p8cache")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    with open(a.out, "w") as fh:
        for r in a.runs:
            for row in rows(r, a.cache):
                fh.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
