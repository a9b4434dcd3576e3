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
**Variable bandwidth.** With local scales :math:`\rho_i` (see :mod:`conformap.graph`) the
kernel is :math:`K_{ij} = e^{-d_{ij}^2 / (2\rho_i\rho_j)}` and the weights become
:math:`u_i = q_i^{-\alpha}\rho_i^{\gamma}`, :math:`\gamma = \alpha m - (m + 2)/2` for
intrinsic dimension :math:`m`; with :math:`W = U K U`, :math:`D = \mathrm{diag}(W 1)` and the
mass :math:`M = D\,\mathrm{diag}(\rho^2)` the generalized problem
:math:`(D - W) f = \lambda M f` converges to :math:`-\tfrac12(\Delta + (2 - 2\alpha)\nabla
\log q \cdot \nabla)` (Berry & Harlim 2016): for ``alpha=1`` the Laplace-Beltrami operator
whatever the sampling density, at every local resolution. A fixed kernel is the case
:math:`\rho_i \equiv \sigma`, where :math:`M = \sigma^2 D` and :math:`\lambda = (1 - \mu)
/ \sigma^2` for the Markov eigenvalues :math:`\mu` above. One solver serves both
(:func:`diffusion_eigenpairs`): the symmetric :math:`M^{-1/2}(D - W)M^{-1/2}` by
shift-invert Lanczos (dense Cholesky, or sparse LU), or, for a fixed sparse kernel, Lanczos /
filtered subspace iteration on :math:`D^{-1/2} W D^{-1/2}`. For the adaptive kernel the
reported Markov eigenvalues are :math:`\mu_k = 1 - \lambda_k \bar\rho^2` at the median
scale :math:`\bar\rho`, and ``laplacian_eigenvalues`` :math:`2\lambda_k` estimate the
Laplace-Beltrami eigenvalues in the data's units (inverse squared distance).

The diffusion map at time :math:`t` is :math:`x_i \mapsto (\mu_1^t \psi_1(i), \dots,
\mu_k^t \psi_k(i))`; ``t=0`` gives Laplacian eigenmaps. ``eigenvalues`` are the :math:`\mu_k`
(1 = trivial, descending); the Laplacian eigenvalues are :math:`1 - \mu_k`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.csgraph
import scipy.sparse.linalg
from threadpoolctl import threadpool_limits

from ._eigensolver import smallest_laplacian_eigenpairs, top_eigenpairs
from ._validation import check_choice, check_int, check_positive, check_rng

