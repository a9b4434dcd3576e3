r"""Laplacian eigenvectors with log-transformed eigenvalues (Sec. 2.3 of the paper).

We build the Gaussian affinity :math:`W_{ij} = e^{-d_{ij}^2 / (2\sigma^2)}`, the diffusion-map
normalisation with :math:`\alpha = 1` (the limit operator is the Laplace-Beltrami operator
whatever the sampling density, the paper's Remark 2) and take the Markov eigenvalues
:math:`\mu_k` and right eigenvectors :math:`\psi_k = v_k / v_0` exactly as
:func:`conformap.diffusion_map` defines them. The graph is built by
:func:`conformap.graph.graph_from_distances` with a fixed :math:`\sigma`
(:data:`AUTO_BANDWIDTH_RULE`) and solved by the library's one diffusion core,
:func:`conformap.diffusion.diffusion_eigenpairs`.

For a flat factor and a Gaussian kernel the Markov operator acts on
:math:`\cos(\omega \cdot x)` exactly as multiplication by
:math:`e^{-\sigma^2 |\omega|^2 / 2}`, so

.. math:: \lambda_k = -\frac{2 \ln \mu_k}{\sigma^2}

estimates the Laplace-Beltrami eigenvalue in the data's own units (inverse squared distance);
this log transform is what makes :math:`\lambda_{(m,n)} = \lambda_m + \lambda_n` hold for
products (the Gaussian kernel factorises over orthogonal coordinates), while :math:`1 - \mu`
would only be additive to first order. Scaling: multiplying all distances by :math:`c` changes
:math:`\sigma` by :math:`c` (the bandwidth rules are scale-equivariant) and every
:math:`\lambda_k` by :math:`c^{-2}`; the default ``delta`` is a multiple of
:math:`\lambda_1`, so it scales the same way and the algorithm is invariant.

Graph: a sparse radius graph (dense all-pairs distances only up to ``dense_limit`` items,
default 0: on our shared 2-core machine the sparse Lanczos path took 2-3 s where the dense
``eigh`` path took 12-48 s, for n = 800, 1500 and 3000)
holding every pair closer than ``truncate * sigma`` (default 4 sigma: in 2-D the cut removes
0.3 % of the kernel's second moment, so the log-eigenvalue scale is kept; at 3 sigma it is
6 %, measured as a 5 % drop of the torus eigenvalues), so that the kernel is not distorted by
a k-nearest-neighbour cut. ``sigma`` is chosen
first on a small k-nearest-neighbour graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .._validation import check_choice, check_int, check_positive, check_rng
from ..bandwidth import FIXED_BANDWIDTH_RULES, select_bandwidth
from ..distances import kneighbors_distances, pairwise_distances

__all__ = ["LaplacianSpectrum", "laplacian_spectrum", "spectral_dimension"]

#: Above this many items the graph is sparse (radius graph); 0 = always sparse.
DENSE_LIMIT = 0
_BLOCK = 512


@dataclass(frozen=True)
class LaplacianSpectrum:
    """Output of :func:`laplacian_spectrum`.

    Attributes
    ----------
    eigenvectors : ndarray, shape (n, N + 1)
        :math:`\\psi_0 \\equiv 1, \\psi_1, \\dots, \\psi_N` (right eigenvectors of the Markov
        matrix, deterministic signs).
    eigenvalues : ndarray, shape (N + 1,)
        Log-transformed Laplacian eigenvalues :math:`\\lambda_k = -2 \\ln \\mu_k / \\sigma^2`,
        increasing, :math:`\\lambda_0 = 0`.
    markov_eigenvalues : ndarray, shape (N + 1,)
        :math:`\\mu_k`, decreasing, :math:`\\mu_0 = 1`.
    bandwidth : float
        :math:`\\sigma`.
    graph : str
        ``"dense"`` (at most ``dense_limit`` items, no truncation) or ``"radius"`` (stored
        densely when more than :data:`RADIUS_MAX_FRACTION` of the pairs are within it).
    noise_floor : float
        :math:`2/\\sqrt{m}`, with :math:`m` the median effective number of neighbours
        :math:`1/\\sum_y P_{xy}^2` of the Markov matrix: the size of the Markov eigenvalues of
        sampling noise (a random walk on :math:`m` equally weighted neighbours has its noise
        eigenvalues within :math:`2\\sqrt{m-1}/m`, Kesten-McKay). Eigenvectors with
        :math:`\\mu_k` below it are not resolved by the graph (:data:`RESOLVED`).
    """

    eigenvectors: np.ndarray
    eigenvalues: np.ndarray
    markov_eigenvalues: np.ndarray
    bandwidth: float
    graph: str
    noise_floor: float = 0.0

    @property
    def resolved(self) -> np.ndarray:
        """Mask of the columns whose Markov eigenvalue exceeds ``noise_floor`` (column 0 too)."""
        return self.markov_eigenvalues > self.noise_floor


def _radius_graph(X: np.ndarray, radius: float, metric: str) -> sp.csr_matrix:
    """Sparse distances of all pairs closer than ``radius`` (diagonal excluded)."""
    n = X.shape[0]
    rows, cols, vals = [], [], []
    for i0 in range(0, n, _BLOCK):
        i1 = min(n, i0 + _BLOCK)
        d = pairwise_distances(X[i0:i1], X, metric=metric)
        d[np.arange(i1 - i0), np.arange(i0, i1)] = np.inf
        r, c = np.nonzero(d < radius)
        rows.append(r + i0)
        cols.append(c)
        vals.append(d[r, c])
    rows_a, cols_a, vals_a = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    # keep exact zeros (duplicates) as tiny positive distances so they stay stored
    vals_a = np.maximum(vals_a, 1e-300)
    return sp.csr_matrix((vals_a, (rows_a, cols_a)), shape=(n, n))


#: Above this estimated fraction of pairs within the radius, the radius graph is stored densely
#: (same operator). The sparse build holds far more than the 12 bytes of a CSR entry per stored
#: pair at its peak (block arrays, COO to CSR, the kernel and its normalised copies): 7.1 GiB
#: at n = 10,000 images at SNR 1 and 11.1 GiB (killed) at SNR 0.1 on the shared machine, where
#: the dense storage of 10,000 items peaked at 4.8 GiB (about 50 bytes per pair of items). Not
#: tuned beyond these observations. At the MST bandwidth the paper's data sets are far from
#: sparse (fraction within 4 sigma: rectangle n = 5000 0.35, box n = 6000 0.20, torus
#: n = 4000 0.10), so they are stored densely too; the operator is the same either way.
RADIUS_MAX_FRACTION = 0.1
_FRACTION_ROWS = 256
#: Distance (in radii) standing for "beyond the radius" in the dense storage: the Gaussian at
#: 100 radii of 4 sigma is exp(-80000), an exact zero.
_FAR = 100.0


def radius_fraction(X: np.ndarray, radius: float, metric: str) -> float:
    """Fraction of pairs closer than ``radius``, estimated on evenly spaced rows (no random
    draw, so the eigensolver's random stream is the same whichever path is taken)."""
    n = X.shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, _FRACTION_ROWS)).astype(np.int64))
    d = pairwise_distances(X[rows], X, metric=metric)
    return float(np.count_nonzero(d < radius) - rows.size) / (rows.size * max(n - 1, 1))


