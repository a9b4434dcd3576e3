r"""Algorithm 1 of Zhang, Moscovich & Singer (2021): which eigenvectors are products.

For non-trivial Laplacian eigenvectors :math:`\varphi_1, \dots, \varphi_N` (columns, sorted by
their eigenvalues :math:`\lambda_1 \le \dots \le \lambda_N`) and every :math:`k`, find

.. math::

    (i^*, j^*) = \operatorname*{arg\,max}_{\substack{i < j < k \\
        |\lambda_i + \lambda_j - \lambda_k| < \delta}}
    S(\varphi_k, \varphi_i \varphi_j), \qquad
    S(\varphi_k, \varphi_i\varphi_j) = \frac{|\langle \varphi_k, \varphi_i \varphi_j\rangle|}
    {\|\varphi_k\|\,\|\varphi_i \varphi_j\|} \in [0, 1],

and keep :math:`(i^*, j^*, k)` when :math:`S > \gamma`.

Vectorisation. The eigenvalues are sorted, so for each pair :math:`(i, j)` the admissible
:math:`k` form one contiguous range, found by ``searchsorted`` on the monotone envelopes of
:math:`\lambda_k \pm \delta_k` (a superset when :math:`\delta_k` varies irregularly, then
filtered by the exact criterion). Only admissible triplets are scored: a threaded kernel
(:func:`conformap._triplet_kernels.pair_dots`) forms each product
:math:`\varphi_i\varphi_j` once per cache block of samples and takes its squared norm and
its dot products with the :math:`\varphi_k` of its range in the same pass. That kernel is
bound by memory traffic, so it runs on a float32 copy; the few triplets per k whose float32
score is within twice its certified error of the best are rescored in float64
(:func:`_screened_similarity`), which gives exactly the float64 search's decisions.
The cost is :math:`O(n (P + T))` for :math:`P` admissible pairs and :math:`T` admissible
triplets, instead of a Python loop over :math:`\binom{N}{3}` triplets;
at :math:`N = 400`, :math:`n = 10^4` (the paper's Table 1) that is 31,063 pairs and
54,901 triplets out of 10.6 million.

Ties (similarities within 1e-12, i.e. equal up to rounding) are broken as the paper's loop
breaks exact ties (first pair in (i, j) lexicographic order), so the result does not depend on
summation order; the caller's arrays are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._triplet_kernels import pair_dots, transpose_scaled, triplet_dots

__all__ = ["TripletSearch", "degenerate_groups", "find_triplets", "product_purity",
           "product_share", "triplet_scores"]

_TIE = 1e-12  # similarities (in [0, 1]) this close are equal up to rounding
_MEMBER_SHARE = 0.1  # a group pair explaining less of phi_k than this is not linked


@dataclass(frozen=True)
class TripletSearch:
    """Result of :func:`find_triplets` (indices are columns of the eigenvector matrix given).

    Attributes
    ----------
    triplets : ndarray of int, shape (t, 3)
        Kept :math:`(i, j, k)`, :math:`i < j < k`, with :math:`S > \\gamma`, sorted by k.
    scores : ndarray, shape (t,)
        Their similarities.
    best_pair : ndarray of int, shape (N, 2)
        For every k, the best admissible pair (``-1`` when no pair passes the eigenvalue
        criterion).
    best_score : ndarray, shape (N,)
        Its similarity (0 when no pair is admissible).
    n_candidates : ndarray of int, shape (N,)
        Number of pairs passing the eigenvalue criterion, per k.
    candidates : ndarray of int, shape (c, 3)
        Every admissible :math:`(i, j, k)` (``keep_candidates=True`` only; else shape (0, 3)).
    candidate_scores : ndarray, shape (c,)
        Their similarities.
    delta : float or ndarray, shape (N,)
        The eigenvalue threshold used (one per k if an array was given).
    gamma : float
        The similarity threshold used.
    groups : ndarray of int, shape (N,)
        Degenerate group of every column (:func:`degenerate_groups`; all distinct when the
        search ran without ``degeneracy``).
    best_members : list of ndarray of int, shape (m, 2)
        For every k, the pairs :math:`(a, b)` whose products explain it: ``[best_pair]``
        for single eigenvectors; for degenerate groups every member pair whose product carries
        at least 10 % of the explained part of :math:`\\varphi_k` (least-squares share), so a
        group that joins eigenvectors of two factors by accident adds no false pair. Shape
        (0, 2) where no pair is admissible.
    best_purity : ndarray, shape (N,)
        For every k whose best similarity exceeds ``gamma``: the share of the best pair's
        product (the span of all its member products for degenerate groups) that lies on
        eigenvectors whose eigenvalue is within :math:`\\delta_k` of the pair's sum, among
        that and the share on eigenvectors below that window (:func:`product_purity`); NaN
        elsewhere.
    purity : float
        The purity threshold used (0: not applied, the paper's Algorithm 1).
    """

    triplets: np.ndarray
    scores: np.ndarray
    best_pair: np.ndarray
    best_score: np.ndarray
    n_candidates: np.ndarray
    candidates: np.ndarray
    candidate_scores: np.ndarray
    delta: float | np.ndarray
    gamma: float
    groups: np.ndarray | None = None
    best_members: list | None = None
    best_purity: np.ndarray | None = None
    purity: float = 0.0


def degenerate_groups(eigenvalues, tol: float, *, max_size: int = 4) -> np.ndarray:
    r"""Group consecutive eigenvalues that are equal up to a relative tolerance.

    Columns k and k + 1 are in one group when :math:`\lambda_{k+1} - \lambda_k < tol\,
    \lambda_{k+1}`. A circle's :math:`\cos n\theta, \sin n\theta` (and every product with
    them) are exactly degenerate in the limit; a finite sample splits them slightly and its
    eigenvectors are an arbitrary rotation inside the pair, which an element-wise product of
    single eigenvectors cannot match (similarity :math:`|\cos\alpha|` for a rotation by
    :math:`\alpha`). A run longer than ``max_size`` is a crowded stretch of the spectrum, not a
    degeneracy: its columns stay single.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        Sorted increasingly.
    tol : float >= 0
        Relative gap; 0 makes every column its own group.
    max_size : int, default 4

    Returns
    -------
    ndarray of int, shape (N,)
        Group label of every column, non-decreasing, starting at 0.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.size == 0:
        return np.zeros(0, dtype=np.int64)
    close = np.diff(lam) < tol * np.abs(lam[1:]) if tol > 0 else np.zeros(lam.size - 1, bool)
    start = np.concatenate([[True], ~close])
    labels = np.cumsum(start) - 1
    sizes = np.bincount(labels)
    big = sizes[labels] > max_size
    if big.any():  # crowded runs: singletons again
        start = start | big
        labels = np.cumsum(start) - 1
    return labels.astype(np.int64)


