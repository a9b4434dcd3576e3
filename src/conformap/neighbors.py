r"""k-nearest-neighbour search in the L1 (WEMD) and L2 geometries: exact and approximate.

:func:`nearest_neighbors` returns each row's ``k`` nearest other rows, ascending, with exact
distances. Two methods:

* ``"exact"``: a k-d tree up to 15 features (O(n log n)); above, blocked brute force with the
  compiled kernel of :func:`conformap.pairwise_distances`, ``O(n^2 D)`` time and ``O(block n)``
  memory. It is the oracle the approximate search is measured against (recall@k).
* ``"approx"``: sub-quadratic, see :func:`approximate_neighbors`.

``"auto"`` picks one by :func:`choose_method` (the one place where the rule is written).

The brute force is written as pure functions over (row block, column block) pairs,
:func:`block_neighbors`, whose partial top-k lists :func:`merge_neighbors` combines, so the
blocks can be scheduled as independent tasks (threads here, Dask tasks later).
"""

from __future__ import annotations

import numpy as np

from ._kernels import pairwise_block, restores_threads, set_threads
from ._validation import check_choice, check_int, check_rng
from .distances import check_features

__all__ = [
    "NeighborIndex",
    "Projection",
    "approximate_neighbors",
    "block_neighbors",
    "candidate_neighbors",
    "choose_method",
    "merge_neighbors",
    "nearest_neighbors",
    "recall",
    "rerank_block",
    "rerank_blocks",
    "tree_leaves",
]

#: Rows per block of the brute-force search (its temporary is ROW_BLOCK x COL_BLOCK floats).
ROW_BLOCK = 256
#: Largest leaf (rows) of the projection's k-d tree; each leaf is re-ranked against the union
#: of its rows' candidates. 5,000 noisy 64 x 64 WEMD images, k = 15, 4k candidates: union
#: ~500 rows, recall 0.991 (consecutive rows of a reverse Cuthill-McKee order instead: union
#: ~780 at 3k candidates and recall 0.990, growing with n: 2,000 at 20,000 rows). At 20,000
#: images 4k candidates gave recall 0.973-0.982, 6k 0.986 (benchmarks/bench_neighbors.py).
RERANK_BLOCK = 128
#: Columns per block of the brute-force search (256 x 16384 float64 = 32 MiB per block).
COL_BLOCK = 16384
#: Up to this many features the exact search uses a k-d tree; above, trees lose to blocked
#: brute force (the usual cut-off, as in scikit-learn's "auto").
KDTREE_MAX_DIM = 15
#: method="auto" searches exactly up to this many rows (and always for low-dimensional rows,
#: where the k-d tree is exact and fast); above, approximately. At 5,000 WEMD image rows the
#: brute force takes seconds, and the approximate search's fixed costs (projection, graph
#: construction) no longer pay off below that.
AUTO_EXACT_MAX_ITEMS = 5000

METRICS = ("l1", "l2")
METHODS = ("auto", "exact", "approx")


def choose_method(n: int, n_features: int) -> str:
    """What ``method="auto"`` means: "exact" or "approx" for ``n`` rows of ``n_features``."""
    if n <= AUTO_EXACT_MAX_ITEMS or n_features <= KDTREE_MAX_DIM:
        return "exact"
    return "approx"


def _finish(d: np.ndarray, metric: str) -> np.ndarray:
    """Squared L2 -> L2 (in place); L1 unchanged."""
    return np.sqrt(d, out=d) if metric == "l2" else d


