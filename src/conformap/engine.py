r"""Run the WEMD transform and the exact neighbour search as chunked tasks, in-process or on Dask.

Two stages of the large-n pipeline are split into independent tasks:

* **transform**: chunk ``i`` of a :class:`conformap.store.CoefficientStore` is
  :func:`conformap.store.transform_chunk` of its rows of the input (one chunk of maps in memory);
* **neighbour search**: the exact k-nearest-neighbour search is the (row panel, column block)
  pairs of :func:`conformap.neighbors.block_neighbors`, each a pure function of two blocks of
  rows, whose partial top-k lists are merged (:func:`conformap.neighbors.merge_neighbors`) as they
  arrive. Row panels are whole multiples of :data:`conformap.neighbors.ROW_BLOCK` and the column
  blocks are those of :func:`conformap.neighbors.nearest_neighbors` (``COL_BLOCK``), so every
  distance is computed on the same pair of blocks as the in-process exact search and the graph is
  bitwise the same (when the tasks use the same number of threads, ``n_jobs``: the compiled
  kernel splits small blocks by thread).

The approximate search (above 5,000 items, as in memory) runs as tasks too:
:mod:`conformap.engine_approx`; :func:`knn_graph` chooses between them by the in-memory rule.

With ``scheduler=None`` the tasks run here, one after the other; with a Dask scheduler
(:func:`conformap.distributed.connect`: ``"tcp://host:port"``, a ``distributed.Client``, or
``"local:N"`` for a ``LocalCluster`` of N one-thread worker processes on 127.0.0.1) they run on
its workers. Tasks carry deterministic keys (the content key of the input and the parameters),
are retried on another worker if theirs dies, and give the same bytes each time: a worker
killed mid-run changes nothing. The workers write the coefficients to the store themselves, so
the store directory must be on a filesystem every worker sees (one machine, NFS, Lustre, ...).
The client only gathers the small top-k lists and assembles the sparse graph; the eigenproblem
runs there. Both stages resume: written chunks are skipped, and finished row panels of the
search are kept in the store directory. What the client then reads from the finished store
(out-of-sample queries, the dropped kernel mass, the bridges between pieces) is in
:mod:`conformap.store_queries` (re-exported here).

>>> from conformap import engine, store                                      # doctest: +SKIP
>>> s = store.open_wemd_store(maps, "cache/")                               # doctest: +SKIP
>>> engine.wemd_embedding_to_store(maps, s, scheduler="local:2")            # doctest: +SKIP
>>> idx, dist = engine.kneighbors(s, 15, scheduler="local:2")               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._validation import check_choice, check_int
from .distributed import CONNECT_TIMEOUT, connect, n_workers, parse_scheduler, run_tasks, task_token
from .io import atomic_path
from .store import CoefficientStore, transform_chunk
from .store_queries import connect_components, query_store, store_dropped_mass

__all__ = [
    "DEFAULT_SEARCH_MEMORY",
    "StoreRows",
    "connect_components",
    "kneighbors",
    "kneighbors_graph",
    "knn_graph",
    "numba_threads",
    "panel_neighbors",
    "query_store",
    "search_plan",
    "store_dropped_mass",
    "wemd_embedding_to_store",
]

#: Default memory of one neighbour-search task: its row panel, column block and distance tile.
DEFAULT_SEARCH_MEMORY = 1024 * 2**20


@contextlib.contextmanager
def numba_threads(n_jobs: int | None) -> Iterator[int]:
    """``n_jobs`` numba threads inside the block, the caller's count restored after."""
    import numba

    from ._kernels import set_threads

    old = numba.get_num_threads()
    try:
        yield set_threads(n_jobs)
    finally:
        numba.set_num_threads(old)


# -- transform ---------------------------------------------------------------------------------


