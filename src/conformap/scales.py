r"""Local scales and Gaussian affinities: the kernel half of the graph builder.

:mod:`conformap.graph` decides *which* bandwidth and neighbours a graph uses; this module holds
the pure array functions it calls: the adaptive local scales :math:`\rho_i`
(:func:`local_scales`), the intrinsic-dimension estimate of the normalisation
(:func:`intrinsic_dimension`), the kernel itself (:func:`gaussian_affinity`,
:func:`dense_kernel`, :func:`knn_kernel`) and the exact dropped-mass measurement of a
truncated kernel (:func:`dropped_mass_block`).

The kernel is

.. math:: K_{ij} = \exp\!\Big(-\frac{d_{ij}^2}{2\rho_i\rho_j}\Big),

with :math:`\rho_i \equiv \sigma` for a fixed bandwidth. Affinities below
:data:`AFFINITY_FLOOR` are stored as exact zeros, and a dense kernel that is mostly zeros is
returned as a sparse matrix (:data:`SPARSE_KERNEL_DENSITY`): the same operator, solved in
``O(nnz)`` instead of ``O(n^2)`` per step.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "AFFINITY_FLOOR",
    "SPARSE_KERNEL_DENSITY",
    "dense_kernel",
    "dense_neighbors",
    "dropped_mass_block",
    "gaussian_affinity",
    "intrinsic_dimension",
    "knn_kernel",
    "local_scales",
    "mass_beyond",
]

#: Affinities below this are stored as exact zeros: tiny entries made the dense Cholesky
#: factorisation run into subnormal numbers, 100x slower (2.7-3.6 s instead of ~0.03 s at
#: n = 1000), and such a value cannot change a row sum (>= 1, the self-affinity) in double
#: precision beyond n * 1e-16.
AFFINITY_FLOOR = 1e-16
#: A dense kernel with at most this fraction of non-zero entries (after the floor) is returned
#: as a CSR matrix: the adaptive kernel at n = 3,000 on a circle keeps ~3 % of its entries,
#: and the sparse solve is then several times faster than the dense Cholesky
#: (``docs/large-n/README.md``, dense speed).
SPARSE_KERNEL_DENSITY = 0.10
_LOG_FLOOR = -40.0
#: Rows per block of the dense kernel (bounds the temporaries to a few MB).
_KERNEL_BLOCK = 512


def local_scales(neighbor_distances: np.ndarray, scale_neighbor: int) -> np.ndarray:
    """Adaptive scale of each row: distance to its ``scale_neighbor``-th nearest neighbour.

    ``neighbor_distances`` is (n, k), ascending. Zero scales (more than ``scale_neighbor``
    duplicates) fall back to the row's smallest positive distance, then to the median scale.
    """
    d = np.asarray(neighbor_distances, dtype=np.float64)
    j = min(scale_neighbor, d.shape[1]) - 1
    rho = d[:, j].copy()
    bad = rho <= 0
    if bad.any():
        pos = np.where(d[bad] > 0, d[bad], np.inf).min(axis=1)
        rho[bad] = pos
        bad = ~np.isfinite(rho) | (rho <= 0)
        if bad.all():
            raise ValueError(
                "distances: every item has more identical copies than neighbours, so no "
                "local scale exists; remove duplicates or use a fixed bandwidth"
            )
        rho[bad] = np.median(rho[~bad])
    return rho


def intrinsic_dimension(neighbor_distances: np.ndarray, *, sparsest: float = 1.0) -> float:
    r"""Levina-Bickel maximum-likelihood dimension from (n, k) ascending neighbour distances.

    :math:`\hat m = \big[\frac{1}{|I|(k-1)} \sum_{i \in I} \sum_{j<k} \log(r_k(i) /
    r_j(i))\big]^{-1}` (the pooled form of MacKay & Ghahramani) over the rows :math:`I` whose
    :math:`r_k` is among the largest ``sparsest`` share (1: every row; the graph builder's
    normalisation uses :data:`conformap.graph.DIMENSION_SPARSEST`); rows with zero distances
    are skipped. Returned unrounded.

    Why a share of the rows: noise of a fixed width :math:`\sigma` makes a curve look
    two-dimensional (or ambient-dimensional) at scales below :math:`\sigma`. Where the
    sampling is dense (a dwell of the rotor) the ``k`` nearest neighbours lie within the
    noise and the pooled estimate of a noisy circle is 1.4-1.7; the sparsest rows, whose
    neighbourhoods reach furthest, see the curve (1.0-1.2).
    """
    d = np.asarray(neighbor_distances, dtype=np.float64)
    if d.shape[1] < 3:
        return 1.0
    rk = d[:, -1:]
    ok = (d[:, :-1] > 0).all(axis=1) & (rk[:, 0] > 0)
    if not ok.any():
        return 1.0
    if sparsest < 1.0:
        if not sparsest > 0.0:
            raise ValueError(f"sparsest: expected a share in (0, 1], got {sparsest}")
        ok &= rk[:, 0] >= np.quantile(rk[ok, 0], 1.0 - sparsest)
    logs = np.log(rk[ok] / d[ok, :-1])
    mean = float(logs.mean())
    return 1.0 / mean if mean > 0 else 1.0


def gaussian_affinity(d: np.ndarray, s2: np.ndarray | float) -> np.ndarray:
    r""":math:`\exp(-d^2 / (2 s^2))` elementwise, entries below :data:`AFFINITY_FLOOR` zeroed.

    ``s2`` is :math:`\rho_i\rho_j` (broadcast against ``d``) or :math:`\sigma^2`.
    """
    k = np.exp(-(d * d) / (2.0 * s2))
    k[k < AFFINITY_FLOOR] = 0.0
    return k


def dense_kernel(d: np.ndarray, scales: np.ndarray):
    r"""The complete kernel of an (n, n) distance matrix with scales :math:`\rho` (n,).

    Computed block by block in place (one n x n output, no n x n temporaries); returned as a
    CSR matrix when at most :data:`SPARSE_KERNEL_DENSITY` of its entries are non-zero, else
    as an ndarray. The diagonal is 1 either way.
    """
    n = d.shape[0]
    out = np.empty((n, n), dtype=np.float64)
    inv = 1.0 / np.asarray(scales, dtype=np.float64)
    nnz = 0
    for a in range(0, n, _KERNEL_BLOCK):
        b = min(n, a + _KERNEL_BLOCK)
        blk = out[a:b]
        np.multiply(d[a:b], d[a:b], out=blk)
        blk *= (-0.5 * inv[a:b])[:, None]
        blk *= inv[None, :]
        # exponents below log(floor) ~ -36.8 give zeros anyway; clipping them first keeps exp
        # away from its slow underflow path (2.5x faster at n = 3,000)
        np.maximum(blk, _LOG_FLOOR, out=blk)
        np.exp(blk, out=blk)
        blk[blk < AFFINITY_FLOOR] = 0.0
        nnz += int(np.count_nonzero(blk))
    out[np.arange(n), np.arange(n)] = 1.0
    if nnz <= SPARSE_KERNEL_DENSITY * n * n:
        return sp.csr_matrix(out)
    return out


def dense_neighbors(d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other items in an (n, n) distance matrix, ascending.

    Returns ``(indices (n, k) int64, distances (n, k))``; row blocks keep the temporaries
    small.
    """
    n = d.shape[0]
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k))
    for a in range(0, n, _KERNEL_BLOCK):
        b = min(n, a + _KERNEL_BLOCK)
        blk = d[a:b].copy()
        blk[np.arange(b - a), np.arange(a, b)] = np.inf
        part = np.argpartition(blk, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(blk, part, axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        idx[a:b] = np.take_along_axis(part, order, axis=1)
        dist[a:b] = np.take_along_axis(vals, order, axis=1)
    return idx, dist


def knn_kernel(n: int, idx: np.ndarray, dist: np.ndarray, scales: np.ndarray) -> sp.csr_matrix:
    """Sparse kernel on the stored (union-symmetrised) kNN pattern, unit diagonal.

    ``idx``, ``dist``: (n, k) neighbour indices and distances. Exact zeros (duplicates, or
    affinities below the floor) stay stored as the smallest positive float, so the pattern is
    the kNN relation.
    """
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    vals = gaussian_affinity(dist.ravel(), scales[rows] * scales[cols])
    vals = np.maximum(vals, np.finfo(float).tiny)
    k = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    k = k.maximum(k.T).tolil()
    k.setdiag(1.0)
    return k.tocsr()


def dropped_mass_block(X, rows, graph_indices, scales, lp: str) -> np.ndarray:
    """Exact fraction of kernel mass not stored, for the given ``rows``: pure.

    ``graph_indices`` is the CSR (indptr, indices) of the stored pattern.
    """
    from .distances import pairwise_distances

    indptr, indices = graph_indices
    d = pairwise_distances(X[rows], X, metric=lp)
    k = gaussian_affinity(d, scales[rows][:, None] * scales[None, :])
    k[np.arange(rows.size), rows] = 0.0
    total = k.sum(axis=1)
    stored = np.array([k[a, indices[indptr[r]:indptr[r + 1]]].sum() for a, r in enumerate(rows)])
    return np.clip(1.0 - stored / np.maximum(total, 1e-300), 0.0, 1.0)


def mass_beyond(kernel, pattern) -> np.ndarray:
    r"""Per row, the share of the kernel's off-diagonal mass outside a sparsity ``pattern``.

    ``kernel``: the complete (n, n) kernel (ndarray or CSR, as :func:`dense_kernel` returns
    it); ``pattern``: a sparse (n, n) matrix whose stored entries are the kept pairs (a kNN
    graph's kernel, or its neighbour relation). Returns
    :math:`1 - \sum_{j \in P_i, j \ne i} K_{ij} / \sum_{j \ne i} K_{ij}`, shape (n,)
    (0 for a row without off-diagonal mass): the dropped mass of a truncation to ``pattern``
    on every row, where :func:`dropped_mass_block` measures sampled rows from features.
    """
    k = sp.csr_matrix(kernel) if sp.issparse(kernel) else np.asarray(kernel)
    n = k.shape[0]
    pat = sp.coo_matrix(pattern)
    off = pat.row != pat.col
    r, c = pat.row[off], pat.col[off]
    vals = np.asarray(k[r, c]).ravel()
    stored = np.bincount(r, weights=vals, minlength=n)
    total = np.asarray(k.sum(axis=1)).ravel() - np.asarray(k.diagonal()).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 1.0 - stored / total, 0.0)
    return np.clip(out, 0.0, 1.0)
