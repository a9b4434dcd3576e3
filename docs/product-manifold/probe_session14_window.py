"""Issue 12, session 14: where the mixed part of a binned eigenvector lies (diagnosis.md 14).

    cd docs/product-manifold && PYTHONPATH=. python probe_session14_window.py \\
        --runs 3000:1:130 --cache /tmp/p13 --out probe_session14_window.json

For each three-part image run (the spectrum ``probe_session7.spectrum`` caches; the defaults
of session 13, variant ``rejoin`` of ``measure_session8.py``) and each analytic low mode of the
bar, the stretch and the rotor (``probe_session7.modes``): the eigenvector holding most of it
and its share there, and the largest share a unit vector can reach in the span of (a) every
eigenvector within 10 % of that eigenvalue, (b) that eigenvector and the window's free
columns (resolved, in no bin: what harmonic completion may rotate), (c) that eigenvector and
the window's columns of any bin (what ``unmix_bins`` rotates). And, with the variants
``rejoin`` and ``unmix_bins``, each binned column's ground-truth label and relative score
(``factor_assignment``: max_f R^2_f / R^2_all, labelled at >= 0.8, confident at >= 0.9).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import probe_session7 as p7
from measure_session8 import run_variant

from conformap.evaluate import factor_assignment

MODES = ("sl2", "st2", "st3", "an2", "an3")


def probe(n: int, snr: float, seed: int, cache: str) -> dict:
    spec, gen, truth = p7.spectrum(n, snr, seed, cache, True, 100)
    state = gen.bit_generator.state
    res = run_variant(spec, gen, "rejoin")
    lam = res.eigenvalues
    mods, _ = p7.modes(truth)
    sh, qs, c = p7.shares(res.eigenvectors, mods)
    binned = {int(v): b for b, f in enumerate(res.factors) for v in f.tolist()}
    resolved = spec.markov_eigenvalues > spec.noise_floor

    def best(m, cols):
        q = np.linalg.qr(c[:, sorted(set(cols))])[0]
        return round(float(np.linalg.svd(qs[m].T @ q, compute_uv=False)[0] ** 2), 3)

    out = {}
    for m in MODES:
        k = int(np.argmax(sh[m][1:])) + 1
        win = [j for j in range(1, lam.size) if abs(lam[j] - lam[k]) <= 0.1 * lam[k]]
        free = [j for j in win if j not in binned and resolved[j]]
        out[m] = {"col": k, "bin": binned.get(k), "share": round(float(sh[m][k]), 3),
                  "window": [win[0], win[-1]], "best_all": best(m, win),
                  "best_self_free": best(m, [k, *free]),
                  "best_self_binned": best(m, [k, *(j for j in win if j in binned)])}
    return {"n": n, "snr": snr, "seed": seed, "factors": [f.tolist() for f in res.factors],
            "modes": out, "columns": {v: columns(spec, state, truth, v)
                                      for v in ("rejoin", "unmix_bins")}}


def columns(spec, state, truth, variant) -> list:
    g = np.random.default_rng()
    g.bit_generator.state = state
    res = run_variant(spec, g, variant)
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    r2 = np.nan_to_num(ev.r2)
    rel = r2.max(axis=1) / np.maximum(np.maximum(np.nan_to_num(ev.r2_all), r2.max(axis=1)),
                                      1e-12)
    pos = {int(c): i for i, c in enumerate(ev.columns.tolist())}
    return [{"col": c, "bin": b, "true": int(ev.true_label[pos[c]]),
             "rel": round(float(rel[pos[c]]), 3), "confident": bool(ev.confident[pos[c]]),
             "correct": bool(ev.correct[pos[c]])}
            for b, f in enumerate(res.factors) for c in f.tolist()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed")
    p.add_argument("--cache", default="/tmp/p13")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rows = []
    for r in a.runs:
        n, snr, seed = r.split(":")
        rows.append(probe(int(n), float(snr), int(seed), a.cache))
        print(json.dumps(rows[-1]["modes"]["sl2"]), flush=True)
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
