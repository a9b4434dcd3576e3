r"""After the cut: a factor's eigenvectors cleaned of products, and its higher eigenvectors as
functions of its leading ones (harmonic completion).

:func:`clean_products`: an eigenfunction of one factor is orthogonal to every product of an
eigenfunction of that factor (or of any third) with a non-constant eigenfunction of another
factor (independence), so the products of the bins' own eigenvectors that lie in a binned
eigenvector's near-degenerate window are rotated out of it (two-factor images, n = 2000, SNR 1,
seed 90: the rotor's second eigenvector kept 16 % of the product of the stretch's first and the
rotor's first; ``docs/product-manifold/diagnosis.md`` section 11).

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

:func:`unmix_bins`: the same independence, across bins. Two binned eigenvectors of different
factors with nearly equal eigenvalues come back from the graph as a rotation of the two, which
neither harmonic completion (free columns only) nor the triplets (computed before) undo; the
pair is turned back by the angle that best fits each to its own bin's polynomials.
"""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np

from .._stats import adjusted_r2
from ._unmix import unmix_blocks

__all__ = ["HARMONIC_CLEAN", "HARMONIC_DEGREE", "HARMONIC_FIT",
           "HARMONIC_MAX_PRODUCT", "HARMONIC_MAX_SPREAD", "HARMONIC_MIN_SHARE", "HARMONIC_WINDOW",
           "PRODUCT_IN_WINDOW", "UNMIX_BINS", "added_confidence", "clean_products",
           "complete_harmonics", "cross_product_share", "finish_bins", "harmonic_basis",
           "leading_count", "participation", "rotate_window", "unmix_bins"]

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
#: had 1.0-2.74, two right but unconfident 2.99 and 5.39; the mixed ones (relative score
#: 0.54-0.77, R^2_all 0.13-0.39, library confidence 0.72-0.91) 3.42-6.4. The adjusted fit cannot
#: see this: their fits were 0.90-0.99, as high as the right ones'.
HARMONIC_MAX_SPREAD = 3.0
#: Smallest share of a window vector that one window eigenvector holds (its largest squared
#: rotation coefficient) for it to be taken: "at least half of it is one eigenvector". The spread
#: limit does not scale with the window: at n = 10,000 (three-part images, SNR 0.1, seed 100) a
#: mixed bar vector of spread 2.93 was gathered in a window of 16 columns; its share was 0.46.
#: Measured (diagnosis.md section 12, chosen on the runs of section 11 and that one): the vectors
#: within the spread limit that the ground truth calls confident and right had shares 0.57-1.0,
#: the mixed ones 0.30-0.48; held out (seeds 130-132, n up to 10,000) every mixed vector at
#: SNR 0.1 had 0.21-0.39. At SNR 1 it does not see everything: three held-out additions that
#: the ground truth calls products had shares 0.575-1.0.
HARMONIC_MIN_SHARE = 0.5
#: Whether complete_harmonics also rotates the bins' own later members (its step 1, "clean").
#: Off: the cleaned vectors' spread (1.0-1.2) and share (0.91-1.0) are those of right ones, yet
#: on three-part images n = 6000, SNR 1, seed 102 the cleaning lowered the bar's binned phi15
#: from ground-truth relative score 0.904 to 0.876 and lost the target (diagnosis.md sections
#: 11 and 12); without it the target was met on as many chosen runs or more.
HARMONIC_CLEAN = False
#: Largest squared correlation of a vector to be added with one product phi_i phi_j of two
#: eigenvectors of different bins. A function of one factor is orthogonal to every such product
#: by independence; three-part images, n = 3000, SNR 1, seed 130: phi_3 fitted the first bin's
#: polynomials at 0.983 and was 0.751 one product of the other two bins' leads; the right
#: additions of the held-out runs had at most 0.029 (diagnosis.md section 13).
HARMONIC_MAX_PRODUCT = 0.5
#: Whether finish_bins ends with unmix_bins (the joint rotation of near-degenerate binned
#: eigenvectors of different bins). On: on 117 image runs (diagnosis.md section 14) it met the
#: target on 2 more three-part runs and lost none, and raised no ground-truth confident count
#: less than it was anywhere.
UNMIX_BINS = True
#: Jacobi sweeps of unmix_bins at most (it stops earlier when no pair turns by 1e-4 rad).
_UNMIX_SWEEPS = 30
#: unmix_bins leaves a group as it is when every column keeps more than 1 - this of itself
#: (a turn below ~1.8 degrees: sampling noise, as between exactly separated modes)
_UNMIX_MIN_TURN = 1e-3
#: A binned eigenvector is replaced by the window's best vector only when that vector keeps at
#: least this share of it (otherwise it is another vector, not a cleaner version of this one).
_KEEP_SHARE = 0.5
#: A product of two other bins' eigenvectors is taken out of a binned eigenvector's window
#: (clean_products) when at least this share of its norm lies in the window's span (a product
#: that lies mostly elsewhere is not the one mixed into it).
PRODUCT_IN_WINDOW = 0.5
#: clean_products leaves an eigenvector whose products' share is below this: a product of
#: independent factors overlaps a clean factor eigenvector by chance about 1/n (squared).
_MIN_REMOVED = 0.01
#: Percent of items clipped at each end of a leading eigenvector before the polynomials.
_TAIL = 1.0


