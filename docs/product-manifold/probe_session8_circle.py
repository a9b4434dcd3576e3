"""Issue 12, session 8: can a circle's Fourier pairs tell a split rotor (seed 91's over-split)?

    cd docs/product-manifold && python probe_session8_circle.py --runs 6000:0.1:91:3:100 \\
        3000:0.1:0:3:100 3000:1:1:3:100 6000:0.1:1:3:100 --out probe_session8_circle.json

A circle's cos, sin satisfy u^2 + v^2 = const, so some trace-2 quadratic form of the span of
its eigenvectors is constant (``conformap.product._unmix``'s circle-pair test, variance near 0;
about 1 or more for interval modes and different factors). For every pair of final bins (library
defaults, cached spectrum of ``probe_session7.spectrum``): the least variance of a trace-2 form
on the union of their spans, and on each bin alone (columns scaled to mean square 1).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import probe_session7 as p7

from conformap.product import factorize_spectrum


def min_form_variance(y: np.ndarray) -> float:
    y = y - y.mean(axis=0)
    y = y / np.sqrt((y**2).mean(axis=0))
    ia, ib = np.triu_indices(y.shape[1])
    feats = y[:, ia] * y[:, ib]
    feats -= feats.mean(axis=0)
    gram = feats.T @ feats / len(feats)
    diag = (ia == ib).astype(float)
    sol = np.linalg.solve(gram + 1e-12 * np.eye(len(gram)), diag)
    w = 2 * sol / (diag @ sol)
    return round(float(w @ gram @ w), 3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed:parts:N")
    p.add_argument("--cache", default="/tmp/p8cache")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = []
    for r in a.runs:
        n, snr, seed, parts, n_vec = r.split(":")
        spec, gen, _truth = p7.spectrum(int(n), float(snr), int(seed), a.cache, parts == "3",
                                        int(n_vec))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = factorize_spectrum(spec, rng=gen)
        phi, bins = res.eigenvectors, [f.tolist() for f in res.factors]
        pairs = [{"a": bins[i], "b": bins[j], "union": min_form_variance(phi[:, bins[i] + bins[j]]),
                  "a_alone": min_form_variance(phi[:, bins[i]]) if len(bins[i]) > 1 else None,
                  "b_alone": min_form_variance(phi[:, bins[j]]) if len(bins[j]) > 1 else None}
                 for i in range(len(bins)) for j in range(i + 1, len(bins))]
        out.append({"run": r, "factors": bins, "pairs": pairs})
        print(json.dumps(out[-1]), flush=True)
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