def _validated(eigenvectors, eigenvalues):
    """``phi`` (float64, not copied when it already is), ``lam`` and the column norms of phi."""
    phi = np.asarray(eigenvectors, dtype=np.float64)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if phi.ndim != 2:
        raise ValueError(
            f"eigenvectors: expected a matrix of shape (n, N) (one eigenvector per column), got "
            f"shape {phi.shape}"
        )
    if lam.ndim != 1 or lam.size != phi.shape[1]:
        raise ValueError(
            f"eigenvalues: expected shape ({phi.shape[1]},) to match the {phi.shape[1]} "
            f"eigenvector columns, got shape {lam.shape}"
        )
    if phi.shape[1] < 3:
        raise ValueError(
            f"eigenvectors: got {phi.shape[1]} non-trivial eigenvectors; the triplet search "
            "needs at least 3 (two factors and one product); compute more eigenvectors"
        )
    if not np.isfinite(lam).all():
        raise ValueError("eigenvalues: contain NaN or infinite values")
    if np.any(np.diff(lam) < -1e-12 * max(1.0, float(np.abs(lam).max()))):
        raise ValueError(
            "eigenvalues: must be sorted increasingly (the Laplacian's log-transformed "
            "eigenvalues, smallest first); sort the eigenvectors together with them"
        )
    norms = np.sqrt(np.einsum("ij,ij->j", phi, phi))
    if not np.isfinite(norms).all():  # NaN/inf entries, or entries so large their squares overflow
        if not (np.isfinite(phi.min()) and np.isfinite(phi.max())):
            raise ValueError("eigenvectors: contain NaN or infinite values")
        big = np.abs(phi).max(axis=0)
        scaled = phi / big
        norms = big * np.sqrt(np.einsum("ij,ij->j", scaled, scaled))
    if (norms == 0).any():
        raise ValueError(f"eigenvectors: column {int(np.flatnonzero(norms == 0)[0])} is zero")
    return phi, lam, norms


