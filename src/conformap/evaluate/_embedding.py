"""How well an embedding recovers a known circle or curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

__all__ = [
    "ELLIPSE_MAX_AXIS_RATIO",
    "GEOMETRY_MAX_ITEMS",
    "CircleRecovery",
    "circle_recovery",
    "curve_order",
    "unit_circle_coordinates",
]


@dataclass(frozen=True)
class CircleRecovery:
    r"""Angular recovery of a circle (all angles in degrees).

    Attributes
    ----------
    median_error, p90_error : float
        Median and 90th percentile of the absolute angular error after the best rotation and
        reflection.
    circular_correlation : float
        Absolute Jammalamadaka-Sarma circular correlation between estimated and true angles
        (1 = perfect, ~0 = unrelated); invariant to rotation and reflection.
    geometry_correlation : float
        Spearman correlation between the pairwise distances in the (centred, scaled) 2-D
        embedding (all pairs among at most :data:`GEOMETRY_MAX_ITEMS` evenly spaced items) and
        the true chord distances :math:`2|\sin(\Delta\theta/2)|`: 1 when the
        embedding is a faithful circle; lower when distant angles land close together (the
        star- and triangle-shaped failures of L2 embeddings), even if ``atan2`` still orders
        the points.
    offset : float
        Rotation that aligns the estimate with the truth.
    reflected : bool
        Whether the estimate runs the other way round.
    estimated : ndarray, shape (n,)
        Aligned estimated angles in [0, 360).
    """

    median_error: float
    p90_error: float
    circular_correlation: float
    geometry_correlation: float
    offset: float
    reflected: bool
    estimated: np.ndarray


#: The geometry correlation compares the pairwise distances among at most this many items
#: (evenly spaced rows): all pairs of 1e5 items would need tens of GB (37 GiB measured).
GEOMETRY_MAX_ITEMS = 5000


#: The conic fit of :func:`unit_circle_coordinates` is used only when it is an ellipse whose
#: centre lies inside the points' bounding box and whose axes differ by at most this factor
#: once each coordinate is scaled to [-1, 1]; otherwise (a star, a blob, a line) the
#: coordinates are scaled by their mid-range as before. A perfect embedding passes unless its
#: affine map shears it into a sliver (axis ratio 100 after the per-axis scaling, where the
#: angle rests on the thin direction alone).
ELLIPSE_MAX_AXIS_RATIO = 100.0


def _wrap(a):
    return np.angle(np.exp(1j * a))


def _fit_ellipse(xy: np.ndarray):
    r"""Least-squares ellipse through 2-D points (Fitzgibbon, Pilu & Fisher 1999).

    Minimises :math:`\sum_i (a x_i^2 + b x_i y_i + c y_i^2 + d x_i + e y_i + f)^2` subject to
    :math:`4ac - b^2 = 1` (the ellipse-specific constraint), in the numerically stable form of
    Halir & Flusser (1998). Returns the conic coefficients ``(a, b, c, d, e, f)`` or None when
    no ellipse solves it (fewer than 6 points in general position).
    """
    x, y = xy[:, 0], xy[:, 1]
    D1 = np.c_[x * x, x * y, y * y]
    D2 = np.c_[x, y, np.ones_like(x)]
    S1, S2, S3 = D1.T @ D1, D1.T @ D2, D2.T @ D2
    try:
        T = -np.linalg.solve(S3, S2.T)
    except np.linalg.LinAlgError:
        return None
    M = S1 + S2 @ T
    M = np.array([M[2] / 2, -M[1], M[0] / 2])
    try:
        _, v = np.linalg.eig(M)
    except np.linalg.LinAlgError:
        return None
    v = np.real(v)
    cond = 4 * v[0] * v[2] - v[1] ** 2
    ok = np.flatnonzero(cond > 0)
    if ok.size == 0:
        return None
    a1 = v[:, ok[0]]
    return np.r_[a1, T @ a1]


def unit_circle_coordinates(embedding) -> np.ndarray:
    r"""The first two coordinates of an embedding mapped so that an ellipse becomes the unit
    circle, shape (n, 2).

    A least-squares ellipse (:func:`_fit_ellipse`) gives the centre :math:`c` and the shape
    :math:`A` (2 x 2, positive definite) of :math:`(p - c)^\top A (p - c) = 1`; the points are
    mapped to :math:`A^{1/2}(p - c)`. A perfect embedding (the true :math:`\cos, \sin` under
    any invertible affine map :math:`p = Mu + t`) lands on the unit circle at
    :math:`(MM^\top)^{-1/2}Mu`, an orthogonal image of :math:`u`: its angles are the true ones up
    to a rotation and reflection, exactly, however the angles were sampled. The fit uses
    only the coordinates, never the true angles. When the fit is not an ellipse, its centre
    lies outside the points' bounding box, or its axis ratio (after scaling each coordinate to
    [-1, 1]) exceeds :data:`ELLIPSE_MAX_AXIS_RATIO` (slivers, shapes far from a loop), each
    axis is centred
    and scaled by its mid-range instead (not pulled toward densely sampled angles as the mean
    would be, but exact only when the sample reaches each axis' extremes).
    """
    emb = np.asarray(embedding, dtype=float)[:, :2]
    lo, hi = emb.min(axis=0), emb.max(axis=0)
    half = np.where(hi > lo, (hi - lo) / 2, 1.0)
    mid = (emb - (lo + hi) / 2) / half
    if emb.shape[0] < 6:
        return mid
    coef = _fit_ellipse(mid)  # fitted on the mid-range-scaled points: well conditioned
    if coef is None:
        return mid
    a, b, c, d, e, f = coef
    A = np.array([[a, b / 2], [b / 2, c]])
    try:
        centre = np.linalg.solve(2 * A, -np.array([d, e]))
    except np.linalg.LinAlgError:
        return mid
    level = float(centre @ A @ centre - f)  # (p - c)^T A (p - c) = level on the conic
    if level == 0 or not np.all(np.abs(centre) < 1.0):
        return mid
    w, V = np.linalg.eigh(A / level)
    if w.min() <= 0 or np.sqrt(w.max() / w.min()) > ELLIPSE_MAX_AXIS_RATIO:
        return mid
    root = (V * np.sqrt(w)) @ V.T
    return (mid - centre) @ root  # root is symmetric


def circle_recovery(embedding, angles) -> CircleRecovery:
    """Compare the angle of a 2-D embedding around its centre with ground-truth angles.

    The estimated angle is ``atan2`` of the first two coordinates after the least-squares
    ellipse through them is mapped to the unit circle (:func:`unit_circle_coordinates`; so
    any ellipse counts as a circle, and a perfect embedding scores 0 however its angles were
    sampled; shapes far from an ellipse fall back to each axis' mid-range); it is
    aligned to the truth by the rotation (and, if better, reflection) that minimises the
    median absolute error (a circular-median fit, robust to a few misplaced points).

    Parameters
    ----------
    embedding : array_like, shape (n, >=2)
    angles : array_like, shape (n,)
        True angles in degrees.
    """
    emb = np.asarray(embedding, dtype=float)
    truth = np.radians(np.asarray(angles, dtype=float).ravel())
    if emb.ndim != 2 or emb.shape[1] < 2 or emb.shape[0] != truth.size:
        raise ValueError(
            f"embedding: expected shape ({truth.size}, >=2) to match angles, got {emb.shape}"
        )
    xy = unit_circle_coordinates(emb)
    est = np.arctan2(xy[:, 1], xy[:, 0])
    best = None
    grid = np.radians(np.arange(0.0, 360.0, 0.5))
    for sign in (1.0, -1.0):
        diff = _wrap(sign * est - truth)
        # Coarse search of the offset minimising the median error, then refine on the data.
        med = [np.median(np.abs(_wrap(diff - g))) for g in grid]
        g0 = grid[int(np.argmin(med))]
        offset = g0 + np.median(_wrap(diff - g0))
        err = np.abs(_wrap(diff - offset))
        if best is None or np.median(err) < np.median(best[0]):
            best = (err, offset, sign)
    err, offset, sign = best
    a, b = sign * est, truth
    abar = np.angle(np.mean(np.exp(1j * a)))
    bbar = np.angle(np.mean(np.exp(1j * b)))
    sa, sb = np.sin(a - abar), np.sin(b - bbar)
    denom = np.sqrt((sa**2).sum() * (sb**2).sum())
    rho = float(abs((sa * sb).sum()) / denom) if denom > 0 else 0.0
    from scipy.spatial.distance import pdist

    rows = np.unique(np.linspace(0, truth.size - 1, min(truth.size, GEOMETRY_MAX_ITEMS),
                                 dtype=np.int64))
    chord = pdist(np.c_[np.cos(truth[rows]), np.sin(truth[rows])])
    geo = (float(scipy.stats.spearmanr(pdist(xy[rows]), chord).statistic)
           if rows.size > 2 else 1.0)
    return CircleRecovery(
        median_error=float(np.degrees(np.median(err))),
        p90_error=float(np.degrees(np.percentile(err, 90))),
        circular_correlation=rho,
        geometry_correlation=geo,
        offset=float(np.degrees(offset) % 360),
        reflected=bool(sign < 0),
        estimated=np.degrees(np.mod(sign * est - offset, 2 * np.pi)),
    )


def curve_order(coordinate, truth) -> float:
    """Absolute Spearman rank correlation between a 1-D coordinate and the true curve parameter.

    1 means the embedding orders the points along an open curve exactly as the truth does.
    """
    c = np.asarray(coordinate, dtype=float).ravel()
    t = np.asarray(truth, dtype=float).ravel()
    if c.size != t.size:
        raise ValueError(f"coordinate: has {c.size} values but truth has {t.size}")
    return float(abs(scipy.stats.spearmanr(c, t).statistic))
