r"""A factor's higher eigenvectors as functions of its leading ones (harmonic completion).

Every eigenfunction of a factor manifold is a function of that factor's coordinate alone, and
the factor's leading eigenvectors parametrise it: on an interval :math:`\cos 2x = 2\cos^2 x - 1`,
on a circle every Fourier mode is a polynomial in :math:`(\cos\theta, \sin\theta)`. So once
the bins are known, a factor's later eigenvectors can be recognised without any triplet: the
polynomials of total degree :math:`\le` ``HARMONIC_DEGREE`` in the bin's first eigenvector
(two for a circle) span functions of that factor only, and an eigenvector that they explain with
adjusted :math:`R^2 \ge` ``HARMONIC_FIT`` is one of its eigenvectors.

In a crowded stretch of the spectrum the graph returns such an eigenvector rotated with its
near-degenerate neighbours (products of the other factors' modes with nearly the same
eigenvalue; three-part images: the bar's second mode keeps 12-17 % of its variance in products,
``docs/product-manifold/diagnosis.md`` section 10). Within the eigenvalues within
``HARMONIC_WINDOW`` (relative) of it, any orthonormal rotation is as good a basis of the
near-eigenspace, and the one whose first column the polynomials explain best (the top singular
vector of :math:`Q^\top W`, Q the polynomials' orthonormal basis, W the window's columns)
separates the factor's mode from the products. Only resolved columns that no bin holds take
part, besides the one binned eigenvector being cleaned, so no other assignment changes; a
rotated identified product keeps its column, but its triplet (``FactorizationResult.triplets``)
describes the eigenvector before the rotation.
"""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np

from .._stats import adjusted_r2

__all__ = ["HARMONIC_DEGREE", "HARMONIC_FIT", "HARMONIC_MAX_SPREAD", "HARMONIC_WINDOW",
           "complete_harmonics", "harmonic_basis", "participation"]

#: Total degree of the polynomials in a bin's leading eigenvectors: up to an interval's third
#: mode and a circle's third harmonic (1 variable: 3 functions, 2 variables: 9). Degree 4 and
#: 6 also fit the 5 % impurity of a two-factor rotor's leading pair and added rotor-product
#: mixtures (ground-truth relative score 0.76-0.79) on two-factor images, n = 2000, SNR 1,
#: seed 91 (diagnosis.md section 10).
HARMONIC_DEGREE = 3
#: Adjusted R^2 on those polynomials above which a vector is taken as the factor's eigenvector:
#: on three-part images at SNR 1, n = 3000, seeds 0-2 (diagnosis.md section 10), the window
#: vectors with fit >= 0.9 (degree 6) all had a ground-truth relative score >= 0.9 for the
#: bin's factor.
HARMONIC_FIT = 0.9
#: Relative eigenvalue half-width of the window rotated (unmix's tolerance, DEFAULT_UNMIX).
HARMONIC_WINDOW = 0.1
#: Largest participation ratio 1 / sum_i c_i^4 of the window vector's rotation coefficients c
#: (how many of the window's eigenvectors it is made of) for it to be taken. A factor
#: eigenfunction that the graph mixed with near-degenerate products is a rotation of a few
#: eigenvectors; the polynomials of a *noisy* leading eigenvector also hold that noise (T_3(s + e)
#: = T_3(s) + T_3'(s) e + ..., T_3' up to 9 at the ends), and in a crowded window a rotation can
#: gather a vector that matches them from many eigenvectors. Measured (diagnosis.md section 11,
#: chosen on three-part images n = 3000 SNR 1 and 0.1 seeds 0-2, n = 6000 SNR 0.1 seeds 0-2 and
#: 91, two-factor n = 2000 SNR 1 seed 90): the vectors the ground truth calls confident and right
#: had 1.0-2.74, one right but unconfident 2.99; the mixed ones (relative score 0.54-0.77,
#: R^2_all 0.13-0.39, library confidence 0.78-0.91) 3.42-6.64. The adjusted fit cannot see
#: this: their fits were 0.90-0.99, as high as the right ones'.
HARMONIC_MAX_SPREAD = 3.0
#: A binned eigenvector is replaced by the window's best vector only when that vector keeps at
#: least this share of it (otherwise it is another vector, not a cleaner version of this one).
_KEEP_SHARE = 0.5
#: Percent of items clipped at each end of a leading eigenvector before the polynomials.
_TAIL = 1.0