def _check_inputs(eigenvectors, eigenvalues):
    """Validated inputs, eigenvectors normalised (a copy: the caller's array is untouched)."""
    phi, lam, norms = _validated(eigenvectors, eigenvalues)
    return phi / norms, lam


def _product_norms(phi: np.ndarray) -> np.ndarray:
    """``sqrt((phi**2).T @ phi**2)``: the norms of all element-wise products, shape (N, N)."""
    sq = phi * phi
    return np.sqrt(np.maximum(sq.T @ sq, 0.0))


def find_triplets(eigenvectors, eigenvalues, *, delta, gamma: float,
                  keep_candidates: bool = False, degeneracy: float = 0.0,
                  purity: float = 0.0) -> TripletSearch:
    r"""Algorithm 1: for each eigenvector, the element-wise product of two others it matches.

    Parameters
    ----------
    eigenvectors : array_like, shape (n, N)
        Non-trivial eigenvectors :math:`\varphi_1..\varphi_N` as columns (any scaling; not
        modified).
    eigenvalues : array_like, shape (N,)
        Their (log-transformed) Laplacian eigenvalues, sorted increasingly.
    delta : float > 0, or array_like of shape (N,)
        Eigenvalue criterion: only pairs with :math:`|\lambda_i + \lambda_j - \lambda_k| <
        \delta` are scored (same units as ``eigenvalues``); an array gives one threshold
        :math:`\delta_k` per eigenvector k.
    gamma : float in [0, 1)
        Eigenvector criterion: keep the best pair when its similarity exceeds ``gamma``.
    keep_candidates : bool, default False
        Also return every admissible triplet with its similarity (memory grows with the
        number of admissible triplets).
    degeneracy : float >= 0, default 0
        Relative eigenvalue gap below which consecutive eigenvectors form one degenerate group
        (:func:`degenerate_groups`). For a pair of groups :math:`(A, B)` the similarity of
        :math:`\varphi_k` is the norm of its projection on
        :math:`\operatorname{span}\{\varphi_a\varphi_b : a \in A, b \in B\}`, which does not
        depend on the rotation a finite sample picks inside a degenerate eigenspace; it equals
        the paper's similarity for single eigenvectors. 0 is the paper's Algorithm 1.
    purity : float in [0, 1), default 0
        Keep only member pairs whose product has purity (:func:`product_purity`) at least
        this, and a triplet only when the kept pairs still explain it (similarity above
        ``gamma``). Two eigenfunctions of one factor multiply into two frequencies,
        :math:`\cos m\theta \cos n\theta = \tfrac12\cos(m+n)\theta +
        \tfrac12\cos(m-n)\theta`, so half of their product lies below the eigenvalue
        window (purity 1/2), however the pair scores; a true product
        :math:`\varphi^{(1)}_i\varphi^{(2)}_j` is itself an eigenfunction (purity 1). This
        matters most for degenerate groups, whose span of products contains both frequencies
        (similarity 1 for a same-factor pair). 0 (default here) is the paper's algorithm.

    Returns
    -------
    TripletSearch
    """
    phi, lam, norms = _validated(eigenvectors, eigenvalues)
    delta_k = np.broadcast_to(np.asarray(delta, dtype=np.float64), lam.shape)
    if not (np.isfinite(delta_k).all() and (delta_k > 0).all()):
        raise ValueError(f"delta: {delta!r} is invalid; use a finite number > 0 (or one per "
                         "eigenvector)")
    delta = float(delta_k[0]) if np.ndim(delta) == 0 else delta_k.copy()
    gamma = float(gamma)
    n_vec = phi.shape[1]
    pi, pj, ptr, tk = _admissible(lam, delta_k)
    cnt = np.diff(ptr)
    ti, tj = np.repeat(pi, cnt), np.repeat(pj, cnt)
    if keep_candidates:  # every score is returned: all in float64
        num, norm2 = pair_dots(transpose_scaled(phi, 1.0 / norms, np.float64), pi, pj, ptr, tk)
        sim = _similarity(num, np.repeat(norm2, cnt))
    else:
        sim = _screened_similarity(phi, norms, pi, pj, ptr, tk, ti, tj)
    # per k: the best score; scores within _TIE of it (equal up to rounding, e.g. symmetric
    # eigenfunctions) are ties, won by the first (i, j) as in the paper's loop. Triplets are
    # stored in (i, j) order, so the first eligible index of each k is that pair.
    top = np.full(n_vec, -np.inf)
    np.maximum.at(top, tk, sim)
    eligible = np.flatnonzero((sim >= top[tk] - _TIE) & (sim > 0))
    _, first = np.unique(tk[eligible], return_index=True)
    best = eligible[first]
    best_pair = np.full((n_vec, 2), -1, dtype=np.int64)
    best_score = np.zeros(n_vec)
    best_pair[tk[best]] = np.column_stack([ti[best], tj[best]])
    best_score[tk[best]] = sim[best]
    n_cand = np.bincount(tk, minlength=n_vec).astype(np.int64)
    groups = degenerate_groups(lam, float(degeneracy))
    members = [np.array([[i, j]], dtype=np.int64) if i >= 0 else np.zeros((0, 2), np.int64)
               for i, j in best_pair]
    if groups[-1] + 1 < n_vec:
        _group_scores(phi, norms, groups, ti, tj, tk, best_pair, best_score, members)
    ks = np.flatnonzero(best_score > gamma)
    best_purity = np.full(n_vec, np.nan)
    if ks.size and purity > 0:
        _pure_members(phi / norms, lam, delta_k, ks, purity, best_pair, best_score, members)
        ks = ks[best_score[ks] > gamma]
    if ks.size:
        best_purity[ks] = product_purity(phi / norms, lam, delta_k, [members[k] for k in ks],
                                         ks)
    triplets = np.column_stack([best_pair[ks, 0], best_pair[ks, 1], ks]).astype(np.int64)
    if keep_candidates:
        by_k = np.argsort(tk, kind="stable")  # sorted by k, then (i, j)
        candidates = np.column_stack([ti[by_k], tj[by_k], tk[by_k]]).astype(np.int64)
        candidate_scores = sim[by_k]
    else:
        candidates, candidate_scores = np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    return TripletSearch(
        triplets=triplets.reshape(-1, 3),
        scores=best_score[ks],
        best_pair=best_pair,
        best_score=best_score,
        n_candidates=n_cand,
        candidates=candidates,
        candidate_scores=candidate_scores,
        delta=delta,
        gamma=gamma,
        groups=groups,
        best_members=members,
        best_purity=best_purity,
        purity=float(purity),
    )


