"""Client-side passes over a finished coefficient store: queries, dropped mass, bridges.

:mod:`conformap.engine` writes a :class:`conformap.store.CoefficientStore` and searches its
neighbours as tasks. The functions here run on the client after that, each reading the store
``block`` rows at a time (memory: one block plus the small per-query arrays):

* :func:`query_store`: the exact nearest stored rows of new items (``DiffusionMap.transform``
  after a store fit);
* :func:`store_dropped_mass`: the kernel mass a sparse graph leaves out, for sampled rows;
* :func:`connect_components`: the bridges that join the pieces of a kNN graph.

All three equal their in-memory counterparts (tested in ``tests/test_store.py``).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_choice, check_int
from .store import CoefficientStore

__all__ = ["connect_components", "query_store", "store_dropped_mass"]


def query_store(store: CoefficientStore, queries: np.ndarray, n_neighbors: int, *,
                columns="resolved", metric: str = "l1", block: int = 4096):
    r"""Exact nearest rows of a store for new coefficient rows (out-of-sample), on the client.

    The store is read ``block`` rows at a time; memory is one block plus the (m, k) lists.

    Parameters
    ----------
    queries : ndarray, shape (m, n_features)
        All coefficients of the new items (``wemd_embedding(..., columns="all")``).
    n_neighbors : int
    columns
        The columns the store was searched on (as in :func:`kneighbors`). For L1, a training
        row is zero (or below rounding, which ``"resolved"`` neglects) outside them, so there
        the distance is the query's own :math:`\sum |c|`, added as the in-memory
        ``DiffusionMap.transform`` does.

    Returns
    -------
    indices, distances : ndarrays, shape (m, k)
        Ascending, ties by index.
    """
    from .neighbors import block_neighbors, merge_neighbors

    metric = check_choice(metric, "metric", ["l1", "l2"])
    q = np.ascontiguousarray(queries, dtype=store.dtype)
    if q.ndim != 2 or q.shape[1] != store.n_features:
        raise ValueError(f"queries: expected shape (m, {store.n_features}) (all coefficients of "
                         f"the new items), got {q.shape}")
    cols = store.columns(columns) if isinstance(columns, str) else np.asarray(columns, np.int64)
    k = check_int(n_neighbors, "n_neighbors", low=1, high=store.n)
    sub = np.ascontiguousarray(q[:, cols])
    best = None
    for j0 in range(0, store.n, block):
        rows = store.read_rows(j0, min(store.n, j0 + block), cols)
        part = block_neighbors(sub, rows, k, metric=metric, col_start=j0)
        best = part if best is None else merge_neighbors([best, part], k)
    idx, val = best
    if metric == "l2":
        rest = np.einsum("ij,ij->i", q.astype(np.float64), q.astype(np.float64)) - np.einsum(
            "ij,ij->i", sub.astype(np.float64), sub.astype(np.float64))
        return idx, np.sqrt(val + rest[:, None])
    rest = (np.abs(q).sum(axis=1, dtype=np.float64)
            - np.abs(sub).sum(axis=1, dtype=np.float64))
    return idx, val + rest[:, None]


def store_dropped_mass(store: CoefficientStore, kernel, scales: np.ndarray, rows, *,
                       columns="resolved", metric: str = "l1", block: int = 4096,
                       n_jobs: int | None = None) -> np.ndarray:
    r"""Fraction of kernel mass the sparse graph does not store, for ``rows``, from a store.

    The out-of-core counterpart of :func:`conformap.graph.dropped_mass_block` (which needs all
    features in memory): for each sampled row :math:`i`, :math:`1 - \sum_{j \in N(i)} k_{ij}
    / \sum_{j \ne i} k_{ij}` with :math:`k_{ij} = \exp(-d_{ij}^2 / (2 \rho_i \rho_j))`
    (:func:`conformap.scales.gaussian_affinity`), the full sum over all ``n`` rows of the store
    read ``block`` rows at a time. Memory: the sampled rows, one block and one
    ``(len(rows), block)`` distance tile. Equals the in-memory measurement up to the order of
    the floating-point sums (tested).

    Parameters
    ----------
    store : CoefficientStore
    kernel : sparse matrix, shape (n, n)
        The stored kernel; its pattern is what counts as stored.
    scales : ndarray, shape (n,)
        The kernel's scales :math:`\rho`.
    rows : int array
        The sampled rows (sorted).
    columns, metric
        As in :func:`query_store` (the columns the graph was searched on).

    Returns
    -------
    ndarray, shape (len(rows),)
        In [0, 1].
    """
    import scipy.sparse as sp

    from .distances import pairwise_distances
    from .scales import gaussian_affinity

    cols = store.columns(columns) if isinstance(columns, str) else np.asarray(columns, np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    pattern = sp.csr_matrix(kernel)
    xr = store.take_rows(rows, cols)
    total = np.zeros(rows.size)
    stored = np.zeros(rows.size)
    for j0 in range(0, store.n, block):
        j1 = min(store.n, j0 + block)
        d = pairwise_distances(xr, store.read_rows(j0, j1, cols), metric=metric, n_jobs=n_jobs)
        k = gaussian_affinity(d, scales[rows][:, None] * scales[None, j0:j1])
        inside = (rows >= j0) & (rows < j1)
        k[np.flatnonzero(inside), rows[inside] - j0] = 0.0
        total += k.sum(axis=1)
        for a, r in enumerate(rows):
            nb = pattern.indices[pattern.indptr[r]:pattern.indptr[r + 1]]
            nb = nb[(nb >= j0) & (nb < j1)]
            stored[a] += k[a, nb - j0].sum()
    return np.clip(1.0 - stored / np.maximum(total, 1e-300), 0.0, 1.0)


def connect_components(features, graph, *, metric: str = "l1", columns="resolved",
                       block: int = 4096):
    """:func:`conformap.distances.connect_components` for rows in a store, read block by block.

    Repeatedly links the smallest piece of the graph to its nearest item outside it (the
    shortest such edge, ties by piece order then index), in both directions; memory is one
    block of rows plus the piece's rows. Runs on the client: a bridge costs one pass over the
    store, and a kNN graph has few pieces.

    Parameters
    ----------
    features : CoefficientStore or array_like, shape (n, D)
    graph : sparse matrix, shape (n, n)
        E.g. :func:`kneighbors_graph`.
    metric : {"l1", "l2"}
    columns
        As in :func:`kneighbors`.

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    from .distances import bridge_pieces, check_features

    metric = check_choice(metric, "metric", ["l1", "l2"])
    if isinstance(features, CoefficientStore):
        cols = features.columns(columns) if isinstance(columns, str) else np.asarray(columns)
        n = features.n

        def rows(i0, i1):
            return features.read_rows(i0, i1, cols)
    else:
        X = check_features(features, "features")
        n = X.shape[0]

        def rows(i0, i1):
            return X[i0:i1]
    return bridge_pieces(rows, n, graph, metric=metric, block=block)

