"""Issue 12, session 7: where the box's y2 is (why its y factor has 1 confident eigenvector).

    python docs/product-manifold/probe_session7_box.py --seeds 3 90 \\
        --out docs/product-manifold/probe_session7_box.json

Box n = 6000 (``make_box``, sides 1, 1.6, 2.5 by default), the spectrum and the auto
factorization of ``measure_unmix.py`` (N = 100, rng 0). For the analytic modes x1, y1, y2,
z1..z3: the eigenvector holding most of it, its share there, whether it is resolved and
binned, the best share reachable in the span of the eigenvectors within 10 % of that
eigenvalue, and the ground-truth relative score (adjusted R^2) of that eigenvector.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from conformap.datasets import make_box
from conformap.evaluate import factor_assignment
from conformap.product import factorize_spectrum, laplacian_spectrum

r3 = lambda v: round(float(v), 3)  # noqa: E731


def probe(seed, n=6000):
    X, truth = make_box(n, rng=seed)
    spec = laplacian_spectrum(X, n_eigenvectors=100, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = factorize_spectrum(spec, rng=0)
    phi, lam = res.eigenvectors, res.eigenvalues
    c = phi - phi.mean(0)
    c /= np.linalg.norm(c, axis=0) + 1e-300
    ev = factor_assignment(res.factors, phi, truth)
    pos = {int(k): r for r, k in enumerate(ev.columns)}
    binned = {int(v): b for b, f in enumerate(res.factors) for v in f.tolist()}
    resolved = spec.markov_eigenvalues > spec.noise_floor
    out = {"seed": seed, "factors": [f.tolist() for f in res.factors],
           "n_resolved": int(resolved[1:].sum()), "modes": {}}
    for fac in truth["spec"]:
        lo, hi = fac["range"]
        u = (np.asarray(truth[fac["coordinate"]]) - lo) / (hi - lo)
        for m in (1, 2, 3):
            mode = np.cos(m * np.pi * u)
            mode = (mode - mode.mean()) / np.linalg.norm(mode - mode.mean())
            share = (mode @ c) ** 2
            k = int(np.argmax(share[1:])) + 1
            win = np.flatnonzero(np.abs(lam - lam[k]) <= 0.1 * lam[k])
            win = win[win > 0]
            q = np.linalg.qr(c[:, win])[0]
            r = pos[k]
            r2 = np.nan_to_num(ev.r2[r])
            out["modes"][f"{fac['name']}{m}"] = {
                "col": k, "lam": r3(lam[k]), "share": r3(share[k]),
                "resolved": bool(resolved[k]), "bin": binned.get(k),
                "window": [int(win.min()), int(win.max())],
                "window_best": r3(float(((q.T @ mode) ** 2).sum())),
                "rel": r3(r2.max() / max(float(ev.r2_all[r]), r2.max(), 1e-12)),
                "true": int(ev.true_label[r])}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 90])
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = [probe(s) for s in a.seeds]
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    for o in out:
        print(o["seed"], o["factors"], o["n_resolved"])
        for k, v in o["modes"].items():
            print("   ", k, v)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
