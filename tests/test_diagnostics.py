"""What conformap embed stores for the report: thumbnails and bandwidth diagnostics."""

from __future__ import annotations

import numpy as np

from conformap.bandwidth import FIXED_BANDWIDTH_RULES, select_bandwidth
from conformap.diagnostics import bandwidth_curve, make_thumbnails


def test_thumbnails_are_central_sections_block_averaged():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 9, 130, 70))
    th = make_thumbnails(maps, [2, 0], size=64)
    assert th.shape == (2, 43, 23) and th.dtype == np.uint8  # factor 3 = ceil(130 / 64)
    ref = maps[2, 4][:129, :69].reshape(43, 3, 23, 3).mean(axis=(1, 3))
    lo, hi = np.percentile(ref, [1, 99])
    want = np.round(np.clip((ref - lo) / (hi - lo), 0, 1) * 255)
    th3 = make_thumbnails(maps, [2], size=44)[0]
    np.testing.assert_array_equal(th3, want)
    images = rng.random((4, 20, 20))
    assert make_thumbnails(images, [1, 3]).shape == (2, 20, 20)  # small images kept as they are
    assert make_thumbnails(rng.random((5, 30)), [0]) is None  # 1-D items have no picture


def test_bandwidth_curve_matches_the_rules():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    sigmas, log_s, rules = bandwidth_curve(d, n_grid=30)
    assert set(rules) == set(FIXED_BANDWIDTH_RULES)
    for rule, value in rules.items():
        assert value == select_bandwidth(d, rule=rule)
    off = d[~np.eye(60, dtype=bool)]
    np.testing.assert_allclose(log_s[7], np.log(np.exp(-off**2 / (2 * sigmas[7] ** 2)).sum()))
    assert np.all(np.diff(log_s) > 0)  # S(sigma) grows with sigma
