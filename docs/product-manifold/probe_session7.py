"""Issue 12, session 7: why the second eigenvector of a factor is not confident (three parts).

    python docs/product-manifold/probe_session7.py --runs 3000:1:0 3000:0.1:0 ... \\
        [--harmonics 1] --cache /tmp/p3cache --out docs/product-manifold/probe_session7.json

For each three-part image run (``make_product_cryoem(slide=True)``, library defaults, N = 100,
data seed = solver seed as in ``measure_images.py``) the spectrum is computed exactly as
``factorize`` does (same generator stream; cached under ``--cache`` so that the factorization
step can be re-run) and, against the analytic eigenfunctions (``conformap.evaluate``):

* every binned eigenvector: eigenvalue, bin, library confidence, ground-truth label,
  relative score max_f R^2_f / R^2_all (the ground truth calls it confident at >= 0.9) with
  adjusted R^2 (``rel``, ``r2_all``) and plain R^2 (``rel_plain``, ``r2_all_plain``: before
  session 7), and its three largest analytic modes;
* every analytic low mode of each factor (an1..an3, st1..st3, sl1..sl3): the eigenvector
  holding most of it, its share there, and the largest share any unit vector in the span of
  the eigenvectors within 10 % of that eigenvalue can reach ("window best": what an ideal
  rotation of near-degenerate eigenvectors could give), and whether that eigenvector is
  resolved (above the noise floor) and binned.
"""

from __future__ import annotations

import argparse
import json
import pickle
import warnings
from pathlib import Path

import numpy as np

from conformap.datasets import make_product_cryoem
from conformap.evaluate import factor_assignment
from conformap.product import (FactorizationWarning, factorize_spectrum, laplacian_spectrum,
                               pca_denoise)

r3 = lambda v: round(float(v), 3)  # noqa: E731
TAG = {"angle": "an", "stretch_x": "st", "slide": "sl", "x": "x", "y": "y", "z": "z"}


def spectrum(n, snr, seed, cache, slide=True, n_eigenvectors=100):
    """The spectrum ``factorize(images, rng=seed)`` computes, and the generator after it
    (``slide=False``, ``n_eigenvectors``: two-factor images and other N, session 8)."""
    tag = "slide" if slide else "two"
    name = f"{tag}_{n}_{snr}_{seed}" + ("" if n_eigenvectors == 100 else f"_N{n_eigenvectors}")
    path = Path(cache) / f"{name}.pkl"
    Path(cache).mkdir(parents=True, exist_ok=True)
    images, truth = make_product_cryoem(n, snr=snr, slide=slide, rng=seed)
    if path.exists():
        spec, state = pickle.loads(path.read_bytes())
    else:
        gen = np.random.default_rng(seed)  # as factorize's check_rng(seed)
        den = pca_denoise(images, "auto", rng=gen)
        spec = laplacian_spectrum(den.scores, n_eigenvectors=n_eigenvectors, metric="l2",
                                  bandwidth="auto", dense_limit=0, rng=gen)
        state = gen.bit_generator.state
        path.write_bytes(pickle.dumps((spec, state)))
    gen = np.random.default_rng()
    gen.bit_generator.state = state
    return spec, gen, truth


def modes(truth, n_single=3):
    out = {}
    for fac in truth["spec"]:
        th = np.asarray(truth[fac["coordinate"]], float)
        lo, hi = fac["range"]
        tag = TAG.get(fac["name"], fac["name"][:2])
        for m in range(1, n_single + 1):
            if fac["kind"] == "circle":
                u = 2 * np.pi * (th - lo) / (hi - lo)
                out[f"{tag}{m}"] = np.column_stack([np.cos(m * u), np.sin(m * u)])
            else:
                u = (th - lo) / (hi - lo)
                out[f"{tag}{m}"] = np.cos(m * np.pi * u)[:, None]
    singles = list(out)
    for a in singles:
        for b in singles:
            if a < b and a[:-1] != b[:-1] and int(a[-1]) <= 2 and int(b[-1]) <= 2:
                A, B = out[a], out[b]
                out[f"{a}*{b}"] = (A[:, :, None] * B[:, None, :]).reshape(len(A), -1)
    return out, singles