def _pure_members(unit, lam, delta_k, ks, purity, best_pair, best_score, members):
    """Drop member pairs whose own product is impure; rescore the rest (in place).

    A degenerate group can mix a true product with a same-factor one (a rectangle's
    near-degenerate (2, 0) and (1, 1) modes), and the span of two same-factor groups holds
    both frequencies of their products, so purity is judged pair by pair: phi_k keeps the
    member pairs whose product alone has purity >= ``purity``, its similarity becomes the norm
    of its projection on their span, and its representative pair the largest of their shares.
    """
    for k in ks:
        pairs = members[k]
        if pairs.shape[0] == 0:
            continue
        p = product_purity(unit, lam, delta_k, [row[None, :] for row in pairs],
                           np.full(pairs.shape[0], k))
        ok = p >= purity
        if ok.all():
            continue
        if not ok.any():
            best_score[k] = 0.0
            members[k] = pairs[:0]
            continue
        pairs = pairs[ok]
        prods = unit[:, pairs[:, 0]] * unit[:, pairs[:, 1]]
        coef = np.linalg.lstsq(prods, unit[:, k], rcond=None)[0]
        fit = prods @ coef
        best_score[k] = float(min(1.0, np.linalg.norm(fit)))
        share = coef * (unit[:, k] @ prods)
        best_pair[k] = pairs[int(np.argmax(share))]
        members[k] = pairs


