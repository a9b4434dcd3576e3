"""Issue 12, session 5: the step-by-step numbers quoted in diagnosis.md section 8.

    python docs/product-manifold/probe_session5.py --out docs/product-manifold/probe_session5.json

Three probes, each scored against analytic eigenfunctions:

* ``box_test``: the box of ``test_max_k_cut_box_three_factors`` (sides 1, 1.6, 2.5, n = 1500,
  N = 30): the best analytic share of every eigenvector with and without unmixing, the
  weights of the two 3-colourings of its separability graph, and ``pair_votes``;
* ``toy_images``: the 200 blob images of the report test (PCA 4 standardised, N = 10): the
  analytic shares of phi_1..phi_6 before / after the fourth-moment rotation (``keep=None``),
  and the best similarity of phi_1 phi_2 on one eigenvector;
* ``slide_images``: three-part images (n = 3000, SNR 1, seed 0, defaults): eigenvalues, the
  projection of products on their +-20 % window and on the best single eigenvector.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from conformap.datasets import make_box, make_product_cryoem, pca_standardize
from conformap.evaluate import factor_assignment
from conformap.product import (
    factorize,
    laplacian_spectrum,
    pair_votes,
    pca_denoise,
    unmix_eigenvectors,
)
from conformap.product._maxcut import cut_weight

sys.path.insert(0, str(Path(__file__).parent))
from measure_unmix import _modes, _shares  # noqa: E402

r3 = lambda v: round(float(v), 3)  # noqa: E731


def _best(share, names, cols):
    return {int(c): [names[int(np.argmax(share[:, c - 1]))], r3(share[:, c - 1].max())]
            for c in cols}


def box_test():
    sides = (1.0, 1.6, 2.5)
    X, truth = make_box(1500, sides=sides, rng=0)
    spec = laplacian_spectrum(X, n_eigenvectors=30, rng=np.random.default_rng(0))
    q, _alam, names = _modes(X, sides)
    cols = np.flatnonzero(spec.resolved[1:]) + 1
    out = {}
    for unmix in (0.0, 0.1):
        vec, lam = spec.eigenvectors.copy(), spec.eigenvalues.copy()
        if unmix:
            um = unmix_eigenvectors(vec[:, cols], lam[cols], tol=unmix)
            vec[:, cols], lam[cols] = um.eigenvectors, um.eigenvalues
        share = _shares(vec[:, 1:], q)
        row = {"best_share": _best(share, names, range(1, 13))}
        # the shares of x1*z2 and z3 on phi_9 and phi_11 (the mixture that hides z2-x1)
        for c in (9, 11):
            row[f"phi{c}"] = {nm: r3(share[names.index(nm), c - 1]) for nm in ("z3", "x1*z2")}
        if unmix:
            verts = [1, 2, 4, 5, 12]  # z1, y1, z2, x1, y2
            w = np.zeros((5, 5))
            for a, b in [(0, 1), (1, 2), (0, 3), (1, 3), (2, 4), (3, 4)]:
                w[a, b] = w[b, a] = 1.0
            right, wrong = [0, 1, 0, 2, 1], [0, 1, 2, 2, 0]
            row["edges_cut_right_colouring"] = cut_weight(w, right)
            row["edges_cut_wrong_colouring"] = cut_weight(w, wrong)
            row["pair_votes"] = np.round(pair_votes(verts, vec, lam, degeneracy=0.05),
                                         3).tolist()
        for seed in range(4):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = factorize(X, n_eigenvectors=30, n_factors=3, rng=seed, unmix=unmix)
            ev = factor_assignment(res.factors, res.eigenvectors, truth)
            row[f"max3cut_rng{seed}"] = {"factors": [f.tolist() for f in res.factors],
                                         "confident_accuracy": r3(ev.confident_accuracy),
                                         "cut_weight": r3(res.cut_weight),
                                         "triplets": int(len(res.triplets))}
        out[f"unmix{unmix:g}"] = row
    return out


def toy_images():
    tests = Path(__file__).resolve().parents[2] / "tests"
    sys.path.insert(0, str(tests))
    from particle_sets import blob_rectangle_images

    gen = np.random.default_rng(0)
    cx, cy = gen.uniform(-6, 6, 200), gen.uniform(-2.5, 2.5, 200)
    X = pca_standardize(blob_rectangle_images(), 4)
    spec = laplacian_spectrum(X, n_eigenvectors=10, rng=0)
    import itertools

    ms = sorted((sum((p / s) ** 2 for p, s in zip(t, (12, 5), strict=True)), t)
                for t in itertools.product(range(8), repeat=2) if sum(t))[:40]
    F = np.ones((200, len(ms)))
    lat = np.column_stack([cx + 6, cy + 2.5])
    for c, (_l, t) in enumerate(ms):
        for i, p in enumerate(t):
            if p:
                F[:, c] *= np.sqrt(2) * np.cos(p * np.pi * lat[:, i] / (12, 5)[i])
    q, r = np.linalg.qr(F - F.mean(0))
    q *= np.sign(np.diag(r))
    names = ["x%dy%d" % t for _l, t in ms]
    out = {"eigenvalues": [r3(v) for v in spec.eigenvalues[1:7]]}
    for tag, keep in (("as_given", "skip"), ("rotated", None)):
        vec = spec.eigenvectors.copy()
        if keep is None:
            um = unmix_eigenvectors(vec[:, 1:], spec.eigenvalues[1:], tol=0.1, keep=None)
            vec[:, 1:] = um.eigenvectors
        p = vec[:, 1:] - vec[:, 1:].mean(0)
        p /= np.linalg.norm(p, axis=0)
        sh = (q.T @ p) ** 2
        out[tag] = {int(c + 1): {names[m]: r3(sh[m, c]) for m in np.argsort(-sh[:, c])[:2]}
                    for c in range(6)}
        u = vec / np.linalg.norm(vec, axis=0)
        prod = u[:, 1] * u[:, 2]
        prod /= np.linalg.norm(prod)
        out[tag]["best_single_similarity_phi1phi2"] = r3(np.abs(u[:, 3:5].T @ prod).max())
    return out


def slide_images():
    imgs, truth = make_product_cryoem(3000, snr=1.0, slide=True, rng=0)
    gen = np.random.default_rng(0)
    den = pca_denoise(imgs, "auto", rng=gen)
    spec = laplacian_spectrum(den.scores, n_eigenvectors=100, rng=gen)
    cols = np.flatnonzero(spec.resolved[1:]) + 1
    phi, lam = spec.eigenvectors.copy(), spec.eigenvalues.copy()
    um = unmix_eigenvectors(phi[:, cols], lam[cols])
    phi[:, cols], lam[cols] = um.eigenvectors, um.eigenvalues
    ev = factor_assignment([], phi, truth)
    u = phi / np.linalg.norm(phi, axis=0)
    out = {"eigenvalues_first25": [r3(v) for v in lam[1:26]],
           "true_label_first25": ev.true_label[:25].tolist(),
           "median_r2_all_first20": r3(np.median(ev.r2_all[:20]))}
    for name, (i, j) in {"stretch1_slide1": (1, 2), "slide1_angle_a": (2, 6),
                         "slide1_angle_b": (2, 7), "stretch1_angle_a": (1, 6),
                         "stretch1_angle_b": (1, 7), "stretch2_angle_a": (4, 6)}.items():
        s = lam[i] + lam[j]
        p = u[:, i] * u[:, j]
        p = p - p.mean()
        p /= np.linalg.norm(p)
        w = (lam >= 0.8 * s) & (lam <= 1.2 * s)
        w[0] = False
        c = u[:, w].T @ p
        single = np.abs(u[:, 1:].T @ p).max()
        out[name] = {"window20": r3(np.linalg.norm(c)), "best_single": r3(single)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    res = {"box_test": box_test(), "toy_images": toy_images(), "slide_images": slide_images()}
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