def _unit(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` centred and scaled to unit norm."""
    x = x - x.mean(axis=0)
    return x / np.linalg.norm(x, axis=0)


def _fit(q: np.ndarray, x: np.ndarray) -> float:
    """Adjusted R^2 of the unit vector ``x`` (n,) on the orthonormal basis ``q`` (n, r)."""
    return float(adjusted_r2(float(((q.T @ x) ** 2).sum()), x.shape[0], q.shape[1]))


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


def cross_product_share(v: np.ndarray, phi: np.ndarray, bins: list) -> tuple:
    r"""Largest squared correlation of ``v`` with a product :math:`\varphi_i\varphi_j` of two
    columns of ``phi`` in different ``bins`` (both centred; the product centred).

    Returns ``(share, (i, j))``; ``(0.0, None)`` with fewer than two non-empty bins.
    """
    owner = {int(c): b for b, members in enumerate(bins) for c in np.asarray(members).tolist()}
    cols = sorted(owner)
    pairs = [(i, j) for t, i in enumerate(cols) for j in cols[t + 1:] if owner[i] != owner[j]]
    if not pairs:
        return 0.0, None
    u = phi[:, cols] - phi[:, cols].mean(axis=0)
    at = {c: k for k, c in enumerate(cols)}
    prods = np.column_stack([u[:, at[i]] * u[:, at[j]] for i, j in pairs])
    prods -= prods.mean(axis=0)
    x = np.asarray(v, dtype=np.float64) - np.mean(v)
    den = np.linalg.norm(prods, axis=0) * np.linalg.norm(x)
    corr2 = np.where(den > 0, (prods.T @ x) / np.where(den > 0, den, 1.0), 0.0) ** 2
    t = int(np.argmax(corr2))
    return float(corr2[t]), pairs[t]


def participation(coefficients: np.ndarray) -> float:
    r"""Participation ratio :math:`1 / \sum_i c_i^4` of a unit coefficient vector c: 1 for
    one eigenvector, k for an even spread over k."""
    c = np.asarray(coefficients, dtype=np.float64)
    c = c / np.linalg.norm(c)
    return float(1.0 / np.sum(c**4))


def rotate_window(phi: np.ndarray, lam: np.ndarray, cols: list, coef: np.ndarray,
                  w: np.ndarray, *, first_to=None):
    """Rotate the window ``cols`` of ``phi`` in place so that one column is ``w @ coef``.

    ``w`` (n, k) are the window's centred unit columns, ``coef`` (k,) a unit vector. The
    rotation is completed to an orthonormal basis of the window; every new column gets its
    Rayleigh quotient as eigenvalue and the columns' mean norm. With ``first_to`` the new
    vector goes to that column and the others fill the rest in increasing eigenvalue;
    otherwise all are stored in increasing eigenvalue. Returns the new vector's column.
    """
    full = np.linalg.svd(coef[None, :], full_matrices=True)[2]
    full[0] = coef
    new = w @ full.T
    scale = np.linalg.norm(phi[:, cols], axis=0).mean()
    new_lam = (full**2) @ lam[cols]
    if first_to is not None:
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


def complete_harmonics(bins: list, phi: np.ndarray, lam: np.ndarray, free: np.ndarray, *,
                       window: float = HARMONIC_WINDOW, min_fit: float = HARMONIC_FIT,
                       degree: int = HARMONIC_DEGREE, max_spread: float = HARMONIC_MAX_SPREAD,
                       min_share: float = HARMONIC_MIN_SHARE, clean: bool = HARMONIC_CLEAN,
                       max_product: float = HARMONIC_MAX_PRODUCT):
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
    (``HARMONIC_MAX_SPREAD``), and one window eigenvector must hold at least ``min_share`` of
    it (its largest squared coefficient, ``HARMONIC_MIN_SHARE``). Step 1 runs only with
    ``clean`` (``HARMONIC_CLEAN``). A vector to be added must not be a product of two other
    eigenvectors of different bins: its squared correlation with each such product is below
    ``max_product`` (:func:`cross_product_share`, ``HARMONIC_MAX_PRODUCT``).

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
        ``fit`` (adjusted R^2 on Q), ``spread`` (its participation ratio), ``share`` (its
        largest squared coefficient), ``product`` (its :func:`cross_product_share`; "add"
        only), ``window`` (the columns rotated).
    """
    phi, lam = phi.copy(), lam.copy()
    n = phi.shape[0]
    free = set(int(c) for c in np.asarray(free).tolist())
    bins = [np.asarray(b, dtype=np.int64).copy() for b in bins]
    steps = []

    def best(q, cols):
        w = _unit(phi[:, cols])
        _, s, vt = np.linalg.svd(q.T @ w, full_matrices=False)
        return float(adjusted_r2(float(s[0] ** 2), n, q.shape[1])), vt, w

    def rotate(cols, vt, w, first_to=None):
        return rotate_window(phi, lam, cols, vt[0], w, first_to=first_to)

    def near(v):
        return sorted(c for c in free if abs(lam[c] - lam[v]) <= window * lam[v])

    original = [b.copy() for b in bins]

    def leading(b):
        members = bins[b]
        # one leading eigenvector parametrises an interval (the second is a function of it,
        # up to the products mixed into it), a circle needs two (sin is no function of cos)
        # (unmix_bins counts leads by eigenvalue instead, leading_count; here that rule lost
        # 25 confident eigenvectors on 117 image runs: at SNR 0.1 a noisy second eigenvector
        # that fits below min_fit is a second lead, and the polynomials of both reach the
        # factor's third mode; diagnosis.md section 14)
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
        q, n_lead = leading(b)
        bases.append(q)
        for v in members[n_lead:].tolist() if clean else []:
            win = [v, *near(v)]
            if len(win) < 2:
                continue
            own = _fit(q, _unit(phi[:, v]))
            fit, vt, w = best(q, win)
            spread, share = participation(vt[0]), float(np.max(vt[0] ** 2))
            if (fit >= min_fit and fit > own and vt[0, 0] ** 2 >= _KEEP_SHARE
                    and spread <= max_spread and share >= min_share):
                rotate(win, vt, w, first_to=v)
                steps.append({"bin": b, "column": v, "kind": "clean", "fit": round(fit, 3),
                              "spread": round(spread, 2), "share": round(share, 3),
                              "window": win})
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
            spread, share = participation(vt[0]), float(np.max(vt[0] ** 2))
            if fit < min_fit or spread > max_spread or share < min_share:
                continue
            prod, _ = cross_product_share(w @ vt[0], phi, original)
            if prod >= max_product:
                continue
            c = rotate(win, vt, w)
            free.discard(c)
            bins[b] = np.sort(np.append(bins[b], c))
            steps.append({"bin": b, "column": int(c), "kind": "add", "fit": round(fit, 3),
                          "spread": round(spread, 2), "share": round(share, 3),
                          "product": round(prod, 3), "window": win})
            changed = True
    return phi, lam, bins, steps


def clean_products(bins: list, phi: np.ndarray, lam: np.ndarray, free: np.ndarray, *,
                   window: float = HARMONIC_WINDOW, min_in: float = PRODUCT_IN_WINDOW):
    r"""Rotate the products of other bins' eigenvectors out of each binned eigenvector.

    An eigenfunction v(x) of factor A is orthogonal to every product
    :math:`\varphi_i \varphi_j` of an eigenfunction of A (or any function of x) and a
    non-constant eigenfunction :math:`\varphi_j(y)` of another factor B:
    :math:`E[v \varphi_i \varphi_j] = E[v \varphi_i]\,E[\varphi_j] = 0` by independence. A
    near-degenerate graph eigenvector that mixes v with such a product is cleaned without any
    model of v: for each binned v, the window ``[v]`` + the free columns within ``window``
    (relative) of :math:`\lambda_v`, and the products :math:`\varphi_i\varphi_j` of binned
    eigenvectors of different bins (neither is v) with :math:`|\lambda_i + \lambda_j -
    \lambda_v| \le` ``window`` :math:`\lambda_v` whose norm lies at least ``min_in`` (squared)
    in the window's span. v is replaced by its part orthogonal to those products' directions in
    the window (normalised) when that keeps at least half of it (``_KEEP_SHARE``); the window is
    rotated as in :func:`complete_harmonics` (no bin changes).

    Parameters
    ----------
    bins, phi, lam, free : as :func:`complete_harmonics` (``phi`` is not modified).
    window : float
    min_in : float
        Smallest squared norm of a product's projection on the window for it to count.

    Returns
    -------
    phi, lam : the eigenvectors and eigenvalues with the rotated columns replaced.
    steps : list of dict, one per cleaned column: ``bin``, ``column``, ``removed`` (the share
        of v taken out), ``products`` (the pairs (i, j)), ``window``.
    """
    phi, lam = phi.copy(), lam.copy()
    free = sorted(int(c) for c in np.asarray(free).tolist())
    owner = {int(v): b for b, members in enumerate(bins) for v in np.asarray(members).tolist()}
    cols = sorted(owner)
    steps = []

    for b, members in enumerate(bins):
        for v in np.asarray(members).tolist():
            win = [v] + [c for c in free if abs(lam[c] - lam[v]) <= window * lam[v]]
            pairs = [(i, j) for t, i in enumerate(cols) for j in cols[t + 1:]
                     if owner[i] != owner[j] and v not in (i, j)
                     and abs(lam[i] + lam[j] - lam[v]) <= window * lam[v]]
            if len(win) < 2 or not pairs:
                continue
            w = _unit(phi[:, win])
            u = _unit(phi[:, sorted({c for p in pairs for c in p})])
            at = {c: k for k, c in enumerate(sorted({c for p in pairs for c in p}))}
            prods = _unit(np.column_stack([u[:, at[i]] * u[:, at[j]] for i, j in pairs]))
            a = w.T @ prods  # each product's coordinates in the window
            inside = (a**2).sum(axis=0) >= min_in
            if not inside.any():
                continue
            basis, sv, _ = np.linalg.svd(a[:, inside] / np.linalg.norm(a[:, inside], axis=0),
                                         full_matrices=False)
            basis = basis[:, sv > 1e-8]
            coef = np.zeros(len(win))
            coef[0] = 1.0
            coef -= basis @ (basis.T @ coef)
            kept = float(coef @ coef)
            if kept < _KEEP_SHARE or kept > 1 - _MIN_REMOVED:
                continue
            rotate_window(phi, lam, win, coef / np.sqrt(kept), w, first_to=v)
            steps.append({"bin": b, "column": v, "removed": round(1 - kept, 3),
                          "products": [list(p) for p, ok in zip(pairs, inside, strict=True)
                                       if ok], "window": win})
    return phi, lam, steps


def leading_count(members, lam: np.ndarray, window: float = HARMONIC_WINDOW) -> int:
    """How many of a bin's first eigenvectors parametrise its factor, for :func:`unmix_bins`:
    2 when the second's eigenvalue is within ``window`` (relative) of the first's (a circle's
    cos / sin pair is degenerate), else 1 (an interval's second mode lies near 4 x its first).

    :func:`complete_harmonics` asks instead whether the second fits the first's polynomials.
    Each rule is the one measured best for its step (``docs/product-manifold/diagnosis.md``
    section 14): the fit rule takes a *mixed* second mode for a lead, which is the vector
    unmix_bins must rotate; this rule, in harmonic completion, lost confident eigenvectors
    at SNR 0.1, where a noisy second eigenvector taken as a second lead lets the polynomials
    reach the factor's third mode."""
    m = np.asarray(members, dtype=np.int64)
    if m.size >= 2 and lam[m[1]] <= (1.0 + window) * lam[m[0]]:
        return 2
    return 1


def unmix_bins(bins: list, phi: np.ndarray, lam: np.ndarray, *,
               window: float = HARMONIC_WINDOW, degree: int = HARMONIC_DEGREE):
    r"""Rotate near-degenerate binned eigenvectors of different bins towards their own factors.

    A factor eigenvector v of bin b is a function of b's coordinate, so it lies in the span
    of the polynomials :math:`Q_b` (:func:`harmonic_basis`) of b's leading eigenvectors
    (:func:`leading_count`); an eigenvector of another bin c lies in :math:`Q_c`'s. Where a
    finite graph returns v and an eigenvector u of bin c with nearly equal eigenvalues, it
    returns a rotation of the two (three-part images, n = 3000, SNR 1, seed 130: the bar's
    second mode held 0.806 of its analytic mode, and an ideal rotation with the binned
    eigenvectors within 10 % of its eigenvalue 0.887; ``docs/product-manifold/diagnosis.md``
    section 14). The bins' non-leading members are grouped into runs of near-degenerate
    eigenvalues (chains of neighbours within ``window``, relative, of the larger; any bins),
    and in each group that holds two bins or more every pair of columns of different bins
    is rotated by the Jacobi angle that maximises :math:`\|Q_b^\top v'\|^2 + \|Q_c^\top
    u'\|^2`,

    .. math:: \theta = \tfrac12 \operatorname{atan2}\big(2(M^b_{vu} - M^c_{vu}),\;
              M^b_{vv} - M^b_{uu} - M^c_{vv} + M^c_{uu}\big), \qquad M^b = V^\top Q_b
              Q_b^\top V

    (:math:`(v, u) \to (v\cos\theta + u\sin\theta, -v\sin\theta + u\cos\theta)`; the
    objective is :math:`\text{const} + A\cos 2\theta + B\sin 2\theta`, and atan2 picks its
    maximum, not its minimum), sweep after sweep until no angle exceeds 1e-4 (at most
    ``_UNMIX_SWEEPS``), from the graph's own vectors. A group is left as it is when a column
    would keep less than ``_KEEP_SHARE`` of itself (the rotation would swap two columns'
    contents, not clean them) or when every column keeps more than ``1 - _UNMIX_MIN_TURN``. Only
    binned, non-leading columns take part (no bin and no free column changes; two members of
    one bin are never rotated together, their sum of fits is invariant). Each rotated column
    keeps the sign of its overlap with the column it replaces and gets its Rayleigh quotient
    :math:`\sum_i r_i^2 \lambda_i` as eigenvalue (it stays in its column, so the columns'
    eigenvalues need not stay in increasing order). A group is a chain: its two ends may lie
    further apart than ``window``. The separability weights and triplets of the result
    describe the eigenvectors before the rotation.

    Parameters
    ----------
    bins : list of ndarray of int
    phi : ndarray, shape (n, N + 1)
        Eigenvectors (column 0 constant); not modified.
    lam : ndarray, shape (N + 1,)
    window, degree : as :func:`complete_harmonics`.

    Returns
    -------
    phi, lam : the eigenvectors and eigenvalues with the rotated columns replaced.
    steps : list of dict, one per group of columns rotated together: ``columns``, ``bins``,
        ``fit_before`` / ``fit_after`` (adjusted :math:`R^2` of each on its own bin's
        polynomials) and ``kept`` (the squared overlap of each with the column it replaces).
    """
    phi, lam = phi.copy(), lam.copy()
    owner, bases = {}, {}
    for b, members in enumerate(bins):
        m = np.asarray(members, dtype=np.int64)
        if m.size < 2:
            continue
        n_lead = leading_count(m, lam, window)
        bases[b] = harmonic_basis(phi[:, m[:n_lead]], degree)
        owner.update({int(c): b for c in m[n_lead:].tolist()})
    # groups: runs of near-degenerate columns in eigenvalue order (relative gap below
    # ``window``: unmix_eigenvectors' blocks, uncut), any bins
    cols = np.array(sorted(owner, key=lambda c: (lam[c], c)), dtype=np.int64)
    groups = [sorted(cols[r].tolist())
              for r in unmix_blocks(lam[cols], window, max_block=max(cols.size, 1))]
    steps = []
    for g in (g for g in groups if len({owner[c] for c in g}) > 1):
        v = _unit(phi[:, g])
        proj = {b: bases[b].T @ v for b in {owner[c] for c in g}}  # (r_b, k) each
        rot = np.eye(len(g))
        pairs = [(a, b) for a in range(len(g)) for b in range(a + 1, len(g))
                 if owner[g[a]] != owner[g[b]]]
        for _ in range(_UNMIX_SWEEPS):
            turned = 0.0
            for a, b in pairs:
                pa, pb = proj[owner[g[a]]] @ rot[:, [a, b]], proj[owner[g[b]]] @ rot[:, [a, b]]
                ma, mb = pa.T @ pa, pb.T @ pb
                theta = 0.5 * np.arctan2(2.0 * (ma[0, 1] - mb[0, 1]),
                                         ma[0, 0] - ma[1, 1] - mb[0, 0] + mb[1, 1])
                if abs(theta) < 1e-6:
                    continue
                c, s = np.cos(theta), np.sin(theta)
                rot[:, [a, b]] = rot[:, [a, b]] @ np.array([[c, -s], [s, c]])
                turned = max(turned, abs(theta))
            if turned < 1e-4:
                break
        kept = np.diag(rot) ** 2
        if kept.min() < _KEEP_SHARE or kept.min() > 1.0 - _UNMIX_MIN_TURN:
            continue
        rot *= np.where(np.diag(rot) < 0, -1.0, 1.0)[None, :]

        new = v @ rot
        fits = [[round(_fit(bases[owner[c]], x[:, t]), 3) for t, c in enumerate(g)]
                for x in (v, new)]
        scale = np.linalg.norm(phi[:, g], axis=0).mean()
        steps.append({"columns": g, "bins": [owner[c] for c in g], "fit_before": fits[0],
                      "fit_after": fits[1],
                      "kept": [round(float(x), 3) for x in kept]})
        lam[g] = (rot**2).T @ lam[g]
        phi[:, g] = new * scale
    return phi, lam, steps


def finish_bins(bins: list, phi: np.ndarray, lam: np.ndarray, free: np.ndarray, *,
                products: bool, harmonics: bool):
    """The steps after the cut (:func:`factorize_spectrum`): :func:`clean_products` and then
    :func:`complete_harmonics`, as asked, then :func:`unmix_bins` (``UNMIX_BINS``). Returns
    ``phi, lam, bins, levels, added``: ``levels`` one ``{"split": "products" | "harmonics" |
    "unmix_bins", "bins", "steps"}`` per step that changed anything, ``added`` {column: (bin,
    fit)} of the columns that harmonic completion added."""
    levels, added = [], {}
    if products:
        phi, lam, psteps = clean_products(bins, phi, lam, free)
        if psteps:
            levels.append({"split": "products", "bins": [np.asarray(b).tolist() for b in bins],
                           "steps": psteps})
    if harmonics:
        phi, lam, bins, hsteps = complete_harmonics(bins, phi, lam, free)
        added = {st["column"]: (st["bin"], st["fit"]) for st in hsteps if st["kind"] == "add"}
        if hsteps:
            levels.append({"split": "harmonics", "bins": [b.tolist() for b in bins],
                           "steps": hsteps})
    if UNMIX_BINS:
        phi, lam, usteps = unmix_bins(bins, phi, lam)
        if usteps:
            levels.append({"split": "unmix_bins",
                           "bins": [np.asarray(b).tolist() for b in bins], "steps": usteps})
    return phi, lam, bins, levels, added


def added_confidence(conf: list, bins: list, added: dict) -> list:
    """Confidence of the columns harmonic completion added (no triplet names them): their
    fit times the smallest confidence of the bin's leading (non-added) eigenvectors."""
    for c, (b, fit) in added.items():
        lead = np.isin(bins[b], bins[b][:2]) & ~np.isin(bins[b], list(added))
        t = int(np.flatnonzero(bins[b] == c)[0])
        conf[b][t] = fit * float(conf[b][lead].min()) if lead.any() else 0.0
    return conf