def harmonic_basis(leading: np.ndarray, degree: int = HARMONIC_DEGREE) -> np.ndarray:
    """Orthonormal basis of the centred polynomials of total degree 1..``degree`` in the
    columns of ``leading`` (shape (n, m), m = 1 or 2), each clipped to its 1st-99th
    percentiles and rescaled to [-1, 1] (Chebyshev products for conditioning). Returns shape
    (n, r)."""
    lead = np.asarray(leading, dtype=np.float64)
    # winsorized: a few outlying items (noisy images far from the rest) would otherwise set
    # the range, and the high-degree polynomials would be functions of those items alone,
    # matching the localized eigenvectors at the top of a noisy spectrum
    lo, hi = np.percentile(lead, [_TAIL, 100 - _TAIL], axis=0)
    u = 2 * (np.clip(lead, lo, hi) - lo) / np.where(hi > lo, hi - lo, 1.0) - 1
    cheb = [np.polynomial.chebyshev.chebvander(u[:, j], degree) for j in range(u.shape[1])]
    cols = []
    for d in range(1, degree + 1):
        for combo in combinations_with_replacement(range(u.shape[1]), d):
            powers = np.bincount(np.asarray(combo), minlength=u.shape[1])
            col = np.ones(u.shape[0])
            for j, p in enumerate(powers):
                col = col * cheb[j][:, p]
            cols.append(col)
    b = np.column_stack(cols)
    b -= b.mean(axis=0)
    q, r = np.linalg.qr(b)
    keep = np.abs(np.diag(r)) > 1e-10 * max(float(np.abs(r).max()), 1e-300)
    return q[:, keep]


def participation(coefficients: np.ndarray) -> float:
    r"""Participation ratio :math:`1 / \sum_i c_i^4` of a unit coefficient vector c: 1 for
    one eigenvector, k for an even spread over k."""
    c = np.asarray(coefficients, dtype=np.float64)
    c = c / np.linalg.norm(c)
    return float(1.0 / np.sum(c**4))


