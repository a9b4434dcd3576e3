"""Rotor data set: the paper's angle mixture, exact rotations, noise level, user maps."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from conformap.datasets import (
    make_clustered_circle,
    make_rotor,
    rotate_map,
    rotor_density,
    sample_rotor_angles,
)


def test_angle_mixture_matches_the_paper():
    a = sample_rotor_angles(20000, rng=0)
    assert a.min() >= 0 and a.max() < 360
    near = [np.mean(np.abs((a - c + 180) % 360 - 180) < 4) for c in (0, 120, 240)]
    # Each spike holds 1/5 of the mass plus the uniform part's 2/5 * 8/360.
    for frac in near:
        assert frac == pytest.approx(0.2 + 0.4 * 8 / 360, abs=0.015)
    far = a[np.all([np.abs((a - c + 180) % 360 - 180) > 10 for c in (0, 120, 240)], axis=0)]
    assert scipy.stats.kstest((far % 120 - 10) / 100, "uniform").pvalue > 1e-3


def test_same_seed_same_data_and_rotation_is_periodic():
    a, ang_a = make_rotor(5, shape=(20, 32, 20), rng=7)
    b, ang_b = make_rotor(5, shape=(20, 32, 20), rng=7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ang_a, ang_b)
    np.testing.assert_allclose(rotor_density([10.0]), rotor_density([370.0]), atol=1e-6)
    assert not np.allclose(
        rotor_density([0.0]), rotor_density([36.0]), atol=1e-3
    )  # no c-ring symmetry


def test_rotation_preserves_mass_and_noise_has_paper_std():
    clean = rotor_density([0.0, 77.0])
    np.testing.assert_allclose(clean[0].sum(), clean[1].sum(), rtol=1e-3)
    noisy, ang = make_rotor(2, noise=0.1, angles=[0.0, 77.0], rng=1)
    resid = noisy - clean
    assert resid.std() == pytest.approx(0.1 * clean[0].max(), rel=0.02)


def test_rotate_user_map_about_axes_0_and_2():
    vol = rotor_density([0.0], shape=(24, 40, 24), dtype=np.float64)[0]
    maps, ang = rotate_map(vol, angles=[0.0, 90.0, 45.0])
    np.testing.assert_allclose(maps[0], vol, atol=1e-6)
    # A quarter turn maps the grid onto itself: exact oracle np.rot90 in the (0, 2) plane.
    quarter = [np.rot90(vol, k, axes=(0, 2)) for k in (1, -1)]
    assert min(np.abs(maps[1] - q).max() for q in quarter) < 1e-5
    # Trilinear interpolation keeps the density non-negative and (nearly) its mass.
    assert maps.min() >= 0
    assert maps[2].sum() == pytest.approx(vol.sum(), rel=0.02)
    with pytest.raises(ValueError, match="volume: expected a 3-D map"):
        rotate_map(np.ones((4, 4)), 2)


def test_real_map_rotation(real_rotor_map):
    maps, ang = rotate_map(real_rotor_map, 3, noise=0.1, rng=0)
    assert maps.shape == (3, 47, 104, 47)
    std = (maps - rotate_map(real_rotor_map, angles=ang)[0]).std()
    assert std == pytest.approx(0.01644027, rel=0.02)  # the paper's noise level


def test_clustered_circle_puts_its_share_in_three_dwells():
    X, deg = make_clustered_circle(3000, width=2.0, frac=0.6, rng=5)
    assert X.shape == (3000, 2) and deg.shape == (3000,)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), 1.0)  # no noise: on the circle
    # distance of each angle to the nearest dwell centre (0, 120, 240 degrees)
    off = np.abs((deg[:1800] + 60.0) % 120.0 - 60.0)
    assert np.quantile(off, 0.99) < 4 * 2.0  # the dwell share lies within ~3 widths
    tail = np.mod(deg[1800:], 360.0)
    assert scipy.stats.kstest(tail / 360.0, "uniform").pvalue > 1e-3
    X2, deg2 = make_clustered_circle(3000, width=2.0, frac=0.6, rng=5)
    np.testing.assert_array_equal(X, X2)
    with pytest.raises(ValueError, match="frac"):
        make_clustered_circle(10, frac=1.5)
