"""Compiled pairwise kernels (numba): packed, register-tiled and threaded L1 / squared-L2.

Also the sparse recurrence step of the eigensolver (:func:`csr_step`) and the coefficient
statistics of the WEMD transform; the triplet-search kernels are in
:mod:`conformap._triplet_kernels`.

The all-pairs L1 distance between WEMD coefficient vectors is the hot loop of the whole pipeline
(n^2 / 2 pairs times D ~ 10^5..10^6 coordinates). numpy cannot do it without materialising
(block x block x D) temporaries, and scipy's ``cdist`` is single-threaded float64. The layout
follows a GEMM:

* the rows are cut into blocks of ``PAIR_BLOCK`` rows; a work item is a pair of row blocks (only
  the upper triangle when ``Y is X``), optionally split over column ranges when there are few
  pairs, and items are handed to threads one at a time (dynamic scheduling, so the skipped
  triangle does not unbalance the threads);
* for each tile of ``PACK_COLUMNS`` coordinates both blocks are *packed* into contiguous buffers
  that stay in L2 cache. Coordinates that are constant over all rows (e.g. wavelet coefficients
  that only see the zero padding around a molecule) contribute exactly zero to both distances,
  so they are skipped while packing (exact, typically 30% of a WEMD vector of clean maps);
* a 4 x 4 micro-kernel computes 16 distances at once from 8 packed rows. Its 16 accumulators are
  scalars, so LLVM keeps them in vector registers and vectorises the coordinate loop (8 float32
  lanes on AVX2/AVX-512); this is what the old one-pair-at-a-time loop failed to do. Sums run in
  the input precision within a tile (at most ``PACK_COLUMNS / 8`` terms per lane) and are
  accumulated across tiles in float64, so float32 input keeps ~1e-6 relative accuracy.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import numba
import numpy as np

__all__ = [
    "PACK_COLUMNS",
    "PAIR_BLOCK",
    "abs_stats",
    "active_runs",
    "compact_rows",
    "gather_scaled",
    "pairwise_block",
    "restores_threads",
    "row_abs_stats",
    "set_threads",
    "threads",
]

#: Rows per block on each side: 128 re-packs each block half as often as 64 (n = 800 WEMD,
#: 236k columns: 1.98 s -> 1.70 s on Zen 4); the micro-kernel's 8 rows x PACK_COLUMNS stay in L2.
PAIR_BLOCK = 128
#: Packed coordinates per cache tile; also bounds the float32 tile sums (PACK_COLUMNS / 8 terms
#: per lane), which the float32 error bound of benchmarks.bench_wemd uses.
PACK_COLUMNS = 2048


@numba.njit(fastmath=True, nogil=True, cache=True)
def _micro_l1(x0, x1, x2, x3, y0, y1, y2, y3, kc, one):  # pragma: no cover - compiled
    """L1 distances between rows x0..x3 and y0..y3 over their first kc entries."""
    # 16 scalar accumulators: LLVM keeps them in vector registers and vectorises over c.
    # ``one`` is 1 read at run time, so ``s += |a - b| * one`` becomes an exact FMA that runs
    # on the multiply ports while the subtractions use the add ports (12% faster on Zen 4).
    z = x0[0] - x0[0]  # zero of the input dtype (x * 0 would promote float32 to float64)
    s00 = s01 = s02 = s03 = z
    s10 = s11 = s12 = s13 = z
    s20 = s21 = s22 = s23 = z
    s30 = s31 = s32 = s33 = z
    for c in range(kc):
        a0 = x0[c]
        a1 = x1[c]
        a2 = x2[c]
        a3 = x3[c]
        b0 = y0[c]
        b1 = y1[c]
        b2 = y2[c]
        b3 = y3[c]
        s00 += abs(a0 - b0) * one
        s01 += abs(a0 - b1) * one
        s02 += abs(a0 - b2) * one
        s03 += abs(a0 - b3) * one
        s10 += abs(a1 - b0) * one
        s11 += abs(a1 - b1) * one
        s12 += abs(a1 - b2) * one
        s13 += abs(a1 - b3) * one
        s20 += abs(a2 - b0) * one
        s21 += abs(a2 - b1) * one
        s22 += abs(a2 - b2) * one
        s23 += abs(a2 - b3) * one
        s30 += abs(a3 - b0) * one
        s31 += abs(a3 - b1) * one
        s32 += abs(a3 - b2) * one
        s33 += abs(a3 - b3) * one
    return (
        s00, s01, s02, s03,
        s10, s11, s12, s13,
        s20, s21, s22, s23,
        s30, s31, s32, s33,
    )


@numba.njit(fastmath=True, nogil=True, cache=True)
def _micro_sq(x0, x1, x2, x3, y0, y1, y2, y3, kc):  # pragma: no cover - compiled
    """Squared-L2 distances between rows x0..x3 and y0..y3 over their first kc entries."""
    # 16 scalar accumulators: LLVM keeps them in vector registers and vectorises over c.
    z = x0[0] - x0[0]  # zero of the input dtype (x * 0 would promote float32 to float64)
    s00 = s01 = s02 = s03 = z
    s10 = s11 = s12 = s13 = z
    s20 = s21 = s22 = s23 = z
    s30 = s31 = s32 = s33 = z
    for c in range(kc):
        a0 = x0[c]
        a1 = x1[c]
        a2 = x2[c]
        a3 = x3[c]
        b0 = y0[c]
        b1 = y1[c]
        b2 = y2[c]
        b3 = y3[c]
        d = a0 - b0
        s00 += d * d
        d = a0 - b1
        s01 += d * d
        d = a0 - b2
        s02 += d * d
        d = a0 - b3
        s03 += d * d
        d = a1 - b0
        s10 += d * d
        d = a1 - b1
        s11 += d * d
        d = a1 - b2
        s12 += d * d
        d = a1 - b3
        s13 += d * d
        d = a2 - b0
        s20 += d * d
        d = a2 - b1
        s21 += d * d
        d = a2 - b2
        s22 += d * d
        d = a2 - b3
        s23 += d * d
        d = a3 - b0
        s30 += d * d
        d = a3 - b1
        s31 += d * d
        d = a3 - b2
        s32 += d * d
        d = a3 - b3
        s33 += d * d
    return (
        s00, s01, s02, s03,
        s10, s11, s12, s13,
        s20, s21, s22, s23,
        s30, s31, s32, s33,
    )


@numba.njit(nogil=True, cache=True)
def _pack(X, r0, r1, cols, k0, k1, buf):  # pragma: no cover - compiled
    """Copy rows r0:r1 of X, packed coordinates k0:k1 (columns cols[k0:k1]), into buf.

    A tile that is one contiguous run of columns is copied row by row; otherwise the columns
    are gathered (short runs: one gather beats one small copy per run). Rows up to a
    multiple of 4 are zero-filled.
    """
    w = k1 - k0
    if cols[k1 - 1] - cols[k0] == w - 1:
        c0 = cols[k0]
        for row in range(r0, r1):
            buf[row - r0, :w] = X[row, c0 : c0 + w]
    else:
        idx = cols[k0:k1]
        for row in range(r0, r1):
            src = X[row]
            dst = buf[row - r0]
            for k in range(w):
                dst[k] = src[idx[k]]
    for row in range(r1 - r0, buf.shape[0]):
        buf[row, :w] = 0


@numba.njit(parallel=True, nogil=True, cache=True)
def _pairwise(X, Y, cols, items, nsplit, squared, symmetric, ones, out):  # pragma: no cover
    one = ones[0]
    nx = X.shape[0]
    ny = Y.shape[0]
    ncol = cols.shape[0]
    nkc = (ncol + PACK_COLUMNS - 1) // PACK_COLUMNS
    per_split = (nkc + nsplit - 1) // nsplit
    for p in numba.prange(items.shape[0]):
        bi = items[p, 0]
        bj = items[p, 1]
        part = items[p, 2]
        i0 = bi * PAIR_BLOCK
        i1 = min(nx, i0 + PAIR_BLOCK)
        j0 = bj * PAIR_BLOCK
        j1 = min(ny, j0 + PAIR_BLOCK)
        mi = (i1 - i0 + 3) // 4 * 4
        mj = (j1 - j0 + 3) // 4 * 4
        diag = symmetric and bi == bj
        # packed tiles no wider than the data: short vectors (kNN of a few hundred features)
        # must not allocate, and page-fault, 2 x 1 MiB per block pair
        kw = min(PACK_COLUMNS, ncol)
        xp = np.empty((mi, kw), dtype=X.dtype)
        yp = xp if diag else np.empty((mj, kw), dtype=X.dtype)
        acc = np.zeros((mi, mj), dtype=np.float64)
        for kc in range(part * per_split, min(nkc, (part + 1) * per_split)):
            k0 = kc * PACK_COLUMNS
            k1 = min(ncol, k0 + PACK_COLUMNS)
            w = k1 - k0
            _pack(X, i0, i1, cols, k0, k1, xp)
            if not diag:
                _pack(Y, j0, j1, cols, k0, k1, yp)
            for i in range(0, mi, 4):
                x0 = xp[i]
                x1 = xp[i + 1]
                x2 = xp[i + 2]
                x3 = xp[i + 3]
                for j in range(i if diag else 0, mj, 4):
                    if squared:
                        s = _micro_sq(x0, x1, x2, x3, yp[j], yp[j + 1], yp[j + 2], yp[j + 3], w)
                    else:
                        s = _micro_l1(x0, x1, x2, x3, yp[j], yp[j + 1], yp[j + 2], yp[j + 3], w,
                                      one)
                    for a in range(4):
                        for b in range(4):
                            acc[i + a, j + b] += s[4 * a + b]
        for i in range(i1 - i0):
            for j in range(j1 - j0):
                out[part, i0 + i, j0 + j] = acc[i, j]


@numba.njit(parallel=True, nogil=True, cache=True)
def _varying_columns(X, Y, mask):  # pragma: no cover - compiled
    """mask[c] = column c is not constant over the rows of X and Y."""
    dim = X.shape[1]
    step = 4096
    for b in numba.prange((dim + step - 1) // step):
        c0 = b * step
        c1 = min(dim, c0 + step)
        ref = X[0, c0:c1].copy()
        hit = np.zeros(c1 - c0, dtype=np.bool_)
        # Two loops, not `for A in (X, Y)`: a tuple of a read-only (or memory-mapped) and a
        # writable array has two numba types and cannot be iterated.
        for i in range(X.shape[0]):
            row = X[i, c0:c1]
            for c in range(c1 - c0):
                hit[c] |= row[c] != ref[c]
        for i in range(Y.shape[0]):
            row = Y[i, c0:c1]
            for c in range(c1 - c0):
                hit[c] |= row[c] != ref[c]
        mask[c0:c1] = hit


def active_runs(X: np.ndarray, Y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Runs of columns that vary over the rows of ``X`` (and ``Y``).

    Returns ``(start, offset)``: run ``r`` covers columns ``start[r] : start[r] + offset[r + 1] -
    offset[r]``; ``offset`` (length runs + 1) is the cumulative packed length. Constant columns
    add exactly zero to L1 and L2 distances, so the kernels skip them.
    """
    mask = np.empty(X.shape[1], dtype=np.bool_)
    _varying_columns(X, X if Y is None else Y, mask)
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    start = np.flatnonzero(edges == 1).astype(np.int64)
    stop = np.flatnonzero(edges == -1).astype(np.int64)
    offset = np.concatenate(([0], np.cumsum(stop - start))).astype(np.int64)
    return start, offset


