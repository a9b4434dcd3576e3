"""factorize / ProductManifoldFactorizer against analytic ground truth; determinism; errors."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

import conformap
from conformap.datasets import make_box, make_rectangle, make_torus
from conformap.evaluate import factor_assignment, factor_r2
from conformap.product import (
    FactorizationWarning,
    ProductManifoldFactorizer,
    factorize,
    laplacian_spectrum,
)


@pytest.fixture(scope="module")
def rectangle():
    X, truth = make_rectangle(1500, rng=0)
    return X, truth, factorize(X, n_eigenvectors=30, rng=0)


@pytest.fixture(scope="module")
def torus():
    X, truth = make_torus(1500, rng=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FactorizationWarning)
        return X, truth, factorize(X, n_eigenvectors=30, rng=0)


def test_log_eigenvalues_match_the_rectangle_spectrum(rectangle):
    X, _, res = rectangle
    a, b = conformap.datasets.RECTANGLE_SIDES
    exact = np.sort([np.pi**2 * (m**2 / a**2 + n**2 / b**2) for m in range(8) for n in range(5)])
    # low modes within 20 % (finite sample, boundary and z-noise bias)
    np.testing.assert_allclose(res.eigenvalues[1:8], exact[1:8], rtol=0.2)
    # scale: distances x 2 -> eigenvalues / 4, same factorization
    res2 = factorize(2 * X, n_eigenvectors=30, rng=0)
    np.testing.assert_allclose(res2.eigenvalues, res.eigenvalues / 4, rtol=1e-6, atol=1e-9)
    assert [f.tolist() for f in res2.factors] == [f.tolist() for f in res.factors]


def test_rectangle_factors_match_cosines(rectangle):
    _, truth, res = rectangle
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert len(res.factors) == 2
    assert ev.n_assigned >= 5
    assert ev.confident_accuracy == 1.0
    # mixtures of a factor mode and a product mode are left out (issue 12: phi10 was binned)
    assert ev.accuracy == 1.0
    # wrong assignments, if any, are eigenvectors that mix modes (no clear ground truth)
    assert not np.any(ev.confident & (ev.predicted >= 0) & ~ev.correct)
    # the first non-trivial eigenvectors are cos(pi x / a) and cos(pi y / b)
    assert 1 in res.factors[0]
    assert 2 in res.factors[1]
    r2 = factor_r2(res.eigenvectors[:, [1, 2]], truth)
    assert r2[0, 0] > 0.95
    assert r2[1, 1] > 0.95


def test_torus_factors_match_fourier_modes(torus):
    _, truth, res = torus
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert ev.n_assigned >= 4
    assert ev.confident_accuracy == 1.0
    # each factor's leading eigenvector is a Fourier mode of a single angle
    r2 = factor_r2(res.eigenvectors[:, [res.factors[0][0], res.factors[1][0]]], truth)
    assert sorted(np.argmax(r2, axis=1).tolist()) == [0, 1]
    assert r2.max(axis=1).min() > 0.9


def test_triplets_are_products_of_different_factors(rectangle):
    _, _, res = rectangle
    label = {int(c): f for f, cols in enumerate(res.factors) for c in cols}
    for i, j, k in res.triplets:
        assert i < j < k
        if i in label and j in label:
            assert label[i] != label[j]
    assert np.all(res.scores > res.gamma)
    assert not set(res.products.tolist()) & set(label)


def test_deterministic_for_fixed_seed():
    X, _ = make_rectangle(1800, rng=2)  # sparse path (> dense limit)
    a = factorize(X, n_eigenvectors=20, rng=3)
    b = factorize(X, n_eigenvectors=20, rng=3)
    np.testing.assert_array_equal(a.eigenvectors, b.eigenvectors)
    np.testing.assert_array_equal(a.triplets, b.triplets)
    assert [f.tolist() for f in a.factors] == [f.tolist() for f in b.factors]


def test_estimator_contract():
    X, _truth = make_rectangle(800, rng=4)
    est = ProductManifoldFactorizer(20, gamma=0.7, random_state=0)
    assert est.get_params()["gamma"] == 0.7
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(est, "factors_")
    X0 = X.copy()
    assert est.fit(X) is est
    np.testing.assert_array_equal(X, X0)
    assert len(est.embeddings_) == len(est.factors_) == 2
    assert est.embeddings_[0].shape == (800, 2)
    assert est.eigenvectors_.shape == (800, 21)
    assert est.separability_.shape == (21, 21)
    assert est.delta_ == pytest.approx(0.5 * est.eigenvalues_[1])


def test_hierarchical_box_three_factors():
    X, truth = make_box(1500, sides=(1.0, 1.6, 2.5), rng=0)
    res = factorize(X, n_eigenvectors=30, n_factors=3, hierarchical=True, rng=0)
    assert len(res.factors) == 3
    # the top cut and one sub-split (with harmonics=True, complete_harmonics then re-adds z2,
    # which the sub-split left out: tests/test_product_harmonics.py)
    assert [lv["split"] for lv in res.levels][2:] in ([], ["harmonics"])
    assert len([lv for lv in res.levels if lv["split"] != "harmonics"]) == 2
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert ev.confident_accuracy >= 0.8


def test_max_k_cut_box_three_factors():
    X, truth = make_box(1500, sides=(1.0, 1.6, 2.5), rng=0)
    res = factorize(X, n_eigenvectors=30, n_factors=3, rng=0)
    assert len(res.factors) == 3
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert ev.confident_accuracy >= 0.8


def test_no_product_is_one_factor_with_reasons():
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(0, 1, 600))[:, None]  # an interval: not a product
    res = factorize(X, n_eigenvectors=10, gamma=0.95, rng=0)
    assert res.n_factors == 1
    assert res.factors[0].tolist() == list(range(1, 11))
    assert "1 factor" in res.message and "gamma = 0.95" in res.message
    assert "S = " in res.message  # the best similarities are reported
    assert res.triplets.shape == (0, 3)
    # asking for two factors explicitly: the same answer, with a warning
    with pytest.warns(FactorizationWarning, match="n_factors=2 was asked for"):
        res2 = factorize(X, n_eigenvectors=10, n_factors=2, gamma=0.95, rng=0)
    assert res2.n_factors == 1


def test_circle_is_one_factor():
    t = np.random.default_rng(1).uniform(0, 2 * np.pi, 800)
    res = factorize(np.column_stack([np.cos(t), np.sin(t)]), n_eigenvectors=20, rng=0)
    assert res.n_factors == 1
    assert res.best_score.max() < res.gamma
    conf = res.confidence[0]
    assert conf.shape == (20,) and np.all((conf >= 0) & (conf <= 1))


def test_confidence_of_every_assignment(rectangle):
    _, truth, res = rectangle
    assert len(res.confidence) == len(res.factors)
    for cols, conf in zip(res.factors, res.confidence, strict=True):
        assert conf.shape == cols.shape
        assert np.all((conf >= 0) & (conf <= 1))
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    conf = {int(c): v for cols, cf in zip(res.factors, res.confidence, strict=True)
            for c, v in zip(cols, cf, strict=True)}
    right = [conf[int(c)] for c, ok, p in zip(ev.columns, ev.correct, ev.predicted,
                                                strict=True) if p != -1 and ok]
    assert np.median(right) > 0.75  # a clean product: every triplet links the two factors
    assert res.cut_fraction[0] > 0.9


def test_number_of_factors_from_the_data(rectangle):
    _, _, res = rectangle  # n_factors="auto" (the default)
    assert res.n_factors == 2
    assert "number of factors from the data" in res.message


def test_two_factor_images_with_no_options():
    # issue 12: a subunit rotating in the plane x an arm that stretches, 64 x 64 images at
    # SNR 1, factorized with no option (PCA above the noise edge, factors from the data)
    from conformap.datasets import make_product_cryoem

    images, truth = make_product_cryoem(2000, snr=1.0, rng=0)
    res = factorize(images, n_eigenvectors=50, rng=0)
    assert res.preprocessing["method"] == "pca"
    assert 4 <= res.preprocessing["n_components"] <= 40
    assert res.n_factors == 2
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    assert ev.confident_accuracy >= 0.9
    ok = (ev.predicted != -1) & ev.confident & ev.correct
    assert all(int((ok & (ev.true_label == f)).sum()) >= 2 for f in range(2))


def test_disconnected_affinity_graph_message():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.uniform(0, 1, (200, 2)), rng.uniform(0, 1, (200, 2)) + 50])
    with pytest.raises(ValueError, match="disconnected"):
        factorize(X, n_eigenvectors=10, bandwidth=0.3, rng=0)


def test_disconnected_separability_graph_warns():
    # without unmixing this torus leaves phi_20 unlinked (with it, phi_20 is binned correctly)
    X, _ = make_torus(1500, rng=1)
    with pytest.warns(FactorizationWarning, match="connected components"):
        res = factorize(X, n_eigenvectors=30, rng=0, unmix=0)
    assert res.unassigned.size > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_eigenvectors": 2}, "n_eigenvectors"),
     ({"n_eigenvectors": 500}, "n_eigenvectors: 500 needs"),
     ({"gamma": 1.2}, "gamma"),
     ({"delta": -1.0}, "delta"),
     ({"delta": "big"}, "delta"),
     ({"bandwidth": "widest"}, "bandwidth"),
     ({"n_factors": 1}, "n_factors"),
     ({"metric": "cosine"}, "metric")],
)
def test_bad_parameters(kwargs, match):
    X, _ = make_rectangle(300, rng=0)
    with pytest.raises((ValueError, TypeError), match=match):
        factorize(X, **{"n_eigenvectors": 10, **kwargs})


def test_spectrum_rejects_1d_input():
    with pytest.raises(ValueError, match="shape"):
        laplacian_spectrum(np.arange(10.0), n_eigenvectors=3)


def test_spectrum_agrees_with_core_diffusion_map():
    # our ARPACK path and conformap.diffusion_map (dense eigh) compute the same operator
    from conformap.product._spectrum import _radius_graph

    X, _ = make_rectangle(400, rng=5)
    spec = laplacian_spectrum(X, n_eigenvectors=8, bandwidth=0.3, rng=0)
    dist = _radius_graph(X, 4 * 0.3, "l2")
    ref = conformap.diffusion_map(dist, n_components=8, bandwidth=0.3, eigen_solver="dense",
                                  alpha=1.0)
    np.testing.assert_allclose(spec.markov_eigenvalues, ref.eigenvalues, rtol=1e-7, atol=1e-9)
    for k in range(1, 9):
        c = abs(np.corrcoef(spec.eigenvectors[:, k], ref.eigenvectors[:, k])[0, 1])
        assert c > 0.999


def test_laplacian_spectrum_auto_bandwidth_is_the_mst_rule():
    # "auto" has one meaning in product learning (a fixed sigma), applied in one place
    from conformap.product import AUTO_BANDWIDTH_RULE, laplacian_spectrum

    X, _ = make_rectangle(400, rng=3)
    auto = laplacian_spectrum(X, n_eigenvectors=8)
    rule = laplacian_spectrum(X, n_eigenvectors=8, bandwidth=AUTO_BANDWIDTH_RULE)
    assert AUTO_BANDWIDTH_RULE == "mst"
    assert auto.bandwidth == rule.bandwidth
    np.testing.assert_allclose(auto.eigenvalues, rule.eigenvalues)
    with pytest.raises(ValueError, match="bandwidth: 'adaptive'"):
        laplacian_spectrum(X, n_eigenvectors=8, bandwidth="adaptive")


def test_radius_graph_spectrum_matches_dense_eigh():
    # the radius graph (4 sigma) through conformap.graph + the diffusion core, against a
    # dense eigh of the same truncated alpha = 1 Markov operator; and the noise floor 2/sqrt(m)
    X, _ = make_rectangle(600, rng=3)
    s = laplacian_spectrum(X, n_eigenvectors=40, rng=0)
    assert s.graph == "radius"
    d = conformap.pairwise_distances(X, metric="l2")
    k = np.exp(-(d**2) / (2 * s.bandwidth**2)) * (d < 4 * s.bandwidth)
    q = k.sum(1)
    ka = k / q[:, None] / q[None, :]
    deg = ka.sum(1)
    mu, v = np.linalg.eigh(ka / np.sqrt(deg[:, None] * deg[None, :]))
    np.testing.assert_allclose(s.markov_eigenvalues, mu[::-1][:41], atol=1e-10)
    psi = v[:, ::-1][:, :41] / np.sqrt(deg / deg.sum())[:, None]
    pi = deg / deg.sum()
    corr = np.abs(np.sum(psi[:, 1:16] * s.eigenvectors[:, 1:16] * pi[:, None], axis=0))
    np.testing.assert_allclose(corr, 1.0, atol=1e-8)
    p = ka / deg[:, None]
    assert s.noise_floor == pytest.approx(2 / np.sqrt(np.median(1 / (p * p).sum(1))), rel=1e-9)


def test_dense_graph_when_nearly_every_pair_is_within_the_radius():
    """Noise-dominated features (most pairs within 4 sigma) store the radius graph densely:
    the same truncated operator, so the same spectrum as the sparse radius graph."""
    from conformap.product import laplacian_spectrum
    from conformap.product._spectrum import RADIUS_MAX_FRACTION, radius_fraction

    gen = np.random.default_rng(0)
    X = gen.normal(size=(400, 60))  # 60-D noise: distances concentrate
    spec = laplacian_spectrum(X, n_eigenvectors=10, rng=0)
    assert radius_fraction(X, 4 * spec.bandwidth, "l2") > RADIUS_MAX_FRACTION
    from conformap.product._spectrum import _radius_graph

    dist = _radius_graph(X, 4 * spec.bandwidth, "l2")  # the sparse radius graph itself
    ref = laplacian_spectrum(dist, metric="precomputed", n_eigenvectors=10,
                             bandwidth=spec.bandwidth, rng=0)
    np.testing.assert_allclose(spec.markov_eigenvalues, ref.markov_eigenvalues, atol=1e-10)
    assert spec.noise_floor == pytest.approx(ref.noise_floor, rel=1e-9)


@pytest.mark.parametrize("option", ["hierarchical", "harmonics", "clean_products"])
def test_switches_take_only_booleans(option):
    from conformap.datasets import make_rectangle

    X, _ = make_rectangle(300, rng=0)
    with pytest.raises(TypeError, match=f"{option}: expected True or False, got 'no'"):
        factorize(X, n_eigenvectors=10, **{option: "no"})