def complete_harmonics(bins: list, phi: np.ndarray, lam: np.ndarray, free: np.ndarray, *,
                       window: float = HARMONIC_WINDOW, min_fit: float = HARMONIC_FIT,
                       degree: int = HARMONIC_DEGREE, max_spread: float = HARMONIC_MAX_SPREAD):
    r"""Clean and add each bin's eigenvectors that are functions of its leading ones.

    For each bin b, Q = :func:`harmonic_basis` of its first eigenvector, or of its first two
    when the second (rotated with its window as in step 1) is not a function of the first
    (a circle's :math:`\sin` is no function of its :math:`\cos`).

    1. *Clean*: each later member v of b is rotated with the free columns within
       ``window`` of :math:`\lambda_v`; the rotation's first vector (the best explained by Q)
       replaces v when its adjusted fit is at least ``min_fit``, above v's own, and it keeps
       at least half of v.
    2. *Add*: around every free column k, the free columns within ``window`` of
       :math:`\lambda_k` are rotated the same way; when the first vector's adjusted fit is at
       least ``min_fit`` it is added to b (bins tried in order of their best fit).

    In both steps the vector must be made of at most ``max_spread`` of the window's
    eigenvectors (:func:`participation` of its rotation coefficients): a vector gathered from
    many of them matches the noise that the polynomials of a noisy leading eigenvector carry
    (``HARMONIC_MAX_SPREAD``).

    Rotated columns get their Rayleigh quotients :math:`\sum_i v_i^2\lambda_i` as eigenvalues
    and are stored back into the window's columns in increasing order of them.

    Parameters
    ----------
    bins : list of ndarray of int
        Factor bins (columns of ``phi``).
    phi : ndarray, shape (n, N + 1)
        Eigenvectors (column 0 constant); not modified.
    lam : ndarray, shape (N + 1,)
    free : ndarray of int
        Columns that may be rotated: resolved and in no bin.

    Returns
    -------
    phi, lam : the eigenvectors and eigenvalues with the rotated columns replaced.
    bins : list of ndarray of int, the bins with added columns (sorted).
    steps : list of dict, one per change: ``bin``, ``column``, ``kind`` ("clean" / "add"),
        ``fit`` (adjusted R^2 on Q), ``spread`` (its participation ratio), ``window`` (the
        columns rotated).
    """
    phi, lam = phi.copy(), lam.copy()
    n = phi.shape[0]
    free = set(int(c) for c in np.asarray(free).tolist())
    bins = [np.asarray(b, dtype=np.int64).copy() for b in bins]
    steps = []

    def unit(cols):
        w = phi[:, cols] - phi[:, cols].mean(axis=0)
        return w / np.linalg.norm(w, axis=0)

    def best(q, cols):
        w = unit(cols)
        _, s, vt = np.linalg.svd(q.T @ w, full_matrices=False)
        return float(adjusted_r2(float(s[0] ** 2), n, q.shape[1])), vt, w

    def rotate(cols, vt, w, first_to=None):
        # complete vt's rows to an orthonormal basis of the window; first row = best vector
        full = np.linalg.svd(vt[:1], full_matrices=True)[2]
        full[0] = vt[0]
        new = w @ full.T
        scale = np.linalg.norm(phi[:, cols], axis=0).mean()
        new_lam = (full**2) @ lam[cols]
        if first_to is not None:
            # the cleaned vector keeps its column; the others fill the rest in order
            rest = [c for c in cols if c != first_to]
            order = np.argsort(new_lam[1:], kind="stable") + 1
            phi[:, first_to], lam[first_to] = new[:, 0] * scale, new_lam[0]
            for c, r in zip(rest, order, strict=True):
                phi[:, c], lam[c] = new[:, r] * scale, new_lam[r]
            return first_to
        order = np.argsort(new_lam, kind="stable")
        target = None
        for c, r in zip(sorted(cols), order, strict=True):
            phi[:, c], lam[c] = new[:, r] * scale, new_lam[r]
            if r == 0:
                target = c
        return target

    def near(v):
        return sorted(c for c in free if abs(lam[c] - lam[v]) <= window * lam[v])

    def leading(members):
        # one leading eigenvector parametrises an interval (the second is a function of it,
        # up to the products mixed into it), a circle needs two (sin is no function of cos)
        q1 = harmonic_basis(phi[:, members[:1]], degree)
        if members.size < 2 or best(q1, [int(members[1]), *near(int(members[1]))])[0] >= min_fit:
            return q1, 1
        return harmonic_basis(phi[:, members[:2]], degree), 2

    bases = []
    # 1. clean the bins' later members
    for b, members in enumerate(bins):
        if not members.size:
            bases.append(None)
            continue
        q, n_lead = leading(members)
        bases.append(q)
        for v in members[n_lead:].tolist():
            win = [v, *near(v)]
            if len(win) < 2:
                continue
            own = float(adjusted_r2(float(((q.T @ unit([v])) ** 2).sum()), n, q.shape[1]))
            fit, vt, w = best(q, win)
            spread = participation(vt[0])
            if (fit >= min_fit and fit > own and vt[0, 0] ** 2 >= _KEEP_SHARE
                    and spread <= max_spread):
                rotate(win, vt, w, first_to=v)
                steps.append({"bin": b, "column": v, "kind": "clean", "fit": round(fit, 3),
                              "spread": round(spread, 2), "window": win})
    # 2. add free vectors that are functions of a bin's leading eigenvectors
    changed = True
    while changed:
        changed = False
        for k in sorted(free):
            win = near(k)
            if k not in free or not win:
                continue
            tries = [(best(bases[b], win), b) for b in range(len(bins)) if bases[b] is not None]
            if not tries:
                continue
            (fit, vt, w), b = max(tries, key=lambda t: t[0][0])
            spread = participation(vt[0])
            if fit < min_fit or spread > max_spread:
                continue
            c = rotate(win, vt, w)
            free.discard(c)
            bins[b] = np.sort(np.append(bins[b], c))
            steps.append({"bin": b, "column": int(c), "kind": "add", "fit": round(fit, 3),
                          "spread": round(spread, 2), "window": win})
            changed = True
    return phi, lam, bins, steps