#: bandwidth="auto" of product manifold learning: one sigma for every point (the log-eigenvalue
#: transform and the product kernel need a fixed-bandwidth Laplacian), the minimum-spanning-tree
#: scale, the smallest sigma at which the graph is connected.
AUTO_BANDWIDTH_RULE = "mst"
#: The bandwidth strings product learning accepts.
PRODUCT_BANDWIDTH_RULES = ("auto", *FIXED_BANDWIDTH_RULES)


def laplacian_spectrum(
    X,
    *,
    n_eigenvectors: int = 100,
    metric: str = "l2",
    bandwidth: float | str = "auto",
    dense_limit: int = DENSE_LIMIT,
    truncate: float = 4.0,
    rng=None,
) -> LaplacianSpectrum:
    r"""Eigenvectors and log-transformed eigenvalues of the data's graph Laplacian.

    Parameters
    ----------
    X : array_like, shape (n, ...) or (n, n)
        Feature vectors (trailing axes flattened), or distances with
        ``metric="precomputed"`` (dense (n, n) or sparse).
    n_eigenvectors : int
        Number N of non-trivial eigenvectors.
    metric : {"l2", "l1", "precomputed"}, default "l2"
    bandwidth : float or str, default "auto"
        Kernel :math:`\sigma`; "auto" is :data:`AUTO_BANDWIDTH_RULE` ("mst"); other strings
        are single-sigma rules of :func:`conformap.select_bandwidth`.
    dense_limit : int, default 1500
        Largest n for the dense graph.
    truncate : float, default 4
        Sparse radius graph cut-off in units of sigma.
    rng : int or Generator, optional
        Seeds the sparse eigensolver.

    Returns
    -------
    LaplacianSpectrum
    """
    metric = check_choice(metric, "metric", ["l2", "l1", "precomputed"])
    n_vec = check_int(n_eigenvectors, "n_eigenvectors", low=3)
    truncate = check_positive(truncate, "truncate")
    if isinstance(bandwidth, str):
        check_choice(bandwidth, "bandwidth", PRODUCT_BANDWIDTH_RULES)
        if bandwidth == "auto":
            bandwidth = AUTO_BANDWIDTH_RULE
    else:
        bandwidth = check_positive(bandwidth, "bandwidth")
    if metric == "precomputed":
        dist = X if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        n = dist.shape[0]
        graph = "sparse" if sp.issparse(dist) else "dense"
        sigma = bandwidth
    else:
        feats = np.asarray(X, dtype=np.float64)
        if feats.ndim < 2:
            raise ValueError(
                f"X: expected an array of shape (n, n_features), got shape {feats.shape}; use "
                "X[:, None] for 1-D data"
            )
        feats = np.ascontiguousarray(feats.reshape(feats.shape[0], -1))
        n = feats.shape[0]
        if n <= dense_limit:
            dist = pairwise_distances(feats, metric=metric)
            graph, sigma = "dense", bandwidth
        else:
            if isinstance(bandwidth, str):
                pilot = kneighbors_distances(feats, min(n - 1, 15), metric=metric)
                sigma = select_bandwidth(pilot.maximum(pilot.T), rule=bandwidth)
            else:
                sigma = bandwidth
            radius = truncate * sigma
            if radius_fraction(feats, radius, metric) > RADIUS_MAX_FRACTION:
                # most pairs are within the radius (small n, or noisy images at SNR 0.1): the
                # same truncated graph held densely (the sparse one took 11.1 GiB, killed, at
                # n = 10,000 with 64 x 64 images at SNR 0.1); pairs beyond the radius get a
                # distance whose kernel underflows to exactly 0
                dist = pairwise_distances(feats, metric=metric)
                dist[dist >= radius] = _FAR * radius
            else:
                dist = _radius_graph(feats, radius, metric)
            graph = "radius"
    if n_vec + 2 > n:
        raise ValueError(
            f"n_eigenvectors: {n_vec} needs at least {n_vec + 2} items, got {n}; use fewer "
            "eigenvectors"
        )
    if isinstance(sigma, str):
        sigma = select_bandwidth(dist, rule=sigma)
    # ARPACK's dense work is level-2 BLAS on tall blocks: threads only oversubscribe a shared
    # machine (measured 13.5 s threaded vs 6.9 s single-threaded, rectangle n=5000, N=100)
    # distances computed here are symmetric and finite by construction: not checked again
    # (the check costs an (n, n) temporary on the dense storage)
    graph_ = _graph(dist, float(sigma), validate=metric == "precomputed")
    del dist  # the kernel replaces the distances (memory of the dense storage)
    with threadpool_limits(limits=1, user_api="blas"):
        mu, psi, floor = _markov_eigenpairs(graph_, n_vec + 1, check_rng(rng))
    if (mu[1:] <= 0).any():
        bad = int(np.flatnonzero(mu <= 0)[0])
        raise ValueError(
            f"n_eigenvectors: the Markov eigenvalue mu_{bad} = {mu[bad]:.3g} is not positive, so "
            f"its log transform is undefined at bandwidth {sigma:.4g}; use fewer eigenvectors "
            "or a smaller bandwidth"
        )
    lam = -2.0 * np.log(mu) / sigma**2
    lam[0] = 0.0
    lam = np.maximum.accumulate(np.maximum(lam, 0.0))  # exact monotonicity after rounding
    return LaplacianSpectrum(
        eigenvectors=psi,
        eigenvalues=lam,
        markov_eigenvalues=mu,
        bandwidth=float(sigma),
        graph=graph,
        noise_floor=floor,
    )


