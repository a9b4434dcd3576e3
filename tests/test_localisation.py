"""The localisation guard of the adaptive kernel (conformap.localisation)."""

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from conformap import DiffusionMap, diffusion_map, pairwise_distances
from conformap.diffusion import diffusion_core
from conformap.evaluate import circle_recovery
from conformap.graph import ADAPTIVE_MIN_ITEMS, graph_from_distances, scale_neighbor
from conformap.localisation import (
    ADAPTIVE_MAX_LOCALISATION,
    localisation_ratio,
    participation_ratio,
)
from conformap.scales import dense_kernel

participation = participation_ratio


def uniform_circle(n, seed):
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return pairwise_distances(np.c_[np.cos(t), np.sin(t)], metric="l2"), np.degrees(t)


def test_inflated_scales_localise_and_the_guard_gives_the_fixed_kernel():
    # A uniform unit circle whose adaptive graph gets five items with their scale inflated to
    # 4 (the others ~0.06): a vector on one of them has Rayleigh quotient about 1 / 4^2 =
    # 0.0625, as low as the smooth first eigenvalue (0.055: their mass drags it down), and
    # the second coordinate localises on them (participation ratio 0.005). The guard must
    # see it and use the fixed kernel at the median scale (oracle: diffusion_map with that
    # sigma, computed here from the distances).
    d, deg = uniform_circle(ADAPTIVE_MIN_ITEMS, 0)
    g = graph_from_distances(d)
    assert g.adaptive and g.fallback_distances is not None
    rho = g.scales.copy()
    rho[[0, 140, 280, 420, 560]] = 4.0
    bad = replace(g, scales=rho, kernel=dense_kernel(d, rho))
    explicit = diffusion_core(replace(bad, fallback_distances=None), rng=0)
    assert explicit.adaptive  # an explicit "adaptive" is kept: the localised embedding
    assert min(participation(explicit.embedding[:, j]) for j in range(2)) < 0.05
    assert explicit.graph["localisation_ratio"] > ADAPTIVE_MAX_LOCALISATION
    guarded = diffusion_core(bad, rng=0)
    assert not guarded.adaptive and "median scale" in guarded.graph["summary"]
    assert guarded.graph["localisation_ratio"] == explicit.graph["localisation_ratio"]
    # the oracle's sigma: median of the inflated scales, at least the longest MST edge
    mst = sp.csgraph.minimum_spanning_tree(d).data.max()
    sigma = max(np.median(rho), mst)
    oracle = diffusion_map(d, bandwidth=sigma, rng=0)
    assert np.isclose(guarded.bandwidth, sigma)
    np.testing.assert_allclose(guarded.embedding, oracle.embedding, atol=1e-8)
    assert min(participation(guarded.embedding[:, j]) for j in range(2)) > 0.6
    err = circle_recovery(guarded.embedding, deg)
    assert err.median_error < 2.0 and err.p90_error < 5.0  # 1.77 / 4.42


def test_the_guard_leaves_a_resolved_adaptive_kernel_alone():
    # the uniform circle itself: kappa far below the bound, "auto" is the adaptive kernel
    d, deg = uniform_circle(ADAPTIVE_MIN_ITEMS, 1)
    auto = diffusion_map(d, rng=0)
    adaptive = diffusion_map(d, bandwidth="adaptive", rng=0)
    assert auto.adaptive and auto.graph["localisation_ratio"] < 0.1
    np.testing.assert_array_equal(auto.embedding, adaptive.embedding)
    assert scale_neighbor(d.shape[0]) == auto.scale_neighbor


def test_participation_ratio_of_a_cosine_and_of_one_item():
    t = np.linspace(0, 2 * np.pi, 1000, endpoint=False)
    assert np.isclose(participation(np.cos(t)), 2 / 3)
    assert np.isclose(participation(np.eye(1000)[3]), 1 / 1000, rtol=0.01)


def test_localisation_ratio_is_lambda_over_the_one_item_rayleigh_floor():
    # against the definition: the smallest (D_i - W_ii) / M_i over the items, by hand
    d, _ = uniform_circle(300, 2)
    g = graph_from_distances(d, bandwidth="adaptive")
    k = g.kernel.toarray() if sp.issparse(g.kernel) else g.kernel
    q = k.sum(axis=1)
    m = g.dimension
    u = q**-1.0 * (g.scales / np.median(g.scales)) ** (m - (m + 2) / 2)
    w = k * np.outer(u, u)
    deg = w.sum(axis=1)
    floor = min((deg[i] - w[i, i]) / (deg[i] * g.scales[i] ** 2) for i in range(300))
    assert np.isclose(localisation_ratio(0.25, deg, u, deg * g.scales**2), 0.25 / floor)


def test_noisy_blob_images_do_not_localise():
    # 700 projected 32 x 32 images of a blob on a circle at noise 0.5 (benchmarks/denoise_blobs,
    # seed 1): the complete adaptive kernel localised on a few items of large scale
    # (participation ratios 0.024 and 0.006, 76 degrees median error). On the complete kernel
    # (method="dense") the guard falls back to the fixed kernel (8.3 degrees); "auto" keeps
    # the kNN truncation there (most of the complete kernel's mass lies beyond k, 5.9
    # degrees; docs/large-n/noisy/blobs-700-merged.jsonl); denoise="off" gives 12.0
    from benchmarks.denoise_blobs import blobs

    noisy, t = blobs(700, radius=7, noise=0.5, seed=1, size=32)
    dense = DiffusionMap(metric="euclidean", method="dense", random_state=0).fit(noisy)
    assert "median scale" in dense.graph_summary_
    auto = DiffusionMap(metric="euclidean", random_state=0).fit(noisy)
    assert "truncated kNN kernel" in auto.graph_summary_ and auto.dropped_mass_ > 0.5
    for dm in (dense, auto):
        assert min(participation(dm.embedding_[:, j]) for j in range(2)) > 0.3
        assert circle_recovery(dm.embedding_, t).median_error < 10.0


