r"""PCA denoising of high-dimensional items (images, maps) before the product-manifold graph.

Why. With white noise of variance :math:`\sigma^2` per pixel, the squared distance of two
images of D pixels is :math:`d^2_{\text{signal}} + 2D\sigma^2 \pm O(\sigma^2\sqrt{8D})`. The
offset only rescales the kernel, but its fluctuation is independent noise on every affinity;
with D = 4096 it is larger than the signal distances of neighbouring images, so the kernel
must be so wide that the product eigenvectors (Markov eigenvalue :math:`\mu_i\mu_j`, below the
noise floor) are lost (``docs/product-manifold/diagnosis.md``). Projecting on the K principal
components that carry signal cuts the fluctuation to :math:`O(\sigma^2\sqrt{8K})`.

Why this keeps the product. For independent factors the image is
:math:`I(\theta_1, \theta_2)` and the covariance has no cross term between functions of
:math:`\theta_1` and of :math:`\theta_2` when the parts do not overlap; each principal axis then
belongs to one factor and the projection is an orthogonal sum of one projection per factor, so
the Euclidean metric (and the Gaussian kernel) stays a product. The scores are not standardised:
standardising rescales each axis by its signal-plus-noise variance, which amplifies the noise of
the weak components (the paper's 4 standardised components are available as ``--pca 4``).

How many. Components whose covariance eigenvalue is above the Marchenko-Pastur edge
:math:`\sigma^2 (1 + \sqrt{\beta})^2` (:math:`\beta` = the aspect ratio of the data matrix) of the
noise; :math:`\sigma^2` is estimated by matching the median eigenvalue to the Marchenko-Pastur
median (Gavish & Donoho 2014), which the few signal eigenvalues hardly move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_rng
from ..denoise import marchenko_pastur_edge, marchenko_pastur_median

__all__ = ["DenoisedFeatures", "pca_denoise"]

#: Items with more features than this are denoised by ``preprocess="auto"``.
AUTO_MIN_FEATURES = 100
#: Largest number of components kept by the automatic rule.
MAX_COMPONENTS = 100
#: Rows used to estimate the noise level (a random subset of this size above it).
_NOISE_ROWS = 1000


@dataclass(frozen=True)
class DenoisedFeatures:
    """Output of :func:`pca_denoise`.

    Attributes
    ----------
    scores : ndarray, shape (n, K)
        Principal-component scores (not standardised).
    n_components : int
    noise_variance : float
        Estimated per-feature noise variance :math:`\\sigma^2`.
    edge : float
        The Marchenko-Pastur edge the kept eigenvalues exceed (auto rule; else 0).
    explained : ndarray, shape (K,)
        Covariance eigenvalues of the kept components.
    """

    scores: np.ndarray
    n_components: int
    noise_variance: float
    edge: float
    explained: np.ndarray


def _noise_variance(centred: np.ndarray, gen) -> tuple[float, int]:
    """Per-feature noise variance from the median eigenvalue of a row subset, and the number
    of that subset's eigenvalues above its own edge (a lower bound for all rows)."""
    n, d = centred.shape
    m = min(n, _NOISE_ROWS)
    rows = centred if n <= m else centred[np.sort(gen.choice(n, m, replace=False))]
    small = rows @ rows.T / m if m <= d else rows.T @ rows / m
    ev = np.linalg.eigvalsh(small)
    beta = min(m, d) / max(m, d)
    # eigenvalues of (1/m) X X^T for m < d are sigma^2 (d/m) times an MP law of ratio m/d
    scale = float(np.median(ev)) / marchenko_pastur_median(beta)
    sigma2 = scale * (m / d if m < d else 1.0)
    return sigma2, int(np.sum(ev > marchenko_pastur_edge(sigma2, m, d)))


def pca_denoise(X, n_components="auto", *, rng=None) -> DenoisedFeatures:
    r"""Project items on their leading principal components (noise removal).

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Items (trailing axes flattened).
    n_components : int or "auto", default "auto"
        "auto": the components above the noise's Marchenko-Pastur edge (at least 2, at most
        ``MAX_COMPONENTS``; see the module docstring).
    rng : int or Generator, optional
        Picks the row subset of the noise estimate when n > 2000.

    Returns
    -------
    DenoisedFeatures
    """
    flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    n, d = flat.shape
    if n < 3:
        raise ValueError(f"X: PCA needs at least 3 items, got {n}")
    centred = flat - flat.mean(axis=0)
    gen = check_rng(rng)
    k_max = min(n - 1, d, MAX_COMPONENTS)
    sigma2, k_sub = _noise_variance(centred, gen)
    if n_components == "auto":
        k_fit = min(k_max, max(2 * k_sub, k_sub + 10))
    else:
        k_fit = check_int(n_components, "n_components", low=1, high=min(n, d))
    from sklearn.utils.extmath import randomized_svd

    u, s_, _ = randomized_svd(centred, k_fit, n_oversamples=20, n_iter=6,
                              random_state=int(gen.integers(2**31 - 1)))
    w, scores = s_**2 / n, u * s_
    edge = 0.0
    if n_components == "auto":
        edge = marchenko_pastur_edge(sigma2, n, d)
        k = int(np.clip(np.sum(w > edge), 2, k_max))
    else:
        k = k_fit
    scores = np.ascontiguousarray(scores[:, :k])
    # deterministic signs: the largest-magnitude score of each component is positive
    idx = np.argmax(np.abs(scores), axis=0)
    signs = np.sign(scores[idx, np.arange(k)])
    signs[signs == 0] = 1.0
    return DenoisedFeatures(scores=scores * signs, n_components=k, noise_variance=sigma2,
                            edge=float(edge), explained=w[:k].copy())
