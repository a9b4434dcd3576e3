r"""Diffusion maps (Coifman & Lafon 2006) on any distance matrix.

Given distances :math:`d_{ij}` and a bandwidth :math:`\sigma`:

.. math::

    K_{ij} = e^{-d_{ij}^2 / (2\sigma^2)}, \qquad
    q_i = \sum_j K_{ij}, \qquad
    K^{(\alpha)}_{ij} = \frac{K_{ij}}{q_i^\alpha q_j^\alpha}, \qquad
    P = D_\alpha^{-1} K^{(\alpha)},\ (D_\alpha)_{ii} = \sum_j K^{(\alpha)}_{ij}.

``alpha=1`` (the paper's choice) removes the effect of the sampling density: :math:`I - P`
converges to the Laplace-Beltrami operator, so a circle sampled mostly near three angles still
embeds as a round circle. ``alpha=0`` is the plain random-walk Laplacian of Laplacian eigenmaps.

:math:`P` is similar to the symmetric :math:`A = D_\alpha^{-1/2} K^{(\alpha)} D_\alpha^{-1/2}`;
we solve :math:`A v_k = \mu_k v_k` (dense ``eigh`` or sparse ``eigsh``) and return the right
eigenvectors of :math:`P`, :math:`\psi_k = v_k / v_0` (so :math:`\psi_0 \equiv 1` and
:math:`\sum_i \pi_i \psi_k(i)^2 = 1` with :math:`\pi = v_0^2` the stationary distribution).
The diffusion map at time :math:`t` is :math:`x_i \mapsto (\mu_1^t \psi_1(i), \dots,
\mu_k^t \psi_k(i))`; ``t=0`` gives Laplacian eigenmaps. ``eigenvalues`` are the :math:`\mu_k`
(1 = trivial, descending); the Laplacian eigenvalues are :math:`1 - \mu_k`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.csgraph
import scipy.sparse.linalg

from ._eigensolver import top_eigenpairs
from ._validation import check_choice, check_int, check_positive, check_rng
from .bandwidth import BANDWIDTH_RULES, select_bandwidth

__all__ = ["DiffusionMapResult", "diffusion_map", "nystrom_extension"]

#: Kernel values below this are treated as "no edge" when counting graph components.
_EDGE_EPS = 1e-12


@dataclass(frozen=True)
class DiffusionMapResult:
    """Everything :func:`diffusion_map` computes.

    Attributes
    ----------
    embedding : ndarray, shape (n, n_components)
        Diffusion coordinates :math:`\\mu_k^t \\psi_k`, k = 1..n_components.
    eigenvalues : ndarray, shape (n_components + 1,)
        Markov eigenvalues :math:`\\mu_0 = 1 \\ge \\mu_1 \\ge \\dots`, trivial one included.
    eigenvectors : ndarray, shape (n, n_components + 1)
        :math:`\\psi_k`, column 0 the constant one.
    bandwidth : float
        The :math:`\\sigma` used.
    kernel_degrees : ndarray, shape (n,)
        :math:`q_i` (needed for the Nystrom extension).
    alpha, t : float
        The normalisation and diffusion time used.
    """

    embedding: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    bandwidth: float
    kernel_degrees: np.ndarray
    alpha: float
    t: float


def _check_distances(distances):
    if sp.issparse(distances):
        d = sp.csr_matrix(distances, dtype=np.float64)
        if d.shape[0] != d.shape[1]:
            raise ValueError(f"distances: must be square (n, n), got shape {d.shape}")
        if not np.isfinite(d.data).all() or (d.data < 0).any():
            raise ValueError("distances: contains negative, NaN or infinite entries")
        return d
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(
            f"distances: must be a square (n, n) matrix, got shape {d.shape}; for feature "
            "vectors use conformap.pairwise_distances first, or DiffusionMap(metric=...)"
        )
    if not np.isfinite(d).all():
        raise ValueError("distances: contains NaN or infinite entries")
    if (d < 0).any():
        raise ValueError(f"distances: contains negative entries (min {d.min():.3g})")
    if not np.allclose(d, d.T, rtol=1e-6, atol=1e-12 * max(1.0, float(d.max()))):
        raise ValueError("distances: matrix is not symmetric; pass (d + d.T) / 2 if intended")
    return d


def _kernel(distances, sigma: float):
    """Gaussian kernel with self-loops; sparse input gives a symmetric (union) sparse kernel."""
    if sp.issparse(distances):
        k = distances.copy()
        k.data = np.exp(-(k.data**2) / (2 * sigma * sigma))
        k = k.maximum(k.T).tolil()
        k.setdiag(1.0)
        return k.tocsr()
    return np.exp(-(distances**2) / (2 * sigma * sigma))


def _check_kernel(k, sigma: float, n: int) -> None:
    offdiag = k - sp.eye(n, format="csr") if sp.issparse(k) else k - np.eye(n)
    vals = offdiag.data if sp.issparse(offdiag) else offdiag[~np.eye(n, dtype=bool)]
    if vals.size and vals.max() < _EDGE_EPS:
        raise ValueError(
            f"bandwidth: sigma={sigma:.4g} makes every affinity (numerically) zero; use a larger "
            "bandwidth (e.g. bandwidth='auto')"
        )
    if vals.size and vals.min() > 1 - 1e-9:
        raise ValueError(
            f"bandwidth: sigma={sigma:.4g} makes every affinity (numerically) one, so the "
            "embedding carries no information; use a smaller bandwidth (e.g. bandwidth='auto')"
        )
    graph = offdiag if sp.issparse(offdiag) else sp.csr_matrix(offdiag * (offdiag > _EDGE_EPS))
    if sp.issparse(graph):
        graph = graph.multiply(graph > _EDGE_EPS)
    n_comp, labels = sp.csgraph.connected_components(graph, directed=False)
    if n_comp > 1:
        sizes = np.bincount(labels)
        order = np.argsort(sizes)[::-1]
        small = np.flatnonzero(labels == order[-1])[:5].tolist()
        raise ValueError(
            f"the affinity graph falls apart into {n_comp} disconnected pieces (sizes "
            f"{sorted(sizes.tolist(), reverse=True)[:6]}) at bandwidth sigma={sigma:.4g}; "
            "the embedding would only separate the pieces. Increase the bandwidth (or "
            f"n_neighbors on the sparse path), or remove outlying items (e.g. {small})"
        )


#: Up to this many eigenpairs the sparse path uses ARPACK; above, filtered subspace iteration.
_ARPACK_MAX = 40
#: Above this mean number of stored entries per row, ARPACK is used whatever the count.
_FILTER_MAX_ROW_NNZ = 64


def _deterministic_signs(vectors: np.ndarray) -> np.ndarray:
    # Flip each column so that its entry of largest magnitude is positive.
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1
    return vectors * signs


def diffusion_map(
    distances,
    *,
    n_components: int = 2,
    alpha: float = 1.0,
    t: float = 0.0,
    bandwidth: float | str = "auto",
    eigen_solver: str = "auto",
    rng=None,
) -> DiffusionMapResult:
    """Diffusion map of a distance matrix (see the module docstring for the math).

    Parameters
    ----------
    distances : ndarray of shape (n, n), or sparse matrix of shape (n, n)
        Dense symmetric distances, or sparse k-nearest-neighbour distances (symmetrised by
        union; see :func:`conformap.kneighbors_distances`).
    n_components : int, default 2
        Number of non-trivial coordinates.
    alpha : float in [0, 1], default 1
        Coifman-Lafon density normalisation.
    t : float >= 0, default 0
        Diffusion time; 0 gives Laplacian eigenmaps.
    bandwidth : float or {"auto", "kernel-sum", "mst", "median", "knn"}, default "auto"
        Kernel width sigma, or a rule of :func:`conformap.select_bandwidth`.
    eigen_solver : {"auto", "dense", "sparse"}
        "dense" uses ``scipy.linalg.eigh`` (any input), "sparse" ARPACK ``eigsh`` (sparse
        input); "auto" picks by input type.
    rng : int or numpy Generator, optional
        Seeds ARPACK's start vector (sparse solver) so results are reproducible.

    Returns
    -------
    DiffusionMapResult
    """
    d = _check_distances(distances)
    n = d.shape[0]
    k = check_int(n_components, "n_components", low=1)
    if k + 2 > n:
        raise ValueError(
            f"n_components: {k} needs at least {k + 2} items (got {n}); use fewer components "
            "or more data"
        )
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    if alpha > 1:
        raise ValueError(f"alpha: {alpha} is out of range; use a value in [0, 1] (1 = paper)")
    t = check_positive(t, "t", allow_zero=True)
    solver = check_choice(eigen_solver, "eigen_solver", ["auto", "dense", "sparse"])
    if solver == "auto":
        solver = "sparse" if sp.issparse(d) and n > 2 * k + 10 else "dense"
    if isinstance(bandwidth, str):
        sigma = select_bandwidth(d, rule=check_choice(bandwidth, "bandwidth", BANDWIDTH_RULES))
    else:
        sigma = check_positive(bandwidth, "bandwidth")

    kern = _kernel(d, sigma)
    _check_kernel(kern, sigma, n)
    q = np.asarray(kern.sum(axis=1)).ravel()
    if sp.issparse(kern):
        qa = sp.diags(q**-alpha)
        ka = sp.csr_matrix(qa @ kern @ qa)
        deg = np.asarray(ka.sum(axis=1)).ravel()
        s = sp.diags(deg**-0.5)
        a = sp.csr_matrix(s @ ka @ s)
        a = (a + a.T) * 0.5  # exact symmetry for the Lanczos solver
    else:
        qa = q**-alpha
        ka = kern * qa[:, None] * qa[None, :]
        deg = ka.sum(axis=1)
        s = deg**-0.5
        a = ka * s[:, None] * s[None, :]
        a = (a + a.T) * 0.5

    m = k + 1
    if solver == "dense":
        a_dense = a.toarray() if sp.issparse(a) else a
        mu, v = scipy.linalg.eigh(a_dense, subset_by_index=[n - m, n - 1])
    else:
        gen = check_rng(rng)
        a_sp = sp.csr_matrix(a)
        # Cost model: the filtered iteration does ~24 sparse block products per step, so it
        # wins on sparse kNN graphs (n = 10,000, 15 neighbours, 401 pairs: ~4 s vs ARPACK's
        # 21 s) and loses on dense radius graphs (n = 5000, 854 entries per row, 101 pairs:
        # 69 s vs 3.5 s), where ARPACK's single products per Lanczos step are cheap by comparison.
        if m <= _ARPACK_MAX or a_sp.nnz > _FILTER_MAX_ROW_NNZ * n:
            v0 = gen.uniform(-1, 1, n)
            mu, v = scipy.sparse.linalg.eigsh(a_sp, k=m, which="LA", v0=v0, tol=1e-10)
        else:
            mu, v = top_eigenpairs(a_sp, m, gen)
    order = np.argsort(mu)[::-1]
    mu, v = mu[order], v[:, order]
    # The top eigenvector of A is sqrt(deg) up to sign: use the exact one for psi = v / v0.
    v0_exact = np.sqrt(deg / deg.sum())
    psi = v / v0_exact[:, None]
    psi[:, 0] = 1.0
    psi[:, 1:] = _deterministic_signs(psi[:, 1:])
    mu = np.clip(mu, -1.0, 1.0)
    mu[0] = 1.0
    embedding = psi[:, 1:] * (np.abs(mu[1:]) ** t if t else 1.0)
    return DiffusionMapResult(
        embedding=embedding,
        eigenvalues=mu,
        eigenvectors=psi,
        bandwidth=float(sigma),
        kernel_degrees=q,
        alpha=alpha,
        t=t,
    )


def nystrom_extension(distances_new, result: DiffusionMapResult) -> np.ndarray:
    r"""Out-of-sample diffusion coordinates of new items (Nystrom extension).

    For a new item :math:`y` with distances :math:`d(y, x_i)` to the training items,

    .. math::

        \psi_k(y) = \frac{1}{\mu_k} \sum_i p(y, x_i)\, \psi_k(x_i), \quad
        p(y, x_i) \propto \frac{K(y, x_i)}{q(y)^\alpha q_i^\alpha},

    which reproduces :math:`\psi_k(x_i)` exactly when :math:`y = x_i` (dense fit).

    Parameters
    ----------
    distances_new : ndarray of shape (m, n) or sparse (m, n)
        Distances from each new item to the ``n`` training items (sparse: only the stored
        neighbours are used).
    result : DiffusionMapResult
        The fit.

    Returns
    -------
    ndarray, shape (m, n_components)
    """
    n = result.eigenvectors.shape[0]
    sigma, alpha = result.bandwidth, result.alpha
    if sp.issparse(distances_new):
        kn = sp.csr_matrix(distances_new, dtype=np.float64).copy()
        kn.data = np.exp(-(kn.data**2) / (2 * sigma * sigma))
    else:
        dn = np.asarray(distances_new, dtype=np.float64)
        if dn.ndim != 2 or dn.shape[1] != n:
            raise ValueError(
                f"distances_new: expected shape (m, {n}) (distances to the training items), "
                f"got {dn.shape}"
            )
        kn = np.exp(-(dn**2) / (2 * sigma * sigma))
    if kn.shape[1] != n:
        raise ValueError(f"distances_new: expected {n} columns, got {kn.shape[1]}")
    qy = np.asarray(kn.sum(axis=1)).ravel()
    far = np.flatnonzero(qy < _EDGE_EPS)
    if far.size:
        raise ValueError(
            f"new item {far[0]} is too far from every training item (all affinities ~0 at "
            f"sigma={sigma:.4g}) to be placed; {far.size} item(s) affected"
        )
    qi = result.kernel_degrees
    if sp.issparse(kn):
        ka = sp.diags(qy**-alpha) @ kn @ sp.diags(qi**-alpha)
        p = sp.diags(1.0 / np.asarray(ka.sum(axis=1)).ravel()) @ ka
        ext = np.asarray(p @ result.eigenvectors[:, 1:])
    else:
        ka = kn * (qy[:, None] ** -alpha) * (qi[None, :] ** -alpha)
        p = ka / ka.sum(axis=1, keepdims=True)
        ext = p @ result.eigenvectors[:, 1:]
    mu = result.eigenvalues[1:]
    ext = ext / mu
    if result.t:
        ext = ext * np.abs(mu) ** result.t
    return ext
