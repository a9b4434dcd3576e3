"""Issue 12, session 13: the bins that rejoin_unsupported judges, against the ground truth.

    cd docs/product-manifold && PYTHONPATH=. python probe_session13_rejoin.py \\
        --cache /tmp/p13 --out probe_session13_rejoin.json

For each run (``n:snr:seed:parts:N``, as ``measure_session8.py``), the factorization of the
library's defaults with the rejoin step on: the bins and earlier partitions that step is
given, and every pair of those bins that lie mostly in the same bin of an earlier partition
(``conformap.product.rejoin_candidates``), with the distinct triplets that join them, their
total pair vote (``pair_votes``), and the ground-truth factor of each
member (``factor_assignment``'s ``true_label``: 0 rotor, 1 stretch, 2 bar for three-part
images; 0 rotor, 1 stretch for two; -1 a product or mixed vector).
"""

from __future__ import annotations

import argparse
import json
from unittest import mock

import measure_session8 as m8
import numpy as np
import probe_session7 as p7

from conformap.evaluate import factor_assignment
from conformap.product import rejoin_candidates, rejoin_unsupported
from conformap.product._factorize import DEFAULT_DEGENERACY

RUNS = ["6000:0.1:91:3:100", "6000:0.1:101:3:100", "10000:0.1:100:3:100",
        "10000:0.1:130:3:100", "10000:0.1:132:3:100", "2000:0.1:140:2:50",
        "3000:0.1:1:3:100", "3000:1:0:3:100", "3000:1:1:3:100", "3000:1:132:3:100"]


def probe(run: str, cache: str) -> dict:
    n, snr, seed, parts, n_vec = run.split(":")
    slide = parts == "3"
    spec, gen, truth = p7.spectrum(int(n), float(snr), int(seed), cache, slide, int(n_vec))
    g = np.random.default_rng()
    g.bit_generator.state = gen.bit_generator.state
    seen = {}

    def capture(bins, partitions, triplets, sep, phi, lam, **kw):
        # what the library hands to the rejoin step, then the step itself
        seen.update(bins=[b.tolist() for b in bins],
                    partitions=[[b.tolist() for b in part] for part in partitions],
                    triplets=np.asarray(triplets).tolist(), phi=phi, lam=lam)
        return rejoin_unsupported(bins, partitions, triplets, sep, phi, lam, **kw)

    with mock.patch.object(m8, "rejoin_unsupported", capture):
        res = m8.run_variant(spec, g, "rejoin")
    if not seen:
        return {"run": run, "judged": False, "factors": [b.tolist() for b in res.factors]}
    final = seen["bins"]
    ev = factor_assignment([np.asarray(b) for b in final], seen["phi"], truth)
    label = dict(zip(ev.columns.tolist(), ev.true_label.tolist(), strict=True))
    pairs = []
    for c in rejoin_candidates(final, seen["partitions"], seen["triplets"], seen["phi"],
                               seen["lam"], degeneracy=DEFAULT_DEGENERACY):
        A, B = (final[t] for t in c["bins"])
        pairs.append({"a": A, "b": B, "truth_a": [label.get(u, -1) for u in A],
                      "truth_b": [label.get(v, -1) for v in B], "triplets": c["triplets"],
                      "vote": round(c["vote"], 3)})
    return {"run": run, "judged": True, "partitions": seen["partitions"], "bins": final,
            "pairs": pairs, "factors": [b.tolist() for b in res.factors]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", default=RUNS)
    p.add_argument("--cache", default="/tmp/p13")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rows = [probe(r, a.cache) for r in a.runs]
    with open(a.out, "w") as fh:
        json.dump(rows, fh, indent=1)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
