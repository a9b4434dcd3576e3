r"""Many top eigenpairs of a sparse symmetric matrix: Chebyshev-filtered subspace iteration.

:func:`top_eigenpairs` returns the ``m`` largest eigenpairs of a sparse symmetric ``a`` whose
spectrum lies in [-1, 1] (the symmetrised diffusion operator). ARPACK's implicitly restarted
Lanczos keeps a basis of ``2m`` vectors and works one vector at a time, which is slow for the
hundreds of eigenvectors product-manifold learning needs. Here (Zhou & Saad 2007):

1. **Spectrum estimate.** An 80-step Lanczos run from one random vector gives the Gauss
   quadrature of the spectral measure (stochastic Lanczos quadrature): its smallest node bounds
   the spectrum from below, and the nodes' weights estimate which value leaves the wanted
   number of eigenvalues above it. This replaces a Rayleigh-Ritz step on a random block as the
   first filter's cut.
2. **Filter.** A block of ``p > m`` vectors is multiplied by the degree-``d`` Chebyshev
   polynomial that stays in [-1, 1] on [lower end, cut] (the unwanted eigenvalues) and grows
   fast above it; one threaded sparse pass per degree (:func:`conformap._kernels.csr_step`),
   rows in reverse Cuthill-McKee order so that a row's neighbours are close in memory.
   Converged Ritz vectors are *locked*: kept in the basis but not filtered again.
3. **Orthonormalisation** by shifted Cholesky QR (three passes; Fukaya et al. 2020), which is
   BLAS-3: a Gram matrix (``syrk``) and a triangular product (``trmm``) per pass.
4. **Rayleigh-Ritz** on the block, until every wanted residual :math:`\|a v - \theta v\|` is
   below ``tol``.

Measured on the n = 10,000 rectangle kNN graph (15 neighbours), 401 eigenpairs: 4.0-4.4 s
(two filters of degree 40), against 9.7 s for the previous version of this solver (Rayleigh-
Ritz start, no locking, explicit triangular inverses) and 19 s for ARPACK in shift-invert mode
around 1 (sparse LU) — see docs/benchmarks.md.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.csgraph
from scipy.linalg.blas import dtrmm
from threadpoolctl import threadpool_limits

from ._kernels import csr_step

__all__ = [
    "MULTILEVEL_COARSE_N",
    "RESIDUAL_GAP_FRACTION",
    "lanczos_quadrature",
    "orthonormalize",
    "smallest_laplacian_eigenpairs",
    "top_eigenpairs",
]

_DEGREE = 40  # first filter's degree (later ones adapt): n = 10,000, 401 pairs converge in two
_LANCZOS_STEPS = 80
_CUT_FRACTION = 1.5  # first cut: leave ~1.5 p eigenvalues above it (the estimate is rough)


def _small(fn, *args, **kwargs):
    # p x p factorisations are too small for threaded BLAS: its threads' start-up and spinning
    # made them 3-7x slower in the middle of the iteration.
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(*args, **kwargs)


def orthonormalize(y: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of ``y`` (n, p) by shifted Cholesky QR, three passes.

    The shift of the first pass makes Cholesky QR stable for the badly conditioned blocks a
    polynomial filter produces; if the block is numerically rank-deficient even so, Householder
    QR (unconditionally stable, ~3x slower) takes over. Returns a new C-contiguous array
    (``y`` is not modified).
    """
    # the work array is the Fortran view yt = y.T (p, n), updated in place by trmm
    yt = np.array(y.T, order="F", dtype=np.float64, copy=True)
    yt /= np.sqrt(np.einsum("ji,ji->j", yt, yt))[:, None]
    p, n = yt.shape
    eye = np.eye(p)
    for shifted in (True, False, False):
        g = yt @ yt.T
        if shifted:
            g[np.diag_indices(p)] += 11 * (n * p + p * (p + 1)) * np.finfo(float).eps * p
        try:
            r = _small(scipy.linalg.cholesky, g, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            # The filter collapsed the block onto the dominant eigenvectors.
            return np.ascontiguousarray(scipy.linalg.qr(yt.T, mode="economic")[0])
        r_inv = _small(scipy.linalg.solve_triangular, r, eye, lower=False, check_finite=False)
        # y <- y @ r_inv, i.e. yt <- r_inv.T @ yt: trmm, half the flops of a general product
        yt = dtrmm(1.0, r_inv, yt, side=0, lower=0, trans_a=1, overwrite_b=1)
    return yt.T


def lanczos_quadrature(a, v: np.ndarray, steps: int = _LANCZOS_STEPS):
    r"""Nodes and weights of the Gauss quadrature of the spectral measure of ``a`` at ``v``.

    ``steps`` Lanczos steps with full reorthogonalisation give a tridiagonal :math:`T` with
    eigenpairs :math:`(\theta_i, s_i)`; then :math:`v^\top f(a) v / \|v\|^2 \approx \sum_i
    s_{1i}^2 f(\theta_i)`. For a random ``v`` the weights of the nodes above ``x`` estimate the
    fraction of eigenvalues above ``x`` (relative standard deviation about
    :math:`\sqrt{2/r}` for ``r`` eigenvalues), and the smallest node approaches the smallest
    eigenvalue from above.

    Returns
    -------
    nodes : ndarray, shape (s,), increasing
    weights : ndarray, shape (s,), summing to 1
        ``s <= steps`` (fewer if the Krylov space is exhausted early).
    """
    n = v.size
    steps = min(steps, n)
    basis = np.empty((steps, n))
    alpha = np.zeros(steps)
    beta = np.zeros(steps)
    q = v / np.linalg.norm(v)
    k = 0
    for k in range(steps):
        basis[k] = q
        w = a @ q
        alpha[k] = q @ w
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w -= basis[: k + 1].T @ (basis[: k + 1] @ w)
        beta[k] = np.linalg.norm(w)
        if beta[k] <= 1e-10 * max(1.0, abs(alpha[k])):
            break  # invariant subspace found: the quadrature is exact
        q = w / beta[k]
    s = k + 1
    t = np.diag(alpha[:s]) + np.diag(beta[: s - 1], 1) + np.diag(beta[: s - 1], -1)
    nodes, vecs = np.linalg.eigh(t)
    return nodes, vecs[0] ** 2


def _adapted_degree(theta, resid, tol, low, cut, degree):
    """Degree that brings every unconverged residual below ``tol`` in one more filter.

    The filter leaves the unwanted components at most 1 and multiplies the component along an
    eigenvalue theta by T_d(x), x = (2 theta - cut - low) / (cut - low), so the residual of a
    Ritz pair shrinks by about cosh(d acosh x) (Berljafa, Wortmann & Di Napoli 2015). A factor
    100 of safety (the estimate ignores the coupling between wanted vectors); the degree stays
    within [8, 2 * default].
    """
    todo = resid >= tol
    if not todo.any():
        return degree
    x = np.maximum((2 * theta[todo] - cut - low) / (cut - low), 1 + 1e-12)
    need = np.arccosh(np.maximum(100 * resid[todo] / tol, 1.0)) / np.arccosh(x)
    return int(np.clip(np.ceil(need.max()), 8, 2 * _DEGREE))


def top_eigenpairs(a, m: int, gen: np.random.Generator, *, tol: float = 1e-9,
                   degree: int = _DEGREE, max_iter: int = 60):
    """Largest ``m`` eigenpairs of the sparse symmetric ``a`` (spectrum in [-1, 1]).

    Parameters
    ----------
    a : sparse matrix, shape (n, n)
    m : int
        Number of eigenpairs, ``m < n``.
    gen : numpy Generator
        For the random start block and Lanczos vector (same seed, same result).
    tol : float
        Largest accepted residual norm :math:`\\|a v - \\theta v\\|` (unit ``v``).

    Returns
    -------
    values : ndarray, shape (m,), descending
    vectors : ndarray, shape (n, m), orthonormal columns

    Raises
    ------
    RuntimeError
        If the residuals are not below ``tol`` after ``max_iter`` filters.
    """
    n = a.shape[0]
    perm = sp.csgraph.reverse_cuthill_mckee(sp.csr_matrix(a), symmetric_mode=True)
    a = sp.csr_matrix(a[perm][:, perm])
    a.sort_indices()
    p = min(n, m + max(20, m // 5))
    nodes, weights = lanczos_quadrature(a, gen.standard_normal(n))
    low = max(-1.0, float(nodes[0]) - 0.05)
    tail = np.cumsum(weights[::-1])  # estimated fraction of the spectrum above each node
    cut = float(nodes[::-1][min(np.searchsorted(tail, _CUT_FRACTION * p / n), nodes.size - 1)])
    v = gen.standard_normal((n, p))
    resid = np.full(m, np.inf)
    for it in range(max_iter + 1):
        if it > 0:  # Rayleigh-Ritz on the orthonormal block
            av = csr_step(a, v, v, 1.0, 0.0, 0.0)
            h = v.T @ av
            theta, q = _small(scipy.linalg.eigh, (h + h.T) * 0.5, check_finite=False)
            theta, q = theta[::-1], q[:, ::-1]
            v = v @ q
            r = csr_step(a, v, v, 1.0, 0.0, 0.0)  # cheaper than (a v) @ q on sparse a
            r -= v * theta
            resid = np.sqrt(np.einsum("ij,ij->j", r[:, :m], r[:, :m]))
            if resid.max() < tol:
                break
            if it == max_iter:
                raise RuntimeError(
                    f"eigen_solver: the top {m} eigenpairs did not converge in {max_iter} "
                    f"filter steps (largest residual {resid.max():.2g}); use "
                    "eigen_solver='dense' or fewer components"
                )
            cut = min(float(theta[-1]), float(theta[m - 1]) - 1e-3)
            degree = _adapted_degree(theta[:m], resid, tol, low, cut, degree)
        half, mid = (cut - low) / 2, (cut + low) / 2
        locked = np.zeros(p, dtype=bool)
        locked[:m] = resid < tol
        y0 = np.ascontiguousarray(v[:, ~locked])
        y1 = csr_step(a, y0, y0, 1 / half, -mid / half, 0.0)
        for _ in range(degree - 1):
            y0, y1 = y1, csr_step(a, y1, y0, 2 / half, -2 * mid / half, -1.0, out=y0)
        # locked vectors first: Cholesky QR then leaves them (almost) unchanged
        v = orthonormalize(np.concatenate([v[:, locked], y1], axis=1) if locked.any() else y1)
    out = np.empty((n, m))
    out[perm] = v[:, :m]
    return theta[:m], out


# -- smallest eigenpairs of a large sparse normalised Laplacian: multilevel start + LOBPCG -----

#: Coarsen until at most this many nodes remain; that level is solved densely.
MULTILEVEL_COARSE_N = 1500
#: LOBPCG iterations per level before the result is accepted or refused.
_LOBPCG_MAXITER = 200
#: The residual asked is also at most this fraction of the smallest non-zero eigenvalue (the
#: coarse level's estimate): an eigenvector's error is about its residual over the gap to the
#: next eigenvalue, and the leading gaps are of the order of that eigenvalue. On a kNN graph of
#: a clean curve the wanted eigenvalues are O((k/n)^2) of the spectrum's scale, below the
#: scale-relative ``tol``: measured on a clean clustered circle (1-degree dwells, n = 100,000),
#: the residual 1e-6 of the scale alone gave 1.58 / 2.57 degrees median / p90 where
#: shift-invert gives 0.07 / 0.21; with this bound 0.06 / 0.20 (docs/large-n/README.md).
RESIDUAL_GAP_FRACTION = 1e-3


def _aggregate(a, gen: np.random.Generator) -> np.ndarray:
    """Aggregates of the graph of ``a``: a maximal independent set of roots (random priority,
    Luby's rounds, vectorised), each other node joined to its most strongly connected root.
    Returns the aggregate index of every node, shape (n,). Deterministic given ``gen``."""
    n = a.shape[0]
    a = sp.csr_matrix(a)
    rows = np.repeat(np.arange(n), np.diff(a.indptr))
    off = a.indices != rows
    rows, cols, wts = rows[off], a.indices[off], np.abs(a.data[off])
    prio = gen.permutation(n).astype(np.int64) + 1
    state = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 root, 2 covered
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows
    for _ in range(64):
        und = state == 0
        if not und.any():
            break
        # a node becomes a root if its priority beats every undecided neighbour's
        nb = np.zeros(n, dtype=np.int64)
        if rows.size:  # rows are sorted (CSR order): a segmented maximum
            nb[rows[starts]] = np.maximum.reduceat(np.where(und[cols], prio[cols], 0), starts)
        new = und & (prio > nb)
        state[new] = 1
        covered = np.zeros(n, dtype=bool)
        covered[cols[new[rows]]] = True
        state[(state == 0) & covered] = 2
    state[state == 0] = 1  # (not reached on a graph; isolated nodes are their own root)
    roots = np.flatnonzero(state == 1)
    agg = np.full(n, -1, dtype=np.int64)
    agg[roots] = np.arange(roots.size)
    to_root = (state[cols] == 1) & (state[rows] == 2)
    r, c, w = rows[to_root], cols[to_root], wts[to_root]
    order = np.lexsort((-w, r))  # per row, strongest edge to a root first
    r, c = r[order], c[order]
    first = np.r_[True, r[1:] != r[:-1]]
    agg[r[first]] = agg[c[first]]
    lone = agg < 0  # covered nodes without a root edge cannot occur; keep them apart anyway
    agg[lone] = roots.size + np.arange(int(lone.sum()))
    return agg


def _vcycle(levels, coarse_inv, lev: int, r: np.ndarray) -> np.ndarray:
    """One V-cycle of unsmoothed aggregation AMG for ``levels[lev]`` applied to ``r``: Jacobi
    pre- and post-smoothing, the residual restricted by the prolongation's transpose, the
    coarsest level solved by its pseudo-inverse (the operators are singular)."""
    a, _, p = levels[lev]
    dinv = 1.0 / a.diagonal()
    r2 = r if r.ndim == 2 else r[:, None]
    omega = 2.0 / 3.0
    x = omega * dinv[:, None] * r2
    x += omega * dinv[:, None] * (r2 - a @ x)
    rc = p.T @ (r2 - a @ x)
    ec = coarse_inv @ rc if lev == len(levels) - 1 else _vcycle(levels, coarse_inv, lev + 1, rc)
    x += p @ ec
    x += omega * dinv[:, None] * (r2 - a @ x)
    x += omega * dinv[:, None] * (r2 - a @ x)
    return x if r.ndim == 2 else x[:, 0]


def smallest_laplacian_eigenpairs(lap, m: int, null: np.ndarray, gen: np.random.Generator, *,
                                  tol: float = 1e-6, coarse_n: int = MULTILEVEL_COARSE_N):
    r"""Smallest ``m`` eigenpairs of a large sparse normalised graph Laplacian, no factorisation.

    ``lap`` is symmetric positive semi-definite with the known null vector ``null``
    (:math:`M^{1/2} 1` for :math:`M^{-1/2}(D - W)M^{-1/2}`). Shift-invert Lanczos needs a
    sparse LU whose fill-in grows faster than n once the kNN graph is locally more than 1-D,
    and plain Lanczos on the smallest eigenvalues of a graph of a curve needs O(n / k)
    iterations (the wanted eigenvalues are :math:`O((k/n)^2)` of the spectrum's width). Here:

    1. **Coarsen** (algebraic aggregation): roots a maximal independent set, every other node
       joined to its most strongly connected root; the prolongation :math:`P_{ij} = z_i /
       \|z_{A_j}\|` (``z`` the null vector) keeps the null vector exact on every level, and the
       coarse operator is the Galerkin :math:`P^\top L P`. Repeated until ``coarse_n`` nodes.
    2. **Solve** the coarsest level densely (``eigh``).
    3. **Refine**: prolong the eigenvectors one level up and improve them there by LOBPCG
       (the null vector as a constraint), down to the given graph. The prolonged vectors are
       already right on the scale of the aggregates, so each level needs few iterations: the
       work is a few tens of sparse block products on every level, O(nnz) in all.

    The accuracy asked is ``tol`` on the residual :math:`\|L v - \lambda v\|` relative to
    the largest diagonal entry (the spectrum's scale), and at most
    :data:`RESIDUAL_GAP_FRACTION` of the smallest non-zero eigenvalue: eigenvector errors are
    about the residual over the gap to the next eigenvalue.

    Returns
    -------
    values : ndarray, shape (m,), ascending, the first 0
    vectors : ndarray, shape (n, m), orthonormal, the first ``null / ||null||``

    Raises
    ------
    RuntimeError
        If LOBPCG does not reach ``tol`` on the given graph (the caller falls back).
    """
    import scipy.sparse.linalg as sla

    levels = []  # (operator, null vector, prolongation to the next coarser level)
    a = sp.csr_matrix(lap)
    z = np.asarray(null, dtype=np.float64)
    while a.shape[0] > coarse_n:
        agg = _aggregate(a, gen)
        nc = int(agg.max()) + 1
        if nc > 0.7 * a.shape[0]:  # coarsening stalled (a graph without neighbours)
            break
        norms = np.sqrt(np.bincount(agg, weights=z * z, minlength=nc))
        p = sp.csr_matrix((z / norms[agg], (np.arange(a.shape[0]), agg)),
                          shape=(a.shape[0], nc))
        levels.append((a, z, p))
        a = sp.csr_matrix(p.T @ a @ p)
        a = (a + a.T) * 0.5
        z = norms
    ad = a.toarray()
    ad = (ad + ad.T) * 0.5
    with threadpool_limits(limits=1, user_api="blas"):
        vals, vecs = scipy.linalg.eigh(ad, subset_by_index=[0, min(m, ad.shape[0]) - 1])
        coarse_inv = scipy.linalg.pinvh(ad)
    x = vecs[:, 1:m]  # the null vector is the constraint on every level
    # absolute residual asked: tol of the spectrum's scale, and a fraction of the smallest
    # non-zero eigenvalue (coarse Galerkin eigenvalues are upper bounds of the fine ones)
    lam1 = float(vals[1]) if vals.size > 1 else np.inf
    want = min(tol * float(sp.csr_matrix(lap).diagonal().max()), RESIDUAL_GAP_FRACTION * lam1)
    for lev in range(len(levels) - 1, -1, -1):
        a, z, p = levels[lev]
        x = p @ x
        y = (z / np.linalg.norm(z))[:, None]
        scale = float(a.diagonal().max())
        x -= y @ (y.T @ x)
        prec = sla.LinearOperator(a.shape,
                                  matvec=lambda r, lev=lev: _vcycle(levels, coarse_inv, lev, r),
                                  matmat=lambda r, lev=lev: _vcycle(levels, coarse_inv, lev, r),
                                  dtype=np.float64)
        vals, x = sla.lobpcg(a, x, Y=y, M=prec, tol=min(tol * scale, want),
                             maxiter=_LOBPCG_MAXITER, largest=False)
    a = sp.csr_matrix(lap)
    r = a @ x - x * vals
    resid = np.linalg.norm(r, axis=0)
    if not levels or resid.max() > want * 10:
        raise RuntimeError(f"multilevel LOBPCG: residual {resid.max():.2g} above {want:.2g}")
    order = np.argsort(vals)
    y = np.asarray(null, dtype=np.float64)
    y = y / np.linalg.norm(y)
    return np.r_[0.0, vals[order]], np.column_stack([y, x[:, order]])
