r"""Accuracy of a product-manifold factorization against analytic ground truth.

An eigenvector :math:`\varphi` is a *factor eigenvector of factor f* when it is a function of
factor f's latent coordinate :math:`\theta_f` alone. We measure this by the fraction of its
variance explained by a least-squares fit on factor f's analytic eigenfunctions

.. math::

    R^2_f(\varphi) = 1 - \frac{\min_c \|\varphi - B_f c\|^2}{\|\varphi - \bar\varphi\|^2},

with :math:`B_f` the first ``n_modes`` Neumann cosines :math:`\cos(m\pi(\theta - a)/(b - a))`
of an interval :math:`[a, b]` or the Fourier modes :math:`\cos m\theta, \sin m\theta` of a
circle (plus the constant). For independent factors a product
:math:`f(\theta_1) g(\theta_2)` has :math:`R^2_f \approx 0` for both, and degenerate
eigenspaces (the torus's :math:`\cos`, :math:`\sin` pairs) are handled because only the span
matters.

Noise (the cryo-EM images) lowers every :math:`R^2` of an eigenvector, also on the right
factor, so labels use the *relative* score :math:`R^2_f / R^2_{\text{all}}`, where
:math:`R^2_{\text{all}}` is the fit on all smooth functions of the latent variables (each
factor's basis plus tensor products of the first ``n_joint_modes`` modes). The true label of
:math:`\varphi` is the factor with relative score :math:`\ge` ``threshold``, or -1
(product / mixed) if none, or if :math:`R^2_{\text{all}} <` ``min_signal`` (noise).

Both scores of the relative score are *adjusted* for the number of basis functions,
:math:`\bar R^2 = 1 - (1 - R^2)\frac{n - 1}{n - p - 1}` (``ADJUSTED``): the joint basis of three
factors has p = 672 columns, and at n = 3000 it explains 22 % of a white-noise vector by chance
(a single factor's 15-30 columns 0.6-0.8 %), so the plain ratio called a noisy but pure
single-factor eigenvector mixed (session 7 of ``docs/product-manifold/diagnosis.md``: the
rotor's eigenvectors at n = 3000, SNR 0.1, with product shares below 1 %, scored 0.85-0.90).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, permutations

import numpy as np

from .._stats import adjusted_r2
from .._validation import check_int

__all__ = ["ADJUSTED", "FactorAssignment", "factor_assignment", "factor_r2"]

#: factor_assignment scores eigenvectors by adjusted R^2 (chance fit of the p basis functions
#: removed): measured in diagnosis.md section 10, where the plain joint R^2 (p = 672 for three
#: factors) fit 22 % of white noise at n = 3000 and marked pure noisy factor eigenvectors mixed.
ADJUSTED = True


def _basis(theta: np.ndarray, kind: str, lo: float, hi: float, n_modes: int) -> np.ndarray:
    cols = [np.ones_like(theta)]
    if kind == "interval":
        u = (theta - lo) / (hi - lo)
        cols += [np.cos(m * np.pi * u) for m in range(1, n_modes + 1)]
    elif kind == "circle":
        u = 2 * np.pi * (theta - lo) / (hi - lo)
        for m in range(1, n_modes + 1):
            cols += [np.cos(m * u), np.sin(m * u)]
    else:
        raise ValueError(f"spec: factor kind {kind!r} is not supported; use 'interval' or 'circle'")
    return np.column_stack(cols)


def factor_r2(eigenvectors, truth: dict, *, n_modes: int = 15,
              adjusted: bool = False) -> np.ndarray:
    r"""Variance of each eigenvector explained by each factor's analytic eigenfunctions.

    Parameters
    ----------
    eigenvectors : array_like, shape (n, N)
    truth : dict
        Latent coordinates by name and ``"spec"``: a list of factors, each a dict with
        ``"kind"`` ("interval" or "circle"), ``"coordinate"`` (key into ``truth``) and
        ``"range"`` (a, b) (a circle's period is b - a), as returned by the
        :mod:`conformap.datasets` product generators.
    n_modes : int, default 15
        Analytic eigenfunctions per factor.
    adjusted : bool, default False
        Return the adjusted :math:`\bar R^2 = 1 - (1 - R^2)(n - 1)/(n - p - 1)`, p the rank of
        the factor's basis less the constant, clipped at 0: the chance fit of p functions to
        noise (about p / n of the noise variance) removed.

    Returns
    -------
    ndarray, shape (N, n_factors)
        :math:`R^2_f` of every column (NaN for a constant column).
    """
    phi = np.asarray(eigenvectors, dtype=np.float64)
    if phi.ndim != 2:
        raise ValueError(f"eigenvectors: expected shape (n, N), got {phi.shape}")
    n_modes = check_int(n_modes, "n_modes", low=1)
    spec = truth.get("spec") if isinstance(truth, dict) else None
    if not spec:
        raise ValueError("truth: needs a 'spec' list describing the factors (see make_rectangle)")
    centred = phi - phi.mean(axis=0)
    total = (centred**2).sum(axis=0)
    out = np.full((phi.shape[1], len(spec)), np.nan)
    for f, fac in enumerate(spec):
        theta = np.asarray(truth[fac["coordinate"]], dtype=np.float64)
        if theta.shape != (phi.shape[0],):
            raise ValueError(
                f"truth[{fac['coordinate']!r}]: expected shape ({phi.shape[0]},), got "
                f"{theta.shape}"
            )
        basis = _basis(theta, fac["kind"], *fac["range"], n_modes)
        explained, rank = _explained(basis, centred)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, f] = np.where(total > 0, explained / total, np.nan)
        if adjusted:
            out[:, f] = _adjust(out[:, f], phi.shape[0], rank - 1)
    return out


def _adjust(r2: np.ndarray, n: int, p: int) -> np.ndarray:
    """:func:`conformap._stats.adjusted_r2`, clipped at 0 (a score, not a test statistic)."""
    return np.maximum(adjusted_r2(r2, n, p), 0.0)


def _explained(basis: np.ndarray, centred: np.ndarray) -> np.ndarray:
    r"""Squared norm of each column of ``centred`` projected on the span of ``basis``.

    Through the Gram matrix, :math:`\|P_B c\|^2 = (B^T c)^T (B^T B)^{+} (B^T c)`, with the
    pseudo-inverse from its eigendecomposition (eigenvalues below :math:`10^{-10}` of the
    largest dropped): two matrix products instead of a QR of the (n, p) basis, which took
    240 of the 1000 s of the quick reproduction (p = 700 joint modes of the box and the
    three-motion images; measured under load).
    """
    b = np.ascontiguousarray(basis)
    gram = b.T @ b
    w, v = np.linalg.eigh(gram)
    keep = w > 1e-10 * max(float(w[-1]), 1e-300)
    coef = v[:, keep].T @ (b.T @ centred)  # (r, N)
    return np.einsum("rk,r,rk->k", coef, 1.0 / w[keep], coef), int(keep.sum())


def _joint_r2(phi: np.ndarray, truth: dict, n_modes: int, n_joint_modes: int,
              adjusted: bool = False) -> np.ndarray:
    """R^2 on all single-factor modes plus tensor products of the low modes."""
    singles, lows = [], []
    for fac in truth["spec"]:
        theta = np.asarray(truth[fac["coordinate"]], dtype=np.float64)
        singles.append(_basis(theta, fac["kind"], *fac["range"], n_modes))
        lows.append(_basis(theta, fac["kind"], *fac["range"], n_joint_modes)[:, 1:])
    cols = singles
    for r in range(2, len(lows) + 1):
        for combo in combinations(lows, r):
            prod = combo[0]
            for b in combo[1:]:
                prod = (prod[:, :, None] * b[:, None, :]).reshape(len(prod), -1)
            cols.append(prod)
    basis = np.concatenate(cols, axis=1)
    centred = phi - phi.mean(axis=0)
    total = (centred**2).sum(axis=0)
    explained, rank = _explained(basis, centred)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, explained / total, np.nan)
    # the constants of the factors' bases are one column of the span
    return _adjust(r2, phi.shape[0], rank - 1) if adjusted else r2


@dataclass(frozen=True)
class FactorAssignment:
    """Per-eigenvector and overall agreement of a factorization with the ground truth.

    Attributes
    ----------
    columns : ndarray of int, shape (N,)
        Eigenvector columns evaluated.
    r2 : ndarray, shape (N, n_factors)
        :func:`factor_r2` of each column.
    r2_all : ndarray, shape (N,)
        :math:`R^2_{\\text{all}}`: variance explained by any smooth function of the latents.
    true_label : ndarray of int, shape (N,)
        Ground-truth factor of each column, -1 for product / mixed.
    predicted : ndarray of int, shape (N,)
        Predicted bin mapped to a ground-truth factor, -1 if not assigned to any bin.
    correct : ndarray of bool, shape (N,)
        ``predicted == true_label`` (meaningful where ``predicted >= 0``).
    confident : ndarray of bool, shape (N,)
        Columns whose ground truth is unambiguous: relative score :math:`\\max_f
        R^2_f / R^2_{\\text{all}} \\ge 0.9` or :math:`\\le 0.1`, and
        :math:`R^2_{\\text{all}} \\ge` ``min_signal``.
    accuracy : float
        Fraction of assigned eigenvectors put in the right factor (NaN if none assigned).
    confident_accuracy : float
        The same over the assigned, confidently identified eigenvectors.
    recall : float
        Fraction of the true factor eigenvectors that were assigned to the right factor.
    n_assigned : int
    bin_to_factor : tuple of int
        Ground-truth factor of each predicted bin (best permutation).
    """

    columns: np.ndarray
    r2: np.ndarray
    r2_all: np.ndarray
    true_label: np.ndarray
    predicted: np.ndarray
    correct: np.ndarray
    confident: np.ndarray
    accuracy: float
    confident_accuracy: float
    recall: float
    n_assigned: int
    bin_to_factor: tuple

    def table(self) -> list[dict]:
        """One row per eigenvector: column, true factor, predicted factor, R^2, correct."""
        return [
            {"column": int(c), "true": int(t), "predicted": int(p),
             "r2": [round(float(v), 4) for v in r], "r2_all": round(float(a), 4),
             "correct": bool(ok) if p != -1 else None}
            for c, t, p, r, a, ok in zip(self.columns, self.true_label, self.predicted, self.r2,
                                         self.r2_all, self.correct, strict=True)
        ]


def factor_assignment(factors, eigenvectors, truth: dict, *, threshold: float = 0.8,
                      n_modes: int = 15, n_joint_modes: int = 6, min_signal: float = 0.2,
                      columns=None, adjusted: bool = ADJUSTED) -> FactorAssignment:
    """Compare eigenvector bins with the analytic ground truth.

    Parameters
    ----------
    factors : sequence of sequence of int
        Column indices of ``eigenvectors`` per predicted factor (e.g.
        ``ProductManifoldFactorizer.factors_``).
    eigenvectors : array_like, shape (n, N + 1)
        The eigenvector matrix the indices refer to (column 0 is skipped if constant).
    truth : dict
        Latent coordinates and ``"spec"`` (see :func:`factor_r2`).
    threshold : float, default 0.8
        Relative score :math:`R^2_f / R^2_{\\text{all}}` above which a column counts as a
        factor-f eigenvector.
    n_modes : int, default 15
    n_joint_modes : int, default 6
        Modes per factor in the tensor-product part of :math:`R^2_{\\text{all}}`.
    min_signal : float, default 0.2
        Columns with :math:`R^2_{\\text{all}}` below this are noise (label -1, not confident).
    columns : sequence of int, optional
        Columns to evaluate; default all non-constant columns.
    adjusted : bool, default True (``ADJUSTED``)
        Score by adjusted :math:`R^2` (see :func:`factor_r2`): without it, the joint fit's
        many basis functions absorb part of an eigenvector's noise, and the relative score of
        a noisy pure factor eigenvector falls below 0.9.

    Returns
    -------
    FactorAssignment
    """
    phi = np.asarray(eigenvectors, dtype=np.float64)
    if columns is None:
        columns = np.flatnonzero(phi.std(axis=0) > 0)
    columns = np.asarray(columns, dtype=np.int64)
    r2 = factor_r2(phi[:, columns], truth, n_modes=n_modes, adjusted=adjusted)
    n_true = r2.shape[1]
    r2_all = _joint_r2(phi[:, columns], truth, n_modes, check_int(n_joint_modes, "n_joint_modes",
                                                                  low=1), adjusted=adjusted)
    r2c = np.nan_to_num(r2, nan=0.0)
    signal = np.maximum(np.nan_to_num(r2_all, nan=0.0), r2c.max(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where((signal > 0)[:, None], r2c / signal[:, None], 0.0)
    best = np.argmax(rel, axis=1)
    has_signal = signal >= min_signal
    true_label = np.where((rel.max(axis=1) >= threshold) & has_signal, best, -1)
    bins = [np.asarray(b, dtype=np.int64) for b in factors]
    pos = {int(c): i for i, c in enumerate(columns)}
    raw = np.full(columns.size, -1)
    for b, idx in enumerate(bins):
        for c in idx:
            if int(c) in pos:
                raw[pos[int(c)]] = b
    # best mapping of predicted bins to true factors (bins may outnumber factors: -2 = none)
    n_bins = len(bins)
    targets = list(range(n_true)) + [-2] * max(0, n_bins - n_true)
    best_map, best_hits = tuple(range(n_bins)), -1
    for perm in permutations(targets, n_bins):
        hits = sum(int(np.sum((raw == b) & (true_label == perm[b]))) for b in range(n_bins))
        if hits > best_hits:
            best_map, best_hits = perm, hits
    predicted = np.array([best_map[b] if b >= 0 else -1 for b in raw], dtype=np.int64)
    predicted[(raw >= 0) & (predicted == -2)] = -2  # a bin matching no factor: always wrong
    assigned = raw >= 0
    correct = (predicted == true_label) & assigned
    conf = has_signal & ((rel.max(axis=1) >= 0.9) | (rel.max(axis=1) <= 0.1))
    n_assigned = int(assigned.sum())
    acc = float(correct.sum() / n_assigned) if n_assigned else float("nan")
    ca = assigned & conf
    conf_acc = float(correct[ca].sum() / ca.sum()) if ca.any() else float("nan")
    n_factor_true = int((true_label >= 0).sum())
    recall = float(correct.sum() / n_factor_true) if n_factor_true else float("nan")
    return FactorAssignment(
        columns=columns, r2=r2, r2_all=r2_all, true_label=true_label, predicted=predicted,
        correct=correct, confident=conf, accuracy=acc, confident_accuracy=conf_acc, recall=recall,
        n_assigned=n_assigned, bin_to_factor=tuple(int(v) for v in best_map),
    )
