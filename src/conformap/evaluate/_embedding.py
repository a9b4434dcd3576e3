"""How well an embedding recovers a known circle or curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

__all__ = ["GEOMETRY_MAX_ITEMS", "CircleRecovery", "circle_recovery", "curve_order"]


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
        embedding (all pairs among at most :data:`GEOMETRY_MAX_ITEMS` evenly spaced items) and the true chord distances :math:`2|\sin(\Delta\theta/2)|`: 1 when the
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


def _wrap(a):
    return np.angle(np.exp(1j * a))


def circle_recovery(embedding, angles) -> CircleRecovery:
    """Compare the angle of a 2-D embedding around its centre with ground-truth angles.

    The estimated angle is ``atan2`` of the first two coordinates about the centre of their
    range (each axis scaled to [-1, 1], so an ellipse counts as a circle); it is
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
    # Centre and scale each axis by its mid-range: the sample mean is pulled toward densely
    # sampled angles (the rotor's three dominant states), the range is not.
    lo, hi = emb[:, :2].min(axis=0), emb[:, :2].max(axis=0)
    xy = (emb[:, :2] - (lo + hi) / 2) / np.where(hi > lo, (hi - lo) / 2, 1.0)
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
