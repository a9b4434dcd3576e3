r"""Exact neighbour search and the sparse kNN distance format of :mod:`conformap.graph`.

A kNN distance matrix here is a CSR (n, n) matrix whose row ``i`` stores the ``k`` nearest
other items of ``i`` (exact distances, zeros stored as the smallest positive float so the
pattern is the kNN relation) plus, beyond those ``k``, the bridging edges that join the
pieces the kNN relation falls into (:func:`bridge_edges`). :func:`knn_distance_matrix`
assembles it, :func:`split_knn_distances` takes it apart again; :mod:`conformap.graph` builds
the kernel on it and is the only place that chooses ``k`` and the bandwidth.

:func:`knn_block` is a pure function of one block of rows (the shape of a future Dask task).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "bridge_edges",
    "knn_block",
    "knn_distance_matrix",
    "knn_of_dense",
    "neighbor_search",
    "split_knn_distances",
]


def knn_block(X: np.ndarray, i0: int, i1: int, k: int, lp: str):
    """Exact ``k`` nearest neighbours (self excluded) of rows ``i0:i1`` of ``X``: pure.

    Returns ``(indices (i1-i0, k) int64, distances (i1-i0, k) float64)``, ascending per row.
    """
    from ._kernels import pairwise_block

    block = pairwise_block(X[i0:i1], X, squared=lp == "l2")
    r = np.arange(i1 - i0)
    block[r, r + i0] = np.inf
    part = np.argpartition(block, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(block, part, axis=1)
    order = np.argsort(vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1)
    return idx, (np.sqrt(vals) if lp == "l2" else vals)


def neighbor_search(X, k: int, lp: str, *, n_jobs=None, progress=False, store=None, key=None,
                    random_state=None):
    """Each row's ``k`` nearest other rows: ``(indices (n, k), distances (n, k))``, ascending.

    ``conformap.neighbors.nearest_neighbors(method="auto")`` when that module exists (exact
    below its size switch, approximate above), else the exact search of
    :func:`conformap.kneighbors_distances`; with ``store``, the cache's resumable exact search.
    The truncation bound ``max_dropped_affinity`` assumes an exact search; the measured
    ``dropped_mass`` holds either way.
    """
    n = X.shape[0]
    if store is not None:
        g = store.kneighbors_distances(X, k, key=key, metric=lp, n_jobs=n_jobs,
                                       progress=progress)
    else:
        try:  # conformap.neighbors (issue 10, approximate search) when present
            from .neighbors import nearest_neighbors
        except ImportError:
            nearest_neighbors = None
        if nearest_neighbors is not None:
            idx, dist = nearest_neighbors(X, k, metric=lp, method="auto", n_jobs=n_jobs,
                                          random_state=random_state, progress=progress)
            return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float64)
        from .distances import kneighbors_distances

        g = kneighbors_distances(X, k, metric=lp, n_jobs=n_jobs, progress=progress)
    g = sp.csr_matrix(g)
    return g.indices.reshape(n, k).astype(np.int64), g.data.reshape(n, k).astype(np.float64)


def _pattern(idx, dist):
    n, k = idx.shape
    return sp.csr_matrix((np.maximum(dist.ravel(), np.finfo(float).tiny), idx.ravel(),
                          np.arange(0, n * k + 1, k)), shape=(n, n))


def bridge_edges(X, lp: str, idx, dist, n_jobs=None):
    """Edges joining the pieces of the kNN relation ``(idx, dist)`` (n, k) of rows of ``X``.

    :func:`conformap.distances.connect_components` in the ``lp`` metric; returns
    ``(rows, cols, distances)`` of the added entries (both directions).
    """
    from .distances import connect_components

    g = _pattern(idx, dist)
    joined = sp.coo_matrix(connect_components(X, g, metric=lp, n_jobs=n_jobs) - g)
    keep = joined.data > 0
    return joined.row[keep], joined.col[keep], joined.data[keep]


def knn_distance_matrix(idx, dist, b_rows=None, b_cols=None, b_d=None) -> sp.csr_matrix:
    """The sparse kNN distance matrix of ``(idx, dist)`` (n, k) plus bridging entries."""
    g = _pattern(idx, dist)
    if b_rows is not None and len(b_rows):
        g = g + sp.csr_matrix((b_d, (b_rows, b_cols)), shape=g.shape)
    return g


def knn_of_dense(d: np.ndarray, k: int, X, lp: str, n_jobs=None) -> sp.csr_matrix:
    """The sparse kNN distance matrix (``k`` nearest plus bridges) of dense distances ``d``.

    The graph :func:`neighbor_search` and :func:`bridge_edges` give on the rows ``X`` whose
    ``lp`` distances ``d`` are (an exact search: the same neighbours up to ties).
    """
    from .scales import dense_neighbors

    idx, dist = dense_neighbors(d, k)
    return knn_distance_matrix(idx, dist, *bridge_edges(X, lp, idx, dist, n_jobs))


def split_knn_distances(d: sp.csr_matrix):
    """Take a sparse kNN distance matrix apart: the ``k`` nearest per row and the rest.

    ``k`` is the smallest number of entries in a row. Returns ``(idx (n, k), dist (n, k),
    b_rows, b_cols, b_d)``: each row's ``k`` smallest entries, ascending, and every further
    entry (a bridge). Raises ValueError naming the first row that stores nothing.
    """
    n = d.shape[0]
    counts = np.diff(d.indptr)
    k = int(counts.min())
    if k < 1:
        bad = int(np.flatnonzero(counts == 0)[0])
        raise ValueError(f"distances: row {bad} stores no neighbour; every item needs one")
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k))
    b_r, b_c, b_v = [], [], []
    for i in range(n):
        a, b = d.indptr[i], d.indptr[i + 1]
        o = np.argsort(d.data[a:b], kind="stable")
        idx[i], dist[i] = d.indices[a:b][o[:k]], d.data[a:b][o[:k]]
        if b - a > k:  # extra entries: bridges
            b_r.extend([i] * (b - a - k))
            b_c.extend(d.indices[a:b][o[k:]].tolist())
            b_v.extend(d.data[a:b][o[k:]].tolist())
    return idx, dist, np.array(b_r, int), np.array(b_c, int), np.array(b_v, float)
