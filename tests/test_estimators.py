"""DiffusionMap estimator: scikit-learn conventions, metrics, paths, Nystrom transform."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from conformap import (
    DiffusionMap,
    diffusion_map,
    pairwise_distances,
    wemd_distances,
    wemd_embedding,
)
from conformap.datasets import make_rotor
from conformap.evaluate import circle_recovery


@pytest.fixture(scope="module")
def rotor():
    return make_rotor(60, shape=(24, 40, 24), rng=0)


def test_init_only_stores_and_clone_round_trips():
    dm = DiffusionMap(3, metric="euclidean", bandwidth=2.0, metric_params={"a": 1})
    assert dm.get_params()["n_components"] == 3
    assert clone(dm).get_params() == dm.get_params()
    assert not hasattr(dm, "embedding_")
    with pytest.raises(NotFittedError):
        dm.transform(np.ones((2, 3)))


def test_wemd_recovers_the_rotor_circle_and_fit_returns_self(rotor):
    maps, angles = rotor
    dm = DiffusionMap(metric="wemd")
    assert dm.fit(maps) is dm
    assert dm.embedding_.shape == (60, 2)
    assert dm.eigenvalues_[0] == 1.0 and dm.bandwidth_ > 0
    assert circle_recovery(dm.embedding_, angles).median_error < 10.0


def test_estimator_equals_function_on_precomputed_distances(rotor):
    maps, _ = rotor
    D = wemd_distances(maps)  # the estimator's default: columns="resolved"
    a = DiffusionMap(metric="wemd").fit(maps)
    b = DiffusionMap(metric="precomputed").fit(D)
    c = diffusion_map(D)
    np.testing.assert_allclose(a.embedding_, c.embedding, atol=1e-9)
    np.testing.assert_allclose(b.embedding_, c.embedding, atol=1e-12)


def test_same_seed_same_numbers(rotor):
    maps, _ = rotor
    a = DiffusionMap(
        metric="euclidean", method="knn", n_neighbors=12, random_state=3
    ).fit_transform(maps)
    b = DiffusionMap(
        metric="euclidean", method="knn", n_neighbors=12, random_state=3
    ).fit_transform(maps)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["dense", "knn"])
def test_transform_of_training_items_reproduces_embedding(rotor, method):
    maps, _ = rotor
    dm = DiffusionMap(metric="euclidean", method=method, n_neighbors=20, random_state=0).fit(maps)
    new = dm.transform(maps[:10])
    scale = np.abs(dm.embedding_).max()
    if method == "dense":
        np.testing.assert_allclose(new, dm.embedding_[:10], atol=1e-8 * scale)
    else:
        # The kNN graph is symmetrised (union) for training, so a training item's out-of-sample
        # row sees only its own k nearest: close, not identical.
        assert np.median(np.abs(new - dm.embedding_[:10])) < 0.1 * scale


def test_compact_wemd_features_give_the_full_vectors_answers(rotor):
    """Fit on the resolved columns, transform with the full vectors: same as all columns."""
    maps, _ = rotor
    full = DiffusionMap(metric="wemd", metric_params={"columns": "all"}).fit(maps)
    compact = DiffusionMap(metric="wemd").fit(maps)
    assert compact._fit_features.shape[1] < full._fit_features.shape[1]
    D = pairwise_distances(wemd_embedding(maps))
    assert np.abs(wemd_distances(maps) - D).max() <= 1e-6 * D.max()
    scale = np.abs(full.embedding_).max()
    np.testing.assert_allclose(compact.embedding_, full.embedding_, atol=1e-5 * scale)
    new_maps, _ = make_rotor(5, shape=(24, 40, 24), rng=98)
    np.testing.assert_allclose(compact.transform(new_maps), full.transform(new_maps),
                               atol=1e-5 * scale)
    np.testing.assert_allclose(compact.transform(maps[:5]), compact.embedding_[:5],
                               atol=1e-6 * scale)


def test_transform_places_new_maps_at_their_angles(rotor):
    maps, angles = rotor
    dm = DiffusionMap(metric="wemd").fit(maps)
    new_maps, new_angles = make_rotor(10, shape=(24, 40, 24), rng=99)
    emb = np.vstack([dm.embedding_, dm.transform(new_maps)])
    rec = circle_recovery(emb, np.r_[angles, new_angles])
    err = np.abs((rec.estimated[-10:] - new_angles + 180) % 360 - 180)
    assert np.median(err) < 15.0


def test_emd_metric_on_small_images():
    rng = np.random.default_rng(0)
    centres = rng.uniform(3, 9, 14)
    g = np.arange(12.0)
    imgs = np.array([np.exp(-((g[:, None] - c) ** 2 + (g[None, :] - 6) ** 2) / 2) for c in centres])
    dm = DiffusionMap(1, metric="emd").fit(imgs)
    from conformap.evaluate import curve_order

    assert curve_order(dm.embedding_[:, 0], centres) > 0.95
    assert dm.transform(imgs[:2]).shape == (2, 1)


def test_bad_parameters_named():
    X = np.random.default_rng(0).random((10, 5))
    with pytest.raises(ValueError, match="metric: 'cosine'"):
        DiffusionMap(metric="cosine").fit(X)
    with pytest.raises(ValueError, match="method: 'fast'"):
        DiffusionMap(metric="euclidean", method="fast").fit(X)
    with pytest.raises(ValueError, match="n_components: 12 needs at least 14 items, got 10"):
        DiffusionMap(12, metric="euclidean").fit(X)
    with pytest.raises(ValueError, match="metric_params"):
        DiffusionMap(metric="euclidean", metric_params={"level": 3}).fit(X)
    dm = DiffusionMap(metric="euclidean").fit(X)
    with pytest.raises(ValueError, match="features"):
        dm.transform(np.ones((2, 6)))


# -- scikit-learn's estimator checks ---------------------------------------------------------

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from conformap import ProductManifoldFactorizer  # noqa: E402
from conformap.estimators import expected_failed_checks  # noqa: E402

# Small parameters keep the ~140 checks fast; gamma=0 lets the factorizer accept the checks'
# random data (which has no product structure).
CHECKED = [
    DiffusionMap(metric="euclidean"),
    DiffusionMap(metric="wemd", metric_params={"negative": "keep"}),
    ProductManifoldFactorizer(n_eigenvectors=5, gamma=0.0, n_rounds=20),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    import warnings

    with warnings.catch_warnings():
        # the checks' random data trigger our data warnings; they are not check failures
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def test_euclidean_diffusion_map_has_no_expected_failures():
    assert expected_failed_checks(DiffusionMap(metric="euclidean")) == {}
    assert expected_failed_checks(DiffusionMap(metric="precomputed")) == {}
    for est in CHECKED[1:]:
        reasons = expected_failed_checks(est)
        assert reasons and all(len(r) > 40 for r in reasons.values())


def test_tags_declare_input_requirements():
    wemd = DiffusionMap(metric="wemd").__sklearn_tags__().input_tags
    assert wemd.positive_only and not wemd.sparse and not wemd.allow_nan
    pre = DiffusionMap(metric="precomputed").__sklearn_tags__().input_tags
    assert pre.pairwise and pre.sparse
    fac = ProductManifoldFactorizer(metric="precomputed").__sklearn_tags__().input_tags
    assert fac.pairwise


def test_n_features_in_and_item_shape(rotor):
    maps, _ = rotor
    dm = DiffusionMap(metric="wemd").fit(maps[:20])
    assert dm.n_features_in_ == 24 * 40 * 24 and dm.item_shape_ == (24, 40, 24)
    with pytest.raises(ValueError, match=r"items have shape \(24, 24, 40\)"):
        dm.transform(maps[:2].transpose(0, 1, 3, 2))
    X = np.random.default_rng(0).random((20, 7))
    dm = DiffusionMap(metric="euclidean").fit(X)
    assert dm.n_features_in_ == 7
    with pytest.raises(ValueError, match="X has 6 features, but DiffusionMap is expecting 7"):
        dm.transform(X[:, :6])


def test_read_only_and_memory_mapped_inputs(tmp_path):
    rng = np.random.default_rng(0)
    A, B = rng.random((5, 30)), rng.random((25, 30))
    np.save(tmp_path / "b.npy", B)
    B_mm = np.load(tmp_path / "b.npy", mmap_mode="r")
    B_ro = B.copy()
    B_ro.setflags(write=False)
    want = DiffusionMap(metric="euclidean").fit(B).transform(A)
    for train in (B_ro, B_mm):
        dm = DiffusionMap(metric="euclidean").fit(train)
        np.testing.assert_allclose(dm.transform(A), want, rtol=1e-10, atol=1e-12)
        A_ro = A.copy()
        A_ro.setflags(write=False)
        np.testing.assert_allclose(dm.transform(A_ro), want, rtol=1e-10, atol=1e-12)
    maps = make_rotor(20, shape=(12, 20, 12), rng=0)[0]
    maps.setflags(write=False)
    DiffusionMap(metric="wemd").fit(maps).transform(maps[:3])


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.empty((0, 5)), "0 sample"),
        (np.empty((10, 0)), "0 feature"),
        (np.empty((10, 0, 4)), "0 feature"),
        (np.ones(5), "Reshape your data"),
        (np.ones((1, 5)), "1 sample"),
    ],
)
def test_empty_and_degenerate_inputs_get_clear_errors(X, match):
    with pytest.raises(ValueError, match=match):
        DiffusionMap(metric="euclidean").fit(X)


def test_sparse_input_refused_for_items_accepted_as_distances():
    import scipy.sparse as sp

    X = sp.random(20, 6, density=0.5, random_state=0, format="csr")
    with pytest.raises(TypeError, match="Sparse data was passed"):
        DiffusionMap(metric="euclidean").fit(X)
    with pytest.raises(TypeError, match="Sparse data was passed"):
        DiffusionMap(metric="wemd").fit(X)
    D = pairwise_distances(np.random.default_rng(0).random((30, 4)), metric="l2")
    for graph in (sp.csr_matrix(D), sp.coo_matrix(D), sp.csc_matrix(D)):
        dm = DiffusionMap(metric="precomputed").fit(graph)
        assert dm.embedding_.shape == (30, 2) and dm.n_features_in_ == 30


def test_factorizer_single_point_error():
    with pytest.raises(ValueError, match="1 sample"):
        ProductManifoldFactorizer().fit(np.ones((1, 3)))