def shares(phi, mods):
    c = phi - phi.mean(0)
    c /= np.linalg.norm(c, axis=0) + 1e-300
    qs = {k: np.linalg.qr(m - m.mean(0))[0] for k, m in mods.items()}
    return {k: ((q.T @ c) ** 2).sum(0) for k, q in qs.items()}, qs, c


def probe(n, snr, seed, cache, slide=True, n_eigenvectors=100, **kw):
    spec, gen, truth = spectrum(n, snr, seed, cache, slide, n_eigenvectors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        res = factorize_spectrum(spec, rng=gen, **kw)
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    ep = factor_assignment(res.factors, res.eigenvectors, truth, adjusted=False)
    phi, lam = res.eigenvectors, res.eigenvalues
    resolved = spec.markov_eigenvalues > spec.noise_floor
    mods, singles = modes(truth)
    sh, qs, c = shares(phi, mods)
    names = list(sh)
    mat = np.array([sh[k] for k in names])
    binned = {int(v): b for b, f in enumerate(res.factors) for v in f.tolist()}
    conf = {int(v): r3(x) for f, cs in zip(res.factors, res.confidence, strict=True)
            for v, x in zip(f.tolist(), cs.tolist(), strict=True)}
    pos = {int(col): r for r, col in enumerate(ev.columns.tolist())}
    signal = np.maximum(np.nan_to_num(ev.r2_all), np.nan_to_num(ev.r2).max(1))
    rel = np.nan_to_num(ev.r2).max(1) / np.maximum(signal, 1e-12)
    sig_p = np.maximum(np.nan_to_num(ep.r2_all), np.nan_to_num(ep.r2).max(1))
    rel_p = np.nan_to_num(ep.r2).max(1) / np.maximum(sig_p, 1e-12)
    cols = []
    for col in sorted(binned):
        r = pos[col]
        top = np.argsort(-mat[:, col])[:3]
        cols.append({"col": col, "lam": round(float(lam[col]), 4), "bin": binned[col],
                     "bin_factor": int(ev.bin_to_factor[binned[col]]),
                     "confidence": conf[col], "true": int(ev.true_label[r]),
                     "rel": r3(rel[r]), "r2_all": r3(signal[r]), "rel_plain": r3(rel_p[r]),
                     "r2_all_plain": r3(sig_p[r]),
                     "gt_confident": bool(ev.confident[r]), "correct": bool(ev.correct[r]),
                     "modes": {names[t]: r3(mat[t, col]) for t in top}})
    analytic = {}
    for m in singles:
        k = int(np.argmax(sh[m][1:])) + 1
        win = np.flatnonzero(np.abs(lam - lam[k]) <= 0.1 * lam[k])
        win = win[win > 0]
        q = np.linalg.qr(c[:, win])[0]
        # largest share of the mode's span reachable in the window (top singular value^2)
        s = np.linalg.svd(qs[m].T @ q, compute_uv=False)
        analytic[m] = {"col": k, "lam": round(float(lam[k]), 4), "share": r3(sh[m][k]),
                       "resolved": bool(resolved[k]), "bin": binned.get(k),
                       "window": [int(win.min()), int(win.max())],
                       "window_best": r3(s[0] ** 2)}
    per = []
    for f in range(len(truth["spec"])):
        per.append(int(((ev.true_label == f) & ev.confident & ev.correct
                        & (ev.predicted >= 0)).sum()))
    return {"n": n, "snr": snr, "seed": seed, "kw": kw,
            "factors": [f.tolist() for f in res.factors],
            "n_resolved": int(resolved[1:].sum()),
            "confident_accuracy": r3(ev.confident_accuracy),
            "confident_correct_per_factor": per, "columns": cols, "analytic": analytic}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed")
    p.add_argument("--cache", default="/tmp/p3cache")
    p.add_argument("--harmonics", type=int, default=0,
                   help="factorize with harmonic completion (1) or as before session 7 (0)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = []
    for r in a.runs:
        n, snr, seed = r.split(":")
        row = probe(int(n), float(snr), int(seed), a.cache, harmonics=bool(a.harmonics))
        out.append(row)
        print(json.dumps({k: row[k] for k in ("n", "snr", "seed", "factors", "n_resolved",
                                               "confident_accuracy",
                                               "confident_correct_per_factor")}), flush=True)
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
