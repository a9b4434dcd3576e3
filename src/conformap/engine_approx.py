r"""The approximate k-nearest-neighbour search as keyed tasks over a coefficient store.

:func:`conformap.neighbors.approximate_neighbors` in four stages, each a pure function of its
inputs run as Dask tasks (or here, one after the other, with ``scheduler=None``):

1. **projection** (one task): :class:`conformap.neighbors.Projection` fitted on the seeded
   sample of rows, read from the store (at most ``APPROX_PCA_ROWS`` = 2,000 rows);
2. **projected chunks** (one task per store chunk): each chunk's rows times the projection's
   axes, ``(rows, 32)`` float32, gathered on the client (``n x 128`` bytes);
3. **candidates** (one task): NN-descent (pynndescent) on the projected rows,
   :func:`conformap.neighbors.candidate_neighbors`, ``(n, 6k)`` indices. NN-descent is a global
   iteration over all n points; it runs on one worker, on ``n x 32`` floats (128 MB at 1e6);
4. **exact re-ranking** (one task per group of k-d tree leaves): the leaves of
   :func:`conformap.neighbors.tree_leaves` are grouped in tree order (mutually near rows, whose
   candidate unions overlap) until the rows a group needs fill ``memory``; the task reads those
   rows from the store (:meth:`conformap.store.CoefficientStore.take_rows`) and runs
   :func:`conformap.neighbors.rerank_blocks` on them, leaf by leaf.

Every stage computes on the same rows, in the same order, with the same seed
(drawn from ``random_state`` as :func:`conformap.neighbors.approximate_neighbors` does) and
thread count as the in-process search, so the result
equals ``nearest_neighbors(features, k, method="approx", random_state=seed, n_jobs=n_jobs)`` on
the same features (tested bitwise on 2 local workers, with and without one killed; floating
point in the projection's BLAS product could in principle differ between machines, which would
change some candidates, not the exactness of the returned distances). Stages 3 and 4 resume:
the candidates and every finished group are kept in the store directory.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_choice, check_int
from .distributed import CONNECT_TIMEOUT, connect, n_workers, run_tasks, task_token
from .engine import DEFAULT_SEARCH_MEMORY, StoreRows, kneighbors, numba_threads
from .store import CoefficientStore

__all__ = [
    "approximate_kneighbors",
    "fit_projection",
    "project_rows",
    "rerank_groups",
    "rerank_task",
    "search_candidates",
    "store_kneighbors",
]


class _SampleRows:
    """Just enough of an array (shape, dtype, fancy row indexing) over store rows for
    :class:`conformap.neighbors.Projection` to draw and read its sample."""

    def __init__(self, src: StoreRows, n: int, dim: int, dtype):
        self.src, self.shape, self.dtype = src, (n, dim), np.dtype(dtype)

    def __getitem__(self, rows):
        return self.src.take(np.asarray(rows))


def fit_projection(src: StoreRows, n: int, dim: int, dtype: str, seed: int):
    """Task 1: the projection of the in-process search, fitted on its seeded sample of rows."""
    from .neighbors import Projection

    return Projection(_SampleRows(src, n, dim, dtype), seed)


def project_rows(src: StoreRows, proj, i0: int, i1: int) -> np.ndarray:
    """Task 2: rows ``[i0, i1)`` projected, ``(i1 - i0, d)`` float32."""
    return proj.transform(src.get(i0, i1))


def search_candidates(P: np.ndarray, n_cand: int, seed: int, threads: int) -> np.ndarray:
    """Task 3: each row's ``n_cand`` nearest other rows in the projection (NN-descent)."""
    from .neighbors import candidate_neighbors

    with numba_threads(threads) as th:
        return candidate_neighbors(P, n_cand, seed=seed, threads=th)


