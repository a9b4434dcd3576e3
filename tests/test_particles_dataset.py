"""Particle images: shapes, determinism, the requested SNR, projection physics, ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from conformap import wemd_embedding
from conformap.datasets import make_particles, rotate_map, rotor_density


def _wrap(a):
    return np.abs((np.asarray(a) + 180) % 360 - 180)


@pytest.mark.parametrize("view", ["axial", "side"])
def test_shapes_dtype_and_angle_mixture(view):
    images, angles = make_particles(3000, size=24, view=view, rng=0)
    assert images.shape == (3000, 24, 24) and images.dtype == np.float32
    assert angles.shape == (3000,) and angles.min() >= 0 and angles.max() < 360
    near = np.mean(np.min([_wrap(angles - c) for c in (0, 120, 240)], axis=0) < 4)
    assert near == pytest.approx(0.6 + 0.4 * 24 / 360, abs=0.03)  # the paper's three dwells
    assert (images >= 0).all() and (images.reshape(3000, -1).sum(1) > 0).all()
    # the molecule fits the box: the border carries (almost) nothing
    border = images[:, [0, -1], :].sum() + images[:, :, [0, -1]].sum()
    assert border < 1e-3 * images.sum()


def test_same_seed_same_images():
    a, ta = make_particles(50, size=16, snr=0.3, rng=5)
    b, tb = make_particles(50, size=16, snr=0.3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ta, tb)
    c, _ = make_particles(50, size=16, snr=0.3, rng=6)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("snr", [0.05, 1.0, 10.0])
def test_measured_snr_is_the_requested_one(snr):
    clean, t0 = make_particles(400, size=32, rng=1)
    noisy, t1 = make_particles(400, size=32, snr=snr, rng=1)
    np.testing.assert_array_equal(t0, t1)  # angles are drawn before the noise
    noise = (noisy.astype(np.float64) - clean).reshape(400, -1)
    signal_var = clean.reshape(400, -1).var(axis=1, dtype=np.float64).mean()
    assert signal_var / noise.var() == pytest.approx(snr, rel=0.02)
    assert abs(noise.mean()) < 3 * noise.std() / np.sqrt(noise.size)  # zero-mean, white
    c = np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1]
    assert abs(c) < 0.01


def test_user_map_axial_view_equals_projection_of_the_rotated_map():
    # the physics the generator relies on: rotating about the viewing direction commutes with
    # projecting along it (an independent path: 3-D rotation, then sum)
    vol = rotor_density([0.0], shape=(24, 32, 24), dtype=np.float64)[0]
    for angle in (17.0, 133.3):
        img, _ = make_particles(1, size=24, map=vol, angles=[angle], dtype=np.float64)
        ref = rotate_map(vol, angles=[angle], dtype=np.float64)[0][0].sum(axis=1)
        assert np.abs(img[0] - ref).sum() / ref.sum() < 0.03


def test_user_map_side_view_and_file(real_rotor_map, tmp_path):
    images, angles = make_particles(20, size=32, map=real_rotor_map, view="side",
                                    angle_step=2.0, rng=0)
    assert images.shape == (20, 32, 32) and np.isfinite(images).all()
    import mrcfile

    path = tmp_path / "shaft.mrc"
    mrcfile.write(path, real_rotor_map)
    a, _ = make_particles(5, size=32, map=str(path), rng=0)
    b, _ = make_particles(5, size=32, map=real_rotor_map, rng=0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("source", ["rotor", "map"])
@pytest.mark.parametrize("view", ["axial", "side"])
def test_nearby_angles_give_closer_images(source, view):
    vol = None if source == "rotor" else rotor_density([0.0], shape=(24, 32, 24))[0]
    angles = np.array([100.0, 103.0, 110.0, 130.0, 160.0])
    images, _ = make_particles(5, size=32, map=vol, angles=angles, view=view, angle_step=1.0)
    emd = wemd_embedding(images)
    d = np.abs(emd - emd[0]).sum(axis=1)  # WEMD from the image at 100 degrees
    assert np.all(np.diff(d) > 0), d


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="snr"):
        make_particles(5, snr=0.0)
    with pytest.raises(ValueError, match="angles"):
        make_particles(5, angles=[1.0, 2.0])
    with pytest.raises(ValueError, match="angles"):
        make_particles(5, angles="gaussian")
    with pytest.raises(ValueError, match="view"):
        make_particles(5, view="top")
    with pytest.raises(ValueError, match="map"):
        make_particles(5, map=np.ones((4, 4)))
    with pytest.raises(ValueError, match="size"):
        make_particles(5, size=2)
