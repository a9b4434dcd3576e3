"""Issue 12, session 8: library variants on one spectrum per image set, scored step by step.

    cd docs/product-manifold && python measure_session8.py --runs 3000:1:100:3:100 ... \\
        --variants harmonics no_harmonics --label session8 --cache /tmp/p8cache \\
        --out measure_session8_heldout_images.jsonl

Each run is ``n:snr:seed:parts:N`` (parts 2 = ``make_product_cryoem()``, 3 =
``make_product_cryoem(slide=True)``). The spectrum is the one ``factorize(images,
n_eigenvectors=N, rng=seed)`` computes (``probe_session7.spectrum``: the same generator stream,
cached), so each variant's row is what ``factorize(images, rng=seed, **variant)`` returns,
without recomputing the graph per variant; rows are scored by ``measure_images.steps`` and have
the fields of ``measure_images.py``'s rows (``seconds`` is the factorization step only).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from functools import partial
from unittest import mock

import numpy as np
import probe_session7 as p7
from measure_images import steps

import conformap.product._factorize as factorize_module
import conformap.product._harmonics as harmonics_module
from conformap.product import (
    FactorizationWarning,
    complete_harmonics,
    factorize_spectrum,
    rejoin_unsupported,
)

#: name: factorize keywords (library defaults otherwise); "rule": keywords of
#: complete_harmonics that the variant's harmonic completion uses instead of the library's
#: (session 10: HARMONIC_MIN_SHARE, HARMONIC_CLEAN, HARMONIC_MAX_SPREAD candidates)
VARIANTS = {
    "default": {"unmix_bins": True},  # the library's defaults now
    "harmonics": {"harmonics": True},
    "no_harmonics": {"harmonics": False},
    "products": {"clean_products": True, "harmonics": False},
    "products_harmonics": {"clean_products": True, "harmonics": True},
    "spread3": {"harmonics": True, "rule": {"max_spread": 3.0, "min_share": 0.0, "clean": True}},
    "noclean": {"harmonics": True, "rule": {"max_spread": 3.0, "min_share": 0.0, "clean": False}},
    "share50": {"harmonics": True, "rule": {"max_spread": 3.0, "min_share": 0.5, "clean": True}},
    "share50_noclean": {"harmonics": True,
                        "rule": {"max_spread": 3.0, "min_share": 0.5, "clean": False}},
    "share60_noclean": {"harmonics": True,
                        "rule": {"max_spread": 3.0, "min_share": 0.6, "clean": False}},
    # session 12: harmonic completion without / with the product test of an addition
    # (HARMONIC_MAX_PRODUCT). The rows "clean_leads" and "leads_product" of
    # measure_products_session12.jsonl were measured at commit c018d60, whose experimental
    # lead cleaning (HARMONIC_CLEAN_LEADS) was then removed (diagnosis.md section 13).
    "session10": {"harmonics": True, "rule": {"max_product": 1.01}, "rejoin": False},
    "product_test": {"harmonics": True, "rule": {"max_product": 0.5}, "rejoin": False},
    # session 13: the product test with / without rejoin_unsupported (module switch REJOIN,
    # on by default since; the two variants above keep it off)
    "rejoin": {"harmonics": True, "rule": {"max_product": 0.5}, "rejoin": True},
    "no_rejoin": {"harmonics": True, "rule": {"max_product": 0.5}, "rejoin": False},
    # session 13: harmonic completion's eigenvalue window (HARMONIC_WINDOW 0.1) widened
    "window15": {"harmonics": True, "rule": {"max_product": 0.5, "window": 0.15}},
    "window20": {"harmonics": True, "rule": {"max_product": 0.5, "window": 0.2}},
    "window20_fit93": {"harmonics": True,
                       "rule": {"max_product": 0.5, "window": 0.2, "min_fit": 0.93}},
    "window20_share60": {"harmonics": True,
                         "rule": {"max_product": 0.5, "window": 0.2, "min_share": 0.6}},
    "window15_fit93": {"harmonics": True,
                       "rule": {"max_product": 0.5, "window": 0.15, "min_fit": 0.93}},
    # session 14: the clean step (HARMONIC_CLEAN) on again, with the product test and rejoin
    "rejoin_clean": {"harmonics": True, "rule": {"max_product": 0.5, "clean": True},
                     "rejoin": True},
    "rejoin_products": {"harmonics": True, "clean_products": True,
                        "rule": {"max_product": 0.5}, "rejoin": True},
    # session 14: unmix_bins (UNMIX_BINS) after harmonic completion; every other variant runs
    # without it (run_variant's default), as they were measured before it existed
    "unmix_bins": {"harmonics": True, "rule": {"max_product": 0.5}, "rejoin": True,
                   "unmix_bins": True},
    "unmix_bins_rejoin1": {"harmonics": True, "rule": {"max_product": 0.5}, "rejoin": True,
                           "unmix_bins": True, "rejoin_rule": {"min_triplets": 1}},
    "unmix_bins_products": {"harmonics": True, "clean_products": True,
                            "rule": {"max_product": 0.5}, "rejoin": True, "unmix_bins": True},
    # the first form of the rule: triplets alone decide (no pair-vote guard)
    "rejoin_triplets": {"harmonics": True, "rule": {"max_product": 0.5}, "rejoin": True,
                        "rejoin_rule": {"margin": float("inf")}},
}


def run_variant(spec, g, name):
    """``factorize_spectrum(spec, rng=g, **VARIANTS[name])``, with the variant's harmonic
    rule (if any) in place of the library's defaults."""
    kw = dict(VARIANTS[name])
    rule = kw.pop("rule", None)
    rejoin = kw.pop("rejoin", factorize_module.REJOIN)
    rejoin_rule = kw.pop("rejoin_rule", {})
    unmix = kw.pop("unmix_bins", False)
    with warnings.catch_warnings(), mock.patch.object(factorize_module, "REJOIN", rejoin), \
            mock.patch.object(harmonics_module, "UNMIX_BINS", unmix), \
            mock.patch.object(factorize_module, "rejoin_unsupported",
                              partial(rejoin_unsupported, **rejoin_rule)):
        warnings.simplefilter("ignore", FactorizationWarning)
        if rule is None:
            return factorize_spectrum(spec, rng=g, **kw)
        with mock.patch.object(harmonics_module, "complete_harmonics",
                               partial(complete_harmonics, **rule)):
            return factorize_spectrum(spec, rng=g, **kw)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", nargs="+", required=True, help="n:snr:seed:parts:N")
    p.add_argument("--variants", nargs="+", default=["default"], choices=sorted(VARIANTS))
    p.add_argument("--cache", default="/tmp/p8cache")
    p.add_argument("--label", default="")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    with open(a.out, "a") as fh:
        for r in a.runs:
            n, snr, seed, parts, n_vec = r.split(":")
            n, snr, seed, n_vec, slide = int(n), float(snr), int(seed), int(n_vec), parts == "3"
            spec, gen, truth = p7.spectrum(n, snr, seed, a.cache, slide, n_vec)
            state = gen.bit_generator.state
            for name in a.variants:
                g = np.random.default_rng()
                g.bit_generator.state = state
                t0 = time.perf_counter()
                res = run_variant(spec, g, name)
                row = {"n": n, "snr": snr, "seed": seed, "graph": name + a.label,
                       "stretch_y": False, "slide": slide, "N": n_vec,
                       "seconds": round(time.perf_counter() - t0, 1), **steps(res, truth)}
                row["harmonic_steps"] = [st for lv in res.levels if lv["split"] == "harmonics"
                                         for st in lv["steps"]]
                row["unmix_steps"] = [st for lv in res.levels if lv["split"] == "unmix_bins"
                                      for st in lv["steps"]]
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(json.dumps({k: row[k] for k in (
                    "n", "snr", "seed", "graph", "n_factors_found", "accuracy",
                    "confident_accuracy", "confident_correct_per_factor", "target_met",
                    "mean_confidence_wrong")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
