r"""Compiled kernels of the product-manifold triplet search (numba).

For eigenvectors :math:`\varphi` (samples x vectors) and candidate triplets :math:`(i, j, k)`,
the search needs the inner products :math:`\langle \varphi_i \varphi_j, \varphi_k\rangle` and
the norms :math:`\|\varphi_i \varphi_j\|^2` without storing any product vector:
:func:`pair_dots` forms each product once per cache block of samples and dots it with all its
candidate third vectors; :func:`triplet_dots` scores a list of triplets, its sums over a fixed
split of the samples so that they do not depend on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["TRIPLET_BLOCK", "pair_dots", "transpose_scaled", "triplet_dots"]

#: Samples per cache block of the triplet kernel (its rows stay in L2). Public: the float32
#: error bound of the triplet search (product._triplets) depends on it.
TRIPLET_BLOCK = 512
_PB = 32  # pairs per work item of the triplet kernel


@numba.njit(fastmath=True, nogil=True, cache=True)
def _dots1(a, b, d0):  # pragma: no cover - compiled
    """sum((a b)^2), sum(a b d0): the product is never stored."""
    n2 = a[0] - a[0]
    s0 = n2
    for x in range(a.shape[0]):
        v = a[x] * b[x]
        n2 += v * v
        s0 += v * d0[x]
    return n2, s0


@numba.njit(fastmath=True, nogil=True, cache=True)
def _dots2(a, b, d0, d1):  # pragma: no cover - compiled
    n2 = a[0] - a[0]
    s0 = n2
    s1 = n2
    for x in range(a.shape[0]):
        v = a[x] * b[x]
        n2 += v * v
        s0 += v * d0[x]
        s1 += v * d1[x]
    return n2, s0, s1


@numba.njit(fastmath=True, nogil=True, cache=True)
def _dots3(a, b, d0, d1, d2):  # pragma: no cover - compiled
    n2 = a[0] - a[0]
    s0 = n2
    s1 = n2
    s2 = n2
    for x in range(a.shape[0]):
        v = a[x] * b[x]
        n2 += v * v
        s0 += v * d0[x]
        s1 += v * d1[x]
        s2 += v * d2[x]
    return n2, s0, s1, s2


@numba.njit(parallel=True, fastmath=True, nogil=True, cache=True)
def _pair_dots(phi_t, pi, pj, ptr, tk, num, norm2):  # pragma: no cover - compiled
    n = phi_t.shape[1]
    npairs = pi.shape[0]
    nchunks = (npairs + _PB - 1) // _PB
    for c in numba.prange(nchunks):
        p0 = c * _PB
        p1 = min(npairs, p0 + _PB)
        t0 = ptr[p0]
        acc = np.zeros(ptr[p1] - t0)
        nrm = np.zeros(p1 - p0)
        for x0 in range(0, n, TRIPLET_BLOCK):
            x1 = min(n, x0 + TRIPLET_BLOCK)
            for q in range(p0, p1):
                a = phi_t[pi[q], x0:x1]
                b = phi_t[pj[q], x0:x1]
                # the k of a pair in groups of up to three, fused with the product and its
                # norm: each sample of a and b is loaded once per group, not once per k
                t = ptr[q]
                end = ptr[q + 1]
                if t == end:  # a pair without triplets: only its norm
                    n2, s0 = _dots1(a, b, a)
                while t < end:
                    left = end - t
                    if left >= 3:
                        n2, s0, s1, s2 = _dots3(a, b, phi_t[tk[t], x0:x1],
                                                phi_t[tk[t + 1], x0:x1], phi_t[tk[t + 2], x0:x1])
                        acc[t - t0] += s0
                        acc[t + 1 - t0] += s1
                        acc[t + 2 - t0] += s2
                        t += 3
                    elif left == 2:
                        n2, s0, s1 = _dots2(a, b, phi_t[tk[t], x0:x1], phi_t[tk[t + 1], x0:x1])
                        acc[t - t0] += s0
                        acc[t + 1 - t0] += s1
                        t += 2
                    else:
                        n2, s0 = _dots1(a, b, phi_t[tk[t], x0:x1])
                        acc[t - t0] += s0
                        t += 1
                nrm[q - p0] += n2  # every group computes the same norm: keep the last
        num[t0:ptr[p1]] = acc
        norm2[p0:p1] = nrm


@numba.njit(parallel=True, nogil=True, cache=True)
def _transpose_scaled(x, scale, out):  # pragma: no cover - compiled
    n, m = x.shape
    for b in numba.prange((n + 63) // 64):  # 64 x 64 tiles: reads and writes stay in cache
        r0 = b * 64
        r1 = min(n, r0 + 64)
        for c0 in range(0, m, 64):
            for r in range(r0, r1):
                for c in range(c0, min(m, c0 + 64)):
                    out[c, r] = x[r, c] * scale[c]


def transpose_scaled(x: np.ndarray, scale: np.ndarray, dtype) -> np.ndarray:
    """``(x * scale).T`` as a new C-contiguous array of ``dtype``, in one threaded pass.

    Parameters
    ----------
    x : ndarray, shape (n, m)
    scale : ndarray, shape (m,)
        Multiplies column ``c`` of ``x`` (in x's precision, then rounded to ``dtype``).
    dtype : numpy dtype
        Of the result, shape (m, n).
    """
    x = np.ascontiguousarray(x)
    out = np.empty((x.shape[1], x.shape[0]), dtype=dtype)
    _transpose_scaled(x, np.ascontiguousarray(scale, dtype=x.dtype), out)
    return out


_TD_PARTS = 8  # fixed split of the samples: same sums on any number of threads


@numba.njit(parallel=True, nogil=True, cache=True)
def _triplet_dots(phi, scale, ti, tj, tk, num, norm2):  # pragma: no cover - compiled
    n = phi.shape[0]
    c = ti.shape[0]
    pnum = np.zeros((_TD_PARTS, c))
    pn2 = np.zeros((_TD_PARTS, c))
    for p in numba.prange(_TD_PARTS):
        for x in range(p * n // _TD_PARTS, (p + 1) * n // _TD_PARTS):
            row = phi[x]  # one sample of every eigenvector: the gathers below hit L1
            for q in range(c):
                v = (row[ti[q]] * scale[ti[q]]) * (row[tj[q]] * scale[tj[q]])
                pn2[p, q] += v * v
                pnum[p, q] += v * (row[tk[q]] * scale[tk[q]])
    for q in range(c):
        a = 0.0
        b = 0.0
        for p in range(_TD_PARTS):
            a += pnum[p, q]
            b += pn2[p, q]
        num[q] = a
        norm2[q] = b


def triplet_dots(phi: np.ndarray, scale: np.ndarray, ti, tj, tk) -> tuple[np.ndarray, np.ndarray]:
    r"""``num[q] = <f_{tk[q]}, p_q>``, ``norm2[q] = ||p_q||^2``, ``p_q = f_{ti[q]} f_{tj[q]}``.

    ``f_c = scale[c] phi[:, c]``. For a few triplets of a sample-major matrix (no transposed
    copy), in float64: the samples are the outer loop, so each row of ``phi`` is read once and
    the gathers stay in L1.

    Parameters
    ----------
    phi : ndarray, shape (n, N)
    scale : ndarray, shape (N,)
    ti, tj, tk : ndarray of int, shape (c,)

    Returns
    -------
    num, norm2 : ndarray, shape (c,)
    """
    ti, tj, tk = (np.ascontiguousarray(v, dtype=np.int64) for v in (ti, tj, tk))
    num = np.empty(ti.shape[0])
    norm2 = np.empty(ti.shape[0])
    if ti.shape[0]:
        _triplet_dots(np.ascontiguousarray(phi, dtype=np.float64),
                      np.ascontiguousarray(scale, dtype=np.float64), ti, tj, tk, num, norm2)
    return num, norm2


def pair_dots(phi_t: np.ndarray, pi, pj, ptr, tk) -> tuple[np.ndarray, np.ndarray]:
    r"""Numerators and squared norms of Algorithm 1 for lists of pairs and their triplets.

    For pair ``q`` = ``(pi[q], pj[q])`` with product :math:`p_q = \varphi_{i}\varphi_{j}`
    (element-wise), returns ``norm2[q] = ||p_q||^2`` and, for its triplets
    ``t in range(ptr[q], ptr[q + 1])``, ``num[t] = <phi_t[tk[t]], p_q>``. One pass over the
    samples: each product is formed once per cache block of ``TRIPLET_BLOCK`` samples and
    reused for all of its k, and no length-n product vector is ever stored.

    Parameters
    ----------
    phi_t : ndarray, shape (N, n)
        Eigenvectors as C-contiguous rows, float64 or float32. In float32 the sums run in
        float32 within each block of ``TRIPLET_BLOCK`` samples and in float64 across blocks.
    pi, pj : ndarray of int, shape (P,)
    ptr : ndarray of int, shape (P + 1,)
        Offsets of each pair's triplets in ``tk`` (non-decreasing, ``ptr[0] == 0``).
    tk : ndarray of int, shape (T,)

    Returns
    -------
    num : ndarray, shape (T,)
    norm2 : ndarray, shape (P,)
    """
    pi, pj, ptr, tk = (np.ascontiguousarray(v, dtype=np.int64) for v in (pi, pj, ptr, tk))
    num = np.empty(tk.shape[0])
    norm2 = np.empty(pi.shape[0])
    if pi.shape[0]:
        if phi_t.dtype != np.float32:
            phi_t = phi_t.astype(np.float64, copy=False)
        _pair_dots(np.ascontiguousarray(phi_t), pi, pj, ptr, tk, num, norm2)
    return num, norm2