def _thread_count(n_jobs: int | None) -> int:
    avail = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None or n_jobs < 0:
        return avail if n_jobs in (None, -1) else max(1, avail + 1 + n_jobs)
    return min(max(1, n_jobs), avail)


def set_threads(n_jobs: int | None) -> int:
    """Set numba's thread count for ``n_jobs`` (None or -1: all cores); returns the value used.

    This changes the count for the rest of the process; library functions use :func:`threads`,
    which restores the previous count when the call ends.
    """
    n = _thread_count(n_jobs)
    numba.set_num_threads(n)
    return n


def restores_threads(func):
    """Decorator: ``func`` may call :func:`set_threads`; the caller's count is restored after."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        old = numba.get_num_threads()
        try:
            return func(*args, **kwargs)
        finally:
            numba.set_num_threads(old)

    return wrapper


@contextlib.contextmanager
def threads(n_jobs: int | None) -> Iterator[int]:
    """Use ``n_jobs`` numba threads inside the block and restore the previous count after.

    >>> with threads(1) as n:  # doctest: +SKIP
    ...     pairwise_block(x, None, squared=False)
    """
    old = numba.get_num_threads()
    n = _thread_count(n_jobs)
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)


def pairwise_block(X: np.ndarray, Y: np.ndarray | None, *, squared: bool) -> np.ndarray:
    """All pairwise L1 (``squared=False``) or squared-L2 distances between rows, float64.

    ``X`` and ``Y`` must be C-contiguous arrays of one float dtype. ``Y=None`` means ``Y = X``
    and computes only the upper triangle (half the work), mirrored.
    """
    symmetric = Y is None
    Yv = X if Y is None else Y
    nx, ny = X.shape[0], Yv.shape[0]
    start, offset = active_runs(X, Y)
    if offset[-1] == 0:  # every column constant: all distances are zero
        return np.zeros((nx, ny))
    nbx, nby = -(-nx // PAIR_BLOCK), -(-ny // PAIR_BLOCK)
    pairs = [(i, j) for i in range(nbx) for j in range(i if symmetric else 0, nby)]
    threads = numba.get_num_threads()
    nkc = -(-int(offset[-1]) // PACK_COLUMNS)
    # Few block pairs (small n): also split the coordinates so that every thread has work.
    nsplit = max(1, min(nkc, -(-2 * threads // len(pairs)))) if threads > 1 else 1
    items = np.array([(i, j, s) for i, j in pairs for s in range(nsplit)], dtype=np.int64)
    parts = np.zeros((nsplit, nx, ny), dtype=np.float64)
    old = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)  # dynamic scheduling: items have unequal cost
    try:
        cols = np.concatenate(
            [np.arange(s, s + offset[r + 1] - offset[r]) for r, s in enumerate(start)]
        ).astype(np.int64)
        _pairwise(X, Yv, cols, items, nsplit, squared, symmetric, np.ones(1, X.dtype), parts)
    finally:
        numba.set_parallel_chunksize(old)
    out = parts[0] if nsplit == 1 else parts.sum(axis=0)
    if symmetric:  # mirror the upper triangle, one block of rows at a time (no n x n temporary)
        for i0 in range(0, nx, PAIR_BLOCK):
            i1 = min(nx, i0 + PAIR_BLOCK)
            out[i0:i1, :i0] = out[:i0, i0:i1].T
            blk = out[i0:i1, i0:i1]
            blk[...] = np.triu(blk) + np.triu(blk, 1).T
    return out


@numba.njit(parallel=True, nogil=True, cache=True)
def _csr_step(indptr, indices, data, y1, y0, alpha, beta, gamma, out):  # pragma: no cover
    n, p = out.shape
    for i in numba.prange(n):
        row = out[i]
        for c in range(p):
            row[c] = beta * y1[i, c] + gamma * y0[i, c]
        for jj in range(indptr[i], indptr[i + 1]):
            a = alpha * data[jj]
            src = y1[indices[jj]]
            for c in range(p):
                row[c] += a * src[c]


def csr_step(a, y1: np.ndarray, y0: np.ndarray, alpha: float, beta: float, gamma: float,
             out: np.ndarray | None = None) -> np.ndarray:
    """``alpha * (a @ y1) + beta * y1 + gamma * y0`` in one threaded pass (a: CSR, y: C order).

    One step of a three-term (Chebyshev) recurrence on a block of vectors; fusing the sparse
    product with the vector updates reads each block once instead of four times.
    """
    if out is None:
        out = np.empty_like(y1)
    _csr_step(a.indptr, a.indices, a.data, y1, y0, float(alpha), float(beta), float(gamma), out)
    return out


@numba.njit(nogil=True, cache=True)
def _gather_scaled(src, idx, scale, out):  # pragma: no cover - compiled
    for i in range(src.shape[0]):
        s = scale[i]
        row = src[i]
        dst = out[i]
        for t in range(idx.shape[0]):
            dst[t] = row[idx[t]] * s


def gather_scaled(src: np.ndarray, idx: np.ndarray, scale: np.ndarray, out: np.ndarray) -> None:
    """``out[i, t] = src[i, idx[t]] * scale[i]``, cast to ``out``'s dtype (one pass, no GIL).

    ``src`` (c, M) float64 C-contiguous, ``idx`` int64, ``scale`` (c,) float64, ``out`` (c, T)
    float32 or float64 with unit stride along its rows (a column range of a larger array).
    """
    _gather_scaled(src, idx, scale, out)


@numba.njit(fastmath=True, nogil=True, cache=True)
def _row_abs_stats(rows, colmax, l1):  # pragma: no cover - compiled
    for i in range(rows.shape[0]):
        row = rows[i]
        s = 0.0
        for c in range(row.shape[0]):  # branch-free, so that it vectorises
            v = abs(row[c])
            s += v
            colmax[c] = max(colmax[c], v)
        l1[i] = s


def row_abs_stats(rows: np.ndarray, colmax: np.ndarray, l1: np.ndarray) -> None:
    """``l1[i] = sum(|rows[i]|)`` (float64) and ``colmax = max(colmax, max_i |rows[i]|)``.

    ``colmax`` has the dtype of ``rows`` (a maximum is exact in it) and is updated in place,
    so a thread can fold the rows of all of its chunks into one array while writing them.
    """
    _row_abs_stats(rows, colmax, l1)


@numba.njit(parallel=True, nogil=True, cache=True)
def _abs_stats(x, parts, l1):  # pragma: no cover - compiled
    n = x.shape[0]
    k = parts.shape[0]
    for p in numba.prange(k):  # row ranges, each with its own column maxima
        r0 = p * n // k
        r1 = (p + 1) * n // k
        _row_abs_stats(x[r0:r1], parts[p], l1[r0:r1])


def abs_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column maxima (float64) and row sums of ``|x|`` in one threaded pass, without a copy.

    Row sums are those of :func:`row_abs_stats` (same kernel, same rounding).
    """
    n, dim = x.shape
    k = max(1, min(n, numba.get_num_threads(), (1 << 28) // max(1, dim * x.itemsize)))
    parts = np.zeros((k, dim), dtype=x.dtype)
    l1 = np.empty(n)
    _abs_stats(x, parts, l1)
    return parts.max(axis=0).astype(np.float64), l1


@numba.njit(parallel=True, nogil=True, cache=True)
def _compact_rows(x, cols, flat):  # pragma: no cover - compiled
    n, dim = x.shape
    k = cols.shape[0]
    # Row i's target [i k, (i + 1) k) overlaps the sources [m D, (m + 1) D) of rows
    # m <= ((i + 1) k - 1) // D only (never of a later row), so rows [a, b) can move in
    # parallel once every row before a has: waves that grow by the factor D / k. Within a row
    # the gather is safe in place: write i k + t <= read i D + cols[t] (cols[t] >= t).
    a = 0
    while a < n:
        b = a + 1
        while b < n and ((b + 1) * k - 1) // dim < a:
            b += 1
        for i in numba.prange(a, b):
            row = x[i]
            for t in range(k):
                flat[i * k + t] = row[cols[t]]
        a = b


def compact_rows(x: np.ndarray, cols: np.ndarray) -> None:
    """In place: the first ``n * len(cols)`` entries of ``x``'s buffer become ``x[:, cols]``.

    ``x`` (n, D) C-contiguous, ``cols`` increasing int64. Afterwards
    ``x.reshape(-1)[: n * k].reshape(n, k)`` holds the selected columns row after row.
    """
    _compact_rows(x, np.ascontiguousarray(cols, dtype=np.int64), x.reshape(-1))