def test_fallback_on_a_knn_graph_is_the_fixed_kernel_on_the_same_neighbours():
    # the sparse path: the fallback graph keeps the stored neighbours and takes the fixed sigma
    from conformap import kneighbors_distances
    from conformap.graph import KNN_ADAPTIVE_MIN_ITEMS
    from conformap.localisation import fixed_at_median_scale

    t = np.random.default_rng(3).uniform(0, 2 * np.pi, KNN_ADAPTIVE_MIN_ITEMS)
    dk = kneighbors_distances(np.c_[np.cos(t), np.sin(t)], n_neighbors=30)
    g = graph_from_distances(dk)
    assert g.adaptive and g.method == "knn" and g.fallback_distances is not None
    fixed = fixed_at_median_scale(g, g.fallback_distances, [(1, 0.9, 0.01)])
    sym = sp.csr_matrix(dk).maximum(sp.csr_matrix(dk).T)
    sigma = max(np.median(g.scales), sp.csgraph.minimum_spanning_tree(sym).data.max())
    oracle = graph_from_distances(dk, bandwidth=sigma)
    assert not fixed.adaptive and fixed.method == "knn" and "median scale" in fixed.summary()
    assert abs(fixed.kernel - oracle.kernel).max() == 0
    assert diffusion_core(fixed, rng=0).embedding.shape == (KNN_ADAPTIVE_MIN_ITEMS, 2)


def _inflated_circle():
    # the uniform circle of the test above with five items of inflated scale: "auto" falls back
    d, _ = uniform_circle(ADAPTIVE_MIN_ITEMS, 0)
    g = graph_from_distances(d)
    rho = g.scales.copy()
    rho[[0, 140, 280, 420, 560]] = 4.0
    return replace(g, scales=rho, kernel=dense_kernel(d, rho))


def test_the_guard_does_not_depend_on_n_components():
    # the localised mode is the second coordinate: one component must still see it, and the
    # first coordinate is then that of the two-component fit (same fixed kernel)
    bad = _inflated_circle()
    one = diffusion_core(bad, n_components=1, rng=0)
    two = diffusion_core(bad, n_components=2, rng=0)
    assert not one.adaptive and not two.adaptive
    for res in (one, two):  # the coordinate that made it fall back, with its two measures
        (loc,) = [x for x in res.graph["localised"] if x["coordinate"] == 2]
        assert loc["kappa"] > ADAPTIVE_MAX_LOCALISATION and loc["participation"] < 0.05
    assert one.embedding.shape == (bad.kernel.shape[0], 1)
    np.testing.assert_allclose(one.embedding[:, 0], two.embedding[:, 0], atol=1e-8)
    np.testing.assert_allclose(one.eigenvalues, two.eigenvalues[:2], rtol=1e-10)


def test_a_knn_fallback_has_its_dropped_mass_measured_or_says_it_is_not():
    # a kNN graph of features whose adaptive scales are inflated on two items: the fallback
    # keeps the stored neighbours; with the features at hand its dropped mass is measured
    # against the complete kernel at the fixed sigma (oracle: the complete kernel's rows)
    from conformap.graph import KNN_ADAPTIVE_MIN_ITEMS, build_graph
    from conformap.neighbor_graph import split_knn_distances
    from conformap.scales import knn_kernel
    from conformap.truncation import measure_dropped_mass

    n = KNN_ADAPTIVE_MIN_ITEMS
    t = np.random.default_rng(0).uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(t), np.sin(t)]
    g, fs = build_graph(X, metric="euclidean", method="knn", rng=0)
    assert g.adaptive and g.dropped_mass is not None
    idx, dist, *_ = split_knn_distances(g.fallback_distances)
    rho = g.scales.copy()
    rho[[0, n // 2]] = 8.0
    bad = replace(g, scales=rho, kernel=sp.csr_matrix(knn_kernel(n, idx, dist, rho)))
    measured = diffusion_core(bad, rng=0,
                              remeasure=lambda h: measure_dropped_mass(h, fs, rng=0))
    assert not measured.adaptive and measured.graph["dropped_mass"] is not None
    sigma = measured.bandwidth
    full = np.exp(-pairwise_distances(X, metric="l2") ** 2 / (2 * sigma**2))
    stored = sp.csr_matrix(g.fallback_distances).maximum(sp.csr_matrix(g.fallback_distances).T)
    np.fill_diagonal(full, 0.0)  # the mass of a row is that of its other items
    kept = (full * (stored.toarray() > 0)).sum(1)
    oracle = 1 - kept / full.sum(1)
    assert oracle.min() - 1e-9 <= measured.graph["dropped_mass"] <= oracle.max() + 1e-9
    assert measured.graph["dropped_mass_max"] <= oracle.max() + 1e-9
    silent = diffusion_core(bad, rng=0)
    assert silent.graph["dropped_mass"] is None
    assert "not re-measured" in silent.graph["summary"]
