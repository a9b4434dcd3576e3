"""Issue 12, session 8: the two undiagnosed held-out misses of session 7, against the analytic
eigenfunctions.

    cd docs/product-manifold && python probe_session8.py --runs 2000:1:90:2:50 \\
        6000:0.1:91:3:100 --cache /tmp/p8cache --out probe_session8.json \
        [--harmonics 1] [--clean-products 1]

Each run is ``n:snr:seed:parts:N`` (parts 2 = ``make_product_cryoem()``, 3 =
``make_product_cryoem(slide=True)``; N non-trivial eigenvectors, library defaults otherwise,
``rng`` = the data seed, as ``measure_images.py``). Two views of the same run:

* ``eigen``: :func:`probe_session7.probe` (every binned eigenvector's ground-truth relative
  score and modes; for every analytic low mode the eigenvector holding most of it, its share,
  and the best share a rotation within 10 % of its eigenvalue reaches);
* ``pairs``: the bins before the merge step and, per pair of binned eigenvectors, the
  separability weight, the pair vote and the low share of their product
  (:func:`probe_session6.probe`'s quantities, on the cached spectrum).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import probe_session7 as p7
from probe_session6 import bins_before_merge, pair_rows

from conformap.evaluate import factor_assignment
from conformap.product import FactorizationWarning, factorize_spectrum


def pairs(n, snr, seed, slide, n_vec, cache, **kw):
    """Bins before the merge step and the pair quantities of ``probe_session6``."""
    spec, gen, truth = p7.spectrum(n, snr, seed, cache, slide, n_vec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        res = factorize_spectrum(spec, rng=gen, **kw)
    before = bins_before_merge(res.levels)
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    label = dict(zip(ev.columns.tolist(), ev.true_label.tolist(), strict=True))
    out = pair_rows(res, before, label)
    trip = [[int(i), int(j), int(k)] for i, j, k in res.triplets]
    return {"levels": res.levels, "bins_before_merge": before,
            "factors": [f.tolist() for f in res.factors], "triplets": trip,
            "message": res.message, "pairs": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed:parts:N")
    p.add_argument("--cache", default="/tmp/p8cache")
    p.add_argument("--harmonics", type=int, default=0)
    p.add_argument("--clean-products", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rows = []
    for r in a.runs:
        n, snr, seed, parts, n_vec = r.split(":")
        args = (int(n), float(snr), int(seed))
        slide, n_vec = parts == "3", int(n_vec)
        kw = {"harmonics": bool(a.harmonics), "clean_products": bool(a.clean_products)}
        row = {"run": r, "eigen": p7.probe(*args, a.cache, slide, n_vec, **kw),
               "pairs": pairs(*args, slide, n_vec, a.cache, **kw)}
        rows.append(row)
        e = row["eigen"]
        print(json.dumps({"run": r, "factors": e["factors"], "n_resolved": e["n_resolved"],
                          "confident_accuracy": e["confident_accuracy"],
                          "confident_correct_per_factor": e["confident_correct_per_factor"]}),
              flush=True)
        Path(a.out).write_text(json.dumps(rows, indent=1, default=int) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