__all__ = [
    "CHAIN_ENVELOPE",
    "DiffusionMapResult",
    "check_distances",
    "diffusion_core",
    "diffusion_eigenpairs",
    "diffusion_map",
    "normalized_operator",
    "nystrom_extension",
    "rcm_envelope",
]

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
        The fixed :math:`\\sigma`, or the median adaptive scale.
    kernel_degrees : ndarray, shape (n,)
        :math:`q_i` (needed for the Nystrom extension).
    alpha, t : float
        The normalisation and diffusion time used.
    laplacian_eigenvalues : ndarray, shape (n_components + 1,)
        :math:`2\\lambda_k`, estimates of the Laplace-Beltrami eigenvalues (0 first).
    scales : ndarray, shape (n,)
        :math:`\\rho_i`.
    weights : ndarray, shape (n,)
        :math:`u_i`.
    adaptive : bool
    scale_neighbor : int or None
    graph : dict
        ``method``, ``n_neighbors``, ``dimension``, ``max_dropped_affinity``,
        ``dropped_mass``, ``dropped_mass_max``, ``n_bridges``, ``summary`` of the
        :class:`conformap.graph.AffinityGraph`, and ``localisation_ratio`` (the adaptive
        kernel's :func:`conformap.localisation.localisation_ratio`, None for a fixed kernel
        chosen as such). With ``bandwidth="auto"`` the graph may be the fixed kernel that
        replaced a localising adaptive one (:mod:`conformap.localisation`; the summary says
        so); ``localised`` lists the adaptive kernel's coordinates that made it do so, as
        dicts ``coordinate``, ``kappa``, ``participation`` (empty where none did).
    """

    embedding: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    bandwidth: float
    kernel_degrees: np.ndarray
    alpha: float
    t: float
    laplacian_eigenvalues: np.ndarray | None = None
    scales: np.ndarray | None = None
    weights: np.ndarray | None = None
    adaptive: bool = False
    scale_neighbor: int | None = None
    graph: dict = field(default_factory=dict)


def check_distances(distances):
    """Validate a distance matrix: dense symmetric (n, n), or sparse (n, n); float64."""
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


def _check_kernel(k, graph) -> None:
    n = k.shape[0]
    sigma = graph.bandwidth
    if sp.issparse(k):
        offdiag = k - sp.eye(n, format="csr")
        vals = offdiag.data
        g = offdiag.multiply(offdiag > _EDGE_EPS)
        # (a sparse kernel stores no zeros: no off-diagonal entry at all means all zero)
        all_zero = vals.size == 0 or vals.max() < _EDGE_EPS
        all_one = vals.size > 0 and vals.min() > 1 - 1e-9
    else:
        # one boolean n x n pattern, no float copies (the diagonal, 1, is in the pattern and
        # does not change the components; it is also the kernel's maximum)
        g = sp.csr_matrix(k > _EDGE_EPS)
        all_zero = g.nnz <= n
        all_one = float(k.min()) > 1 - 1e-9
    if n > 1 and all_zero:
        raise ValueError(
            f"bandwidth: sigma={sigma:.4g} makes every affinity (numerically) zero; use a larger "
            "bandwidth (e.g. bandwidth='auto')"
        )
    if n > 1 and all_one and not graph.adaptive:
        raise ValueError(
            f"bandwidth: sigma={sigma:.4g} makes every affinity (numerically) one, so the "
            "embedding carries no information; use a smaller bandwidth (e.g. bandwidth='auto')"
        )
    n_comp, labels = sp.csgraph.connected_components(g, directed=False)
    if n_comp > 1:
        sizes = np.bincount(labels)
        order = np.argsort(sizes)[::-1]
        small = np.flatnonzero(labels == order[-1])[:5].tolist()
        what = "adaptive scales" if graph.adaptive else f"bandwidth sigma={sigma:.4g}"
        raise ValueError(
            f"the affinity graph falls apart into {n_comp} disconnected pieces (sizes "
            f"{sorted(sizes.tolist(), reverse=True)[:6]}) at {what}; "
            "the embedding would only separate the pieces. Increase the bandwidth (or "
            f"n_neighbors on the sparse path), or remove outlying items (e.g. {small})"
        )


#: Up to this many eigenpairs the sparse path uses ARPACK; above, filtered subspace iteration.
_ARPACK_MAX = 40
#: Above this mean number of stored entries per row, ARPACK is used whatever the count.
_FILTER_MAX_ROW_NNZ = 64
#: Dense problems up to this size (or asking for more than a tenth of the spectrum) use
#: LAPACK's eigh directly; above, shift-invert Lanczos on a Cholesky factor (3-6x faster at
#: n = 1000-3000, docs/large-n/README.md).
_DENSE_EIGH_MAX = 400


def _deterministic_signs(vectors: np.ndarray) -> np.ndarray:
    # Flip each column so that its entry of largest magnitude is positive.
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1
    return vectors * signs


def normalized_operator(graph, alpha: float = 1.0):
    r"""Weights, degrees and mass of the normalised kernel (see the module docstring).

    Returns
    -------
    w : ndarray or csr_matrix (n, n)
        :math:`W = U K U`.
    q, u, deg, mass : ndarray, shape (n,)
        Kernel degrees :math:`q`, weights :math:`u`, degrees of :math:`W`, mass :math:`M`.
    """
    k = graph.kernel
    q = np.asarray(k.sum(axis=1)).ravel()
    rho = graph.scales
    u = q**-alpha
    if graph.adaptive:
        m = graph.dimension
        u = u * (rho / np.median(rho)) ** (alpha * m - (m + 2) / 2.0)
    if sp.issparse(k):
        du = sp.diags(u)
        w = sp.csr_matrix(du @ k @ du)
        w = (w + w.T) * 0.5
    else:
        w = k * u[:, None] * u[None, :]
        w = (w + w.T) * 0.5
    deg = np.asarray(w.sum(axis=1)).ravel()
    return w, q, u, deg, deg * rho**2


def _dense_laplacian(w, deg, smi, block: int = 512):
    """``M^-1/2 (D - W) M^-1/2`` of a dense symmetric ``W``, built in place by row blocks.

    Entries below rounding of the diagonal are zeroed (subnormals slow LAPACK 100x). ``W`` is
    symmetric, so the result is symmetric to rounding (the solvers read one triangle).
    """
    n = w.shape[0]
    lap = np.empty_like(w)
    dg = np.sqrt(np.abs(deg - np.diag(w))) * smi
    for a in range(0, n, block):
        b = min(n, a + block)
        blk = lap[a:b]
        np.multiply(w[a:b], smi[a:b, None], out=blk)
        blk *= -smi[None, :]
        r = np.arange(b - a)
        blk[r, r + a] += deg[a:b] * smi[a:b] ** 2
        blk[np.abs(blk) < 1e-17 * dg[a:b, None] * dg[None, :]] = 0.0
    return lap


def _shift_invert(n_mat, m, gen, dense, null=None):
    """Smallest ``m`` eigenpairs of the PSD ``n_mat`` by shift-invert Lanczos near 0 (sparse,
    from :data:`MULTILEVEL_MIN_ITEMS` nodes with the null vector ``null`` known: multilevel
    LOBPCG, no factorisation)."""
    diag = n_mat.diagonal()
    tau = 1e-11 * float(diag.max())
    v0 = gen.uniform(-1, 1, n_mat.shape[0])
    if dense:
        # one BLAS thread: on a shared 2-core machine a threaded Cholesky of n = 1000 took
        # 6.4 s against 0.11 s single-threaded (threads spinning for busy cores)
        with threadpool_limits(limits=1, user_api="blas"):
            c = scipy.linalg.cho_factor(n_mat + tau * np.eye(n_mat.shape[0]),
                                        check_finite=False)
        op = scipy.sparse.linalg.LinearOperator(
            n_mat.shape, matvec=lambda x: scipy.linalg.cho_solve(c, x, check_finite=False),
            dtype=np.float64)
        return scipy.sparse.linalg.eigsh(n_mat, k=m, sigma=-tau, which="LM", OPinv=op, v0=v0,
                                         tol=1e-10)
    a = sp.csr_matrix(n_mat)
    if null is not None and a.shape[0] >= MULTILEVEL_MIN_ITEMS:
        # shift-invert's sparse LU fills in faster than n once the kNN graph is locally more
        # than 1-D, and plain Lanczos stalls on graphs of curves (docs/distributed.md: 308 s
        # at 200,000 nodes); the multilevel solver is O(nnz) per level
        try:
            return smallest_laplacian_eigenpairs(a, m, null, gen)
        except RuntimeError:
            pass
    if rcm_envelope(a) > CHAIN_ENVELOPE * a.nnz:
        # Not chain-like (noisy kNN graphs are expanders): SuperLU's fill-in is ~n^2 (n =
        # 20,000 noisy WEMD images: 120 s to factorise), while plain Lanczos on the smallest
        # eigenvalues converges fast there (2 s, same eigenvalues). Bounded attempt; a graph
        # on which it stalls falls back to shift-invert.
        try:
            return scipy.sparse.linalg.eigsh(a, k=m, which="SA", v0=v0, tol=1e-10,
                                             maxiter=_LANCZOS_RESTARTS)
        except scipy.sparse.linalg.ArpackNoConvergence:
            pass
    return scipy.sparse.linalg.eigsh(sp.csc_matrix(a), k=m, sigma=-tau, which="LM", v0=v0,
                                     tol=1e-10)


#: From this many nodes the sparse Laplacian's smallest eigenpairs come from
#: :func:`conformap._eigensolver.smallest_laplacian_eigenpairs` (below, shift-invert is as fast).
MULTILEVEL_MIN_ITEMS = 50_000
#: A sparse operator whose reverse Cuthill-McKee envelope is at most this many times its
#: stored entries is chain-like (a clean curve: ~1), and its sparse LU is cheap: shift-invert.
CHAIN_ENVELOPE = 4
#: Restarts of the implicit Lanczos attempt before falling back to shift-invert.
_LANCZOS_RESTARTS = 300


def rcm_envelope(a) -> float:
    """Envelope (profile) of the symmetric sparse ``a`` in reverse Cuthill-McKee order."""
    p = scipy.sparse.csgraph.reverse_cuthill_mckee(a, symmetric_mode=True)
    b = sp.csr_matrix(a[p][:, p])
    first = np.minimum.reduceat(b.indices, b.indptr[:-1])
    return float(np.maximum(np.arange(b.shape[0]) - first, 0).sum())


def diffusion_eigenpairs(graph, n_eigenpairs: int, *, alpha: float = 1.0,
                         eigen_solver: str = "auto", rng=None):
    r"""The first ``n_eigenpairs`` eigenpairs of the normalised graph operator (trivial first).

    This is the one diffusion core (kernel normalisation, solver choice, sign convention):
    :func:`diffusion_map` and :class:`conformap.DiffusionMap` call it, and so can
    product-manifold learning::

        graph, _ = conformap.graph.build_graph(X, metric="euclidean", bandwidth=0.3)
        lam, psi, info = diffusion_eigenpairs(graph, n_eigenvectors + 1, alpha=1.0, rng=0)
        # Laplace-Beltrami estimates: 2 * lam; fixed sigma: info["mu"] are the exact Markov
        # eigenvalues (so -2 log(mu) / sigma**2 is the log-transformed spectrum)

    Parameters
    ----------
    graph : conformap.graph.AffinityGraph
    n_eigenpairs : int
        Including the trivial one; ``< n``.
    alpha : float in [0, 1]
    eigen_solver : {"auto", "dense", "sparse"}
    rng : int or Generator

    Returns
    -------
    lam : ndarray, shape (n_eigenpairs,)
        Generalized eigenvalues :math:`\lambda_k` of :math:`(D - W) f = \lambda M f`,
        ascending, :math:`\lambda_0 = 0` (Laplace-Beltrami estimates: :math:`2 \lambda_k`).
    psi : ndarray, shape (n, n_eigenpairs)
        Right eigenvectors, :math:`\psi_0 \equiv 1`, :math:`\sum_i \pi_i \psi_k(i)^2 = 1`,
        :math:`\pi = M / \sum M`; each column's entry of largest magnitude is positive.
    info : dict
        ``q``, ``u``, ``deg``, ``mass``, ``mu`` (Markov eigenvalues, see module docstring).
    """
    n = graph.kernel.shape[0]
    m = int(n_eigenpairs)
    solver = check_choice(eigen_solver, "eigen_solver", ["auto", "dense", "sparse"])
    sparse_in = sp.issparse(graph.kernel)
    if solver == "auto":
        solver = "sparse" if sparse_in and n > 2 * m + 10 else "dense"
    _check_kernel(graph.kernel, graph)
    w, q, u, deg, mass = normalized_operator(graph, alpha)
    gen = check_rng(rng)
    rho = graph.scales
    if not graph.adaptive and solver == "sparse":
        s = sp.diags(deg**-0.5)
        a = sp.csr_matrix(s @ w @ s)
        a = (a + a.T) * 0.5
        # Cost model: the filtered iteration does ~24 sparse block products per step, so it
        # wins on sparse kNN graphs (n = 10,000, 15 neighbours, 401 pairs: ~4 s vs ARPACK's
        # 21 s) and loses on dense radius graphs (n = 5000, 854 entries per row, 101 pairs).
        if m <= _ARPACK_MAX or a.nnz > _FILTER_MAX_ROW_NNZ * n:
            mu, v = scipy.sparse.linalg.eigsh(a, k=m, which="LA", v0=gen.uniform(-1, 1, n),
                                              tol=1e-10)
        else:
            mu, v = top_eigenpairs(a, m, gen)
        order = np.argsort(mu)[::-1]
        lam, g = (1.0 - mu[order]) / rho[0] ** 2, v[:, order]
    else:
        smi = mass**-0.5
        if sp.issparse(w):
            lap = sp.diags(smi) @ (sp.diags(deg) - w) @ sp.diags(smi)
            lap = (lap + lap.T) * 0.5
            if solver == "dense":
                lap = lap.toarray()
        else:
            lap = _dense_laplacian(w, deg, smi)
        with threadpool_limits(limits=1, user_api="blas"):
            if solver == "dense" and (n <= _DENSE_EIGH_MAX or m > n // 10):
                lam, g = scipy.linalg.eigh(lap, subset_by_index=[0, m - 1])
            else:
                lam, g = _shift_invert(lap, m, gen, dense=not sp.issparse(lap),
                                       null=np.sqrt(mass))
        order = np.argsort(lam)
        lam, g = lam[order], g[:, order]
    # The null vector is M^{1/2} 1 (up to sign): use the exact one for psi = f / f_0.
    sq = np.sqrt(mass / mass.sum())
    psi = g / sq[:, None]
    psi[:, 0] = 1.0
    psi[:, 1:] = _deterministic_signs(psi[:, 1:])
    lam = np.maximum(lam, 0.0)
    lam[0] = 0.0
    rbar = float(np.median(rho))
    mu = np.clip(1.0 - lam * rbar**2, -1.0, 1.0)
    mu[0] = 1.0
    return lam, psi, {"q": q, "u": u, "deg": deg, "mass": mass, "mu": mu}


def diffusion_core(graph, *, n_components: int = 2, alpha: float = 1.0, t: float = 0.0,
                   eigen_solver: str = "auto", rng=None, remeasure=None) -> DiffusionMapResult:
    """Diffusion map of an :class:`conformap.graph.AffinityGraph` (validated parameters).

    An adaptive kernel chosen by ``bandwidth="auto"`` whose first coordinates localise
    is replaced here by the fixed kernel at its median scale (:mod:`conformap.localisation`);
    the guard looks at the first :data:`conformap.localisation.GUARDED_COORDINATES`
    coordinates whatever ``n_components`` is, so the kernel does not depend on it.
    ``remeasure``: a function ``graph -> graph`` that measures a kNN replacement's dropped
    kernel mass (the caller holds the features; without it that mass is reported as not
    measured).
    """
    n = graph.kernel.shape[0]
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
    from .localisation import GUARDED_COORDINATES

    guarded = graph.adaptive and graph.fallback_distances is not None
    n_solve = min(max(k, GUARDED_COORDINATES), n - 2) if guarded else k
    lam, psi, info = diffusion_eigenpairs(graph, n_solve + 1, alpha=alpha,
                                          eigen_solver=eigen_solver, rng=rng)
    kappa, localised = None, []
    if graph.adaptive:
        from .localisation import fixed_at_median_scale, localisation_ratio, localised_coordinates

        kappa = localisation_ratio(lam[1], info["deg"], info["u"], info["mass"])
        bad = localised_coordinates(lam, psi, info["deg"], info["u"], info["mass"]) \
            if guarded else []
        localised = [{"coordinate": j, "kappa": float(kap), "participation": float(pr)}
                     for j, kap, pr in bad]
        if bad:  # "auto" only: the first coordinates localised on items of large scale
            graph = fixed_at_median_scale(graph, graph.fallback_distances, bad)
            if graph.method == "knn":
                graph = remeasure(graph) if remeasure is not None else replace(
                    graph, note=f"{graph.note}; its dropped kernel mass is not re-measured")
            lam, psi, info = diffusion_eigenpairs(graph, n_solve + 1, alpha=alpha,
                                                  eigen_solver=eigen_solver, rng=rng)
    lam, psi = lam[:k + 1], psi[:, :k + 1]
    info = {**info, "mu": info["mu"][:k + 1]}
    mu = info["mu"]
    embedding = psi[:, 1:] * (np.abs(mu[1:]) ** t if t else 1.0)
    meta = {"method": graph.method, "n_neighbors": graph.n_neighbors,
            "dimension": graph.dimension, "max_dropped_affinity": graph.max_dropped_affinity,
            "dropped_mass": graph.dropped_mass, "dropped_mass_max": graph.dropped_mass_max,
            "n_bridges": graph.n_bridges, "summary": graph.summary(),
            "generalized_eigenvalues": lam, "localisation_ratio": kappa,
            "localised": localised, "averaging_steps": graph.averaging_steps}
    return DiffusionMapResult(
        embedding=embedding, eigenvalues=mu, eigenvectors=psi, bandwidth=float(graph.bandwidth),
        kernel_degrees=info["q"], alpha=alpha, t=t, laplacian_eigenvalues=2.0 * lam,
        scales=graph.scales, weights=info["u"], adaptive=graph.adaptive,
        scale_neighbor=graph.scale_neighbor, graph=meta)


def diffusion_map(
    distances,
    *,
    n_components: int = 2,
    alpha: float = 1.0,
    t: float = 0.0,
    bandwidth: float | str = "auto",
    n_neighbors: int | None = None,
    eigen_solver: str = "auto",
    rng=None,
) -> DiffusionMapResult:
    """Diffusion map of a distance matrix (see the module docstring for the math).

    Parameters
    ----------
    distances : ndarray of shape (n, n), or sparse matrix of shape (n, n)
        Dense symmetric distances, or sparse k-nearest-neighbour distances (each row its
        neighbours; see :func:`conformap.kneighbors_distances`).
    n_components : int, default 2
        Number of non-trivial coordinates.
    alpha : float in [0, 1], default 1
        Coifman-Lafon density normalisation.
    t : float >= 0, default 0
        Diffusion time; 0 gives Laplacian eigenmaps.
    bandwidth : float or str, default "auto"
        "auto": the adaptive kernel from :data:`conformap.graph.ADAPTIVE_MIN_ITEMS` items on
        (sparse kNN distances: :data:`conformap.graph.KNN_ADAPTIVE_MIN_ITEMS`), else the
        fixed rule "wide" on a dense graph and "connect" on a kNN graph (and on
        noise-dominated neighbour distances "connect");
        "adaptive"; a fixed sigma; or a rule of
        :func:`conformap.select_bandwidth` (see :mod:`conformap.graph`).
    n_neighbors : int, optional
        Neighbours behind the adaptive scales of a dense input (default
        :func:`conformap.graph.default_n_neighbors`).
    eigen_solver : {"auto", "dense", "sparse"}
        "auto" picks by input type.
    rng : int or numpy Generator, optional
        Seeds the Lanczos start vector, so results are reproducible.

    Returns
    -------
    DiffusionMapResult
    """
    from .graph import graph_from_distances

    graph = graph_from_distances(distances, bandwidth=bandwidth, n_neighbors=n_neighbors)
    return diffusion_core(graph, n_components=n_components, alpha=alpha, t=t,
                          eigen_solver=eigen_solver, rng=rng)


def nystrom_extension(distances_new, result: DiffusionMapResult) -> np.ndarray:
    r"""Out-of-sample diffusion coordinates of new items (Nystrom extension).

    For a new item :math:`y` with distances :math:`d(y, x_i)` to the training items and scale
    :math:`\rho_y` (fixed: :math:`\sigma`; adaptive: the distance to its
    ``scale_neighbor``-th nearest training item, a zero distance counted as the item itself),

    .. math::

        \psi_k(y) = \frac{1}{1 - \lambda_k \rho_y^2} \sum_i p(y, x_i)\, \psi_k(x_i), \quad
        p(y, x_i) \propto K(y, x_i)\, u_i,

    which reproduces :math:`\psi_k(x_i)` exactly when :math:`y = x_i` (dense fit); for a fixed
    kernel :math:`1 - \lambda_k \sigma^2 = \mu_k`.

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
    if sp.issparse(distances_new):
        dn = sp.csr_matrix(distances_new, dtype=np.float64, copy=True)
        dn.sort_indices()
    else:
        dn = np.asarray(distances_new, dtype=np.float64)
        if dn.ndim != 2 or dn.shape[1] != n:
            raise ValueError(
                f"distances_new: expected shape (m, {n}) (distances to the training items), "
                f"got {dn.shape}"
            )
    if dn.shape[1] != n:
        raise ValueError(f"distances_new: expected {n} columns, got {dn.shape[1]}")
    m = dn.shape[0]
    rho = result.scales if result.scales is not None else np.full(n, result.bandwidth)
    u = result.weights if result.weights is not None else result.kernel_degrees**-result.alpha
    if result.adaptive:
        j = int(result.scale_neighbor) - 1
        rho_y = np.empty(m)
        for r in range(m):
            row = dn.getrow(r).data if sp.issparse(dn) else dn[r]
            row = np.sort(row)
            if row.size and row[0] == 0:
                row = row[1:]  # the item itself
            pos = row[row > 0]
            rho_y[r] = row[min(j, row.size - 1)] if row.size else np.nan
            if not rho_y[r] > 0:
                rho_y[r] = pos[0] if pos.size else np.median(rho)
    else:
        rho_y = np.full(m, float(result.bandwidth))
    if sp.issparse(dn):
        kn = dn.copy()
        rows = np.repeat(np.arange(m), np.diff(kn.indptr))
        kn.data = np.exp(-(kn.data**2) / (2 * rho_y[rows] * rho[kn.indices]))
        kn = sp.csr_matrix(kn @ sp.diags(u))
        tot = np.asarray(kn.sum(axis=1)).ravel()
    else:
        kn = np.exp(-(dn**2) / (2 * rho_y[:, None] * rho[None, :])) * u[None, :]
        tot = kn.sum(axis=1)
    far = np.flatnonzero(~(tot > _EDGE_EPS * u.min()))
    if far.size:
        raise ValueError(
            f"new item {far[0]} is too far from every training item (all affinities ~0 at "
            f"bandwidth {rho_y[far[0]]:.4g}) to be placed; {far.size} item(s) affected"
        )
    ext = np.asarray(kn @ result.eigenvectors[:, 1:]) / tot[:, None]
    lam = result.graph.get("generalized_eigenvalues")
    if lam is None:
        lam = (1.0 - result.eigenvalues) / result.bandwidth**2
    denom = 1.0 - lam[None, 1:] * rho_y[:, None] ** 2
    denom = np.where(np.abs(denom) < 1e-12, 1e-12, denom)
    ext = ext / denom
    if result.t:
        ext = ext * np.abs(result.eigenvalues[1:]) ** result.t
    return ext
