"""Nearest-neighbour search: the exact oracle, the approximate search's recall, the index."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from conformap.neighbors import (
    NeighborIndex,
    block_neighbors,
    choose_method,
    merge_neighbors,
    nearest_neighbors,
    recall,
)


def _brute(X, k, metric, Y=None):
    """Independent oracle: scipy's cdist, self excluded by index, ties by index."""
    same = Y is None
    Q = X if same else Y
    d = cdist(Q.astype(float), X.astype(float), "cityblock" if metric == "l1" else "euclidean")
    if same:
        np.fill_diagonal(d, np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(X.shape[0]), d.shape), d), axis=1)[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize("dim", [3, 40])
def test_exact_matches_cdist(metric, dim):
    X = np.random.default_rng(0).normal(size=(300, dim))
    idx, dist = nearest_neighbors(X, 7, metric=metric, method="exact")
    ref_idx, ref_dist = _brute(X, 7, metric)
    assert idx.dtype == np.int64 and dist.dtype == np.float64
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)
    np.testing.assert_array_equal(idx, ref_idx)


def test_blocks_merge_like_one_block():
    X = np.random.default_rng(1).normal(size=(90, 20))
    whole = block_neighbors(X, X, 5, exclude_self=True)
    parts = [block_neighbors(X, X[j:j + 30], 5, col_start=j, exclude_self=True)
             for j in range(0, 90, 30)]
    merged = merge_neighbors(parts, 5)
    np.testing.assert_array_equal(merged[0], whole[0])
    np.testing.assert_allclose(merged[1], whole[1])


@pytest.mark.parametrize("dim", [3, 40])
def test_duplicates_are_neighbours_self_is_not(dim):
    base = np.random.default_rng(2).normal(size=(50, dim))
    X = np.concatenate([base, base, base])  # every row has two exact copies
    idx, dist = nearest_neighbors(X, 4, method="exact")
    n = X.shape[0]
    assert not (idx == np.arange(n)[:, None]).any()
    np.testing.assert_array_equal(dist[:, :2], 0.0)
    for i, twins in ((0, [50, 100]), (50, [0, 100]), (100, [0, 50])):
        np.testing.assert_array_equal(idx[i, :2], twins)  # ties by index


def test_index_query_exact():
    r = np.random.default_rng(3)
    X, Y = r.normal(size=(200, 30)), r.normal(size=(20, 30))
    index = NeighborIndex(X, metric="l1", method="exact")
    idx, dist = index.query(Y, 6)
    ref_idx, ref_dist = _brute(X, 6, "l1", Y=Y)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)
    idx, dist = index.query(X[:5], 1)  # a training row finds itself
    np.testing.assert_array_equal(idx[:, 0], np.arange(5))


def test_auto_rule():
    assert choose_method(100, 10_000) == "exact"
    assert choose_method(10**6, 3) == "exact"
    assert choose_method(10**5, 10_000) == "approx"


def test_recall_helper():
    assert recall(np.array([[1, 2], [0, 2]]), np.array([[2, 1], [0, 1]])) == 0.75


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": 50}, "n_neighbors"),
        ({"n_neighbors": 2.5}, "n_neighbors"),
        ({"n_neighbors": 3, "metric": "cosine"}, "metric"),
        ({"n_neighbors": 3, "method": "fast"}, "method"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, name):
    X = np.random.default_rng(4).normal(size=(50, 20))
    with pytest.raises((ValueError, TypeError), match=name):
        nearest_neighbors(X, **kwargs)


def test_bad_input():
    with pytest.raises(ValueError, match="X"):
        nearest_neighbors(np.ones((1, 5)), 1)
    X = np.ones((10, 5))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        nearest_neighbors(X, 2)
    with pytest.raises(ValueError, match="Y"):
        NeighborIndex(np.ones((10, 5))).query(np.ones((2, 4)), 1)


@pytest.fixture(scope="module")
def wemd_images():
    """1,500 noisy particle images as WEMD coefficients: the geometry the search is for."""
    from conformap import wemd_embedding
    from conformap.datasets import make_particles

    images, _ = make_particles(1500, size=16, snr=1.0, rng=0)
    return wemd_embedding(images, negative="keep")


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_approx_recall_against_exact(wemd_images, metric):
    k = 10
    ref, ref_d = nearest_neighbors(wemd_images, k, metric=metric, method="exact")
    idx, dist = nearest_neighbors(wemd_images, k, metric=metric, method="approx",
                                  random_state=0)
    assert recall(idx, ref) >= 0.98
    assert not (idx == np.arange(len(idx))[:, None]).any()
    assert (np.diff(dist, axis=1) >= 0).all()
    # distances are exact for the returned neighbours
    X = wemd_images.astype(np.float64)
    diff = X[idx[:40]] - X[:40, None]
    direct = np.abs(diff).sum(-1) if metric == "l1" else np.sqrt((diff**2).sum(-1))
    np.testing.assert_allclose(dist[:40], direct, rtol=1e-5)


def test_approx_same_seed_same_graph_and_duplicates(wemd_images):
    X = np.concatenate([wemd_images[:700], wemd_images[:100]])  # 100 exact duplicates
    a = nearest_neighbors(X, 5, method="approx", random_state=3)
    b = nearest_neighbors(X, 5, method="approx", random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    n = X.shape[0]
    assert not (a[0] == np.arange(n)[:, None]).any()
    # the twin of a duplicated row is its nearest neighbour, at distance 0
    np.testing.assert_array_equal(a[0][:100, 0], np.arange(700, 800))
    np.testing.assert_array_equal(a[1][:100, 0], 0.0)


def test_approx_index_query(wemd_images):
    train, test = wemd_images[:1200], wemd_images[1200:]
    index = NeighborIndex(train, method="approx", random_state=0)
    assert index.method_ == "approx"
    idx, dist = index.query(test, 8)
    ref, _ = NeighborIndex(train, method="exact").query(test, 8)
    assert recall(idx, ref) >= 0.98
    assert (np.diff(dist, axis=1) >= 0).all()


def test_approx_pieces_compose_to_the_search(wemd_images):
    """The public pieces (what the distributed engine schedules) reproduce the search."""
    from conformap.neighbors import (
        Projection,
        candidate_neighbors,
        rerank_block,
        rerank_blocks,
        tree_leaves,
    )

    X, k = wemd_images, 10
    ref, ref_d = nearest_neighbors(X, k, method="exact")
    proj = Projection(X, 0)
    P = proj.transform(X)
    # chunks project independently (one task per chunk)
    chunked = np.concatenate([proj.transform(X[:700]), proj.transform(X[700:])])
    np.testing.assert_allclose(chunked, P, rtol=1e-4, atol=1e-4 * np.abs(P).max())
    cand = candidate_neighbors(P, 6 * k, seed=0)
    assert cand.shape == (len(X), 6 * k)
    assert not (cand == np.arange(len(X))[:, None]).any()
    idx, dist = rerank_blocks(X, X, cand, tree_leaves(P, 128), k, exclude_self=True)
    assert recall(idx, ref) >= 0.98
    # a block whose candidates are every row gets the exact answer
    rows = np.arange(50)
    every = np.broadcast_to(np.arange(len(X)), (rows.size, len(X)))
    bi, bd = rerank_block(X, X[rows], rows, every, k, exclude_self=True)
    np.testing.assert_array_equal(bi, ref[:50])
    np.testing.assert_allclose(bd, ref_d[:50], rtol=1e-6)
