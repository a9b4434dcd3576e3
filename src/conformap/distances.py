r"""Pairwise distances: L1 (WEMD on wavelet coefficients), L2 (raw densities), exact EMD (POT).

* :func:`pairwise_distances` — all pairs, dense ``(n, m)``, blocked and multithreaded.
* :func:`kneighbors_distances` — only each row's ``k`` nearest neighbours, as a sparse matrix;
  memory ``O(n k)`` plus one block of rows, for large ``n``.
* :func:`emd_distances` — exact Earthmover's distances between small 1-D/2-D densities by linear
  programming (``ot.emd2``); a selectable metric and the oracle our WEMD tests check against.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._kernels import pairwise_block, restores_threads, set_threads
from ._validation import check_choice, check_densities, row_extremes

__all__ = [
    "bridge_pieces",
    "connect_components",
    "emd_distances",
    "kneighbors_distances",
    "pairwise_distances",
]

#: Rows per block of pairwise_distances' progress-bar path.
_KNN_BLOCK = 256
#: Largest density (voxels) for which exact EMD builds its ground-cost matrix.
_EMD_MAX_VOXELS = 4096


def check_features(X, name: str) -> np.ndarray:
    """Validate feature rows: (n, ...) real, finite; flattened, C-contiguous float32/64."""
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"{name}: expected an array of shape (n, ...) with n >= 1, got {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"{name}: expected a real numeric array, got dtype {X.dtype}")
    X = X.reshape(X.shape[0], -1)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    lo, hi = row_extremes(X)  # row reductions: no (n, D) boolean temporary
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        bad = int(np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi)))[0])
        raise ValueError(f"{name}: row {bad} contains NaN or infinite values; remove or repair it")
    return np.ascontiguousarray(X)


def _finish(d2: np.ndarray, metric: str) -> np.ndarray:
    return np.sqrt(d2, out=d2) if metric == "l2" else d2


@restores_threads
def pairwise_distances(
    X, Y=None, *, metric: str = "l1", n_jobs: int | None = None, progress: bool = False
) -> np.ndarray:
    r"""All pairwise distances between the rows of ``X`` (and ``Y``).

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Feature vectors; trailing axes are flattened (so a stack of maps works as is).
        float32 input is kept float32 (accumulated in float64); anything else becomes float64.
    Y : array_like, shape (m, ...), optional
        Second set; default ``X`` (then only the upper triangle is computed).
    metric : {"l1", "l2"}, default "l1"
        ``"l1"``: :math:`\sum_c |x_c - y_c|` (the WEMD on :func:`wemd_embedding` rows);
        ``"l2"``: :math:`\sqrt{\sum_c (x_c - y_c)^2}`, computed without the cancellation of the
        :math:`|x|^2 + |y|^2 - 2x\cdot y` trick.
    n_jobs : int, optional
        Threads; None or -1 uses all cores.
    progress : bool, default False
        Show a progress bar over row blocks.

    Returns
    -------
    ndarray of float64, shape (n, m)
    """
    metric = check_choice(metric, "metric", ["l1", "l2"])
    X = check_features(X, "X")
    if Y is not None:
        Y = check_features(Y, "Y")
        if Y.shape[1] != X.shape[1]:
            raise ValueError(
                f"Y: has {Y.shape[1]} features per row but X has {X.shape[1]}; pass arrays "
                "computed with the same shape and parameters"
            )
        if Y.dtype != X.dtype:
            Y = Y.astype(np.result_type(X, Y))
            X = X.astype(Y.dtype)
    set_threads(n_jobs)
    squared = metric == "l2"
    n = X.shape[0]
    if not progress or n <= _KNN_BLOCK:
        return _finish(pairwise_block(X, Y, squared=squared), metric)
    # With a progress bar: row blocks against everything (no triangle saving for Y=None).
    from tqdm.auto import tqdm

    other = X if Y is None else Y
    out = np.empty((n, other.shape[0]))
    for i0 in tqdm(range(0, n, _KNN_BLOCK), desc=f"{metric} distances", leave=False):
        i1 = min(n, i0 + _KNN_BLOCK)
        out[i0:i1] = pairwise_block(X[i0:i1], other, squared=squared)
    if Y is None:
        np.fill_diagonal(out, 0.0)
    return _finish(out, metric)


@restores_threads
def kneighbors_distances(
    X,
    n_neighbors: int,
    *,
    metric: str = "l1",
    method: str = "exact",
    n_jobs: int | None = None,
    random_state=None,
    progress: bool = False,
) -> sp.csr_matrix:
    """Distances from each row of ``X`` to its ``n_neighbors`` nearest other rows (sparse).

    :func:`conformap.neighbors.nearest_neighbors` as a sparse matrix. With ``method="exact"``
    (default): low-dimensional rows (at most 15 features: point clouds, embeddings) go through a k-d
    tree (``scipy.spatial.cKDTree``, threaded), in O(n log n). Otherwise rows are
    processed in blocks of 256 against blocks of ``X``, so the peak memory is one block of
    distances plus the output's ``n * n_neighbors`` entries — linear in ``n``.

    Parameters
    ----------
    X : array_like, shape (n, ...)
    n_neighbors : int
        Neighbours per row, excluding the row itself; ``1 <= n_neighbors < n``.
    metric, n_jobs, progress
        As in :func:`pairwise_distances`.
    method : {"exact", "approx", "auto"}, default "exact"
        See :func:`conformap.neighbors.nearest_neighbors`; "approx" is sub-quadratic.
    random_state : int or Generator, optional
        Seeds the approximate search.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n)
        Row ``i`` holds the distances to its nearest neighbours (not symmetrised). Exact zero
        distances between duplicate rows are stored explicitly.
    """
    from .neighbors import nearest_neighbors

    indices, values = nearest_neighbors(X, n_neighbors, metric=metric, method=method,
                                        n_jobs=n_jobs, random_state=random_state,
                                        progress=progress)
    n, k = indices.shape
    indptr = np.arange(0, n * k + 1, k)
    return sp.csr_matrix((values.ravel(), indices.ravel(), indptr), shape=(n, n))


@restores_threads
def connect_components(X, graph, *, metric: str = "l1", n_jobs: int | None = None):
    """Add the shortest edges that join the pieces of a k-nearest-neighbour graph.

    A kNN graph of non-uniformly sampled data falls apart when a tight cluster has more than
    ``k`` members (all their neighbours are inside the cluster), as with the rotor's three
    dominant angles. Repeatedly linking the smallest piece to its nearest item outside it (one
    block of distances per piece) yields a connected graph that contains the minimum spanning
    forest's bridges, at ``O(piece size * n)`` distance evaluations per bridge.

    Parameters
    ----------
    X : array_like, shape (n, ...)
        The items the graph was built from.
    graph : sparse matrix, shape (n, n)
        Distances (e.g. from :func:`kneighbors_distances`).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``graph`` with the bridging edges added (in both directions).
    """
    metric = check_choice(metric, "metric", ["l1", "l2"])
    X = check_features(X, "X")
    set_threads(n_jobs)
    n = X.shape[0]
    return bridge_pieces(lambda i0, i1: X[i0:i1], n, graph, metric=metric, block=max(n, 1))


def bridge_pieces(read_rows, n: int, graph, *, metric: str = "l1", block: int = 4096):
    """The bridging of :func:`connect_components` over rows read block by block.

    The one implementation, for rows in memory and in an on-disk store
    (:func:`conformap.store_queries.connect_components`): memory is one block of rows plus the
    piece's rows. The bridge is the lexicographically smallest (distance, row in the piece,
    row outside), so the result does not depend on ``block``'s blocking of the scan.

    Parameters
    ----------
    read_rows : callable ``(i0, i1) -> ndarray (i1 - i0, D)``
        Feature rows ``i0:i1`` (validated, C-contiguous float32/64).
    n : int
        Number of rows.
    graph : sparse matrix, shape (n, n)
    metric : {"l1", "l2"}
    block : int
        Rows read at a time.

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    g = sp.lil_matrix(graph, dtype=np.float64)
    while True:
        n_comp, labels = sp.csgraph.connected_components(sp.csr_matrix(g), directed=False)
        if n_comp == 1:
            return sp.csr_matrix(g)
        sizes = np.bincount(labels)
        piece = np.flatnonzero(labels == int(np.argmin(sizes)))
        inside = np.zeros(n, dtype=bool)
        inside[piece] = True
        P = np.concatenate([read_rows(j0, min(n, j0 + block))[inside[j0 : j0 + block]]
                            for j0 in range(0, n, block)])
        best = (np.inf, 0, 0)
        for j0 in range(0, n, block):
            j1 = min(n, j0 + block)
            out = np.flatnonzero(~inside[j0:j1])
            if out.size == 0:
                continue
            d = pairwise_block(P, np.ascontiguousarray(read_rows(j0, j1)[out]),
                               squared=metric == "l2")
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            # blocks are scanned in index order: a later block wins only if strictly nearer
            cand = (float(d[i, j]), int(i), int(out[j] + j0))
            if cand[0] < best[0] or (cand[0] == best[0] and cand[1] < best[1]):
                best = cand
        dist = float(np.sqrt(best[0]) if metric == "l2" else best[0])
        dist = max(dist, np.finfo(float).tiny)  # a duplicate (distance 0) must stay an edge
        a, b = int(piece[best[1]]), best[2]
        g[a, b] = dist
        g[b, a] = dist


