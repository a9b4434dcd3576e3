r"""MAX-CUT and MAX-k-CUT by semidefinite relaxation and randomized rounding.

MAX-CUT (Goemans & Williamson 1995), for a symmetric non-negative weight matrix :math:`W`:

.. math::

    \max_{X \succeq 0,\ X_{ii} = 1} \ \tfrac14 \sum_{i, j} W_{ij} (1 - X_{ij}),

then :math:`X = V V^\top` and each random hyperplane :math:`r \sim N(0, I)` gives the cut
:math:`s = \operatorname{sign}(V r)`; we draw many seeded hyperplanes and keep the best cut.

MAX-k-CUT (Frieze & Jerrum 1997 relaxation):

.. math::

    \max_{X \succeq 0,\ X_{ii} = 1,\ X_{ij} \ge -\tfrac{1}{k-1}}
    \ \tfrac{k-1}{2k} \sum_{i, j} W_{ij} (1 - X_{ij}),

rounded as in Newman (2018): project the vectors on a random complex Gaussian direction
:math:`z_i = \langle v_i, g_1 + \mathrm{i}\, g_2 \rangle` and split the complex plane into
:math:`k` sectors of angle :math:`2\pi/k`.

After rounding, a greedy single-vertex local search (move a vertex to another part while the
cut weight grows) is applied to the best partition; it never lowers the cut.

Ties. A sparse graph often has several maximum cuts of exactly equal weight (with three or
more parts, a vertex linked to one part only may join either of the others). ``tiebreak``, a
signed weight matrix of secondary evidence, decides between them lexicographically: among the
roundings whose cut weight equals the best up to rounding error, the one with the largest
secondary cut is kept, and the local search also takes moves that leave the cut weight
unchanged and raise the secondary cut. Without it the choice among equal cuts is the
rounding's random draw.

References
----------
M. X. Goemans and D. P. Williamson, J. ACM 42(6), 1995. A. Frieze and M. Jerrum,
Algorithmica 18, 1997. A. Newman, "Complex semidefinite programming and max-k-cut", SOSA 2018.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_positive, check_rng

__all__ = ["CutResult", "cut_weight", "improve_cut", "max_cut"]

#: Cut weights this close (relative) are equal up to rounding: ties for ``tiebreak``.
_TIE = 1e-9


@dataclass(frozen=True)
class CutResult:
    """A partition of the vertices of a weighted graph.

    Attributes
    ----------
    labels : ndarray of int, shape (m,)
        Part of each vertex, in ``0..k-1``, numbered by first appearance (vertex 0 is in
        part 0).
    weight : float
        Total weight of the edges between different parts.
    sdp_bound : float
        The SDP optimum, an upper bound on the maximum cut.
    n_rounds : int
        Random roundings tried.
    """

    labels: np.ndarray
    weight: float
    sdp_bound: float
    n_rounds: int


def _check_weights(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"weights: expected a square (m, m) matrix, got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights: contain NaN or infinite values")
    if (w < 0).any():
        raise ValueError(f"weights: must be non-negative (min {w.min():.3g})")
    if not np.allclose(w, w.T):
        raise ValueError("weights: must be symmetric; pass (W + W.T) / 2 if intended")
    w = w.copy()
    np.fill_diagonal(w, 0.0)
    return w


def cut_weight(weights, labels) -> float:
    """Total weight of the edges whose endpoints have different labels."""
    w = np.asarray(weights, dtype=np.float64)
    lab = np.asarray(labels)
    diff = lab[:, None] != lab[None, :]
    return float(np.triu(w * diff, 1).sum())


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber parts by first appearance so that equal partitions compare equal."""
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    mapping = np.empty(labels.max() + 1, dtype=np.int64)
    mapping[np.unique(labels)[order]] = np.arange(order.size)
    return mapping[labels]