def wemd_embedding_to_store(densities, store: CoefficientStore, *, scheduler=None,
                            progress: bool = False, timeout: float = CONNECT_TIMEOUT,
                            stats: dict | None = None) -> CoefficientStore:
    """Compute the chunks of ``store`` that are not written yet from ``densities``.

    Parameters
    ----------
    densities : array_like, shape (n, *shape)
        The input of :func:`conformap.store.open_wemd_store` (an ndarray or anything that slices
        into one, e.g. a ``numpy.memmap`` of an .mrcs stack): a chunk's rows are read only when
        its task starts, and at most two chunks per worker are in flight.
    store : CoefficientStore
    scheduler : None, str or distributed.Client
        See :func:`conformap.distributed.connect`; None runs the chunks here, one after the other.
    progress : bool
        A progress bar over chunks on the client.
    timeout : float
        Seconds to wait for the scheduler.
    stats : dict, optional
        Filled with ``"chunks_reused"`` (already written) and ``"chunks_computed"``.

    Returns
    -------
    CoefficientStore
        ``store``, complete: ``store.to_numpy()`` equals ``wemd_embedding(densities,
        columns="all", ...)``; every run computes the same chunks, each row independently.
    """
    if tuple(np.shape(densities)) != (store.n, *store.item_shape):
        raise ValueError(f"densities: shape {np.shape(densities)} does not match the store's "
                         f"{(store.n, *store.item_shape)} ({store.path})")
    path = str(store.path)

    def spec(i):
        i0, i1 = store.chunk_bounds(i)
        return (f"conformap-wemd-{store.key}-{i0}-{i1}", transform_chunk,
                lambda: (path, i, np.ascontiguousarray(densities[i0:i1])))

    import time

    from .store import STALE_PARTIAL_SECONDS

    started = time.time()
    specs = [spec(i) for i in store.missing_chunks()]
    if stats is not None:
        stats.update(chunks_reused=store.n_chunks - len(specs), chunks_computed=len(specs))
    if specs:
        with connect(scheduler, timeout=timeout) as client:
            store.remove_partials(before=started - STALE_PARTIAL_SECONDS)
            window = None if client is None else 2 * n_workers(client)
            run_tasks(client, specs, lambda key, result: None, desc="wavelet transform",
                       progress=progress, window=window)
    # every chunk is written, so no write of a chunk or marker is still going on: what an
    # interrupted write (a killed worker, this run or an earlier one) left is garbage
    store.remove_partials(under=("coefficients.zarr", "done"))
    if store.params.get("negative") is None and store.statistics()[2]:
        from ._validation import NegativeDensityWarning

        warnings.warn("densities: some items have negative voxels (noise); they are kept (see "
                      "'negative' in conformap.wemd_embedding)", NegativeDensityWarning,
                      stacklevel=2)
    return store


# -- exact neighbour search --------------------------------------------------------------------


class StoreRows:
    """Picklable reader of rows ``[i0, i1)`` (some columns) of a store, for tasks on workers."""

    def __init__(self, path: str | os.PathLike, columns: np.ndarray | None = None):
        self.path = str(path)
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)
        self._store = None

    def __getstate__(self):
        return {"path": self.path, "columns": self.columns, "_store": None}

    @property
    def store(self) -> CoefficientStore:
        if self._store is None:
            self._store = CoefficientStore(self.path)
        return self._store

    def get(self, i0: int, i1: int) -> np.ndarray:
        return self.store.read_rows(i0, i1, self.columns)

    def take(self, rows) -> np.ndarray:
        """Rows ``rows`` (int array, any order), in that order."""
        return self.store.take_rows(rows, self.columns)