def product_share(eigenvectors, eigenvalues, columns, *, delta, purity: float,
                  n_best: int = 5) -> np.ndarray:
    r"""How much of each given eigenvector is a pure product of two earlier ones.

    For column v: the largest similarity :math:`S(\varphi_v, \varphi_i\varphi_j)` over the
    ``n_best`` best admissible pairs :math:`i < j < v`,
    :math:`|\lambda_i + \lambda_j - \lambda_v| < \delta_v`, whose product has purity
    (:func:`product_purity`) at least ``purity``. A factor eigenvector scores about 0 (the
    admissible pairs of its own factor are impure); an eigenvector that mixes a factor mode
    with a product mode of nearly the same eigenvalue scores the product's share of it.
    The partners of one :math:`\varphi_i` are also taken together (their span times
    :math:`\varphi_i`, :func:`_window_share`), so a product whose factor mode is spread over
    near-degenerate eigenvectors is found too.

    Parameters
    ----------
    eigenvectors : array_like, shape (n, N)
    eigenvalues : array_like, shape (N,)
        Sorted increasingly.
    columns : array_like of int
    delta : float or array_like, shape (N,)
    purity : float

    Returns
    -------
    ndarray, shape (len(columns),)
    """
    phi, lam, norms = _validated(eigenvectors, eigenvalues)
    unit = phi / norms
    delta_k = np.broadcast_to(np.asarray(delta, dtype=np.float64), lam.shape)
    out = np.zeros(len(columns))
    for t, v in enumerate(np.asarray(columns, dtype=np.int64)):
        i, j = np.triu_indices(v, 1)
        ok = np.abs(lam[i] + lam[j] - lam[v]) < delta_k[v]
        i, j = i[ok], j[ok]
        if i.size == 0:
            continue
        prods = unit[:, i] * unit[:, j]
        sim = np.abs(unit[:, v] @ prods) / np.maximum(np.linalg.norm(prods, axis=0), 1e-300)
        top = np.argsort(-sim)[:n_best]
        pur = product_purity(unit, lam, delta_k, [np.array([[i[b], j[b]]]) for b in top],
                             np.full(top.size, v))
        good = top[pur >= purity]
        out[t] = float(min(1.0, sim[good].max())) if good.size else 0.0
        out[t] = max(out[t], _window_share(unit, lam, delta_k, v, i, j, purity))
    return out


