"""The one graph builder: same graph everywhere, bounded truncation, density robustness."""

import numpy as np
import pytest
import scipy.linalg

from conformap import DiffusionMap, pairwise_distances
from conformap.cache import cached_distances
from conformap.diffusion import diffusion_eigenpairs
from conformap.evaluate import circle_recovery
from conformap.graph import (
    build_graph,
    default_n_neighbors,
    graph_from_distances,
    intrinsic_dimension,
)
from conformap.resources import estimate_all_pairs


def clustered_circle(n, *, width=3.0, frac=0.6, noise=0.0, seed=0):
    """``frac`` of the points in three dwells ``width`` degrees wide, 120 degrees apart."""
    r = np.random.default_rng(seed)
    m = int(round(frac * n))
    th = np.r_[r.integers(0, 3, m) * 2 * np.pi / 3 + np.radians(width) * r.standard_normal(m),
               r.uniform(0, 2 * np.pi, n - m)]
    X = np.c_[np.cos(th), np.sin(th)] + noise * r.standard_normal((n, 2))
    return X, np.degrees(th)


def test_cache_and_estimator_build_the_same_graph(tmp_path):
    X, _ = clustered_circle(600, seed=1)
    direct, _ = build_graph(X, metric="euclidean", method="knn", rng=0)
    cached = graph_from_distances(cached_distances(X, tmp_path, metric="euclidean",
                                                   method="knn"))
    # the cache's blocked search and the k-d tree agree to rounding
    np.testing.assert_allclose(direct.scales, cached.scales, rtol=1e-12)
    assert (direct.kernel != 0).sum() == (cached.kernel != 0).sum()
    np.testing.assert_allclose(direct.kernel.toarray(), cached.kernel.toarray(), rtol=1e-10)
    assert direct.n_neighbors == cached.n_neighbors == default_n_neighbors(600)
    est = DiffusionMap(metric="euclidean", method="knn", random_state=0).fit(X)
    pre = DiffusionMap(metric="precomputed", random_state=0).fit(
        cached_distances(X, tmp_path, metric="euclidean", method="knn"))
    np.testing.assert_allclose(est.embedding_, pre.embedding_, rtol=1e-6, atol=1e-9)


def test_default_k_is_one_rule():
    for n in (30, 5000, 100_000):
        assert estimate_all_pairs(n, 10, method="knn").n == n
    assert default_n_neighbors(30) == 29
    assert default_n_neighbors(100_000) == 34
    assert default_n_neighbors(1000) == 30


@pytest.mark.parametrize("call", ["estimator", "cache", "builder"])
def test_zero_neighbours_is_the_same_error_everywhere(call, tmp_path):
    X, _ = clustered_circle(30)
    with pytest.raises(ValueError, match=r"n_neighbors: .*0"):
        if call == "estimator":
            DiffusionMap(metric="euclidean", method="knn", n_neighbors=0).fit(X)
        elif call == "cache":
            cached_distances(X, tmp_path, metric="euclidean", method="knn", n_neighbors=0)
        else:
            build_graph(X, metric="euclidean", method="knn", n_neighbors=0)


def test_sparse_spectrum_matches_dense_within_the_reported_truncation():
    X, _ = clustered_circle(1500, seed=2)
    sparse, _ = build_graph(X, metric="euclidean", method="knn", rng=0)
    dense = graph_from_distances(pairwise_distances(X, metric="l2"),
                                 n_neighbors=sparse.n_neighbors)
    np.testing.assert_allclose(sparse.scales, dense.scales, rtol=1e-12)
    assert 0 < sparse.dropped_mass <= sparse.dropped_mass_max < 0.05
    lam_s, _, _ = diffusion_eigenpairs(sparse, 9, rng=0)
    # independent oracle: full dense eigh of the complete kernel's operator
    from conformap.diffusion import normalized_operator

    w, _, _, deg, mass = normalized_operator(dense)
    s = mass**-0.5
    lam_d = scipy.linalg.eigh((np.diag(deg) - w) * s[:, None] * s[None, :], eigvals_only=True,
                              subset_by_index=[0, 8])
    rel = np.abs(lam_s[1:] - lam_d[1:]) / lam_d[1:]
    assert rel.max() < 10 * sparse.dropped_mass_max, (rel, sparse.dropped_mass_max)


@pytest.mark.parametrize("noise", [0.0])
def test_knn_default_graph_removes_the_sampling_density(noise):
    X, th = clustered_circle(3000, width=2.0, noise=noise, seed=3)
    dm = DiffusionMap(metric="euclidean", method="knn", random_state=0).fit(X)
    rec = circle_recovery(dm.embedding_, th)
    assert rec.median_error < 2.0 and rec.p90_error < 5.0, rec
    assert 0 <= dm.dropped_mass_ < 0.05
    assert "dropped kernel mass" in dm.graph_summary_


def test_intrinsic_dimension_of_a_circle_and_a_square():
    r = np.random.default_rng(0)
    th = r.uniform(0, 2 * np.pi, 2000)
    from conformap.graph import neighbor_search

    _, d1 = neighbor_search(np.c_[np.cos(th), np.sin(th)], 20, "l2")
    _, d2 = neighbor_search(r.random((2000, 2)), 20, "l2")
    assert round(intrinsic_dimension(d1)) == 1
    assert round(intrinsic_dimension(d2)) == 2
