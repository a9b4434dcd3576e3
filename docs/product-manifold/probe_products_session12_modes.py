"""Issue 12, session 12: the analytic modes of every binned eigenvector (library defaults).

    cd docs/product-manifold && python probe_products_session12_modes.py \\
        --runs 2000:1:132:2:100 ... --cache /tmp/p12harm --out probe_products_session12_modes.json

For each run (``n:snr:seed:parts:N`` as ``measure_session8.py``): the factors the library's
default finds on the cached spectrum, their confidences, and for each binned eigenvector its
eigenvalue and its three largest shares on the analytic modes of ``probe_session7.modes``
(the first 5 modes of each factor and the products of the first 2 of two factors).
"""

from __future__ import annotations

import argparse
import json
import warnings

import probe_session7 as p7

from conformap.product import FactorizationWarning, factorize_spectrum


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--cache", default="/tmp/p12harm")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = {}
    for r in a.runs:
        n, snr, seed, parts, n_vec = r.split(":")
        spec, gen, truth = p7.spectrum(int(n), float(snr), int(seed), a.cache, parts == "3",
                                       int(n_vec))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FactorizationWarning)
            res = factorize_spectrum(spec, rng=gen)
        mods, _ = p7.modes(truth, n_single=5)
        sh, _, _ = p7.shares(res.eigenvectors, mods)
        added = [st["column"] for lv in res.levels if lv["split"] == "harmonics"
                 for st in lv["steps"] if st["kind"] == "add"]
        rows = []
        for b, f in enumerate(res.factors):
            for k, conf in zip(f.tolist(), res.confidence[b].tolist(), strict=True):
                top = sorted(((float(sh[m][k]), m) for m in sh), reverse=True)[:3]
                rows.append({"bin": b, "column": k, "added": k in added,
                             "eigenvalue": round(float(res.eigenvalues[k]), 4),
                             "confidence": round(conf, 3),
                             "modes": {m: round(v, 3) for v, m in top}})
        out[r] = rows
        print(r, json.dumps(rows), flush=True)
    with open(a.out, "w") as fh:
        json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
