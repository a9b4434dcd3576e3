"""Issue 12: product manifold learning on two-factor cryo-EM images, step by step, per graph.

For every (SNR, seed) one image set from ``conformap.datasets.make_product_cryoem`` (a subunit
rotating in the plane x an arm that stretches, one viewing direction, 64 x 64 pixels) is
factorized with every graph below, and each step is scored against the analytic ground truth
(``conformap.evaluate``: R^2 of each eigenvector on each factor's analytic eigenfunctions and on
their products):

* eigenvectors: median R^2_all of the first 20 (1 = a smooth function of the latent
  coordinates, 0 = noise), and how many of them are clean factor or clean product eigenvectors;
* triplet search (delta, gamma): of the clean product eigenvectors, the fraction explained by
  a kept triplet whose two factors are the right ones (product recall), and the number of kept
  triplets that pair two eigenvectors of the same factor (false triplets);
* cut: accuracy over the binned eigenvectors, over the confidently identified ones, and the
  number of confident correct eigenvectors per factor (the issue's target: accuracy >= 0.9
  with >= 2 per factor).

Usage (each line of OUT is one run, JSON)::

    python docs/product-manifold/measure_images.py --n 2000 --snr 1 0.1 --seeds 0 1 2 \\
        --graphs default raw pca4 pca16 --out docs/product-manifold/measure_images.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from conformap.datasets import make_product_cryoem, pca_standardize
from conformap.evaluate import factor_assignment
from conformap.product import FactorizationWarning, factorize

GRAPHS = {
    # name: (how the features are made, factorize keywords)
    "default": "conformap factorize IMAGES with no options (PCA above the noise edge)",
    "raw": "raw-pixel Euclidean (preprocess='none')",
    "pca4": "the paper's PCA: 4 components, standardised",
    "pca16": "PCA, 16 components (not standardised)",
    "pca32": "PCA, 32 components (not standardised)",
    "wemd": "WEMD (wavelet EMD of the images, L1 of weighted coefficients)",
    "paper_alg1": "default graph, but the paper's Algorithm 1 (no degenerate groups)",
    "no_unmix": "default graph and search, eigenvectors not unmixed (unmix=0)",
    "unmix": "default graph and search, eigenvectors unmixed (unmix=0.1)",
    "no_harmonics": "defaults, but no harmonic completion (harmonics=False, the default)",
    "harmonics": "defaults, with harmonic completion (harmonics=True; session 7)",
}


def features(images, graph):
    if graph == "pca4":
        return pca_standardize(images, 4), {"preprocess": "none"}
    if graph == "raw":
        return images.reshape(len(images), -1).astype(np.float64), {"preprocess": "none"}
    if graph.startswith("pca"):
        return images, {"preprocess": int(graph[3:])}
    if graph == "wemd":
        from conformap.wemd import wemd_embedding

        # noisy images have negative pixels: WEMD needs densities, so shift to non-negative
        shifted = images - images.min(axis=(1, 2), keepdims=True)
        return wemd_embedding(shifted), {"preprocess": "none", "metric": "l1"}
    if graph == "paper_alg1":
        return images, {"degeneracy": 0.0}
    if graph == "no_unmix":
        return images, {"unmix": 0.0}
    if graph == "unmix":
        return images, {"unmix": 0.1}
    if graph == "no_harmonics":
        return images, {"harmonics": False}
    if graph == "harmonics":
        return images, {"harmonics": True}
    return images, {}


def steps(res, truth):
    """Scores of each step against the ground truth."""
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    cols = ev.columns
    lab = dict(zip(cols.tolist(), ev.true_label.tolist(), strict=True))
    n_f = ev.r2.shape[1]
    r2c = np.nan_to_num(ev.r2)
    signal = np.maximum(np.nan_to_num(ev.r2_all), r2c.max(axis=1))
    rel = r2c / np.maximum(signal, 1e-12)[:, None]
    clean_factor = (rel.max(axis=1) >= 0.9) & (signal >= 0.5)
    clean_product = (rel.max(axis=1) <= 0.1) & (signal >= 0.5)
    first = slice(0, min(20, cols.size))
    kept = {int(k): (int(i), int(j)) for i, j, k in res.triplets}
    prod_cols = cols[clean_product]
    found = 0
    for k in prod_cols.tolist():
        if k in kept:
            i, j = kept[k]
            if lab.get(i, -1) >= 0 and lab.get(j, -1) >= 0 and lab[i] != lab[j]:
                found += 1
    same = sum(1 for i, j, _k in res.triplets
               if lab.get(int(i), -1) >= 0 and lab.get(int(i), -1) == lab.get(int(j), -2))
    ca = (ev.predicted != -1) & ev.confident
    per = [int(((ev.true_label == f) & ca & ev.correct).sum()) for f in range(n_f)]
    conf = {int(c): float(v) for b, cs in zip(res.factors, res.confidence, strict=True)
            for c, v in zip(b.tolist(), cs.tolist(), strict=True)}
    right = [conf[int(c)] for c, ok, p in zip(cols, ev.correct, ev.predicted, strict=True)
             if p != -1 and ok and int(c) in conf]
    wrong = [conf[int(c)] for c, ok, p in zip(cols, ev.correct, ev.predicted, strict=True)
             if p != -1 and not ok and int(c) in conf]
    target = (len(res.factors) == n_f and not np.isnan(ev.confident_accuracy)
              and ev.confident_accuracy >= 0.9 and min(per) >= 2)
    # the same scores with plain R^2 (factor_assignment before session 7), for comparison
    ep = factor_assignment(res.factors, res.eigenvectors, truth, adjusted=False)
    cp = (ep.predicted != -1) & ep.confident
    per_p = [int(((ep.true_label == f) & cp & ep.correct).sum()) for f in range(n_f)]
    target_p = (len(res.factors) == n_f and not np.isnan(ep.confident_accuracy)
                and ep.confident_accuracy >= 0.9 and min(per_p) >= 2)
    return {
        "eig_median_r2_all_first20": round(float(np.median(np.nan_to_num(ev.r2_all[first]))), 3),
        "eig_clean_factor_first20": int(clean_factor[first].sum()),
        "eig_clean_product_first20": int(clean_product[first].sum()),
        "triplets": int(len(res.triplets)),
        "product_recall": round(found / prod_cols.size, 3) if prod_cols.size else None,
        "same_factor_triplets": int(same),
        "n_factors_found": len(res.factors),
        "n_assigned": ev.n_assigned,
        "accuracy": None if np.isnan(ev.accuracy) else round(ev.accuracy, 3),
        "confident_accuracy": (None if np.isnan(ev.confident_accuracy)
                               else round(ev.confident_accuracy, 3)),
        "confident_correct_per_factor": per,
        "target_met": bool(target),
        "plain_r2": {"accuracy": None if np.isnan(ep.accuracy) else round(ep.accuracy, 3),
                     "confident_accuracy": (None if np.isnan(ep.confident_accuracy)
                                            else round(ep.confident_accuracy, 3)),
                     "confident_correct_per_factor": per_p, "target_met": bool(target_p)},
        "mean_confidence_correct": round(float(np.mean(right)), 3) if right else None,
        "mean_confidence_wrong": round(float(np.mean(wrong)), 3) if wrong else None,
        "factors": [f.tolist() for f in res.factors],
        "message": res.message,
        "preprocessing": res.preprocessing,
        "bandwidth": round(res.bandwidth, 4),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, nargs="+", default=[2000])
    p.add_argument("--snr", type=float, nargs="+", default=[1.0, 0.1],
                   help="signal-to-noise ratios; 0 = clean images (no noise)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--graphs", nargs="+", default=["default"], choices=sorted(GRAPHS))
    p.add_argument("--stretch-y", action="store_true",
                   help="three factors, coupled: the arm's y tilt (make_product_cryoem stretch_y)")
    p.add_argument("--slide", action="store_true",
                   help="three independent factors: the sliding subunit (make_product_cryoem "
                   "slide)")
    p.add_argument("--n-eigenvectors", type=int, default=50)
    p.add_argument("--label", default="",
                   help="appended to the graph name in the output rows (e.g. a code version)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    with open(a.out, "a") as fh:
        for n, snr, seed in ((n, snr, seed) for n in a.n for snr in a.snr for seed in a.seeds):
            images, truth = make_product_cryoem(n, snr=snr if snr > 0 else None,
                                                stretch_y=a.stretch_y, slide=a.slide, rng=seed)
            for graph in a.graphs:
                t0 = time.perf_counter()
                x, kw = features(images, graph)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FactorizationWarning)
                    res = factorize(x, n_eigenvectors=a.n_eigenvectors, rng=seed, **kw)
                row = {"n": n, "snr": snr, "seed": seed, "graph": graph + a.label,
                       "stretch_y": a.stretch_y, "slide": a.slide, "N": a.n_eigenvectors,
                       "seconds": round(time.perf_counter() - t0, 1), **steps(res, truth)}
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(json.dumps({k: row[k] for k in (
                    "snr", "seed", "graph", "seconds", "eig_median_r2_all_first20",
                    "product_recall", "same_factor_triplets", "n_factors_found",
                    "confident_accuracy", "confident_correct_per_factor", "target_met")}),
                    flush=True)


if __name__ == "__main__":
    main()
