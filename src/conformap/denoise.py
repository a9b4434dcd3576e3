r"""Denoising of the items before their distances: PCA with a Marchenko-Pastur rank.

Why. Noisy particle images (white noise of variance :math:`\sigma^2` per pixel, ``D`` pixels)
have squared distances :math:`d^2_{\text{signal}} + 2D\sigma^2 \pm O(\sigma^2\sqrt{8D})`:
the constant only shifts every distance, but the fluctuation is independent noise on every
pair and, at D = 4096 and SNR 0.5, larger than the signal distance of neighbouring images.
The nearest neighbours are still right, but their distances are concentrated (neighbour 1,
10 and 30 within 13 %), so the kernel cannot tell near from far
(``docs/large-n/LARGE_N.md``, diagnosis). Projecting on the ``r`` principal components that
carry signal cuts the fluctuation to :math:`O(\sigma^2\sqrt{8r})` (cryo-EM practice:
covariance/PCA denoising before manifold learning).

The rank. With :math:`n` items of :math:`p` values, the eigenvalues of the sample covariance
of pure white noise follow the Marchenko-Pastur law of ratio :math:`\beta = p/n` (scale
:math:`\sigma^2`) when :math:`p \le n`; for :math:`p > n` the :math:`n` non-zero ones are
:math:`\sigma^2 p/n` times the law of ratio :math:`n/p`. :math:`\sigma^2` is estimated by
matching the median eigenvalue to the law's median (Gavish & Donoho 2014: a few signal
eigenvalues hardly move the median), and the kept components are those above the bulk edge
:math:`\sigma^2 (1 + \sqrt\beta)^2` (times :math:`p/n` when :math:`p > n`). Nothing is tuned
by hand. The scores are not shrunk (Wiener or Gavish-Donoho shrinkage of the kept components
changed the error by under 0.2 degrees at n = 6,000; ``docs/large-n/LARGE_N.md``).

When ("auto", :func:`denoise_applies`). The estimated noise carries the fraction
:math:`f = p\hat\sigma^2 / \operatorname{tr} C` of the total variance. ``denoise="auto"``
projects when :math:`f \ge` :data:`NOISE_MIN_FRACTION`, :math:`n \ge` :data:`DENOISE_MIN_ITEMS`
and there are not too many values per item (:math:`p \le` :data:`DENOISE_MAX_RATIO`
:math:`\cdot\, n`). On clean data the median eigenvalue is the tail of the signal spectrum,
:math:`f` is tiny and nothing changes. With many more values than items the sample
eigenvectors of the weaker signal components are inconsistent (their overlap with the true
ones tends to 0 as :math:`p/n` grows, Paul 2007), and measured on the paper's noisy rotor maps
(noise 0.1, 47 x 104 x 47 voxels, :math:`p/n` = 287-574) the projection hurt: n = 400: 9.72 /
24.64 degrees (median / p90) against 8.30 / 14.64 without it, n = 800: 6.66 / 24.77 against
3.55 / 10.25; noisy 2-D projection images with :math:`p/n \le 10` gain, at SNR 0.5 from
33-111 to 3.8-7.2 degrees median (``docs/large-n/NOISY_IMAGES.md``, ``LARGE_N.md``).

Chunks. The covariance is a sum over row blocks (:func:`moments_block`, combined by
:func:`combine_moments`: memory :math:`O(p^2)` whatever ``n``) and the projection is per row
block (:func:`project_block`, :func:`reconstruct_block`): each call is a pure function of one
block, the shape of a Dask task.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CHUNK_ROWS",
    "DECISION_ROWS",
    "DENOISE_MAX_RATIO",
    "DENOISE_MIN_FEATURES",
    "DENOISE_MIN_ITEMS",
    "MAX_FEATURES",
    "NOISE_MIN_FRACTION",
    "PCADenoiser",
    "apply_denoiser",
    "auto_size_applies",
    "check_denoise",
    "combine_moments",
    "denoise_applies",
    "denoise_items",
    "denoised_file",
    "fit_denoiser",
    "fit_for",
    "from_scores",
    "from_scores_blocks",
    "marchenko_pastur_edge",
    "marchenko_pastur_median",
    "marchenko_pastur_rank",
    "moments_block",
    "project_block",
    "reconstruct_block",
    "reconstruction_negative",
    "reconstruction_policy",
    "wemd_of_denoised",
]

#: "auto" projects when the estimated white noise is at least this fraction of the total
#: variance (measured, docs/large-n/LARGE_N.md: clean rotor images/maps give f < 0.01, SNR 1
#: images f = 0.5).
NOISE_MIN_FRACTION = 0.1
#: "auto" projects only from this many items on (the median-eigenvalue noise estimate needs a
#: spectrum of some length; below, the dense path at small n is left as it was measured).
DENOISE_MIN_ITEMS = 400
#: "auto" projects only items of at least this many values (the Marchenko-Pastur law describes
#: many values per item; a 2-D point cloud is never "noise").
DENOISE_MIN_FEATURES = 100
#: "auto" projects only items of at most this many times as many values as there are items
#: (``p <= DENOISE_MAX_RATIO * n``). Measured on noisy 2-D projections of the real rotor map (WEMD,
#: dense, the paper's angle mixture, SNR 0.5 and 1; docs/large-n/NOISY_IMAGES.md): runs where
#: the projection gave a lower median error than none: p/n = 1.1-2.2 (47 x 47, n =
#: 1,000-2,000) 16 of 16 (SNR 0.5: 60-111 -> 3.8-7.2 degrees), p/n = 4.1 (64 x 64, n = 1,000)
#: 2 of 2, p/n = 10.2 (64 x 64, n = 400) 6 of 8 and 1 tie (SNR 0.5: 33-95 -> 4.3-5.7); above,
#: mixed: p/n = 12 (96 x 96, n = 768) 3 of 4, 15.4 (n = 600) 0 of 4, 23 (n = 400) 1 of 4, 41
#: (128 x 128, n = 400) 3 of 4; the 3-D rotor maps at p/n = 287-574: it hurt (module
#: docstring). Chosen on seeds 0-1 and 5-6 (16 on seeds 0-1 alone; seeds 5-6 at p/n = 15.4
#: rejected it), held out: seeds 7-8 (p/n = 10.2 and 12) and 9-10 (56 x 56, p/n = 2.1 and
#: 7.8: 7 of 8; SNR 0.5: 9.2-89 -> 4.3-6.9). The rule before (``p <= n``) left
#: every set of fewer images than pixels undenoised, where the adaptive kernel reads m =
#: 12-17 from noise-concentrated distances and fails.
DENOISE_MAX_RATIO = 11
#: "auto" decides on this many evenly spaced rows first, so clean data pay for a small
#: (rows x rows) eigenproblem only, not the full covariance.
DECISION_ROWS = 2000
#: Covariance of items with more values than this is not formed (``p x p`` float64: 128 MiB at
#: 4096 values, 2 GiB at 16,384); with fewer items than values the ``n x n`` Gram matrix is used.
MAX_FEATURES = 16384
#: Rows per block of the covariance accumulation and of the projection.
CHUNK_ROWS = 4096


def check_denoise(denoise):
    """Validate ``denoise``: "auto", "pca", "off" or a positive int rank; returns it.

    Raises
    ------
    ValueError
        Naming the parameter, the bad value and the choices.
    """
    if isinstance(denoise, str) and denoise in ("auto", "pca", "off"):
        return denoise
    if isinstance(denoise, numbers.Integral) and not isinstance(denoise, bool) and denoise >= 1:
        return int(denoise)
    raise ValueError(f"denoise: expected 'auto', 'pca', 'off' or a positive integer rank, got "
                     f"{denoise!r}; use denoise='off' to compute the distances on the items as "
                     "they are")


# -- the Marchenko-Pastur rule -------------------------------------------------------------------


def marchenko_pastur_median(beta: float) -> float:
    r"""Median of the Marchenko-Pastur law of ratio ``beta`` in (0, 1], unit variance.

    Density :math:`\sqrt{(b - x)(x - a)} / (2\pi\beta x)` on
    :math:`[a, b] = [(1-\sqrt\beta)^2, (1+\sqrt\beta)^2]`; the median is found by bisection
    of the exact CDF (numerical quadrature on a fine grid in :math:`\sqrt{x}`).
    """
    beta = float(beta)
    if not 0 < beta <= 1:
        raise ValueError(f"beta: expected 0 < beta <= 1, got {beta}")
    a, b = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2
    # substitute x = a + (b - a) sin^2(t): smooth integrand, no endpoint singularity
    t = np.linspace(0.0, math.pi / 2, 20001)
    x = a + (b - a) * np.sin(t) ** 2
    dx = 2 * (b - a) * np.sin(t) * np.cos(t)
    dens = np.sqrt(np.maximum((b - x) * (x - a), 0.0)) / (2 * math.pi * beta
                                                          * np.maximum(x, 1e-300))
    f = dens * dx
    cdf = np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * np.diff(t))])
    cdf /= cdf[-1]
    return float(np.interp(0.5, cdf, x))


def marchenko_pastur_edge(noise_variance: float, n: int, p: int) -> float:
    r"""Upper edge of the covariance eigenvalues of ``n`` x ``p`` white noise.

    :math:`\sigma^2 s (1 + \sqrt\beta)^2`, :math:`\beta = \min(n,p)/\max(n,p)`,
    :math:`s = p/n` if :math:`p > n` else 1 (the non-zero eigenvalues of
    :math:`X^T X / n` for :math:`p > n` are those of :math:`X X^T / n`).
    """
    beta = min(n, p) / max(n, p)
    s = p / n if p > n else 1.0
    return float(noise_variance) * s * (1 + math.sqrt(beta)) ** 2


def marchenko_pastur_rank(eigenvalues, n: int, p: int):
    r"""Signal rank, noise variance and bulk edge from the covariance eigenvalues.

    Parameters
    ----------
    eigenvalues : array_like, shape (min(n, p),)
        Non-zero eigenvalues of the sample covariance :math:`C = X_c^T X_c / n` (any order).
    n, p : int
        Items and values per item.

    Returns
    -------
    rank : int
        Eigenvalues above the edge.
    noise_variance : float
        :math:`\hat\sigma^2 = \operatorname{median}(\lambda) / (s\,\mu_\beta)`, with
        :math:`\beta = \min(n,p)/\max(n,p)`, :math:`\mu_\beta` the law's median and
        :math:`s = p/n` if :math:`p > n` else 1.
    edge : float
        :math:`\hat\sigma^2 s (1 + \sqrt\beta)^2`.
    """
    ev = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1][: min(n, p)]
    beta = min(n, p) / max(n, p)
    s = p / n if p > n else 1.0
    sigma2 = float(max(np.median(ev), 0.0) / (s * marchenko_pastur_median(beta)))
    edge = marchenko_pastur_edge(sigma2, n, p)
    return int(np.sum(ev > edge)), sigma2, float(edge)


# -- chunked covariance --------------------------------------------------------------------------


def moments_block(X, i0: int, i1: int, shift):
    r"""Sufficient statistics of rows ``i0:i1`` of ``X`` about ``shift``: pure, one block.

    Returns ``(count, s, S)`` with :math:`s = \sum_i (x_i - c)` (shape (p,)) and
    :math:`S = \sum_i (x_i - c)(x_i - c)^T` (shape (p, p)), float64, ``c = shift`` (a fixed
    reference, e.g. the mean of a first block, so the sums do not cancel). float32 items are
    multiplied in float32 (half the time of the dominant ``p x p`` product; the block sums are
    returned in float64 and combined in float64).
    """
    x = np.asarray(X[i0:i1]).reshape(i1 - i0, -1)
    dt = np.float32 if x.dtype == np.float32 else np.float64
    blk = x.astype(dt) - np.asarray(shift, dtype=dt)
    return i1 - i0, blk.sum(axis=0, dtype=np.float64), (blk.T @ blk).astype(np.float64)


def combine_moments(blocks, shift):
    r"""Mean (p,) and covariance (p, p) of all rows from the :func:`moments_block` results.

    :math:`\bar x = c + s/n`, :math:`C = S/n - (s/n)(s/n)^T` (the 1/n, maximum-likelihood
    covariance the Marchenko-Pastur law describes).
    """
    n, s, S = 0, 0.0, 0.0
    for c, b, B in blocks:
        n, s, S = n + c, s + b, S + B
    m = s / n
    cov = S / n - np.outer(m, m)
    return np.asarray(shift, dtype=np.float64) + m, (cov + cov.T) / 2


# -- the fitted projection -----------------------------------------------------------------------


@dataclass(frozen=True)
class PCADenoiser:
    r"""The fitted projection on the leading principal components.

    Attributes
    ----------
    mean : ndarray, shape (p,)
    components : ndarray, shape (p, rank)
        Orthonormal principal axes, largest eigenvalue first; each axis's largest-magnitude
        entry is positive (deterministic signs).
    eigenvalues : ndarray, shape (rank,)
        Covariance eigenvalues of the kept components.
    rank : int
    noise_variance : float
        :math:`\hat\sigma^2` per value (see :func:`marchenko_pastur_rank`).
    edge : float
        The bulk edge the kept eigenvalues exceed (0 for a fixed rank).
    noise_fraction : float
        :math:`p\hat\sigma^2 / \operatorname{tr} C`, what "auto" decides on.
    item_shape : tuple of int
    """

    mean: np.ndarray
    components: np.ndarray
    eigenvalues: np.ndarray
    rank: int
    noise_variance: float
    edge: float
    noise_fraction: float
    item_shape: tuple

    def summary(self) -> str:
        """One line for the plan/graph output."""
        return (f"PCA denoising: rank {self.rank} (Marchenko-Pastur edge {self.edge:.4g}), "
                f"noise variance {self.noise_variance:.4g} per value "
                f"({self.noise_fraction:.0%} of the variance)")


def project_block(model: PCADenoiser, X, i0: int, i1: int) -> np.ndarray:
    r"""Scores :math:`(x_i - \bar x) V` of rows ``i0:i1``: shape (i1 - i0, rank), float64."""
    blk = np.asarray(X[i0:i1]).reshape(i1 - i0, -1).astype(np.float64) - model.mean
    return blk @ model.components


def reconstruct_block(model: PCADenoiser, X, i0: int, i1: int, dtype=None) -> np.ndarray:
    r"""Denoised items :math:`\bar x + (x_i - \bar x) V V^T` of rows ``i0:i1``.

    Shape (i1 - i0, *item_shape), in ``dtype`` (default ``X``'s floating dtype).
    """
    dt = dtype or (X.dtype if np.issubdtype(np.asarray(X[:0]).dtype, np.floating) else np.float64)
    return from_scores(model, project_block(model, X, i0, i1), dt)


def from_scores(model: PCADenoiser, scores, dtype=np.float64) -> np.ndarray:
    r"""Items :math:`\bar x + s V^T` of the (rows, rank) ``scores``: shape (rows, *item_shape)."""
    out = np.asarray(scores) @ model.components.T + model.mean
    return out.reshape(out.shape[0], *model.item_shape).astype(dtype, copy=False)


def from_scores_blocks(model: PCADenoiser, scores, dtype, out=None) -> np.ndarray:
    """:func:`from_scores` of (n, rank) ``scores`` block by block (:data:`CHUNK_ROWS` rows, the
    blocks of :func:`wemd_of_denoised`): shape (n, *item_shape) in ``dtype`` (float64 unless
    floating), written into ``out`` (e.g. a memory map) when given."""
    dt = np.dtype(dtype) if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)
    n = int(np.shape(scores)[0])
    if out is None:
        out = np.empty((n, *model.item_shape), dtype=dt)
    for a in range(0, n, CHUNK_ROWS):
        out[a:a + CHUNK_ROWS] = from_scores(model, scores[a:a + CHUNK_ROWS], dt)
    return out


def _signs(V: np.ndarray) -> np.ndarray:
    i = np.argmax(np.abs(V), axis=0)
    s = np.sign(V[i, np.arange(V.shape[1])])
    s[s == 0] = 1.0
    return V * s


def fit_denoiser(X, rank="auto", *, chunk_rows: int = CHUNK_ROWS) -> PCADenoiser:
    r"""Fit the PCA projection of ``X`` and choose its rank.

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Items (trailing axes flattened to ``p`` values); memory-mapped arrays are read block
        by block.
    rank : "auto" or int, default "auto"
        "auto": :func:`marchenko_pastur_rank` (at least 1); an int: that many components.
    chunk_rows : int
        Rows per block of the covariance (:func:`moments_block`).

    Returns
    -------
    PCADenoiser

    Notes
    -----
    :math:`p \le n`: :math:`C` from the chunked moments, ``eigh`` of (p, p). :math:`p > n`: the
    Gram matrix :math:`G = X_c X_c^T / n` (n, n) has the same non-zero eigenvalues and
    :math:`V = X_c^T U \Lambda^{-1/2} / \sqrt n`.
    """
    n = int(np.shape(X)[0])
    shape = tuple(int(s) for s in np.shape(X)[1:])
    p = math.prod(shape)
    if n < 3:
        raise ValueError(f"X: PCA denoising needs at least 3 items, got {n}")
    if p <= n:
        if p > MAX_FEATURES:
            raise ValueError(f"X: items of {p} values: the PCA covariance ({p} x {p}) would "
                             f"need {p * p * 8 / 2**30:.1f} GiB (limit {MAX_FEATURES} values); "
                             "use denoise='off'")
        shift = np.asarray(X[: min(n, chunk_rows)]).reshape(-1, p).mean(axis=0, dtype=np.float64)
        mean, cov = combine_moments((moments_block(X, a, min(n, a + chunk_rows), shift)
                                     for a in range(0, n, chunk_rows)), shift)
        w, V = np.linalg.eigh(cov)
        w, V = w[::-1], V[:, ::-1]
        total = float(np.trace(cov))
    else:
        flat = np.asarray(X).reshape(n, p)
        dt = np.float32 if flat.dtype == np.float32 else np.float64  # float32 stays float32
        mean = flat.mean(axis=0, dtype=np.float64)
        Xc = flat.astype(dt) - mean.astype(dt)
        w, U = np.linalg.eigh((Xc @ Xc.T).astype(np.float64) / n)
        w, U = w[::-1], U[:, ::-1]
        total = float(w.sum())
        V = None
    w = np.maximum(w[: min(n, p)], 0.0)
    r_mp, sigma2, edge = marchenko_pastur_rank(w, n, p)
    if rank == "auto":
        r = max(1, r_mp)
    else:
        r, edge = int(min(rank, n - 1, p)), 0.0
    if V is None:
        V = (Xc.T @ (U[:, :r] / np.sqrt(np.maximum(w[:r], 1e-300) * n)).astype(dt)).astype(
            np.float64)
        del Xc
    comps = _signs(np.ascontiguousarray(V[:, :r]))
    return PCADenoiser(mean=mean, components=comps, eigenvalues=w[:r].copy(), rank=int(r),
                       noise_variance=sigma2, edge=float(edge),
                       noise_fraction=float(p * sigma2 / total) if total > 0 else 0.0,
                       item_shape=shape)


def denoise_applies(denoise, model: PCADenoiser, n: int) -> bool:
    """Whether the projection is used: always for "pca" or a rank, never for "off"; for
    "auto" when :func:`auto_size_applies` and ``noise_fraction >= NOISE_MIN_FRACTION``."""
    if denoise == "off":
        return False
    if denoise == "auto":
        return bool(auto_size_applies(n, math.prod(model.item_shape))
                    and model.noise_fraction >= NOISE_MIN_FRACTION)
    return True


def auto_size_applies(n: int, p: int) -> bool:
    """The size part of the "auto" rule: ``n >= DENOISE_MIN_ITEMS`` items of
    ``DENOISE_MIN_FEATURES <= p <= DENOISE_MAX_RATIO * n`` values (see the module docstring)."""
    return bool(DENOISE_MIN_FEATURES <= p <= DENOISE_MAX_RATIO * n and n >= DENOISE_MIN_ITEMS)


def fit_for(X, denoise="auto"):
    """The denoiser ``denoise`` asks for on ``X``, or None where it does not apply.

    "auto" first fits :data:`DECISION_ROWS` evenly spaced rows (cheap: their Gram matrix)
    and fits all rows only if :func:`denoise_applies` holds there.
    """
    denoise = check_denoise(denoise)
    if denoise == "off":
        return None
    n = int(np.shape(X)[0])
    p = math.prod(np.shape(X)[1:])
    if denoise == "auto":
        if not auto_size_applies(n, p):
            return None
        if n > DECISION_ROWS:
            rows = np.linspace(0, n - 1, DECISION_ROWS).round().astype(np.int64)
            probe = fit_denoiser(np.asarray(X[rows]), "auto")
            if not denoise_applies("auto", probe, n):
                return None
    model = fit_denoiser(X, "auto" if denoise in ("auto", "pca") else denoise)
    return model if denoise_applies(denoise, model, n) else None


# -- applying it ---------------------------------------------------------------------------------


def denoise_items(X, denoise="auto", *, scores: bool = False):
    """``(items, denoiser)``: ``X`` projected by :func:`fit_for` where
    ``denoise`` applies (:func:`denoise_applies`), else ``(X, None)``.

    ``scores=True`` returns the (n, rank) scores (their L2 distances are those of the
    reconstructions), else the reconstructed items (n, ...): :func:`apply_denoiser`.
    """
    model = fit_for(X, denoise)
    if model is None:
        return X, None
    return apply_denoiser(model, X, scores=scores)


def apply_denoiser(model, X, *, scores: bool = False, out=None):
    """``(items, model)``: ``X`` (n, ...) through a fitted :class:`PCADenoiser`,
    block by block (:data:`CHUNK_ROWS` rows).

    ``scores=True``: the (n, rank) float64 scores. Else the reconstructions, shape (n, ...) in
    ``X``'s float dtype (float64 for other dtypes), written into ``out`` when given (e.g. a
    memory map: the distributed path's file holds exactly the in-memory values).
    """
    X = np.asarray(X) if not hasattr(X, "dtype") else X
    n = int(X.shape[0])
    blocks = range(0, n, CHUNK_ROWS)
    if scores:
        return np.concatenate([project_block(model, X, a, min(n, a + CHUNK_ROWS))
                               for a in blocks]), model
    dt = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
    if out is None:
        out = np.empty((n, *model.item_shape), dtype=dt)
    for a in blocks:
        out[a:a + CHUNK_ROWS] = reconstruct_block(model, X, a, min(n, a + CHUNK_ROWS), dt)
    return out, model


def reconstruction_negative(X, negative=None) -> str:
    """Check the user's items for negative voxels once; the policy for their reconstructions.

    A PCA reconstruction is signed by construction, so counting its negative voxels would
    describe the projection, not the data (and, block by block, only the first block). The
    user's items are validated instead, with the user's policy (``None`` warns with their
    counts, ``"error"`` refuses them); the reconstructions are then transformed as signed
    measures (``"keep"``), or clipped when the user asked for ``"clip"``.

    Parameters
    ----------
    X : ndarray, shape (n, *item_shape)
        The items as the user gave them (not copied unless they are not floating point).
    negative : {None, "keep", "clip", "error"}

    Returns
    -------
    {"keep", "clip"}
    """
    from ._validation import check_choice, check_densities

    if negative is not None:
        negative = check_choice(negative, "negative", ["keep", "clip", "error"])
    check_densities(X, "densities", negative="keep" if negative == "clip" else negative)
    return reconstruction_policy(negative)


def reconstruction_policy(negative=None) -> str:
    """How reconstructions are transformed under the user's ``negative`` policy, unchecked:
    ``"clip"`` if the user asked for it, else ``"keep"`` (signed measures)."""
    return "clip" if negative == "clip" else "keep"


def wemd_of_denoised(model, X, metric_params: dict | None = None, *, scores=None):
    """WEMD features of the reconstructions of ``X``, never holding all the reconstructions.

    ``scores`` (n, rank), when given, are reconstructed instead of ``X``'s own scores
    (:func:`from_scores`; e.g. the averaged scores of :mod:`conformap.averaging`); ``X`` still
    gives the dtype and the check of the user's negative voxels.

    Two passes over blocks of :data:`CHUNK_ROWS` items: the first computes
    every block's full coefficient vectors (``columns="all"``) for the column maxima and row
    L1 norms, which decide the columns exactly as ``columns="resolved"`` does
    (:func:`conformap.wemd.resolved_from_stats`; "support" keeps the non-zero columns); the
    second recomputes them and stores only those columns. Memory: the output plus one block,
    instead of the output plus a copy of the items (1e5 64 x 64 float32 images: 1.6 GB).

    Returns
    -------
    features : ndarray, shape (n, D')
    columns : ndarray of int or None
        The kept columns of the full vector (None: all).
    full_size : int
        ``D``, coefficients per item before the column choice.
    """
    from ._validation import check_choice
    from .wemd import resolved_from_stats, wemd_embedding, wemd_size

    params = dict(metric_params or {})
    columns = check_choice(params.pop("columns", "resolved"), "metric_params['columns']",
                           ["all", "support", "resolved"])
    params.pop("progress", None)
    params["negative"] = reconstruction_negative(X, params.get("negative"))
    n = int(X.shape[0])
    dt = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
    full = wemd_size(model.item_shape, **{k: v for k, v in params.items()
                                          if k in ("wavelet", "level", "mode")})
    blocks = [(a, min(n, a + CHUNK_ROWS)) for a in range(0, n, CHUNK_ROWS)]

    def coefficients(a, b):
        items = (reconstruct_block(model, X, a, b, dt) if scores is None
                 else from_scores(model, scores[a:b], dt))
        return wemd_embedding(items, columns="all", **params)

    cols = None
    if columns != "all":
        colmax = np.zeros(full)
        l1 = np.empty(n)
        for a, b in blocks:
            c = np.abs(coefficients(a, b))
            np.maximum(colmax, c.max(axis=0), out=colmax)
            l1[a:b] = c.sum(axis=1, dtype=np.float64)
            del c
        cols = (np.flatnonzero(colmax > 0) if columns == "support"
                else resolved_from_stats(colmax, l1, dt))
        if cols.size == full:
            cols = None
    out = np.empty((n, full if cols is None else cols.size), dtype=dt)
    for a, b in blocks:
        c = coefficients(a, b)
        out[a:b] = c if cols is None else c[:, cols]
    return out, cols, full


@contextlib.contextmanager
def denoised_file(X, denoise="auto", directory=None, *, model=None, scores=None):
    """Context: ``(items, denoiser)`` for the out-of-core path, where ``items`` is a read-only
    memory map of the reconstructions in a temporary .npy under ``directory`` (which every
    worker must see; removed on exit), or ``(X, None)`` where ``denoise`` does not apply.

    The values are those of :func:`denoise_items` (same blocks, same arithmetic). ``model``
    (an already fitted :class:`PCADenoiser`) skips the fit; ``scores`` (n, rank) are then
    reconstructed instead of ``X``'s own (:func:`from_scores_blocks`; the averaged scores of
    :mod:`conformap.averaging`), ``X`` giving the dtype.
    """
    import shutil
    import tempfile

    if model is None:
        model = fit_for(X, denoise)
    if model is None:
        yield X, None
        return
    if directory is not None:  # a --cache directory is made on first use
        os.makedirs(directory, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="conformap-denoised-", dir=directory)
    try:
        dt = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
        path = f"{tmp}/denoised.npy"
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=dt, shape=(X.shape[0],
                                                                         *model.item_shape))
        if scores is None:
            apply_denoiser(model, X, out=mm)
        else:
            from_scores_blocks(model, scores, dt, out=mm)
        mm.flush()
        del mm
        yield np.load(path, mmap_mode="r"), model
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
