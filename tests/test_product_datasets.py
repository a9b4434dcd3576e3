"""Product-manifold data sets: shapes, ranges, determinism, ground truth, preprocessing."""

import numpy as np
import pytest

from conformap.datasets import (
    make_box,
    make_product_cryoem,
    make_rectangle,
    make_torus,
    pca_standardize,
)


def test_rectangle_torus_box_geometry():
    X, t = make_rectangle(500, noise=0.1, rng=0)
    assert X.shape == (500, 3)
    assert X[:, 0].max() <= 1 + np.sqrt(np.pi)
    assert X[:, 1].max() <= 1.5
    assert abs(X[:, 2].std() - 0.1) < 0.02
    np.testing.assert_array_equal(X[:, 0], t["x"])
    Y, u = make_torus(400, rng=0)
    np.testing.assert_allclose(np.hypot(Y[:, 0], Y[:, 1]), 2.0)
    np.testing.assert_allclose(np.hypot(Y[:, 2], Y[:, 3]), 1 + np.sqrt(np.pi))
    np.testing.assert_allclose(np.arctan2(Y[:, 1], Y[:, 0]) % (2 * np.pi), u["theta1"])
    Z, v = make_box(300, rng=0)
    assert Z.shape == (300, 3)
    assert Z[:, 2].max() <= 7.0
    assert [f["name"] for f in v["spec"]] == ["x", "y", "z"]


def test_deterministic_for_seed():
    a, _ = make_product_cryoem(20, image_size=32, rng=3)
    b, _ = make_product_cryoem(20, image_size=32, rng=3)
    np.testing.assert_array_equal(a, b)


def test_cryoem_images_depend_on_both_motions():
    imgs, t = make_product_cryoem(6, image_size=32, snr=None, rng=0)
    assert imgs.shape == (6, 32, 32)
    assert imgs.dtype == np.float32
    assert t["noise_sigma"] == 0.0
    assert np.all(np.abs(t["stretch_x"]) <= 20)
    assert np.all(t["stretch_y"] == 0)
    assert np.all((t["angle_deg"] >= 0) & (t["angle_deg"] < 360))
    # distinct conformations give distinct images
    d = np.abs(imgs[:, None] - imgs[None]).sum(axis=(2, 3))
    assert (d[~np.eye(6, dtype=bool)] > 0).all()


def test_cryoem_snr_and_pca():
    clean, _ = make_product_cryoem(200, image_size=32, snr=None, rng=1)
    noisy, _t = make_product_cryoem(200, image_size=32, snr=0.5, rng=1)
    noise_var = (noisy - clean).var()
    signal_var = clean.reshape(200, -1).var(axis=1).mean()
    assert signal_var / noise_var == pytest.approx(0.5, rel=0.05)
    pcs, t3 = make_product_cryoem(200, image_size=32, snr=0.5, pca_components=4,
                                  stretch_y=True, rng=1)
    assert pcs.shape == (200, 4)
    np.testing.assert_allclose(pcs.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(pcs.std(0), 1, atol=1e-10)
    assert len(t3["spec"]) == 3
    assert t3["stretch_y"].std() > 0
    pcs2, _ = make_product_cryoem(200, image_size=32, snr=0.5, pca_components=4, rng=1)
    np.testing.assert_allclose(pca_standardize(noisy, 4), pcs2, atol=1e-6)


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [(make_rectangle, {"n_samples": 0}, "n_samples"),
     (make_rectangle, {"noise": -1.0}, "noise"),
     (make_box, {"sides": (1.0, 2.0)}, "three"),
     (make_product_cryoem, {"stretch_range": 30.0}, "stretch_range"),
     (make_product_cryoem, {"snr": 0.0}, "snr")],
)
def test_bad_parameters(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**{"n_samples": 10, **kwargs})


def test_pca_standardize_matches_sklearn_pca():
    """The Lanczos path (k < min(n, d) - 1) gives sklearn's PCA scores up to sign, standardised."""
    from sklearn.decomposition import PCA

    gen = np.random.default_rng(3)
    X = gen.normal(size=(300, 40)) * np.linspace(3.0, 0.1, 40)  # distinct variances
    ours = pca_standardize(X, 4)
    ref = PCA(4, svd_solver="full").fit_transform(X)
    ref = ref / ref.std(axis=0)
    signs = np.sign(np.sum(ours * ref, axis=0))
    np.testing.assert_allclose(ours, ref * signs, atol=1e-8)


def test_cryoem_slide_is_a_third_part_of_its_own():
    """slide=True adds a bar that moves on its own part: with the same seed the other motions
    are drawn identically, the images differ by the bar alone, and the bar's pixels do not
    overlap the pixels that the rotor and the arm change (a product pixel metric)."""
    base, t0 = make_product_cryoem(300, snr=None, rng=4)
    imgs, t = make_product_cryoem(300, snr=None, slide=True, rng=4)
    np.testing.assert_array_equal(t["angle_deg"], t0["angle_deg"])
    np.testing.assert_array_equal(t["stretch_x"], t0["stretch_x"])
    assert np.all(np.abs(t["slide"]) <= 7) and t["slide"].std() > 3
    assert [f["name"] for f in t["spec"]] == ["angle", "stretch_x", "slide"]
    bar = imgs - base
    assert np.abs(bar[:, :, 16:]).max() < 1e-3 * np.abs(bar).max()  # left columns only
    moving = np.abs(base - base.mean(axis=0)).max(axis=0)  # where rotor and arm change pixels
    bar_var = np.abs(bar - bar.mean(axis=0)).max(axis=0)
    overlap = (moving * bar_var).sum() / np.sqrt((moving**2).sum() * (bar_var**2).sum())
    assert overlap < 0.02
    # existing arguments are unchanged by the new option
    a, _ = make_product_cryoem(50, image_size=32, stretch_y=True, rng=2)
    b, _ = make_product_cryoem(50, image_size=32, stretch_y=True, slide=False, rng=2)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="slide_range"):
        make_product_cryoem(10, slide=True, slide_range=9.0)


def test_three_part_images_factorize_into_three_factors():
    """Three independent motions (rotor x arm x sliding bar), clean images, MAX-3-CUT: every
    confidently identified eigenvector in its own motion's factor (analytic ground truth)."""
    import warnings

    from conformap.evaluate import factor_assignment
    from conformap.product import factorize

    imgs, t = make_product_cryoem(2500, snr=None, slide=True, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = factorize(imgs, n_eigenvectors=60, n_factors=3, rng=0)
    ev = factor_assignment(res.factors, res.eigenvectors, t)
    assert res.n_factors == 3
    assert ev.confident_accuracy >= 0.9