def _solve_sdp(w: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    import cvxpy as cp

    m = w.shape[0]
    x = cp.Variable((m, m), PSD=True)
    cons = [cp.diag(x) == 1]
    if k > 2:
        cons.append(x >= -1.0 / (k - 1))
    obj = cp.Maximize((k - 1) / (2 * k) * cp.sum(cp.multiply(w, 1 - x)))
    prob = cp.Problem(obj, cons)
    solvers = [s for s in ("CLARABEL", "SCS") if s in cp.installed_solvers()]
    if not solvers:
        raise RuntimeError("cvxpy has neither the CLARABEL nor the SCS solver installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # solver chatter about accuracy is checked below
        prob.solve(solver=solvers[0])
    if x.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"MAX-CUT SDP: the solver {solvers[0]} returned status {prob.status}")
    xv = (x.value + x.value.T) / 2
    evals, evecs = np.linalg.eigh(xv)
    vecs = evecs * np.sqrt(np.clip(evals, 0.0, None))  # X ~ V V^T
    return vecs, float(prob.value)


def _gains(w: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """gain[v, p]: change of the cut weight when vertex v moves to part p."""
    m = w.shape[0]
    conn = np.zeros((m, k))
    np.add.at(conn.T, labels, w)  # conn[v, p] = sum of w[v, u] over u in part p
    inside = conn[np.arange(m), labels]
    gain = inside[:, None] - conn  # moving v to p cuts its edges to its part, uncuts to p
    gain[np.arange(m), labels] = 0.0
    return gain


def _local_search(w: np.ndarray, labels: np.ndarray, k: int, tiebreak=None, *,
                  ties_only: bool = False, keep_parts: bool = False,
                  margin: float = 0.0) -> np.ndarray:
    """Greedy moves of single vertices to the part that raises the cut most; with
    ``tiebreak``, also moves that keep the cut weight (within rounding) and raise the
    secondary cut by more than ``margin`` (lexicographic, so it terminates). ``ties_only``:
    only the latter; ``keep_parts``: never move the last vertex of a part."""
    labels = labels.copy()
    m = w.shape[0]
    tol = _TIE * max(1.0, float(np.abs(w).sum()))
    for _ in range(10 * m + 10):
        gain = _gains(w, labels, k)
        if keep_parts:
            gain[np.bincount(labels, minlength=k)[labels] < 2] = -np.inf
        v, p = np.unravel_index(int(np.argmax(gain)), gain.shape)
        if gain[v, p] > 1e-12 and not ties_only:
            labels[v] = p
            continue
        if tiebreak is None:
            break
        second = np.where(np.abs(gain) <= tol, _gains(tiebreak, labels, k), -np.inf)
        second[np.arange(m), labels] = -np.inf
        if keep_parts:
            second[np.bincount(labels, minlength=k)[labels] < 2] = -np.inf
        v, p = np.unravel_index(int(np.argmax(second)), second.shape)
        if second[v, p] <= max(tol, margin):
            break
        labels[v] = p
    return labels


def improve_cut(weights, labels, n_parts: int, *, tiebreak=None,
                ties_only: bool = False, margin: float = 0.0) -> np.ndarray:
    r"""Improve a given partition by single-vertex moves (the local search of :func:`max_cut`).

    Moves that raise the cut weight are taken first (unless ``ties_only``); then, with
    ``tiebreak``, moves that keep the cut weight and raise the secondary cut by more than
    ``margin`` (evidence, not rounding, when a partition is revised). A part is never
    emptied, so ``n_parts`` larger than the labels' parts opens empty parts that moves may fill.

    Parameters
    ----------
    weights : array_like, shape (m, m)
    labels : array_like of int, shape (m,)
        Values in ``[0, n_parts)``.
    n_parts : int >= 2
    tiebreak : array_like, shape (m, m), optional
    ties_only : bool, default False
    margin : float >= 0, default 0

    Returns
    -------
    ndarray of int, shape (m,)
        Labels in the same numbering (not canonicalised).
    """
    w = _check_weights(weights)
    k = check_int(n_parts, "n_parts", low=2)
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (w.shape[0],) or (lab.size and (lab.min() < 0 or lab.max() >= k)):
        raise ValueError(f"labels: expected {w.shape[0]} integers in [0, {k}), got {lab!r}")
    return _local_search(w, lab, k, _check_tiebreak(tiebreak, w.shape[0]),
                         ties_only=ties_only, keep_parts=True,
                         margin=check_positive(margin, "margin", allow_zero=True))


def _check_tiebreak(tiebreak, m: int):
    if tiebreak is None:
        return None
    t = np.asarray(tiebreak, dtype=np.float64)
    if t.shape != (m, m) or not np.isfinite(t).all():
        raise ValueError(f"tiebreak: expected a finite ({m}, {m}) matrix like weights, got "
                         f"shape {t.shape}")
    t = (t + t.T) / 2
    np.fill_diagonal(t, 0.0)
    return t


def _lexicographic_best(cuts: np.ndarray, second) -> int:
    """Index of the largest cut; among cuts equal to it up to rounding, the largest second."""
    top = float(cuts.max())
    if second is None:
        return int(np.argmax(cuts))
    tied = cuts >= top - _TIE * max(1.0, abs(top))
    return int(np.argmax(np.where(tied, second, -np.inf)))


def max_cut(weights, n_parts: int = 2, *, n_rounds: int = 1000, local_search: bool = True,
            tiebreak=None, rng=None) -> CutResult:
    r"""Approximate MAX-(k-)CUT of a weighted graph by SDP relaxation + randomized rounding.

    Parameters
    ----------
    weights : array_like, shape (m, m)
        Symmetric non-negative edge weights (the diagonal is ignored).
    n_parts : int >= 2, default 2
        Number of parts k.
    n_rounds : int, default 1000
        Random hyperplanes (k = 2) or complex projections (k > 2) drawn; the best cut is kept.
    local_search : bool, default True
        Improve the best rounding by greedy single-vertex moves.
    tiebreak : array_like, shape (m, m), optional
        Signed secondary weights: among partitions whose cut weight is equal up to rounding,
        the one with the largest secondary cut :math:`\sum_{i<j,\ \ell_i \ne \ell_j} T_{ij}`
        (positive entries favour separating i and j, negative ones keeping them together).
        It never changes the cut weight.
    rng : int or Generator, optional
        Seeds the rounding (the SDP itself is deterministic).

    Returns
    -------
    CutResult
    """
    w = _check_weights(weights)
    tb = _check_tiebreak(tiebreak, w.shape[0])
    k = check_int(n_parts, "n_parts", low=2)
    rounds = check_int(n_rounds, "n_rounds", low=1)
    gen = check_rng(rng)
    m = w.shape[0]
    if m == 0:
        raise ValueError("weights: the graph has no vertices")
    if m <= k or not w.any():
        labels = np.arange(m) % k if w.any() else np.zeros(m, dtype=np.int64)
        labels = _canonical(labels)
        return CutResult(labels, cut_weight(w, labels), cut_weight(w, labels), 0)
    vecs, bound = _solve_sdp(w, k)
    if k == 2:
        r = gen.standard_normal((vecs.shape[1], rounds))
        signs = np.where(vecs @ r >= 0, 1.0, -1.0)  # (m, rounds)
        total = np.triu(w, 1).sum()
        cuts = 0.5 * total - 0.25 * np.einsum("ir,ij,jr->r", signs, w, signs)
        second = (None if tb is None else 0.5 * np.triu(tb, 1).sum()
                  - 0.25 * np.einsum("ir,ij,jr->r", signs, tb, signs))
        best = _lexicographic_best(cuts, second)
        labels = (signs[:, best] < 0).astype(np.int64)
    else:
        g = gen.standard_normal((vecs.shape[1], rounds)) + 1j * gen.standard_normal(
            (vecs.shape[1], rounds)
        )
        ang = np.angle(vecs @ g) % (2 * np.pi)  # (m, rounds)
        parts = np.minimum((ang / (2 * np.pi / k)).astype(np.int64), k - 1)
        diff = parts[:, None, :] != parts[None, :, :]
        cuts = 0.5 * np.einsum("ij,ijr->r", w, diff)
        second = None if tb is None else 0.5 * np.einsum("ij,ijr->r", tb, diff)
        best = _lexicographic_best(cuts, second)
        labels = parts[:, best]
    if local_search:
        labels = _local_search(w, labels, k, tb)
    labels = _canonical(labels)
    return CutResult(labels=labels, weight=cut_weight(w, labels), sdp_bound=bound,
                     n_rounds=rounds)