def spectral_dimension(eigenvalues) -> float:
    r"""Dimension of the data read off its spectrum (Weyl's law).

    On a compact d-dimensional manifold the number of Laplacian eigenvalues below
    :math:`\lambda` grows like :math:`\lambda^{d/2}`, so the slope of :math:`\log k` against
    :math:`\log \lambda_k` is :math:`d/2`; a least-squares fit over the given non-trivial
    eigenvalues estimates d. Measured with 100 eigenvectors at n = 2000: 0.99-1.34 for an
    interval and for circles with 0-10 % noise, 1.71-2.07 for a rectangle, torus, swiss roll,
    sphere and disk, 2.15 for the box of sides 2.8, 1.5, 7 (below 3: anisotropic sides reach
    Weyl's regime late). A product of two manifolds has dimension at least 2.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        Non-trivial Laplacian eigenvalues, increasing, positive.

    Returns
    -------
    float
        NaN for fewer than 3 eigenvalues.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lam = lam[lam > 0]
    if lam.size < 3 or lam[-1] <= lam[0]:
        return float("nan")
    k = np.arange(1, lam.size + 1)
    return float(2.0 * np.polyfit(np.log(lam), np.log(k), 1)[0])


def _graph(dist, sigma: float, *, validate: bool):
    """The fixed-``sigma`` affinity graph of the distances, by
    :func:`conformap.graph.graph_from_distances` (one kernel for the whole library)."""
    from ..graph import graph_from_distances

    if not sp.issparse(dist):
        d = np.asarray(dist, dtype=np.float64)
        if d.ndim != 2 or d.shape[0] != d.shape[1] or not np.isfinite(d).all():
            raise ValueError(f"X: precomputed distances must be a finite (n, n) matrix, got "
                             f"shape {d.shape}")
        dist = d
    return graph_from_distances(dist, bandwidth=float(sigma), validate=validate)


def _markov_eigenpairs(graph, m: int, gen: np.random.Generator):
    """Top ``m`` eigenpairs of the alpha = 1 Markov matrix of ``graph``, and its noise floor.

    Solved by the diffusion core, :func:`conformap.diffusion.diffusion_eigenpairs`; for a
    fixed bandwidth its ``mu`` are the exact Markov eigenvalues.
    """
    from ..diffusion import diffusion_eigenpairs

    _, psi, info = diffusion_eigenpairs(graph, m, alpha=1.0, rng=gen)
    mu = np.clip(info["mu"], -1.0, 1.0)
    # effective neighbours of x: 1 / sum_y P_xy^2 with P = diag(1/deg) W, W = K / (q q^T)
    k, q, deg = graph.kernel, info["q"], info["deg"]
    if sp.issparse(k):
        kq = sp.csr_matrix(sp.diags(1.0 / q) @ k @ sp.diags(1.0 / q))
        sq = np.asarray(kq.multiply(kq).sum(axis=1)).ravel()
    else:
        kq = k / q[:, None] / q[None, :]
        sq = (kq * kq).sum(axis=1)
    m_eff = float(np.median(deg * deg / sq))
    floor = 2.0 / np.sqrt(max(m_eff, 1.0))
    return mu, psi, floor