def search_plan(n: int, n_features: int, itemsize: int, *, memory: int | None = None,
                n_workers: int = 1) -> dict:
    r"""Block sizes of the exact search: ``{"row_panel", "col_block", "task_bytes", ...}``.

    A task holds a row panel of ``R`` rows and a column block of ``C`` rows of ``D`` features,
    plus one ``ROW_BLOCK x C`` float64 distance tile (and its partition temporaries): about
    :math:`(R + C) D s + 3 \cdot 256 \cdot C \cdot 8` bytes, which ``memory`` bounds (default
    :data:`DEFAULT_SEARCH_MEMORY`, 1 GiB). ``C`` is the in-process search's ``COL_BLOCK`` (16,384)
    when it fits, so the distances are computed on the same blocks; ``R`` is the largest multiple
    of ``ROW_BLOCK`` that fits, but small enough that there are at least 4 tasks per worker.
    The whole search reads :math:`n^2 D s (1/R + 1/C)` bytes from the store and computes
    :math:`n^2 D` absolute differences.
    """
    from .neighbors import COL_BLOCK, ROW_BLOCK

    memory = DEFAULT_SEARCH_MEMORY if memory is None else check_int(memory, "memory", low=1)
    row_bytes = n_features * itemsize
    col = min(COL_BLOCK, n)

    def tile(c):
        return 3 * ROW_BLOCK * c * 8

    while col > 32 and (col + ROW_BLOCK) * row_bytes + tile(col) > memory:
        col = max(32, col // 2)
    if (col + ROW_BLOCK) * row_bytes + tile(col) > memory:
        need = (col + ROW_BLOCK) * row_bytes + tile(col)
        raise ValueError(f"memory: {memory} bytes cannot hold one task of the neighbour search "
                         f"({need} bytes for {ROW_BLOCK} + {col} rows of {n_features} features); "
                         "allow more memory")
    rows = (memory - tile(col)) // row_bytes - col
    rows = max(ROW_BLOCK, rows // ROW_BLOCK * ROW_BLOCK)
    # enough tasks for every worker (4 each), counting the column blocks already there
    need_panels = -(-4 * max(1, n_workers) // -(-n // col))
    spread = -(-n // need_panels)
    rows = min(rows, max(ROW_BLOCK, -(-spread // ROW_BLOCK) * ROW_BLOCK))
    rows = min(rows, -(-n // ROW_BLOCK) * ROW_BLOCK)
    panels = -(-n // rows)
    blocks = -(-n // col)
    return {"row_panel": int(rows), "col_block": int(col), "n_panels": panels,
            "n_col_blocks": blocks, "n_tasks": panels * blocks,
            "task_bytes": int((rows + col) * row_bytes + tile(col)),
            "read_bytes": int(n * row_bytes * (panels + blocks)),
            "same_blocks_as_local": col == min(COL_BLOCK, n)}


def panel_neighbors(rows_src, cols_src, p0: int, p1: int, j0: int, j1: int, k: int,
                    metric: str, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """One task: the partial top-k of rows ``[p0, p1)`` among rows ``[j0, j1)`` (self excluded).

    ``rows_src``/``cols_src``: a :class:`StoreRows` (read here, on the worker) or the rows
    themselves. Pure: the same inputs give the same bytes. Distances are L1 or squared L2.
    """
    from .neighbors import ROW_BLOCK, block_neighbors

    rows = rows_src.get(p0, p1) if isinstance(rows_src, StoreRows) else rows_src
    cols = cols_src.get(j0, j1) if isinstance(cols_src, StoreRows) else cols_src
    with numba_threads(threads):
        parts = [block_neighbors(rows[a - p0 : min(p1, a + ROW_BLOCK) - p0], cols, k,
                                 metric=metric, row_start=a, col_start=j0, exclude_self=True)
                 for a in range(p0, p1, ROW_BLOCK)]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


def kneighbors(features, n_neighbors: int, *, metric: str = "l1", columns="resolved",
               scheduler=None, n_jobs: int | None = None, memory: int | None = None,
               resume: bool = True, progress: bool = False, timeout: float = CONNECT_TIMEOUT,
               stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row, as tasks over (row panel, column block) pairs.

    Parameters
    ----------
    features : CoefficientStore or array_like, shape (n, D)
        A (complete) coefficient store, read block by block (peak memory per task bounded by
        ``memory``, not by n), or rows in memory.
    n_neighbors : int
        ``k``, excluding the row itself, ``1 <= k < n``.
    metric : {"l1", "l2"}
        L1 is the WEMD on coefficient rows.
    columns : {"resolved", "support", "all"} or array of int
        For a store: which columns to search on (as ``columns`` in
        :func:`conformap.wemd_embedding`; "resolved", the default, is what
        :class:`conformap.DiffusionMap` uses). Ignored for arrays.
    scheduler : None, str or distributed.Client
        See :func:`conformap.distributed.connect`; None runs the tasks here.
    n_jobs : int, optional
        Threads per task (None: all cores of this machine). The same value gives the same bytes
        here and on any worker.
    memory : int, optional
        Bytes per task (:func:`search_plan`).
    resume : bool, default True
        For a store: keep each finished row panel in the store directory and reuse it.
    progress : bool
        Progress bar over tasks, on the client.
    stats : dict, optional
        Filled with the plan (:func:`search_plan`), ``"panels_reused"`` and ``"tasks_run"``.

    Returns
    -------
    indices : ndarray of int64, shape (n, k)
        Nearest first, ties by index; never the row itself.
    distances : ndarray of float64, shape (n, k)
        Identical to :func:`conformap.neighbors.nearest_neighbors` with ``method="exact"`` on
        the same rows (for more than 15 features, where that search is blocked brute force too).
    """
    metric = check_choice(metric, "metric", ["l1", "l2"])
    if isinstance(features, CoefficientStore):
        store = features
        if not store.complete:
            raise ValueError(f"features: store {store.path} has {len(store.missing_chunks())} "
                             "chunk(s) not written; run wemd_embedding_to_store first")
        cols = (store.columns(columns) if isinstance(columns, str)
                else np.asarray(columns, dtype=np.int64))
        n, dim, itemsize = store.n, int(cols.size), store.dtype.itemsize
        source_key = task_token(store.key, store.digest(), cols.tobytes().hex()
                            if cols.size < store.n_features else "all")
        src = StoreRows(store.path, None if cols.size == store.n_features else cols)
        X = None
    else:
        from .cache import array_digest
        from .distances import check_features

        store = None
        X = check_features(features, "features")
        n, dim, itemsize = X.shape[0], X.shape[1], X.dtype.itemsize
        source_key = array_digest(X)
    if n < 2:
        raise ValueError(f"features: needs at least 2 rows for nearest neighbours, got {n}")
    k = check_int(n_neighbors, "n_neighbors", low=1, high=n - 1)
    with numba_threads(n_jobs) as threads:  # the count every task uses (same bytes)
        pass
    with connect(scheduler, timeout=timeout) as client:
        workers = 1 if client is None else n_workers(client)
        plan = search_plan(n, dim, itemsize, memory=memory, n_workers=workers)
        R, C = plan["row_panel"], plan["col_block"]
        token = task_token(source_key, metric, k, R, C, threads)
        panels = [(p0, min(n, p0 + R)) for p0 in range(0, n, R)]
        blocks = [(j0, min(n, j0 + C)) for j0 in range(0, n, C)]
        indices = np.full((n, k), -1, dtype=np.int64)
        values = np.full((n, k), np.inf)
        saved = None
        if store is not None and resume:
            saved = store.path / "knn" / token
            saved.mkdir(parents=True, exist_ok=True)
        todo, reused = [], 0
        for p0, p1 in panels:
            got = _load_panel(saved, p0, p1, k) if saved is not None else None
            if got is not None:
                indices[p0:p1], values[p0:p1] = got
                reused += 1
            else:
                todo.append((p0, p1))
        state: dict[int, list] = {p0: [None, 0] for p0, _ in todo}
        specs = []
        if client is not None and X is not None:  # rows in memory: ship each block once
            row_f = {p0: client.scatter(X[p0:p1], hash=True) for p0, p1 in todo}
            col_f = {j0: client.scatter(X[j0:j1], hash=True) for j0, j1 in blocks}
        for p0, p1 in todo:
            for j0, j1 in blocks:
                if X is None:
                    a, b = src, src
                elif client is None:
                    a, b = X[p0:p1], X[j0:j1]
                else:
                    a, b = row_f[p0], col_f[j0]
                specs.append((f"conformap-knn-{token}-{p0}-{j0}", panel_neighbors,
                              (lambda a=a, b=b, p0=p0, p1=p1, j0=j0, j1=j1:
                               (a, b, p0, p1, j0, j1, k, metric, threads))))
        if client is None and X is None:
            # in-process: one column block read, then every panel against it
            specs.sort(key=lambda s: (int(s[0].rsplit("-", 1)[1]), int(s[0].rsplit("-", 2)[1])))
            specs = _cache_columns(specs, store)

        def merge(key, result):
            from .neighbors import merge_neighbors

            p0 = int(key.rsplit("-", 2)[1])
            entry = state[p0]
            entry[0] = result if entry[0] is None else merge_neighbors([entry[0], result], k)
            entry[1] += 1
            if entry[1] == len(blocks):
                p1 = min(n, p0 + R)
                idx, val = entry[0]
                indices[p0:p1], values[p0:p1] = idx[:, :k], val[:, :k]
                state.pop(p0)
                if saved is not None:
                    _save_panel(saved, p0, p1, indices[p0:p1], values[p0:p1])

        run_tasks(client, specs, merge, desc="nearest neighbours (exact)", progress=progress,
                   window=None)
    if saved is not None:  # every panel is saved: temporaries left by killed writes go
        store.remove_partials(under=(saved.relative_to(store.path),))
    if metric == "l2":
        np.sqrt(values, out=values)
    if stats is not None:
        stats.update(plan, panels_reused=reused, tasks_run=len(specs))
    return indices, values


def _cache_columns(specs, store):
    """In-process order: read each column block once for all panels (the same arithmetic)."""
    cache = {}

    def wrap(make_args):
        def make():
            a, b, p0, p1, j0, j1, k, metric, threads = make_args()
            if (j0, j1) not in cache:
                cache.clear()
                cache[(j0, j1)] = b.get(j0, j1)
            return (a, cache[(j0, j1)], p0, p1, j0, j1, k, metric, threads)
        return make

    return [(key, fn, wrap(m)) for key, fn, m in specs]


def _panel_path(d: Path, p0: int, p1: int) -> Path:
    return d / f"panel-{p0:09d}-{p1:09d}.npz"


def _load_panel(d: Path, p0: int, p1: int, k: int):
    try:
        with np.load(_panel_path(d, p0, p1), allow_pickle=False) as z:
            idx, val = z["indices"], z["values"]
    except Exception:  # missing or unreadable: recompute
        return None
    if idx.shape != (p1 - p0, k) or val.shape != (p1 - p0, k):
        return None
    return idx, val


def _save_panel(d: Path, p0: int, p1: int, idx: np.ndarray, val: np.ndarray) -> None:
    with atomic_path(_panel_path(d, p0, p1)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, indices=idx, values=val)


def kneighbors_graph(features, n_neighbors: int, **kwargs):
    """:func:`kneighbors` as a sparse (n, n) CSR matrix of distances (row i: its k nearest),
    the form of :func:`conformap.kneighbors_distances`."""
    import scipy.sparse as sp

    idx, val = kneighbors(features, n_neighbors, **kwargs)
    n, k = idx.shape
    return sp.csr_matrix((val.ravel(), idx.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))


def knn_graph(densities, n_neighbors: int, *, cache_dir=None, scheduler=None,
              wavelet: str = "coif3", level: int | None = None, mode: str = "zero",
              negative: str | None = None, dtype=None, columns: str = "resolved",
              n_jobs: int | None = None, memory: int | None = None,
              search_memory: int | None = None, search: str = "auto", random_state=None,
              progress: bool = False, timeout: float = CONNECT_TIMEOUT,
              stats: dict | None = None):
    """The whole out-of-core WEMD kNN graph: store, transform, neighbour search, bridged pieces.

    Connects to ``scheduler`` first (an unreachable one fails before anything is written),
    then writes the coefficients to the store in ``cache_dir`` (a temporary directory, removed
    at the end, if None: then ``scheduler`` must be None or ``local:N``), runs the exact search
    and links the graph's pieces. The eigenproblem is the caller's (on this machine):
    ``conformap.diffusion_map(graph, ...)``.

    Parameters
    ----------
    densities : array_like, shape (n, *shape)
    n_neighbors : int
    cache_dir : path, optional
        Where the store lives (``--cache``); must be visible to every worker.
    scheduler, n_jobs, progress, timeout
        As in :func:`kneighbors`.
    wavelet, level, mode, negative, dtype, columns
        As in :func:`conformap.wemd_embedding` (``columns`` as :class:`conformap.DiffusionMap`).
    memory : int, optional
        Bytes per transform chunk (:func:`conformap.store.open_wemd_store`).
    search_memory : int, optional
        Bytes per search task (:func:`search_plan`; for the approximate search, the store rows
        one re-ranking task holds).
    search : {"auto", "exact", "approx"}
        The neighbour search, as ``method`` of :func:`conformap.neighbors.nearest_neighbors`
        ("auto": exact up to 5,000 rows, as in memory); "approx" runs
        :func:`conformap.engine_approx.approximate_kneighbors`.
    random_state : int or Generator, optional
        Seeds the approximate search (the same seed gives the in-memory run's graph).
    stats : dict, optional
        Filled with ``"transform"`` and ``"search"`` statistics.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n)
        Distances to each row's ``n_neighbors`` nearest, plus the bridging edges: what
        ``DiffusionMap(method="knn")`` builds in memory from the same rows.
    """
    import tempfile

    import scipy.sparse as sp

    from .store import open_wemd_store

    kind, _ = parse_scheduler(scheduler)
    if cache_dir is None and kind in ("address", "client"):
        raise ValueError("cache_dir: a remote scheduler's workers write the coefficients "
                         "themselves; give a directory on a filesystem they all see")
    st_t, st_s = {}, {}
    with connect(scheduler, timeout=timeout) as client, contextlib.ExitStack() as stack:
        if cache_dir is None:
            cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="conformap-"))
        store = open_wemd_store(densities, cache_dir, wavelet=wavelet, level=level, mode=mode,
                                negative=negative, dtype=dtype, memory=memory)
        wemd_embedding_to_store(densities, store, scheduler=client, progress=progress,
                                stats=st_t)
        from .engine_approx import store_kneighbors

        (idx, val), used = store_kneighbors(
            store, n_neighbors, method=search, columns=columns, scheduler=client,
            n_jobs=n_jobs, memory=search_memory, progress=progress, stats=st_s,
            random_state=random_state)
        st_s.setdefault("method", used)
        st_s.setdefault("panels_reused", st_s.get("groups_reused", 0))
        n, k = idx.shape
        graph = sp.csr_matrix((val.ravel(), idx.ravel(), np.arange(0, n * k + 1, k)),
                              shape=(n, n))
        graph = connect_components(store, graph, columns=columns)
    if stats is not None:
        stats.update(transform=st_t, search=st_s, store=str(store.path), columns=columns)
    return graph