def rerank_task(src, need: np.ndarray, leaves: list[np.ndarray], cand: np.ndarray, k: int,
                metric: str, threads: int):
    """Task 4: exact top-k of the rows of ``leaves`` among their leaf's candidate union.

    ``need``: sorted global indices of every row the group touches (its rows and their
    candidates); ``cand``: the candidate lists of the group's rows, in the order of
    ``np.concatenate(leaves)``. Returns ``(rows, indices, distances)``, global indices.
    """
    from .neighbors import rerank_blocks

    X = src.take(need) if isinstance(src, StoreRows) else np.ascontiguousarray(src[need])
    rows = np.concatenate(leaves)
    local = np.searchsorted(need, rows)
    cand_local = np.full((need.size, cand.shape[1]), -1, dtype=np.int64)
    mapped = np.searchsorted(need, np.maximum(cand, 0))
    mapped[cand < 0] = -1
    cand_local[local] = mapped
    blocks = [np.searchsorted(need, q) for q in leaves]
    # the local index is increasing in the global one, so unions, ties and self-exclusion are
    # those of the in-process search
    with numba_threads(threads):
        idx, val = rerank_blocks(X, X, cand_local, blocks, k, metric, exclude_self=True,
                                 progress=False)
    idx, val = idx[local], val[local]
    found = idx >= 0
    idx[found] = need[idx[found]]
    return rows, idx, val


def rerank_groups(leaves, cand: np.ndarray, max_rows: int):
    """Consecutive leaves grouped until the rows a group needs (its own and their candidates)
    reach ``max_rows``: ``[(need, [leaf, ...]), ...]`` with ``need`` sorted."""
    n = cand.shape[0]
    seen = np.zeros(n, dtype=bool)
    groups, cur, members, count = [], [], [], 0
    for q in leaves:
        new = np.unique(np.concatenate([q, cand[q].ravel()]))
        new = new[new >= 0]
        add = new[~seen[new]]
        if cur and count + add.size > max_rows:
            need = np.sort(np.concatenate(members))  # members are disjoint
            groups.append((need, cur))
            seen[need] = False
            cur, members, count = [], [], 0
            add = new
        seen[add] = True
        members.append(add)
        cur.append(q)
        count += add.size
    if cur:
        groups.append((np.sort(np.concatenate(members)), cur))
    return groups