def _window_share(unit, lam, delta_k, v, i, j, purity) -> float:
    r"""The k-side window version of the pair similarity in :func:`product_share`.

    When the partner eigenfunction of :math:`\varphi_i` is spread over several near-degenerate
    eigenvectors (three factors, images: a rotor's mode mixed with its product with the
    stretch), no single pair matches :math:`\varphi_v`, but :math:`\varphi_v` still lies in
    :math:`\varphi_i \cdot \operatorname{span}\{\varphi_j : (i, j) \text{ admissible}\}`
    (rotation-free on the j side). For each i with two or more admissible partners: the norm
    of the projection of :math:`\varphi_v` on that span, counted when the fitted product has
    purity (window energy over window plus below, as :func:`product_purity`) >= ``purity``.
    A single pair is the case above; a factor eigenvector's own-factor partners put half of
    the product below the window, which the purity rejects.
    """
    best = 0.0
    for a in np.unique(np.concatenate([i, j])).tolist():
        part = np.unique(np.concatenate([j[i == a], i[j == a]]))
        if part.size < 2:
            continue
        q, r = np.linalg.qr(unit[:, [a]] * unit[:, part])
        q = q[:, np.abs(np.diag(r)) > 1e-10 * max(1e-300, float(np.abs(r).max()))]
        coef = q.T @ unit[:, v]
        sim = float(np.linalg.norm(coef))
        if sim <= best:
            continue
        fit = q @ coef
        sums = lam[a] + lam[part]
        lo, hi = float(sums.min()) - delta_k[v], float(sums.max()) + delta_k[v]
        energy = (unit.T @ fit) ** 2
        e_win = float(energy[(lam >= lo) & (lam <= hi)].sum())
        e_low = float(energy[lam < lo].sum())
        if e_win + e_low > 0 and e_win / (e_win + e_low) >= purity:
            best = sim
    return min(1.0, best)


def product_purity(unit, lam, delta_k, members, ks) -> np.ndarray:
    r"""How much of a pair's product is a single eigenfunction at the sum of their eigenvalues.

    For the member pairs :math:`(a, b)` that explain :math:`\varphi_k` (one pair
    :math:`(i, j)` outside degenerate groups) let :math:`Q` be an orthonormal basis of their
    products :math:`\varphi_a\varphi_b` and :math:`s_- \le s_+` the smallest and largest
    :math:`\lambda_a + \lambda_b`. With :math:`E(L) = \|\Phi_L^T Q\|_F^2` the energy of the
    products on the unit eigenvectors :math:`L`,

    .. math:: p_k = \frac{E(\text{win})}{E(\text{win}) + E(\text{low})}, \quad
        \text{win} = \{l : s_- - \delta_k \le \lambda_l \le s_+ + \delta_k\},\
        \text{low} = \{l : \lambda_l < s_- - \delta_k\}.

    :math:`p \approx 1` for factors of different manifolds (the product is an
    eigenfunction), :math:`p \approx 1/2` for two eigenfunctions of one factor (the
    difference frequency lies in ``low``).

    Parameters
    ----------
    unit : ndarray, shape (n, N)
        Unit-norm eigenvectors.
    lam, delta_k : ndarray, shape (N,)
    members : sequence of ndarray of int, each shape (m_t, 2)
        The pairs explaining each k (``TripletSearch.best_members``).
    ks : ndarray of int, shape (t,)

    Returns
    -------
    ndarray, shape (t,)
    """
    out = np.empty(len(ks))
    for t, (pairs, k) in enumerate(zip(members, ks, strict=True)):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if pairs.shape[0] == 0:
            out[t] = 0.0
            continue
        prods = unit[:, pairs[:, 0]] * unit[:, pairs[:, 1]]
        q, r = np.linalg.qr(prods)
        q = q[:, np.abs(np.diag(r)) > 1e-10 * max(1e-300, float(np.abs(r).max()))]
        sums = lam[pairs[:, 0]] + lam[pairs[:, 1]]
        lo, hi = float(sums.min()) - delta_k[k], float(sums.max()) + delta_k[k]
        energy = ((unit.T @ q) ** 2).sum(axis=1)
        e_win = float(energy[(lam >= lo) & (lam <= hi)].sum())
        e_low = float(energy[lam < lo].sum())
        out[t] = e_win / (e_win + e_low) if e_win + e_low > 0 else 0.0
    return out


