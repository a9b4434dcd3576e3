"""Recovery metrics: exact on constructed embeddings, invariant to rotation/reflection."""

from __future__ import annotations

import numpy as np
import pytest

from conformap.evaluate import circle_recovery, curve_order


def circle(angles_deg, offset=0.0, sign=1.0, scale=(1.0, 1.0), centre=(0.0, 0.0)):
    a = np.radians(sign * np.asarray(angles_deg) + offset)
    return np.c_[centre[0] + scale[0] * np.cos(a), centre[1] + scale[1] * np.sin(a)]


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("offset", [0.0, 77.0, 250.0])
def test_perfect_circle_any_rotation_reflection_scale(sign, offset):
    ang = np.random.default_rng(0).uniform(0, 360, 200)
    rec = circle_recovery(circle(ang, offset, sign, scale=(3.0, 0.5), centre=(5, -2)), ang)
    # The ellipse is fitted to the points: exact.
    assert rec.median_error == pytest.approx(0, abs=0.2)
    assert rec.p90_error == pytest.approx(0, abs=0.2)
    assert rec.circular_correlation == pytest.approx(1.0, abs=1e-3)
    assert rec.reflected == (sign < 0)
    np.testing.assert_allclose(np.cos(np.radians(rec.estimated - ang)), 1.0, atol=1e-5)


def test_clustered_sampling_does_not_bias_the_centre():
    # 80 % of the points at one angle: a mean-centred atan2 would be badly wrong.
    ang = np.r_[np.full(400, 10.0), np.linspace(0, 360, 100, endpoint=False)]
    assert circle_recovery(circle(ang), ang).p90_error < 1e-6


def test_known_error_and_geometry():
    ang = np.linspace(0, 360, 100, endpoint=False)
    noisy = ang + np.where(np.arange(100) % 2, 5.0, -5.0)
    rec = circle_recovery(circle(noisy), ang)
    assert rec.median_error == pytest.approx(5.0, abs=1e-6)
    assert rec.geometry_correlation > 0.99
    # A star (three arms meeting in the middle) keeps atan2 order but not the geometry.
    r = np.abs(((ang % 120) - 60) / 60)
    star = circle(np.round(ang / 120) * 120) * r[:, None]
    assert circle_recovery(star, ang).geometry_correlation < 0.9


def test_unrelated_embedding_scores_low():
    rng = np.random.default_rng(1)
    ang = rng.uniform(0, 360, 300)
    rec = circle_recovery(rng.standard_normal((300, 2)), ang)
    assert rec.median_error > 45
    assert rec.circular_correlation < 0.2


def test_curve_order_and_shape_errors():
    t = np.linspace(0, 1, 50)
    assert curve_order(-(t**3), t) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="coordinate: has 3 values but truth has 50"):
        curve_order(t[:3], t)
    with pytest.raises(ValueError, match="embedding: expected shape"):
        circle_recovery(np.ones((5, 1)), np.ones(5))


def test_circle_recovery_geometry_subsample(monkeypatch):
    """Above GEOMETRY_MAX_ITEMS the geometry term uses evenly spaced items, not all pairs."""
    from conformap.evaluate import _embedding

    th = np.linspace(0, 360, 900, endpoint=False)
    emb = np.c_[np.cos(np.radians(th)), np.sin(np.radians(th))]
    full = circle_recovery(emb, th)
    monkeypatch.setattr(_embedding, "GEOMETRY_MAX_ITEMS", 300)
    sub = circle_recovery(emb, th)
    assert sub.median_error == full.median_error
    assert abs(sub.geometry_correlation - full.geometry_correlation) < 1e-3
def test_explained_variance_matches_least_squares():
    """The Gram-matrix projection gives lstsq's explained variance, rank-deficient basis too."""
    from conformap.evaluate._factors import _explained

    gen = np.random.default_rng(5)
    basis = gen.normal(size=(400, 30))
    basis = np.column_stack([basis, basis[:, :3] @ gen.normal(size=(3, 2))])  # rank 30
    c = gen.normal(size=(400, 7))
    c -= c.mean(axis=0)
    coef = np.linalg.lstsq(basis, c, rcond=None)[0]
    ref = ((basis @ coef) ** 2).sum(axis=0)
    explained, rank = _explained(basis, c)
    np.testing.assert_allclose(explained, ref, rtol=1e-8)
    assert rank == 30  # the adjusted R^2 counts independent functions only