def approximate_kneighbors(store: CoefficientStore, n_neighbors: int, *, metric: str = "l1",
                           columns="resolved", scheduler=None, random_state=None,
                           n_jobs: int | None = None, memory: int | None = None,
                           resume: bool = True, progress: bool = False,
                           timeout: float = CONNECT_TIMEOUT, stats: dict | None = None):
    """Approximate k nearest neighbours of every row of a complete store, as tasks.

    Parameters
    ----------
    store : CoefficientStore
        Complete (every chunk written).
    n_neighbors : int
        ``k``, excluding the row itself.
    metric : {"l1", "l2"}
    columns
        As in :func:`conformap.engine.kneighbors`.
    scheduler, n_jobs, progress, timeout
        As in :func:`conformap.engine.kneighbors`; ``n_jobs`` threads per task (the same value
        as the in-process run gives the same candidates and bytes).
    random_state : int or Generator, optional
        As in :func:`conformap.neighbors.nearest_neighbors`.
    memory : int, optional
        Bytes of store rows one re-ranking task holds (default 1 GiB).
    resume : bool
        Keep the candidates and each finished group in the store directory and reuse them.
    stats : dict, optional
        Filled with task counts, group sizes and bytes read from the store.

    Returns
    -------
    indices : ndarray of int64, shape (n, k)
    distances : ndarray of float64, shape (n, k)
        Exact distances, ascending; what :func:`conformap.neighbors.nearest_neighbors` with
        ``method="approx"`` returns on the same rows and seed.
    """
    from ._validation import check_rng
    from .neighbors import APPROX_CANDIDATES, RERANK_BLOCK, ROW_BLOCK, tree_leaves

    metric = check_choice(metric, "metric", ["l1", "l2"])
    if not store.complete:
        raise ValueError(f"store: {store.path} has {len(store.missing_chunks())} chunk(s) not "
                         "written; run engine.wemd_embedding_to_store first")
    cols = store.columns(columns) if isinstance(columns, str) else np.asarray(columns, np.int64)
    n, dim, itemsize = store.n, int(cols.size), store.dtype.itemsize
    if n < 2:
        raise ValueError(f"store: needs at least 2 rows for nearest neighbours, got {n}")
    k = check_int(n_neighbors, "n_neighbors", low=1, high=n - 1)
    n_cand = min(n - 1, APPROX_CANDIDATES * k)
    if n <= 2 * ROW_BLOCK or n_cand >= n // 2:  # as the in-process search: exact
        return kneighbors(store, k, metric=metric, columns=cols, scheduler=scheduler,
                          n_jobs=n_jobs, progress=progress, timeout=timeout, stats=stats)
    memory = DEFAULT_SEARCH_MEMORY if memory is None else check_int(memory, "memory", low=1)
    seed = int(check_rng(random_state).integers(2**31 - 1))  # as approximate_neighbors
    with numba_threads(n_jobs) as threads:
        pass
    src = StoreRows(store.path, None if dim == store.n_features else cols)
    token = task_token(store.key, store.digest(), cols.tobytes().hex() if dim < store.n_features
                       else "all", metric, k, seed, threads, "approx")
    saved = None
    if resume:
        saved = store.path / "knn" / f"approx-{token}"
        saved.mkdir(parents=True, exist_ok=True)
    st = {"method": "approx", "seed": seed, "n_candidates": n_cand}
    import time

    t0 = time.perf_counter()
    with connect(scheduler, timeout=timeout) as client:
        P, cand = _load_candidates(saved, n, n_cand)
        if cand is None:
            P, cand = _candidates(client, src, store, n, dim, seed, n_cand, threads, token,
                                  progress)
            if saved is not None:
                _save_candidates(saved, P, cand)
            st["candidates_reused"] = False
        else:
            st["candidates_reused"] = True
        st["candidates_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        leaves = tree_leaves(P, RERANK_BLOCK)
        del P
        chunk_tmp = store.chunk_rows * store.n_features * itemsize
        max_rows = max(4 * RERANK_BLOCK, (memory - chunk_tmp) // (dim * itemsize))
        groups = rerank_groups(leaves, cand, max_rows)
        gdir = None
        if saved is not None:  # the grouping depends on the memory setting
            gdir = saved / f"groups-{max_rows}"
            gdir.mkdir(exist_ok=True)
        indices = np.full((n, k), -1, dtype=np.int64)
        values = np.full((n, k), np.inf)
        specs, reused, read = [], 0, 0
        raw = store.raw_layout() is not None
        for g, (need, members) in enumerate(groups):
            got = None if gdir is None else _load_group(gdir, g)
            if got is not None:
                rows, idx, val = got
                indices[rows], values[rows] = idx, val
                reused += 1
                continue
            # bytes a task reads from the store: its rows (raw chunks, memory-mapped) or
            # every chunk it touches (compressed chunks are decoded whole)
            read += (need.size if raw else store.chunks_of(need) * store.chunk_rows) \
                * store.n_features * itemsize
            specs.append((f"conformap-approx-rerank-{token}-{g}", rerank_task,
                          (lambda need=need, members=members:
                           (src, need, members, cand[np.concatenate(members)], k, metric,
                            threads))))

        def collect(key, result):
            rows, idx, val = result
            indices[rows], values[rows] = idx, val
            if gdir is not None:
                _save_group(gdir, int(key.rsplit("-", 1)[1]), rows, idx, val)

        window = None if client is None else 4 * n_workers(client)
        st["grouping_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        run_tasks(client, specs, collect, desc="nearest neighbours (re-rank)",
                  progress=progress, window=window)
        st["rerank_s"] = time.perf_counter() - t2
    if saved is not None:  # everything is saved: temporaries left by killed writes go
        store.remove_partials(under=(saved.relative_to(store.path),))
    if stats is not None:
        sizes = [need.size for need, _ in groups]
        queries = [sum(q.size for q in members) for _, members in groups]
        stats.update(st, groups=len(groups), groups_reused=reused, tasks_run=len(specs),
                     group_rows_max=int(max(sizes)), group_rows_mean=float(np.mean(sizes)),
                     group_queries_mean=float(np.mean(queries)),
                     rerank_read_bytes=int(read), max_rows=int(max_rows), n_searched=dim,
                     candidate_bytes=int(cand.nbytes), projected_bytes=int(n * 32 * 4))
    return indices, values


def _candidates(client, src, store, n, dim, seed, n_cand, threads, token, progress):
    """Stages 1-3 on the scheduler (or here): the projected rows and the candidate lists."""
    out = {}
    run_tasks(client, [(f"conformap-approx-proj-{token}", fit_projection,
                        lambda: (src, n, dim, store.dtype.name, seed))],
              lambda key, r: out.__setitem__("proj", r), desc="projection", progress=False,
              window=None)
    proj = out["proj"]
    if client is not None:
        proj = client.scatter(proj, broadcast=True, hash=True)
    P = None
    parts = {}
    specs = []
    for i in range(store.n_chunks):
        i0, i1 = store.chunk_bounds(i)
        specs.append((f"conformap-approx-P-{token}-{i0}", project_rows,
                      (lambda i0=i0, i1=i1: (src, proj, i0, i1))))

    def keep(key, r):
        parts[int(key.rsplit("-", 1)[1])] = r

    run_tasks(client, specs, keep, desc="projection (chunks)", progress=progress,
              window=None if client is None else 4 * n_workers(client))
    P = np.concatenate([parts[i0] for i0 in sorted(parts)])
    parts.clear()
    arg = P if client is None else client.scatter(P, hash=True)
    run_tasks(client, [(f"conformap-approx-cand-{token}", search_candidates,
                        lambda: (arg, n_cand, seed, threads))],
              lambda key, r: out.__setitem__("cand", r), desc="candidates (NN-descent)",
              progress=False, window=None)
    return P, np.asarray(out["cand"], dtype=np.int32)


def _load_candidates(d, n, n_cand):
    if d is None:
        return None, None
    try:
        with np.load(d / "candidates.npz", allow_pickle=False) as z:
            P, cand = z["P"], z["cand"]
    except Exception:  # missing or unreadable: recompute
        return None, None
    if cand.shape != (n, n_cand) or P.shape[0] != n:
        return None, None
    return P, cand


def _save_candidates(d, P, cand):
    from .io import atomic_path

    with atomic_path(d / "candidates.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, P=P, cand=cand)


def _load_group(d, g):
    try:
        with np.load(d / f"group-{g:07d}.npz", allow_pickle=False) as z:
            return z["rows"], z["indices"], z["values"]
    except Exception:
        return None


def _save_group(d, g, rows, idx, val):
    from .io import atomic_path

    with atomic_path(d / f"group-{g:07d}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, rows=rows, indices=idx, values=val)


def store_kneighbors(store: CoefficientStore, n_neighbors: int, *, method: str = "auto",
                     **kwargs):
    """The neighbour search of ``DiffusionMap`` on a store: ``method`` "exact", "approx" or
    "auto" (:func:`conformap.neighbors.choose_method`, the in-process rule), on the searched
    columns. ``kwargs`` go to :func:`approximate_kneighbors` / :func:`conformap.engine.
    kneighbors` (``random_state`` only to the former)."""
    from .neighbors import METHODS, choose_method

    method = check_choice(method, "method", list(METHODS))
    columns = kwargs.get("columns", "resolved")
    cols = store.columns(columns) if isinstance(columns, str) else np.asarray(columns)
    if method == "auto":
        method = choose_method(store.n, int(cols.size))
    rs = kwargs.pop("random_state", None)
    if method == "exact":
        return kneighbors(store, n_neighbors, **kwargs), "exact"
    return approximate_kneighbors(store, n_neighbors, random_state=rs, **kwargs), "approx"