def block_neighbors(
    rows: np.ndarray,
    cols: np.ndarray,
    k: int,
    *,
    metric: str = "l1",
    row_start: int = 0,
    col_start: int = 0,
    exclude_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Partial top-k of one (row block, column block) pair; a pure function (a task).

    Parameters
    ----------
    rows : ndarray, shape (r, D)
    cols : ndarray, shape (c, D)
        C-contiguous, same float dtype.
    k : int
        Neighbours to keep per row (``min(k, c)`` are returned, fewer after self-exclusion).
    metric : {"l1", "l2"}
    row_start, col_start : int
        Global indices of ``rows[0]`` and ``cols[0]``.
    exclude_self : bool
        Rows and columns index the same set: drop the pairs with equal global index (by
        index, so duplicates of a row are still found, at distance 0).

    Returns
    -------
    indices : ndarray of int64, shape (r, k)
        Global column indices, ascending distance (ties by index); ``-1`` pads rows with
        fewer than ``k`` candidates.
    distances : ndarray of float64, shape (r, k)
        L1, or **squared** L2 (partial lists stay squared until :func:`merge_neighbors`'s
        caller finishes them); ``inf`` in the padding.
    """
    d = pairwise_block(rows, cols, squared=metric == "l2")
    r, c = d.shape
    if exclude_self:
        g = np.arange(row_start, row_start + r) - col_start
        hit = (g >= 0) & (g < c)
        d[np.flatnonzero(hit), g[hit]] = np.inf
    return _top_of_block(d, np.arange(col_start, col_start + c), k)


def merge_neighbors(parts, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge partial top-k lists of the same rows (e.g. over column blocks) into one top-k.

    Parameters
    ----------
    parts : sequence of (indices, distances)
        Each as returned by :func:`block_neighbors`, same number of rows.
    k : int

    Returns
    -------
    indices, distances : ndarrays, shape (r, min(k, total candidates))
        Ascending distance, ties by index; duplicate indices appear once.
    """
    idx = np.concatenate([p[0] for p in parts], axis=1)
    val = np.concatenate([p[1] for p in parts], axis=1)
    return _top_unique(idx, val, k)


def _top_unique(idx: np.ndarray, val: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise k smallest of (val, idx) candidate lists, each index kept once."""
    order = np.lexsort((idx, val), axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    val = np.take_along_axis(val, order, axis=1)
    # the same index always has the same distance, so duplicates are adjacent after sorting
    dup = np.zeros(idx.shape, dtype=bool)
    dup[:, 1:] = idx[:, 1:] == idx[:, :-1]
    if dup.any():
        val = np.where(dup, np.inf, val)
        idx = np.where(dup, -1, idx)
        order = np.lexsort((idx, val), axis=1)
        idx = np.take_along_axis(idx, order, axis=1)
        val = np.take_along_axis(val, order, axis=1)
    idx = np.ascontiguousarray(idx[:, :k])
    val = np.ascontiguousarray(val[:, :k])
    idx[~np.isfinite(val)] = -1
    return idx, val


def _exact_brute(X, Y, k, metric, progress, desc="nearest neighbours (exact)"):
    """Blocked brute force: rows of Y (None: X itself, self excluded) against X."""
    same = Y is None
    Q = X if same else Y
    n = X.shape[0]
    m = Q.shape[0]
    indices = np.empty((m, k), dtype=np.int64)
    values = np.empty((m, k), dtype=np.float64)
    starts = range(0, m, ROW_BLOCK)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, leave=False)
    for i0 in starts:
        i1 = min(m, i0 + ROW_BLOCK)
        parts = [
            block_neighbors(Q[i0:i1], X[j0 : min(n, j0 + COL_BLOCK)], k, metric=metric,
                            row_start=i0, col_start=j0, exclude_self=same)
            for j0 in range(0, n, COL_BLOCK)
        ]
        idx, val = parts[0] if len(parts) == 1 else merge_neighbors(parts, k)
        indices[i0:i1], values[i0:i1] = idx, val
    return indices, _finish(values, metric)


def _exact_tree(X, Y, k, metric, threads):
    """Exact kNN by a k-d tree; for Y=None the row itself is removed even among duplicates."""
    from scipy.spatial import cKDTree

    X64 = np.asarray(X, dtype=np.float64)
    tree = cKDTree(X64)
    p = 1 if metric == "l1" else 2
    if Y is not None:
        dist, idx = tree.query(np.asarray(Y, dtype=np.float64), k=k, p=p, workers=threads)
        dist, idx = dist.reshape(len(Y), k), idx.reshape(len(Y), k)
        return idx.astype(np.int64), dist
    n = X64.shape[0]
    dist, idx = tree.query(X64, k=k + 1, p=p, workers=threads)
    self_hit = idx == np.arange(n)[:, None]
    # rows whose own index was not returned (more than k duplicates): drop the farthest instead
    self_hit[~self_hit.any(axis=1), -1] = True
    keep = ~self_hit
    idx, dist = idx[keep].reshape(n, k).astype(np.int64), dist[keep].reshape(n, k)
    order = np.lexsort((idx, dist), axis=1)  # ties by index, as the brute force
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(dist, order, axis=1)


def exact_neighbors(X, k, metric, threads, progress=False, Y=None):
    """Exact search on validated arrays (the oracle); Y=None: X against itself."""
    if X.shape[1] <= KDTREE_MAX_DIM:
        return _exact_tree(X, Y, k, metric, threads)
    return _exact_brute(X, Y, k, metric, progress)


def _validate(X, n_neighbors, metric, method):
    metric = check_choice(metric, "metric", list(METRICS))
    method = check_choice(method, "method", list(METHODS))
    X = check_features(X, "X")
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X: needs at least 2 rows for nearest neighbours, got {n}")
    k = check_int(n_neighbors, "n_neighbors", low=1, high=n - 1)
    if method == "auto":
        method = choose_method(n, X.shape[1])
    return X, k, metric, method


@restores_threads
def nearest_neighbors(
    X,
    n_neighbors: int,
    *,
    metric: str = "l1",
    method: str = "auto",
    n_jobs: int | None = None,
    random_state=None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Each row's ``n_neighbors`` nearest other rows of ``X``.

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Feature rows (trailing axes flattened), e.g. :func:`conformap.wemd_embedding`
        coefficients, whose L1 distances are the WEMD. float32 stays float32.
    n_neighbors : int
        ``k``, excluding the row itself; ``1 <= k <= n - 1``.
    metric : {"l1", "l2"}, default "l1"
        :math:`\sum_c |x_c - y_c|` or :math:`\sqrt{\sum_c (x_c - y_c)^2}`.
    method : {"auto", "exact", "approx"}, default "auto"
        "exact": k-d tree (at most 15 features) or blocked brute force; "approx":
        :func:`approximate_neighbors`; "auto": :func:`choose_method` (exact up to 5,000 rows
        or 15 features).
    n_jobs : int, optional
        Threads (None or -1: all cores).
    random_state : int or numpy Generator, optional
        Seeds the approximate search; the same seed gives the same graph. Ignored by "exact".
    progress : bool, default False
        Progress bar.

    Returns
    -------
    indices : ndarray of int64, shape (n, k)
        Row ``i``'s neighbours, nearest first (ties by index); never ``i`` itself. A duplicate of
        row ``i`` is a neighbour at distance 0.
    distances : ndarray of float64, shape (n, k)
        Exact distances to those neighbours, ascending per row.
    """
    X, k, metric, method = _validate(X, n_neighbors, metric, method)
    threads = set_threads(n_jobs)
    if method == "exact":
        return exact_neighbors(X, k, metric, threads, progress)
    return approximate_neighbors(X, k, metric=metric, random_state=random_state,
                                 threads=threads, progress=progress)


#: Dimension of the projection that proposes candidates (principal components).
APPROX_DIM = 32
#: Candidates per row proposed in the projection, as a multiple of k.
APPROX_CANDIDATES = 6
#: Rows fitted by the randomized SVD of the projection.
APPROX_PCA_ROWS = 2000
#: NN-descent's early-termination fraction for the candidate search (see _pynndescent).
APPROX_DELTA = 0.1


def approximate_neighbors(X, k, *, metric="l1", random_state=None, threads=1,
                          progress=False):
    r"""Sub-quadratic approximate k nearest neighbours with exact distances (validated input).

    1. **Candidates from a projection.** The rows are projected on their leading
       ``APPROX_DIM = 32`` principal components (randomized SVD of at most 2,000 rows), and
       pynndescent's NN-descent finds each row's ``6 k`` nearest rows in that space
       (Euclidean). Alone, these candidates hold most but not all of the exact L1
       neighbours (measured on 5,000 noisy 64 x 64 WEMD images, k = 15: 95 %).
    2. **Exact re-ranking in blocks that share their candidates.** The projected rows are cut
       into the leaves of a k-d tree (median splits of the widest axis, at most
       ``RERANK_BLOCK = 128`` rows per leaf), so that a leaf holds mutually near rows. For
       each leaf, the exact distances (the compiled L1 / L2 kernel) from its rows to the
       *union* of their candidates are computed, and every row keeps its ``k`` nearest in that
       union. The union contains each row's own candidates and, because the leaf is local,
       most of their neighbours too: a local join, at the speed of the blocked kernel rather
       than one memory-bound pair at a time (same data: recall 0.991).

    Cost: ``O(n D d)`` for the projection, NN-descent on ``d``-dimensional points (about
    ``O(n^{1.14})``, Dong, Charikar & Li 2011), and ``n |U| D`` for the re-ranking, where
    ``|U|`` (about 800 for ``k = 15`` on a curve) depends on the local geometry, not on
    ``n``; the exact search costs ``n^2 D / 2``. Returned distances are exact; recall@k
    against the exact search is measured in the tests and ``benchmarks/bench_neighbors.py``
    (>= 0.98 at these defaults).
    Deterministic given ``random_state``.
    """
    n = X.shape[0]
    n_cand = min(n - 1, APPROX_CANDIDATES * k)
    if n <= 2 * ROW_BLOCK or n_cand >= n // 2:  # too small for the approximation to pay off
        return exact_neighbors(X, k, metric, threads, progress)
    seed = int(check_rng(random_state).integers(2**31 - 1))
    proj = Projection(X, seed)
    P = proj.transform(X)
    cand = candidate_neighbors(P, n_cand, seed=seed, threads=threads)
    return rerank_blocks(X, X, cand, tree_leaves(P, RERANK_BLOCK), k, metric,
                         exclude_self=True, progress=progress)


class Projection:
    """Step 1 of :func:`approximate_neighbors`: the leading principal axes of a random subset.

    ``Projection(X, seed)`` fits ``APPROX_DIM`` axes by a randomized SVD of at most
    ``APPROX_PCA_ROWS`` rows of ``X`` (n, D) drawn with ``seed``; rows with at most
    ``APPROX_DIM`` features are kept as they are. ``transform(Y)`` maps any rows with the
    same D to float32 (m, d), so chunks of a large array can be projected independently
    (as Dask tasks) once the projection is fitted. Attributes: ``axes`` (D, d), ``shift``
    (d,), ``identity`` (bool).
    """

    def __init__(self, X, seed: int):
        from sklearn.utils.extmath import randomized_svd

        n, dim = X.shape
        self.identity = dim <= APPROX_DIM
        if self.identity:
            return
        gen = np.random.default_rng(seed)
        rows = np.sort(gen.choice(n, min(n, APPROX_PCA_ROWS), replace=False))
        sample = np.asarray(X[rows], dtype=np.float64)
        self.mean = sample.mean(axis=0)
        sample -= self.mean
        _, _, vt = randomized_svd(sample, APPROX_DIM, n_iter=2, random_state=seed)
        self.axes = np.ascontiguousarray(vt.T, dtype=X.dtype)  # (D, d)
        self.shift = (self.mean @ vt.T).astype(np.float32)

    def transform(self, X) -> np.ndarray:
        """Projected rows, float32 (m, d)."""
        if self.identity:
            return np.asarray(X, dtype=np.float32)
        out = np.empty((X.shape[0], self.axes.shape[1]), dtype=np.float32)
        for i0 in range(0, X.shape[0], 8192):  # bounded temporaries for float64 input
            out[i0 : i0 + 8192] = X[i0 : i0 + 8192] @ self.axes
        out -= self.shift
        return out


def _pynndescent(P, n_neighbors, seed, threads):
    import pynndescent

    # delta=0.1 (stop when fewer than 10 % of the lists change, pynndescent's default 0.001):
    # candidates need not be converged, the exact re-ranking follows. 20,000 noisy WEMD
    # images, 90 candidates: 2.5x faster, candidate recall 0.9452 against 0.9458.
    return pynndescent.NNDescent(P, metric="euclidean", n_neighbors=n_neighbors,
                                 random_state=seed, n_jobs=threads, low_memory=True,
                                 delta=APPROX_DELTA)


def candidate_neighbors(P: np.ndarray, n_candidates: int, *, seed: int,
                        threads: int = 1) -> np.ndarray:
    """Step 2 of :func:`approximate_neighbors`: candidate lists from the projection.

    Each row's ``n_candidates`` nearest other rows of ``P`` (n, d) in Euclidean distance, by
    NN-descent (pynndescent, ``delta=APPROX_DELTA``); int32 (n, n_candidates), the row itself
    never included (int32, half of int64: at 200,000 rows and 288 candidates the lists are
    the largest O(n k) array the client holds). Deterministic given ``seed`` (and
    ``threads=1``).
    """
    n_cand = int(n_candidates)
    index = _pynndescent(P, n_cand + 1, seed, threads)
    idx = index.neighbor_graph[0]
    n = P.shape[0]
    # drop the row itself wherever NN-descent returned it (not necessarily first: duplicates)
    own = idx == np.arange(n)[:, None]
    own[~own.any(axis=1), -1] = True
    return idx[~own].reshape(n, n_cand).astype(np.int32, copy=False)


def tree_leaves(P: np.ndarray, leaf_size: int) -> list[np.ndarray]:
    """Leaves of a k-d tree of the rows of ``P``: recursive median splits of the axis of
    largest variance until at most ``leaf_size`` rows remain. Deterministic; O(n log n)."""
    stack, leaves = [np.arange(P.shape[0])], []
    while stack:
        idx = stack.pop()
        if idx.size <= leaf_size:
            leaves.append(idx)
            continue
        sub = P[idx]
        axis = int(np.argmax(sub.var(axis=0)))
        half = idx.size // 2
        part = np.argpartition(sub[:, axis], half)
        stack.append(idx[part[half:]])
        stack.append(idx[part[:half]])
    return leaves


def rerank_block(X: np.ndarray, queries: np.ndarray, rows: np.ndarray,
                 candidates: np.ndarray, k: int, metric: str = "l1", *,
                 exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Step 3 of :func:`approximate_neighbors` for one block: a pure function (a task).

    Parameters
    ----------
    X : ndarray, shape (n, D)
        The indexed rows (C-contiguous float32/64).
    queries : ndarray, shape (r, D)
        The block's query rows (same dtype), e.g. ``X[rows]``.
    rows : ndarray of int, shape (r,)
        Their global indices (used with ``exclude_self``).
    candidates : ndarray of int, shape (r, c)
        Their candidate lists (indices into ``X``; ``-1`` entries are ignored).
    k : int
    metric : {"l1", "l2"}
    exclude_self : bool
        ``queries`` are rows of ``X``: never return a row as its own neighbour.

    Returns
    -------
    indices : ndarray of int64, shape (r, k)
        Each query's ``k`` nearest among the **union** of the block's candidates (exact
        distances; ascending, ties by index; ``-1`` pads).
    distances : ndarray of float64, shape (r, k)
        L1, or squared L2 (take the square root after merging).
    """
    union = np.unique(candidates)
    union = union[union >= 0]
    d = pairwise_block(np.ascontiguousarray(queries), np.ascontiguousarray(X[union]),
                       squared=metric == "l2")
    if exclude_self:
        pos = np.searchsorted(union, rows)  # the row's own column, if among the candidates
        hit = (pos < union.size) & (union[np.minimum(pos, union.size - 1)] == rows)
        d[np.flatnonzero(hit), pos[hit]] = np.inf
    return _top_of_block(d, union, k)


def rerank_blocks(X, Q, cand, blocks, k, metric="l1", *, exclude_self, progress=False):
    """Exact top-k of each row of ``Q`` (m, D) among the union of its block's candidates.

    ``cand`` (m, c) are candidate indices into ``X``; ``blocks`` a list of index arrays
    partitioning ``range(m)`` (:func:`tree_leaves` of the projection); each block is one
    :func:`rerank_block` call. Returns ``(indices, distances)`` (m, k), L2 finished.
    """
    m = Q.shape[0]
    indices = np.empty((m, k), dtype=np.int64)
    values = np.empty((m, k), dtype=np.float64)
    if progress:
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, desc="nearest neighbours (re-rank)", leave=False)
    for q in blocks:
        indices[q], values[q] = rerank_block(X, Q[q], q, cand[q], k, metric,
                                             exclude_self=exclude_self)
    return indices, _finish(values, metric)


def _top_of_block(d, cols, k):
    """Top-k (ascending, ties by index) of each row of a distance block whose columns are
    the global indices ``cols``; ``-1`` / ``inf`` pad rows with fewer than ``k`` finite."""
    r, c = d.shape
    m = min(k, c)
    part = np.argpartition(d, m - 1, axis=1)[:, :m] if m < c else np.broadcast_to(
        np.arange(c), (r, c)).copy()
    vals = np.take_along_axis(d, part, axis=1)
    gidx = cols[part]
    order = np.lexsort((gidx, vals), axis=1)
    idx = np.take_along_axis(gidx, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    if m < k:
        idx = np.pad(idx, ((0, 0), (0, k - m)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, k - m)), constant_values=np.inf)
    idx[~np.isfinite(vals)] = -1
    return idx.astype(np.int64, copy=False), vals


def recall(indices: np.ndarray, reference: np.ndarray) -> float:
    """Recall@k: the fraction of ``reference``'s neighbours (per row) found in ``indices``.

    Both (n, k) integer arrays; row order within a row does not matter.
    """
    indices = np.asarray(indices)
    reference = np.asarray(reference)
    if indices.shape[0] != reference.shape[0]:
        raise ValueError(f"indices: {indices.shape[0]} rows but reference has {reference.shape[0]}")
    a = np.sort(indices, axis=1)
    hits = 0
    for i in range(reference.shape[0]):
        hits += np.isin(reference[i], a[i], assume_unique=False).sum()
    return hits / reference.size


class NeighborIndex:
    """Nearest-neighbour index of a training set, to query new items (out-of-sample).

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Training rows.
    metric, method, n_jobs, random_state
        As in :func:`nearest_neighbors`; ``method`` is resolved once, here. "approx" builds
        the projection and an NN-descent search index (pynndescent) of the projected rows;
        queries are then proposed there and re-ranked exactly, as in
        :func:`approximate_neighbors`.

    Attributes
    ----------
    method_ : str
        "exact" or "approx".
    n_samples_fit_ : int
    """

    @restores_threads
    def __init__(self, X, *, metric="l1", method="auto", n_jobs=None, random_state=None):
        self.X_, _, self.metric, self.method_ = _validate(X, 1, metric, method)
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.n_samples_fit_ = self.X_.shape[0]
        if self.method_ == "approx" and self.n_samples_fit_ <= 2 * ROW_BLOCK:
            self.method_ = "exact"  # as approximate_neighbors: too small to pay off
        if self.method_ == "approx":
            threads = set_threads(n_jobs)
            seed = int(check_rng(random_state).integers(2**31 - 1))
            self._proj = Projection(self.X_, seed)
            self._index = _pynndescent(self._proj.transform(self.X_), 30, seed, threads)

    @restores_threads
    def query(self, Y, n_neighbors: int, *, progress: bool = False):
        """The ``n_neighbors`` nearest training rows of each row of ``Y``.

        Returns ``(indices, distances)`` of shape (m, k), ascending, exact distances. A row of
        ``Y`` equal to a training row finds it at distance 0 (nothing is excluded).
        """
        Y = check_features(Y, "Y")
        if Y.shape[1] != self.X_.shape[1]:
            raise ValueError(
                f"Y: has {Y.shape[1]} features per row but the index has {self.X_.shape[1]}; "
                "pass rows computed with the same shape and parameters"
            )
        Y = np.ascontiguousarray(Y, dtype=self.X_.dtype)
        k = check_int(n_neighbors, "n_neighbors", low=1, high=self.n_samples_fit_)
        threads = set_threads(self.n_jobs)
        n_cand = min(self.n_samples_fit_, APPROX_CANDIDATES * k)
        if self.method_ == "exact" or n_cand >= self.n_samples_fit_ // 2:
            return exact_neighbors(self.X_, k, self.metric, threads, progress, Y=Y)
        PY = self._proj.transform(Y)
        cand = self._index.query(PY, k=n_cand)[0].astype(np.int64)
        return rerank_blocks(self.X_, Y, cand, tree_leaves(PY, RERANK_BLOCK), k, self.metric,
                             exclude_self=False, progress=progress)
