"""Issue 12, session 7: could the bar's second mode be recovered by a data-only rotation?

    python docs/product-manifold/probe_session7_harmonic.py --runs 3000:1:0 ... \\
        --cache /tmp/p3cache --out docs/product-manifold/probe_session7_harmonic.json

An interval factor's eigenfunctions are all functions of its first one (cos 2x = 2 cos^2 x - 1),
so a factor's higher modes can be looked for without ground truth: in the window of resolved
eigenvectors within 10 % of each eigenvalue, the unit vector that a polynomial (degree <= 6) of
the bin's first eigenvector explains best (top singular vector). Scored against the analytic
eigenfunctions (adjusted R^2, ``conformap.evaluate``): its relative score for the factor (the
ground truth's confidence needs >= 0.9) and its share of the analytic second mode.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from conformap.evaluate import factor_assignment
from conformap.product import FactorizationWarning, factorize_spectrum

from probe_session7 import modes, shares, spectrum

r3 = lambda v: round(float(v), 3)  # noqa: E731
DEGREE = 6
WINDOW = 0.1


def poly_basis(u, degree=DEGREE):
    u = (u - u.min()) / (u.max() - u.min()) * 2 - 1
    b = np.polynomial.chebyshev.chebvander(u, degree)[:, 1:]
    return np.linalg.qr(b - b.mean(0))[0]


def probe(n, snr, seed, cache):
    spec, gen, truth = spectrum(n, snr, seed, cache)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        res = factorize_spectrum(spec, rng=gen, harmonics=False)  # the bins before session 7
    phi, lam = res.eigenvectors, res.eigenvalues
    resolved = np.flatnonzero(spec.markov_eigenvalues > spec.noise_floor)
    resolved = resolved[resolved > 0]
    mods, _ = modes(truth)
    _, qs, c = shares(phi, mods)
    out = {"n": n, "snr": snr, "seed": seed, "factors": [f.tolist() for f in res.factors],
           "bins": []}
    ev0 = factor_assignment(res.factors, phi, truth)
    for b, f in enumerate(res.factors):
        fac = int(ev0.bin_to_factor[b])
        if fac < 0 or truth["spec"][fac]["kind"] != "interval":
            continue
        tag = {"stretch_x": "st", "slide": "sl"}[truth["spec"][fac]["name"]]
        q = poly_basis(phi[:, f[0]])
        found = []
        seen = set()
        for k in resolved:
            if k == f[0]:
                continue
            win = resolved[np.abs(lam[resolved] - lam[k]) <= WINDOW * lam[k]]
            win = win[win != f[0]]
            key = tuple(win.tolist())
            if key in seen:
                continue
            seen.add(key)
            w = np.linalg.qr(c[:, win])[0]
            u, s, _ = np.linalg.svd(q.T @ w, full_matrices=False)
            if s[0] ** 2 < 0.5:
                continue
            vec = w @ (np.linalg.svd(q.T @ w)[2][0])
            ev = factor_assignment([[0]], vec[:, None], truth, columns=[0])
            r2 = np.nan_to_num(ev.r2[0])
            rel = r2[fac] / max(float(ev.r2_all[0]), r2.max(), 1e-12)
            share2 = float(((qs[f"{tag}2"].T @ vec) ** 2).sum())
            share1 = float(((qs[f"{tag}1"].T @ vec) ** 2).sum())
            found.append({"window": [int(win.min()), int(win.max())],
                          "lam": round(float(lam[k]), 4),
                          "poly_r2": r3(s[0] ** 2), "gt_rel": r3(rel),
                          "gt_label": int(ev.true_label[0]), "gt_confident": bool(ev.confident[0]),
                          f"share_{tag}1": r3(share1), f"share_{tag}2": r3(share2)})
        out["bins"].append({"bin": f.tolist(), "factor": truth["spec"][fac]["name"],
                            "candidates": found})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed")
    p.add_argument("--cache", default="/tmp/p3cache")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = []
    for r in a.runs:
        n, snr, seed = r.split(":")
        out.append(probe(int(n), float(snr), int(seed), a.cache))
        print(json.dumps(out[-1]), flush=True)
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
