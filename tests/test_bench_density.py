"""benchmarks.bench_density: the pure parts (scoring at large n, combining parallel parts)."""

from __future__ import annotations

import numpy as np

from benchmarks import bench_density as B


def test_score_at_large_n_uses_a_subset_and_fits_rotation_and_reflection(monkeypatch):
    # circle_recovery's all-pairs term would need 37 GiB at 1e5; the subset keeps the fit fair:
    # a reflected, rotated exact embedding scores ~0 whatever n (subset size lowered: speed)
    monkeypatch.setattr(B, "SCORE_MAX_ITEMS", 400)
    n = 1000
    th = np.random.default_rng(0).uniform(0, 360, n)
    emb = np.c_[np.cos(np.radians(-th + 40)), np.sin(np.radians(-th + 40))]
    s = B.score(emb, th)
    assert s["median"] < 0.3 and s["p90"] < 0.6
    shuffled = B.score(emb[::-1], th)  # wrong pairing: large error, not hidden by the subset
    assert shuffled["median"] > 30


def test_combine_merges_parts_and_orders_robustness_rows():
    row = lambda data, n, seed: {"data": data, "n": n, "seed": seed, "conformap": {}}
    a = {"command": "a", "load_average_start": [1.0], "small_n": [1],
         "robustness": [row(B.SETS[1][0], 1000, 0)]}
    b = {"command": "b", "load_average_start": [3.0], "truncation": {"n": 1},
         "robustness": [row(B.SETS[0][0], 3000, 1), row(B.SETS[0][0], 1000, 0)]}
    res = B.combine([a, b])
    assert res["small_n"] == [1] and res["truncation"] == {"n": 1}
    assert res["load_average_start"] == [3.0]
    assert [(r["data"], r["n"]) for r in res["robustness"]] == [
        (B.SETS[0][0], 1000), (B.SETS[0][0], 3000), (B.SETS[1][0], 1000)]
