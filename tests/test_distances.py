"""Pairwise / kNN / exact-EMD distances against scipy and analytic 1-D EMD."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.csgraph
import scipy.stats
from scipy.spatial.distance import cdist

from conformap import emd_distances, kneighbors_distances, pairwise_distances


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("metric", "ref"), [("l1", "cityblock"), ("l2", "euclidean")])
def test_pairwise_matches_cdist(dtype, metric, ref):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 5001)).astype(dtype)
    Y = rng.standard_normal((11, 5001)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    x64, y64 = X.astype(float), Y.astype(float)
    np.testing.assert_allclose(
        pairwise_distances(X, metric=metric), cdist(x64, x64, ref), rtol=rtol, atol=1e-6
    )
    np.testing.assert_allclose(
        pairwise_distances(X, Y, metric=metric), cdist(x64, y64, ref), rtol=rtol
    )


def test_pairwise_flattens_maps_and_is_symmetric_with_zero_diagonal():
    X = np.random.default_rng(1).random((9, 4, 5, 6))
    D = pairwise_distances(X, metric="l2", progress=False)
    assert D.shape == (9, 9)
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0)


def test_progress_path_equals_plain_path():
    X = np.random.default_rng(2).random((300, 40))
    np.testing.assert_allclose(pairwise_distances(X, progress=True), pairwise_distances(X))


@pytest.mark.parametrize("dim", [7, 40])  # k-d tree path, blocked brute-force path
@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_kneighbors_matches_brute_force(metric, dim):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, dim))
    k = 6
    G = kneighbors_distances(X, k, metric=metric)
    assert sp.issparse(G) and G.shape == (300, 300) and G.nnz == 300 * k
    full = cdist(X, X, "cityblock" if metric == "l1" else "euclidean")
    np.fill_diagonal(full, np.inf)
    expect = np.sort(full, axis=1)[:, :k]
    got = np.sort(G.toarray(), axis=1)[:, -k:]
    got = np.sort(np.where(G.toarray() > 0, G.toarray(), np.inf), axis=1)[:, :k]
    np.testing.assert_allclose(got, expect, rtol=1e-10)


@pytest.mark.parametrize("dim", [2, 40])
def test_kneighbors_never_lists_a_row_as_its_own_neighbour(dim):
    rng = np.random.default_rng(8)
    X = np.repeat(rng.standard_normal((20, dim)), 6, axis=0)  # every row has 5 duplicates
    G = kneighbors_distances(X, 4, metric="l2")
    assert G.nnz == X.shape[0] * 4 and G.diagonal().sum() == 0
    rows = np.repeat(np.arange(X.shape[0]), 4)
    assert not np.any(G.indices == rows)
    np.testing.assert_array_equal(G.data, 0.0)  # all 4 neighbours are exact duplicates


def test_emd_1d_equals_analytic_wasserstein():
    rng = np.random.default_rng(4)
    h = rng.random((6, 40)) ** 2
    E = emd_distances(h)
    pos = np.arange(40.0)
    for i in range(6):
        for j in range(6):
            ref = scipy.stats.wasserstein_distance(pos, pos, h[i], h[j])
            assert E[i, j] == pytest.approx(ref, abs=1e-9)


def test_emd_translation_of_a_point_mass_is_its_length():
    img = np.zeros((3, 10, 10))
    img[0, 2, 2] = img[1, 2, 7] = img[2, 6, 5] = 1.0
    E = emd_distances(img)
    assert E[0, 1] == pytest.approx(5.0)
    assert E[0, 2] == pytest.approx(5.0)  # (4, 3) displacement
    np.testing.assert_allclose(emd_distances(img[:1], img), E[:1])


def test_bad_inputs():
    with pytest.raises(ValueError, match="row 1 contains NaN"):
        pairwise_distances(np.array([[0.0, 1.0], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="metric: 'cosine'"):
        pairwise_distances(np.ones((2, 2)), metric="cosine")
    with pytest.raises(ValueError, match="Y: has 3 features"):
        pairwise_distances(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="n_neighbors: 5 is out of range"):
        kneighbors_distances(np.ones((4, 2)), 5)
    with pytest.raises(ValueError, match="too expensive"):
        emd_distances(np.ones((2, 80, 80)))
    with pytest.raises(ValueError, match="item 1 has negative values"):
        emd_distances(np.array([[1.0, 2.0], [1.0, -0.5]]))


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_bridging_does_not_depend_on_the_row_blocks(metric):
    # one implementation for rows in memory and rows read from a store block by block
    from conformap.distances import bridge_pieces, connect_components

    rng = np.random.default_rng(11)
    X = np.concatenate([c + 0.01 * rng.standard_normal((15, 20)) for c in (0.0, 1.0, 3.0, 7.0)])
    graph = kneighbors_distances(X, 5, metric=metric)
    whole = connect_components(X, graph, metric=metric)
    assert sp.csgraph.connected_components(whole, directed=False)[0] == 1
    for block in (1, 7, 16):
        part = bridge_pieces(lambda i0, i1: X[i0:i1], len(X), graph, metric=metric, block=block)
        assert (part != whole).nnz == 0