def _group_scores(phi, norms, groups, ti, tj, tk, best_pair, best_score, members):
    """Raise ``best_score`` (in place) to the span similarity of degenerate group pairs.

    Only pairs of groups with more than one member in all are rescored (for single columns the
    span similarity is the ordinary one). Products inside one group are skipped: they are
    functions of one factor (e.g. :math:`\\cos\\theta\\sin\\theta`), never a product.
    """
    size = np.bincount(groups)
    gi, gj = groups[ti], groups[tj]
    multi = (gi != gj) & ((size[gi] > 1) | (size[gj] > 1)) & (groups[tk] != gj)
    if not multi.any():
        return
    gi, gj, gk = gi[multi], gj[multi], tk[multi]
    key = np.unique(np.column_stack([gi, gj, gk]), axis=0)
    unit = phi / norms
    for a, b in np.unique(key[:, :2], axis=0):
        A, B = np.flatnonzero(groups == a), np.flatnonzero(groups == b)
        prods = (unit[:, A, None] * unit[:, None, B]).reshape(len(phi), -1)
        q, r = np.linalg.qr(prods)
        rank = np.abs(np.diag(r)) > 1e-10 * max(1e-300, float(np.abs(r).max()))
        q = q[:, rank]
        ks = key[(key[:, 0] == a) & (key[:, 1] == b), 2]
        sim = np.minimum(np.sqrt(((q.T @ unit[:, ks]) ** 2).sum(axis=0)), 1.0)
        better = sim > best_score[ks] + _TIE
        pairs = np.column_stack([np.repeat(A, B.size), np.tile(B, A.size)])
        for k, s_ in zip(ks[better], sim[better], strict=True):
            # share of each member product in the projection of phi_k (sums to s_**2)
            coef = np.linalg.lstsq(prods, unit[:, k], rcond=None)[0]
            share = coef * (unit[:, k] @ prods) / max(s_ * s_, 1e-300)
            m = int(np.argmax(share))
            best_pair[k] = pairs[m]  # the representative: the largest share
            best_score[k] = s_
            members[k] = pairs[share >= _MEMBER_SHARE]


