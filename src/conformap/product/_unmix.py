r"""Unmixing near-degenerate Laplacian eigenvectors before the triplet search.

On a product manifold :math:`M_1 \times \dots \times M_d` the Laplacian eigenfunctions are
products :math:`\prod_f \varphi^{(f)}_{i_f}(x_f)` of one eigenfunction per factor. Where two of
them have nearly equal eigenvalues (the box :math:`[0, 1+\sqrt\pi] \times [0, 1.5] \times
[0, 7]` has :math:`x_2` and :math:`z_5` 2 % apart, :math:`y_1 z_1` and :math:`x_1 z_4` 2 %
apart), a finite graph returns an arbitrary rotation of them: an eigenvector that is 60 % one
and 40 % the other is neither a factor eigenvector nor a product of two others, so Algorithm 1
misses it. :func:`unmix_eigenvectors` finds, inside every block of near-equal eigenvalues, the
rotation back to separable functions, with two rules that need no ground truth:

1. **Products of lower eigenvectors** (processed first, so already unmixed). A product
   eigenfunction :math:`\varphi_i \varphi_j` lies in the block whose eigenvalues contain
   :math:`\lambda_i + \lambda_j`; the unit direction of its projection on the block is that
   eigenfunction. Greedily, the product with the largest projection norm (above ``gamma``) is
   taken as a new basis vector and deflated from the block, until no product is left above
   ``gamma``. A product of two eigenfunctions of one factor has at most :math:`1/\sqrt 2` of its
   norm at the sum of their eigenvalues (:math:`\cos m\theta \cos n\theta =
   \frac12\cos(m+n)\theta + \frac12\cos(m-n)\theta`), so ``gamma`` > 0.71 never takes one.
2. **Independence for the rest.** What is orthogonal to every such product are functions of
   single factors (or products of factors not yet resolved). Eigenfunctions :math:`f(x), g(y)`
   of different, independent factors satisfy :math:`E[f^2 g^2] = E[f^2] E[g^2]`; for unit
   variance, the rotation :math:`a = c f + s g`, :math:`b = -s f + c g` gives

   .. math:: E[a^4] + E[b^4] = \kappa_f + \kappa_g + c^2 s^2\,(12 - 2\kappa_f - 2\kappa_g)

   (:math:`\kappa = E[f^4]`; a Neumann cosine or a circle's Fourier mode has
   :math:`\kappa = 3/2`, so the bracket is 6 > 0): the sum of fourth moments is smallest for
   the unmixed pair. The remainder is rotated by Jacobi sweeps that minimise
   :math:`\sum_v E[v^4]` (the contrast of kurtosis-based ICA, Cardoso & Souloumiac 1993) in
   closed form per pair. A circle's :math:`\cos n\theta, \sin n\theta` are an exact
   eigenspace (every rotation of the pair is right, and the degenerate groups of
   :func:`conformap.product.find_triplets` handle it), but the contrast is wrong between such a
   pair and a product with it (:math:`E[\sin^2\theta\cos^2\theta] = 1/8`: mixing
   :math:`\sin\theta` with :math:`\cos\theta\, s_1(s)` lowers it), so circle pairs, found
   as a trace-2 quadratic form of the block that is constant on the sample
   (:math:`u^2 + v^2 = 2`), are kept out of the rotation as the graph gave them.

Blocks: runs of consecutive eigenvalues whose relative gap is below ``tol``; a run longer than
``max_block`` is cut at its largest gaps. Each new vector's eigenvalue is the Rayleigh quotient
:math:`\sum_i r_i^2 \lambda_i` of its rotation coefficients, and the block is re-sorted by it.
The rotation is orthogonal (after a symmetric orthonormalisation of the block, the closest
orthonormal set), so the block's span, and every statistic that depends only on it, is kept.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_UNMIX",
    "UNMIX_GAMMA",
    "UNMIX_KEEP",
    "UnmixResult",
    "unmix_blocks",
    "unmix_eigenvectors",
]

#: Relative eigenvalue gap below which neighbouring eigenvectors are unmixed together (0: off).
DEFAULT_UNMIX = 0.1
#: Smallest projection norm of a product of two lower eigenvectors on a block (rule 1). True
#: products measure 0.89-0.99 (box n = 6000); 0.75-0.8 were chance alignments with a noisy
#: factor (rectangle n = 1500: x2 * (x1 y3 mixture) aligned at 0.78 made a false triplet).
UNMIX_GAMMA = 0.9
#: Do no harm (``keep``): a block whose input columns match a lower product above this, and
#: whose fourth-moment rotation would leave it below the triplet threshold (``lost``), is left
#: as given. The upper end of the chance alignments measured on the rectangle (0.75-0.8, see
#: UNMIX_GAMMA): below it a match is as likely chance as a product (rectangle n = 1500 seeds
#: 2 and 4: 0.75-0.77 matches kept this way lowered the accuracy); 200 toy blob images:
#: 0.83 -> 0.68, the only triplet; two-factor images n = 2000 SNR 1 seed 0: 0.85 -> 0.79,
#: still a triplet, and keeping that block lowered the accuracy from 1.00 to 0.62.
UNMIX_KEEP = 0.8
#: Largest block rotated as one: longer runs are cut at their largest gaps.
MAX_BLOCK = 6
#: Jacobi sweeps of the fourth-moment rotation stop when no angle exceeds this (radians).
_ANGLE_TOL = 1e-4
_MAX_SWEEPS = 30
#: A trace-2 quadratic form of the block with less variance than this is a circle's Fourier
#: pair (0 in the limit; about 1 or more for interval modes and products).
_CIRCLE_VARIANCE = 0.3


@dataclass(frozen=True)
class UnmixResult:
    """Output of :func:`unmix_eigenvectors`.

    Attributes
    ----------
    eigenvectors : ndarray, shape (n, N)
        The rotated eigenvectors (same column norms as the input's blocks on average).
    eigenvalues : ndarray, shape (N,)
        Their Rayleigh-quotient eigenvalues, sorted increasingly.
    blocks : list of ndarray of int
        Input columns of every block of two or more columns that was rotated.
    aligned : list of tuple
        ``(column, i, j, similarity)``: output columns aligned with the product of the output
        columns i and j (rule 1), with the norm of that product's projection on its block.
    """

    eigenvectors: np.ndarray
    eigenvalues: np.ndarray
    blocks: list
    aligned: list


def unmix_blocks(eigenvalues, tol: float, *, max_block: int = MAX_BLOCK) -> list:
    """Blocks of near-equal eigenvalues: runs with relative gap < ``tol``, cut to ``max_block``.

    Parameters
    ----------
    eigenvalues : array_like, shape (N,)
        Sorted increasingly, positive.
    tol : float >= 0
    max_block : int >= 1

    Returns
    -------
    list of ndarray of int
        Consecutive column ranges covering ``0..N-1``.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.size == 0:
        return []
    gap = np.diff(lam) / np.maximum(np.abs(lam[1:]), 1e-300)
    cuts = np.flatnonzero(gap >= tol) + 1 if tol > 0 else np.arange(1, lam.size)
    runs = np.split(np.arange(lam.size), cuts)
    out = []
    for run in runs:
        out.extend(_cut(run, gap, max_block))
    return out


def _cut(run: np.ndarray, gap: np.ndarray, max_block: int) -> list:
    if run.size <= max_block:
        return [run]
    inner = gap[run[:-1]]  # gap between run[t] and run[t + 1]
    t = int(np.argmax(inner)) + 1
    return _cut(run[:t], gap, max_block) + _cut(run[t:], gap, max_block)


def _orthonormal(block: np.ndarray) -> np.ndarray:
    """Symmetric (Loewdin) orthonormalisation of unit columns: the closest orthonormal set."""
    g = block.T @ block
    w, v = np.linalg.eigh(g)
    return block @ (v / np.sqrt(np.maximum(w, 1e-300))) @ v.T


def _fourth_rotation(z: np.ndarray) -> np.ndarray:
    """Orthogonal R minimising sum_v E[v^4] over the columns of z R (Jacobi sweeps)."""
    m = z.shape[1]
    rot = np.eye(m)
    z = z.copy()
    for _ in range(_MAX_SWEEPS):
        largest = 0.0
        for a in range(m - 1):
            for b in range(a + 1, m):
                u, v = z[:, a], z[:, b]
                uu, vv = u * u, v * v
                m40, m04 = (uu * uu).mean(), (vv * vv).mean()
                m31, m13, m22 = (uu * u * v).mean(), (u * vv * v).mean(), (uu * vv).mean()

                def f(t, m40=m40, m04=m04, m31=m31, m13=m13, m22=m22):
                    c, s = np.cos(t), np.sin(t)
                    fa = c**4 * m40 + 4 * c**3 * s * m31 + 6 * c * c * s * s * m22 \
                        + 4 * c * s**3 * m13 + s**4 * m04
                    fb = s**4 * m40 - 4 * s**3 * c * m31 + 6 * c * c * s * s * m22 \
                        - 4 * s * c**3 * m13 + c**4 * m04
                    return fa + fb

                # f(t) = C + A cos 4t + B sin 4t
                f0, f8, f4 = f(0.0), f(np.pi / 8), f(np.pi / 4)
                cst = 0.5 * (f0 + f4)
                amp_a, amp_b = 0.5 * (f0 - f4), f8 - cst
                t = 0.25 * np.arctan2(-amp_b, -amp_a)
                if abs(t) < _ANGLE_TOL:
                    continue
                largest = max(largest, abs(t))
                c, s = np.cos(t), np.sin(t)
                g = np.array([[c, -s], [s, c]])
                z[:, [a, b]] = z[:, [a, b]] @ g
                rot[:, [a, b]] = rot[:, [a, b]] @ g
        if largest < _ANGLE_TOL:
            break
    return rot


def _circle_pairs(z: np.ndarray):
    r"""Split the span of z into circle Fourier pairs and the rest (block coordinates).

    A circle's :math:`\sqrt2\cos n\theta, \sqrt2\sin n\theta` satisfy :math:`u^2 + v^2 = 2`
    in any rotation of the pair, so some quadratic form :math:`z^T A z` with trace 2 is
    constant on the sample; for eigenfunctions of intervals or of different factors the least
    variance of such a form is about 1 (:math:`\operatorname{Var}(f^2) = \kappa - 1 = 1/2`
    each). The fourth-moment contrast is wrong across a circle pair and a product with it
    (:math:`E[\sin^2\theta\cos^2\theta] = 1/8` makes mixing sin θ with cos θ times another
    factor's mode look independent), so such pairs are kept out of the rotation. Returns
    ``(pairs, free)``: orthonormal columns spanning the detected pairs and their complement.
    """
    r = z.shape[1]
    locked = np.zeros((r, 0))
    free = np.eye(r)
    while free.shape[1] >= 2:
        y = z @ free
        k = y.shape[1]
        ia, ib = np.triu_indices(k)
        feats = y[:, ia] * y[:, ib]
        feats = feats - feats.mean(axis=0)
        gram = feats.T @ feats / len(feats)
        diag = (ia == ib).astype(np.float64)
        try:
            sol = np.linalg.solve(gram + 1e-12 * np.eye(gram.shape[0]), diag)
        except np.linalg.LinAlgError:
            break
        w = 2.0 * sol / float(diag @ sol)  # trace 2
        if float(w @ gram @ w) >= _CIRCLE_VARIANCE:
            break
        a = np.zeros((k, k))
        a[ia, ib] = np.where(ia == ib, w, w / 2)
        a = a + np.triu(a, 1).T
        _vals, vecs = np.linalg.eigh(a)
        pair = free @ vecs[:, -2:]
        # the pair as close to the input columns as the span allows (a circle's pair is
        # an eigenspace: any rotation is right, so keep the one the graph gave)
        rows = np.argsort(-np.linalg.norm(pair, axis=1))[:2]
        u, _s, vt = np.linalg.svd(pair[rows])
        pair = pair @ (u @ vt).T
        locked = np.column_stack([locked, pair])
        free = free @ vecs[:, :-2]
    return locked, free


def unmix_eigenvectors(eigenvectors, eigenvalues, *, tol: float = DEFAULT_UNMIX,
                       gamma: float = UNMIX_GAMMA, keep: float | None = UNMIX_KEEP,
                       lost: float = 0.75, delta=None,
                       max_block: int = MAX_BLOCK) -> UnmixResult:
    r"""Rotate blocks of near-degenerate eigenvectors to separable functions.

    Parameters
    ----------
    eigenvectors : array_like, shape (n, N)
        Non-trivial eigenvectors :math:`\varphi_1..\varphi_N` (columns), sorted by eigenvalue.
    eigenvalues : array_like, shape (N,)
        Their log-transformed Laplacian eigenvalues, increasing and positive.
    tol : float >= 0, default 0.1
        Relative gap below which consecutive eigenvalues form one block (0: returned as given).
    gamma : float in (0.71, 1), default 0.9
        Smallest projection norm of a product of two lower eigenvectors on a block for it to be
        taken as one of the block's eigenvectors (rule 1 of the module docstring).
    keep : float or None, default 0.8 (``UNMIX_KEEP``)
        Do no harm to the triplet search: a block where rule 1 takes no product is returned
        as given when some product of two lower eigenvectors matches one of its input columns
        with similarity above ``keep`` and, after the fourth-moment rotation, none of its new
        columns above ``lost``. Such a product breaks the rotation's premise (single-factor
        functions) and the rotation would spread it over the block. None: every block is
        rotated.
    lost : float, default 0.75
        The triplet search's similarity threshold (``factorize`` passes its ``gamma``): a
        rotation that keeps the product above it loses no triplet.
    delta : float or array_like of shape (N,), optional
        Eigenvalue window: a product :math:`\varphi_i\varphi_j` is tried on a block when
        :math:`\lambda_i + \lambda_j` is within ``delta`` of the block's eigenvalue range
        (default: 5 % of the block's largest eigenvalue).
    max_block : int, default 6

    Returns
    -------
    UnmixResult
    """
    phi = np.array(eigenvectors, dtype=np.float64)
    lam = np.array(eigenvalues, dtype=np.float64)
    if phi.ndim != 2 or lam.shape != (phi.shape[1],):
        raise ValueError(f"eigenvectors: expected shape (n, N) with N = eigenvalues.size, got "
                         f"{phi.shape} and {lam.shape}")
    n, n_vec = phi.shape
    dk = (np.broadcast_to(np.asarray(delta, dtype=np.float64), lam.shape) if delta is not None
          else None)
    norms = np.linalg.norm(phi, axis=0)
    unit = phi / norms
    first = unmix_blocks(lam, tol, max_block=max_block) if tol > 0 else []
    rotated, found = [], {}
    for blocks in (first, _shifted(first, lam, tol)):
        _rotate_blocks(phi, lam, unit, norms, blocks, dk, gamma, keep, lost, n, rotated,
                       found)
    aligned = [found[c] for c in sorted(found)]
    # Rayleigh quotients stay inside their block's range, so the order is kept up to ties
    order = np.argsort(lam, kind="stable")
    if np.any(order != np.arange(n_vec)):
        inv = np.empty_like(order)
        inv[order] = np.arange(n_vec)
        phi, lam = phi[:, order], lam[order]
        aligned = [(int(inv[c]), int(inv[a]), int(inv[b]), s) for c, a, b, s in aligned]
    return UnmixResult(eigenvectors=phi, eigenvalues=lam, blocks=rotated, aligned=aligned)


def _shifted(blocks: list, lam: np.ndarray, tol: float) -> list:
    """Second-pass blocks straddling the first pass's cuts inside runs (same sizes or less):
    the second half of each block with the first half of the next, where the gap between them
    is below ``tol`` (a cut that only ``max_block`` made)."""
    out = []
    for a, b in itertools.pairwise(blocks):
        gap = (lam[b[0]] - lam[a[-1]]) / max(abs(lam[b[0]]), 1e-300)
        if gap >= tol or a.size + b.size < 3:
            continue
        out.append(np.concatenate([a[a.size // 2:], b[:(b.size + 1) // 2]]))
    return out


def _loses_triplet(before: np.ndarray, after: np.ndarray, prods: np.ndarray,
                   keep: float, lost: float) -> bool:
    """True when some product matches one column of ``before`` with similarity above ``keep``
    and no column of ``after`` above ``lost`` (unit columns; products centred, unit)."""
    pre = np.abs(before.T @ prods).max(axis=0)
    post = np.abs((after / np.linalg.norm(after, axis=0)).T @ prods).max(axis=0)
    return bool(np.any((pre > keep) & (post <= lost)))


def _rotate_blocks(phi, lam, unit, norms, blocks, dk, gamma, keep, lost, n, rotated, found):
    """Rules 1 and 2 on every block, in increasing order (arrays updated in place)."""
    for blk in blocks:
        if blk.size < 2:
            continue
        q = _orthonormal(unit[:, blk])
        lo, hi = lam[blk[0]], lam[blk[-1]]
        win = float(np.max(dk[blk])) if dk is not None else 0.05 * hi
        # rule 1: products of two lower, already unmixed eigenvectors
        below = np.arange(blk[0])
        basis = []  # block coordinates of the chosen directions
        held = None  # unit products left after rule 1 that project on the block above keep
        if below.size >= 2:
            i, j = np.triu_indices(below.size, 1)
            i, j = below[i], below[j]
            s = lam[i] + lam[j]
            ok = (s > lo - win) & (s < hi + win)
            i, j = i[ok], j[ok]
            if i.size:
                prods = unit[:, i] * unit[:, j]
                prods -= prods.mean(axis=0)
                prods /= np.maximum(np.linalg.norm(prods, axis=0), 1e-300)
                coef = q.T @ prods  # (m, P)
                pairs = list(zip(i.tolist(), j.tolist(), strict=True))
                while len(basis) < blk.size:
                    sim = np.linalg.norm(coef, axis=0)
                    p = int(np.argmax(sim))
                    if sim[p] <= gamma:
                        if keep is not None and not basis:
                            held = prods[:, np.linalg.norm(q.T @ prods, axis=0) > keep]
                        break
                    d = coef[:, p] / sim[p]
                    basis.append((d, pairs[p], float(sim[p])))
                    coef = coef - np.outer(d, d @ coef)
        m = blk.size
        dirs = np.column_stack([b[0] for b in basis]) if basis else np.zeros((m, 0))
        # rule 2: fourth-moment rotation of the orthogonal complement
        rest = m - dirs.shape[1]
        if rest:
            full = np.linalg.qr(np.column_stack([dirs, np.eye(m)]))[0]
            comp = full[:, dirs.shape[1]:m]
            if rest >= 2:
                z = q @ comp
                z = (z - z.mean(axis=0)) * np.sqrt(n)  # moments of the centred functions
                pairs, free = _circle_pairs(z)
                if free.shape[1] >= 2:
                    free = free @ _fourth_rotation(z @ free)
                comp = comp @ np.column_stack([pairs, free])
            rot = np.column_stack([dirs, comp])
        else:
            rot = dirs
        new = q @ rot
        if held is not None and held.size and _loses_triplet(unit[:, blk], new, held, keep,
                                                         lost):
            # a product the graph's own eigenvectors already match (similarity > keep) would
            # be spread over the block by the fourth-moment rotation, whose premise
            # (single-factor functions) that product breaks (200 toy blob images: the one
            # triplet, 0.83, fell to 0.68): the block stays as the graph gave it
            continue
        # orient each new vector like the input column it is closest to (deterministic signs)
        near = np.argmax(np.abs(rot), axis=0)
        sign = np.sign(rot[near, np.arange(m)])
        sign[sign == 0] = 1.0
        new *= sign
        rot = rot * sign
        new_lam = (rot**2 * lam[blk][:, None]).sum(axis=0) / (rot**2).sum(axis=0)
        order = np.argsort(new_lam, kind="stable")
        scale = float(np.mean(norms[blk]))
        phi[:, blk] = new[:, order] * scale
        unit[:, blk] = new[:, order] / np.linalg.norm(new[:, order], axis=0)
        lam[blk] = new_lam[order]
        pos = {int(o): t for t, o in enumerate(order)}
        for c in blk.tolist():
            found.pop(c, None)
        for t, (_d, (a, b), sim) in enumerate(basis):
            found[int(blk[pos[t]])] = (int(blk[pos[t]]), a, b, sim)
        rotated.append(blk)