def emd_distances(
    densities,
    other=None,
    *,
    negative: str = "error",
    num_iter_max: int = 1_000_000,
    progress: bool = False,
) -> np.ndarray:
    r"""Exact Earthmover's distances between small 1-D or 2-D densities (POT's ``ot.emd2``).

    Each density is normalised to unit mass; the ground cost is the Euclidean distance between
    voxel centres in voxel units, so the result is comparable with the WEMD of
    :func:`conformap.wemd_embedding`. Cost: one network-simplex LP per pair, each
    :math:`O(V^3)`-ish in the number of voxels ``V``; limited to ``V <= 4096``.

    Parameters
    ----------
    densities : array_like, shape (n, *shape)
        Non-negative 1-D or 2-D densities.
    other : array_like, shape (m, *shape), optional
        Second set; default ``densities`` (symmetric, zero diagonal, half the LPs).
    negative : {"error", "clip"}, default "error"
        EMD is defined for non-negative measures only.
    num_iter_max : int
        Network-simplex iteration limit per pair.
    progress : bool
        Progress bar over pairs.

    Returns
    -------
    ndarray of float64, shape (n, m)
    """
    import ot

    check_choice(negative, "negative", ["error", "clip"])
    a = check_densities(densities, "densities", ndim=(1, 2), negative=negative, dtype=np.float64)
    shape = a.shape[1:]
    b = a
    if other is not None:
        b = check_densities(other, "other", ndim=(1, 2), negative=negative, dtype=np.float64)
        if b.shape[1:] != shape:
            raise ValueError(f"other: density shape {b.shape[1:]} differs from {shape}")
    nvox = int(np.prod(shape))
    if nvox > _EMD_MAX_VOXELS:
        raise ValueError(
            f"densities: exact EMD on {nvox} voxels per item is too expensive (limit "
            f"{_EMD_MAX_VOXELS}); use metric='wemd', or downsample the densities"
        )
    coords = np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij"), -1)
    coords = coords.reshape(nvox, len(shape))
    cost = ot.dist(coords, coords, metric="euclidean")
    a = a.reshape(a.shape[0], -1)
    a = a / a.sum(axis=1, keepdims=True)
    b = (
        a
        if other is None
        else b.reshape(b.shape[0], -1) / b.reshape(b.shape[0], -1).sum(1)[:, None]
    )
    symmetric = other is None
    pairs = [(i, j) for i in range(a.shape[0]) for j in range(b.shape[0]) if not symmetric or j > i]
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, desc="exact EMD", leave=False)
    out = np.zeros((a.shape[0], b.shape[0]))
    for i, j in pairs:
        # Restrict the LP to the supports: exact, and much smaller for sparse densities.
        si, sj = a[i] > 0, b[j] > 0
        val = ot.emd2(a[i, si], b[j, sj], cost[np.ix_(si, sj)], numItermax=num_iter_max)
        out[i, j] = val
        if symmetric:
            out[j, i] = val
    return out