def _similarity(num: np.ndarray, norm2: np.ndarray) -> np.ndarray:
    """``|num| / sqrt(norm2)`` clipped to [0, 1]; 0 where the product vanishes."""
    den = np.sqrt(np.maximum(norm2, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, np.minimum(np.abs(num) / den, 1.0), 0.0)


def _screened_similarity(phi, norms, pi, pj, ptr, tk, ti, tj):
    r"""Float64 similarities of every triplet that can be the best of its k (others: -1).

    All admissible triplets are first scored in float32 (half the memory traffic of the
    bandwidth-bound kernel). With unit-norm columns, blocks of :math:`m` = ``TRIPLET_BLOCK``
    samples summed in float32 and the blocks in float64, each float32 similarity is within
    :math:`\epsilon = 1.5 (m + 7) u` (u = 2^-24; about 4.7e-5 at m = 512) of the float64 one:
    rounding the inputs and the product costs 3u, each block sum :math:`\gamma_{m+4}
    \sum |\varphi_i\varphi_j\varphi_k| \le \gamma_{m+4} \|\varphi_i\varphi_j\|` by
    Cauchy-Schwarz, and the norm of the product :math:`(m + 7) u / 2` relative. A triplet whose
    float32 score is more than :math:`2\epsilon` below the best float32 score of its k can
    therefore not be the best in float64; the rest (a few per k) are rescored in float64,
    together with every pair whose float32 product norm is below 1e-10, where underflow could
    matter. The result is the same best pair and score as an all-float64 search.
    """
    from .._triplet_kernels import TRIPLET_BLOCK

    cnt = np.diff(ptr)
    num, norm2 = pair_dots(transpose_scaled(phi, 1.0 / norms, np.float32), pi, pj, ptr, tk)
    norm2 = np.repeat(norm2, cnt)
    sim32 = _similarity(num, norm2)
    best32 = np.full(phi.shape[1], -np.inf)
    np.maximum.at(best32, tk, sim32)
    eps = 1.5 * (TRIPLET_BLOCK + 7) * 2.0**-24 * 2  # a factor 2 to spare
    rescore = np.flatnonzero((sim32 >= best32[tk] - 2 * eps) | (norm2 < 1e-20))
    sim = np.full(tk.size, -1.0)
    num64, norm64 = triplet_dots(phi, 1.0 / norms, ti[rescore], tj[rescore], tk[rescore])
    sim[rescore] = _similarity(num64, norm64)
    return sim


def _admissible(lam: np.ndarray, delta_k: np.ndarray):
    """Admissible pairs and their triplets, :math:`i < j < k`, |lam_i + lam_j - lam_k| < delta_k.

    Returns ``pi, pj`` (pairs with at least one admissible k, in (i, j) order), ``ptr`` (offsets,
    shape (P + 1,)) and ``tk`` (the k of each pair, increasing within a pair).
    """
    n_vec = lam.size
    i, j = np.triu_indices(n_vec, 1)
    s = lam[i] + lam[j]
    # k is admissible iff lam_k - delta_k < s < lam_k + delta_k; both envelopes below are
    # non-decreasing and bound those sides, so the admissible k lie in [k0, k1)
    hi_env = np.maximum.accumulate(lam + delta_k)
    lo_env = np.minimum.accumulate((lam - delta_k)[::-1])[::-1]
    k0 = np.maximum(np.searchsorted(hi_env, s, side="right"), j + 1)
    k1 = np.searchsorted(lo_env, s, side="left")
    cnt = np.maximum(k1 - k0, 0)
    keep = cnt > 0
    i, j, k0, cnt = i[keep], j[keep], k0[keep], cnt[keep]
    ends = np.cumsum(cnt)
    tk = np.repeat(k0 - ends + cnt, cnt) + np.arange(ends[-1] if ends.size else 0)
    tp = np.repeat(np.arange(i.size), cnt)
    ok = np.abs(lam[i[tp]] + lam[j[tp]] - lam[tk]) < delta_k[tk]  # the exact criterion
    tk, tp = tk[ok], tp[ok]
    per_pair = np.bincount(tp, minlength=i.size)
    has = per_pair > 0
    ptr = np.concatenate([[0], np.cumsum(per_pair[has])])
    return i[has], j[has], ptr, tk


def triplet_scores(eigenvectors, eigenvalues, k: int):
    r"""Similarity and eigenvalue error of every pair :math:`i < j < k` (no pruning; Fig. 4).

    Parameters
    ----------
    eigenvectors : array_like, shape (n, N)
    eigenvalues : array_like, shape (N,)
    k : int
        Column of the eigenvector to explain, ``2 <= k < N``.

    Returns
    -------
    pairs : ndarray of int, shape (k (k - 1) / 2, 2)
        All :math:`(i, j)`, :math:`i < j < k`.
    similarity : ndarray, shape (k (k - 1) / 2,)
        :math:`S(\varphi_k, \varphi_i \varphi_j)`.
    eigenvalue_error : ndarray, shape (k (k - 1) / 2,)
        :math:`|\lambda_i + \lambda_j - \lambda_k|`.
    """
    phi, lam = _check_inputs(eigenvectors, eigenvalues)
    if not (isinstance(k, int | np.integer) and 2 <= k < phi.shape[1]):
        raise ValueError(f"k: {k!r} is out of range; use an integer in [2, {phi.shape[1] - 1}]")
    k = int(k)
    norms = _product_norms(phi[:, :k])
    num = (phi[:, :k] * phi[:, k : k + 1]).T @ phi[:, :k]
    ii, jj = np.triu_indices(k, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(norms[ii, jj] > 0, np.abs(num[ii, jj]) / norms[ii, jj], 0.0)
    err = np.abs(lam[ii] + lam[jj] - lam[k])
    return np.column_stack([ii, jj]), np.minimum(sim, 1.0), err
