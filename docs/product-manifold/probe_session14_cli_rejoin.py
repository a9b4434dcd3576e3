"""Issue 12, session 14: one fresh CLI run with and without the rejoin step (diagnosis.md 14).

    python docs/product-manifold/probe_session14_cli_rejoin.py --run 3000:1:198 \\
        --out docs/product-manifold/probe_session14_cli_rejoin.json

The three-part images of ``check_cli_session13.py --seed-offset 10`` (n = 3000, SNR 1,
seed 198) through ``factorize(images, rng=seed)`` with the defaults, with the rejoin step's
session-13 bound (``min_triplets=2``), with ``REJOIN`` off and with ``UNMIX_BINS`` off; per
variant the bins, the ground-truth scores and the rejoin / merge levels.
"""

from __future__ import annotations

import argparse
import json
import warnings
from functools import partial
from pathlib import Path
from unittest import mock

import conformap.product._factorize as factorize_module
import conformap.product._harmonics as harmonics_module
from conformap.datasets import make_product_cryoem
from conformap.evaluate import factor_assignment
from conformap.product import factorize, rejoin_unsupported


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="3000:1:198", help="n:snr:seed (three-part images)")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    n, snr, seed = a.run.split(":")
    n, snr, seed = int(n), float(snr), int(seed)
    images, truth = make_product_cryoem(n, snr=snr, slide=True, rng=seed)
    rows = []
    for name, rejoin, unmix, bound in (("defaults", True, True, {}),
                                       ("rejoin min_triplets=2", True, True,
                                        {"min_triplets": 2}),
                                       ("no rejoin", False, True, {}),
                                       ("no unmix_bins", True, False, {})):
        with mock.patch.object(factorize_module, "REJOIN", rejoin), \
                mock.patch.object(harmonics_module, "UNMIX_BINS", unmix), \
                mock.patch.object(factorize_module, "rejoin_unsupported",
                                  partial(rejoin_unsupported, **bound)), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = factorize(images, rng=seed)
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        ok = (ev.predicted != -1) & ev.confident & ev.correct
        rows.append({"variant": name, "n": n, "snr": snr, "seed": seed,
                     "factors": [f.tolist() for f in res.factors],
                     "confident_accuracy": round(float(ev.confident_accuracy), 3),
                     "confident_correct_per_factor": [int((ok & (ev.true_label == f)).sum())
                                                      for f in range(ev.r2.shape[1])],
                     "levels": [{k: v for k, v in lv.items() if k != "steps"}
                                for lv in res.levels if lv["split"] in ("rejoin", "merge")]})
        print(json.dumps(rows[-1]), flush=True)
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
