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

Vectorisation: with :math:`\Phi \in \mathbb{R}^{n \times N}` the eigenvector matrix,

* all squared norms :math:`\|\varphi_i \varphi_j\|^2 = \sum_x \varphi_i(x)^2 \varphi_j(x)^2`
  are one matrix product :math:`(\Phi \odot \Phi)^\top (\Phi \odot \Phi)`;
* for each :math:`k`, the numerators :math:`\langle \varphi_k, \varphi_i\varphi_j \rangle` of
  every candidate pair are one matrix product
  :math:`(\Phi_{:, I} \odot \varphi_k)^\top \Phi_{:, J}`, where the eigenvalue criterion
  restricts the rows :math:`I` and columns :math:`J` to the eigenvectors that take part in at
  least one admissible pair. The cost is :math:`O(n \sum_k |I_k| |J_k|)` BLAS flops instead of
  a Python loop over :math:`\binom{N}{3}` triplets.

Ties are broken as the paper's loop does (first pair in (i, j) lexicographic order), and the
caller's arrays are never modified. The blocks are small, so BLAS runs single-threaded here:
on our shared 2-core machine (load average ~5) a threaded BLAS made the search 8x slower
(13.6 s vs 1.7 s for n = 3000, N = 200) by oversubscription.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["TripletSearch", "find_triplets", "triplet_scores"]


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


def _check_inputs(eigenvectors, eigenvalues):
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
    if not (np.isfinite(phi).all() and np.isfinite(lam).all()):
        raise ValueError("eigenvectors/eigenvalues: contain NaN or infinite values")
    if np.any(np.diff(lam) < -1e-12 * max(1.0, float(np.abs(lam).max()))):
        raise ValueError(
            "eigenvalues: must be sorted increasingly (the Laplacian's log-transformed "
            "eigenvalues, smallest first); sort the eigenvectors together with them"
        )
    norms = np.linalg.norm(phi, axis=0)
    if (norms == 0).any():
        raise ValueError(f"eigenvectors: column {int(np.flatnonzero(norms == 0)[0])} is zero")
    return phi / norms, lam  # a normalised copy: the caller's array is untouched


def _product_norms(phi: np.ndarray) -> np.ndarray:
    """``sqrt((phi**2).T @ phi**2)``: the norms of all element-wise products, shape (N, N)."""
    sq = phi * phi
    return np.sqrt(np.maximum(sq.T @ sq, 0.0))


def find_triplets(eigenvectors, eigenvalues, *, delta, gamma: float,
                  keep_candidates: bool = False) -> TripletSearch:
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

    Returns
    -------
    TripletSearch
    """
    phi, lam = _check_inputs(eigenvectors, eigenvalues)
    delta_k = np.broadcast_to(np.asarray(delta, dtype=np.float64), lam.shape)
    if not (np.isfinite(delta_k).all() and (delta_k > 0).all()):
        raise ValueError(f"delta: {delta!r} is invalid; use a finite number > 0 (or one per "
                         "eigenvector)")
    delta = float(delta_k[0]) if np.ndim(delta) == 0 else delta_k.copy()
    gamma = float(gamma)
    n_vec = phi.shape[1]
    norms = _product_norms(phi)
    best_pair = np.full((n_vec, 2), -1, dtype=np.int64)
    best_score = np.zeros(n_vec)
    n_cand = np.zeros(n_vec, dtype=np.int64)
    cand_rows: list[np.ndarray] = []
    cand_scores: list[np.ndarray] = []
    pair_sum = lam[:, None] + lam[None, :]
    upper = np.triu(np.ones((n_vec, n_vec), dtype=bool), k=1)  # i < j
    with threadpool_limits(limits=1, user_api="blas"):
        for k in range(2, n_vec):
            _best_pair_for(k, phi, lam, pair_sum, upper, norms, delta_k[k], keep_candidates,
                           best_pair, best_score, n_cand, cand_rows, cand_scores)
    keep = best_score > gamma
    ks = np.flatnonzero(keep)
    triplets = np.column_stack([best_pair[ks, 0], best_pair[ks, 1], ks]).astype(np.int64)
    candidates = (np.concatenate(cand_rows).astype(np.int64) if cand_rows
                  else np.zeros((0, 3), dtype=np.int64))
    candidate_scores = np.concatenate(cand_scores) if cand_scores else np.zeros(0)
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
    )




def _best_pair_for(k, phi, lam, pair_sum, upper, norms, delta, keep_candidates, best_pair,
                   best_score, n_cand, cand_rows, cand_scores) -> None:
    """One k of Algorithm 1 (fills the output arrays in place)."""
    # admissible (i, j): i < j < k and the eigenvalue criterion
    ok = (np.abs(pair_sum[:k, :k] - lam[k]) < delta) & upper[:k, :k]
    count = int(ok.sum())
    n_cand[k] = count
    if count == 0:
        return
    rows = np.flatnonzero(ok.any(axis=1))
    cols = np.flatnonzero(ok.any(axis=0))
    sub = ok[np.ix_(rows, cols)]
    num = (phi[:, rows] * phi[:, k : k + 1]).T @ phi[:, cols]  # <phi_k, phi_i phi_j>
    den = norms[np.ix_(rows, cols)]
    with np.errstate(divide="ignore", invalid="ignore"):
        sim = np.where(den > 0, np.abs(num) / den, 0.0)
    sim = np.where(sub, np.minimum(sim, 1.0), -1.0)
    flat = int(np.argmax(sim))  # first maximum in (i, j) lexicographic order
    r, c = divmod(flat, sim.shape[1])
    if sim[r, c] > 0:
        best_pair[k] = rows[r], cols[c]
        best_score[k] = sim[r, c]
    if keep_candidates:
        ri, ci = np.nonzero(sub)
        cand_rows.append(np.column_stack([rows[ri], cols[ci], np.full(ri.size, k)]))
        cand_scores.append(sim[ri, ci])


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