@pytest.mark.parametrize("kind", ["rotor", "dwell 1", "dwell 5"])
def test_perfect_embedding_of_few_clustered_samples_scores_zero(kind):
    """25 samples, most in three dwells, under random affine maps: the ellipse fit (not the
    sample's range, which such samples need not span) makes a perfect embedding score 0."""
    from conformap.datasets import make_clustered_circle, sample_rotor_angles

    for seed in range(20):
        rng = np.random.default_rng(seed)
        if kind == "rotor":
            deg = sample_rotor_angles(25, rng=seed)
        else:
            _, deg = make_clustered_circle(25, width=float(kind.split()[1]), rng=seed)
        M = rng.standard_normal((2, 2))
        if np.linalg.cond(M) > 50:  # slivers beyond ELLIPSE_MAX_AXIS_RATIO are not perfect
            continue
        u = np.c_[np.cos(np.radians(deg)), np.sin(np.radians(deg))]
        rec = circle_recovery(u @ M.T + 10 * rng.standard_normal(2), deg)
        assert rec.p90_error < 1e-6
        assert rec.geometry_correlation > 0.999


def test_ellipse_fit_falls_back_to_the_mid_range():
    from conformap.evaluate import unit_circle_coordinates

    # fewer than 6 points: no conic is determined, each axis scaled by its mid-range
    pts = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 3.0], [2.0, 2.0], [0.5, 1.0]])
    np.testing.assert_allclose(unit_circle_coordinates(pts).min(axis=0), -1.0)
    np.testing.assert_allclose(unit_circle_coordinates(pts).max(axis=0), 1.0)
    # points on a line: not an ellipse
    t = np.linspace(0, 1, 30)
    line = np.c_[t, 2 * t + 1]
    np.testing.assert_allclose(unit_circle_coordinates(line), (line - [0.5, 2.0]) / [0.5, 1.0])


def _box_truth(n, rng):
    from conformap.datasets import make_box

    _, truth = make_box(n, rng=rng)
    return truth


def test_factor_assignment_adjusts_for_the_joint_basis_chance_fit():
    # Oracle: columns built from the analytic eigenfunctions of three intervals. A noisy pure
    # factor function (60 % signal) must be a confident factor eigenvector; a noisy product
    # must stay a confident product, and a 70/30 mixture must stay unconfident. The joint
    # basis (p = 3 * 15 + 3 * 36 + 216 = 369 functions) fits about p / n of white noise.
    from conformap.evaluate import factor_assignment, factor_r2

    rng = np.random.default_rng(0)
    n = 2000
    truth = _box_truth(n, rng)
    (a, b), (c, d) = truth["spec"][0]["range"], truth["spec"][1]["range"]
    fx = np.cos(np.pi * (truth["x"] - a) / (b - a))
    fy = np.cos(np.pi * (truth["y"] - c) / (d - c))
    unit = lambda v: (v - v.mean()) / (v - v.mean()).std()  # noqa: E731
    noise = rng.standard_normal((n, 4))
    cols = np.column_stack([
        unit(fx) * 0.6**0.5 + noise[:, 0] * 0.4**0.5,           # noisy x eigenfunction
        unit(fx * fy) * 0.6**0.5 + noise[:, 1] * 0.4**0.5,      # noisy product
        unit(fx) * 0.7**0.5 + unit(fx * fy) * 0.3**0.5,         # mixed, no noise
        noise[:, 3],                                            # noise only
    ])
    rel = {}
    for adj in (False, True):
        ev = factor_assignment([[0, 2], [1]], cols, truth, columns=[0, 1, 2, 3], adjusted=adj)
        r2 = np.nan_to_num(ev.r2)
        rel[adj] = r2.max(1) / np.maximum(np.maximum(ev.r2_all, r2.max(1)), 1e-12)
        if adj:
            assert ev.true_label.tolist()[:3] == [0, -1, -1]  # 0.7 < threshold 0.8
            assert ev.confident.tolist() == [True, True, False, False]
            assert ev.r2_all[3] < 0.05  # white noise: no signal once the chance fit is removed
    assert rel[False][0] < 0.9 <= rel[True][0]  # the plain ratio calls the noisy factor mixed
    assert max(rel[False][1], rel[True][1]) <= 0.1
    assert 0.6 < rel[True][2] < 0.8 and 0.6 < rel[False][2] < 0.8
    plain = factor_r2(noise[:, 3:], truth)
    adjusted = factor_r2(noise[:, 3:], truth, adjusted=True)
    assert plain.min() > 0.003 and np.abs(adjusted).max() < 0.01


def test_factor_assignment_adjusted_needs_more_items_than_functions():
    from conformap.evaluate import factor_assignment

    rng = np.random.default_rng(1)
    truth = _box_truth(200, rng)
    with pytest.raises(ValueError, match="adjusted"):
        factor_assignment([[0]], rng.standard_normal((200, 2)), truth)
    ev = factor_assignment([[0]], rng.standard_normal((200, 2)), truth, adjusted=False)
    assert ev.columns.size == 2
