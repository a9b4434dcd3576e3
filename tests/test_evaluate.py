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
    np.testing.assert_allclose(_explained(basis, c), ref, rtol=1e-8)


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
