"""The sparse kNN distance format: assembled and taken apart losslessly; exact blocks."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from conformap.neighbor_graph import (
    bridge_edges,
    knn_block,
    knn_distance_matrix,
    split_knn_distances,
)


def test_knn_block_matches_scikit_learn():
    X = np.random.default_rng(0).random((300, 3))
    idx, dist = knn_block(X, 40, 90, 7, "l2")
    want_d, want_i = NearestNeighbors(n_neighbors=8).fit(X).kneighbors(X[40:90])
    np.testing.assert_allclose(dist, want_d[:, 1:], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(idx, want_i[:, 1:])


def test_two_clusters_are_bridged_and_the_format_round_trips():
    r = np.random.default_rng(1)
    X = np.r_[r.random((60, 2)), r.random((60, 2)) + 10.0]
    idx, dist = knn_block(X, 0, X.shape[0], 5, "l1")
    rows, cols, d = bridge_edges(X, "l1", idx, dist)
    assert rows.size >= 2 and np.all((rows < 60) != (cols < 60))  # across the gap only
    g = knn_distance_matrix(idx, dist, rows, cols, d)
    i2, d2, r2, c2, v2 = split_knn_distances(g.tocsr())
    np.testing.assert_array_equal(i2, idx)
    np.testing.assert_allclose(d2, dist)
    assert sorted(zip(r2, c2, strict=True)) == sorted(zip(rows, cols, strict=True))
    with pytest.raises(ValueError, match="row 0 stores no neighbour"):
        split_knn_distances(sp.csr_matrix((3, 3)))
