"""Placing eigenvectors that no triplet links: the purity vote of product learning.

A separability graph holds only the eigenvectors that kept triplets link. A component with no
triplet to the main cut (:func:`align_components`), or an eigenvector of a bin that a
hierarchical split leaves unlinked (:func:`place_left`), is placed by how its products with
the binned eigenvectors spread over the spectrum (:func:`cross_vote`): two eigenfunctions of
one factor multiply into two frequencies, half of it below the eigenvalue window; two factors'
product is one eigenfunction at the sum.
"""

from __future__ import annotations

import numpy as np

from ._maxcut import cut_weight, improve_cut, max_cut

__all__ = ["ALIGN_MARGIN", "MERGE_MIN_LOW", "REJOIN_MIN_TRIPLETS", "align_components",
           "column_votes", "cross_vote", "merge_bins", "pair_votes", "partition_fraction",
           "place_left", "refine_bins", "rejoin_candidates", "rejoin_unsupported",
           "window_energy", "window_links"]

#: Smallest total purity vote that joins a separability component to the main cut (half a
#: same-factor / true-product difference of one pair).
ALIGN_MARGIN = 0.25


def align_components(bins, vertices, comp, main, w, phi, lam, delta, *, n_rounds, rng):
    """Join the other components of a two-way separability graph to the main cut.

    A component's own cut is bipartite but its orientation is unknown: no triplet links it to
    the main component. Purity decides it: the product of two eigenvectors of one factor
    splits into two frequencies (purity about 1/2), of two factors it is one eigenfunction
    (about 1). Each pair (u in the main bins, v in the component) whose product's window lies
    inside the computed spectrum votes ``p(u, v) - 1/2`` for "different factors"; the
    orientation with the larger total wins, and the component is joined only when the
    totals differ by at least ``ALIGN_MARGIN``.
    """
    unit = phi / np.linalg.norm(phi, axis=0)
    bins = [b.copy() for b in bins]
    joined = []
    for c in range(int(comp.max()) + 1):
        members = vertices[comp == c]
        if c == main or members.size < 2:
            continue
        sub = w[np.ix_(comp == c, comp == c)]
        labels = max_cut(sub, 2, n_rounds=n_rounds, rng=rng).labels
        sides = [members[labels == 0], members[labels == 1]]
        if not (sides[0].size and sides[1].size):
            continue
        # orientation A puts side t with bin t: u (bin b), v (side t) differ iff t != b
        vote = sum(cross_vote(bins[b], v, unit, lam, delta) * (1.0 if t != b else -1.0)
                   for b in (0, 1) for t, side in enumerate(sides) for v in side)
        if abs(vote) < ALIGN_MARGIN:
            continue
        a, b_ = (0, 1) if vote > 0 else (1, 0)
        bins[0] = np.concatenate([bins[0], sides[a]])
        bins[1] = np.concatenate([bins[1], sides[b_]])
        joined.append(members)
    return bins, (np.concatenate(joined) if joined else np.zeros(0, dtype=np.int64))


def cross_vote(members, v: int, unit: np.ndarray, lam: np.ndarray, delta: np.ndarray) -> float:
    r"""Sum over u in ``members`` of :math:`1/2 - E_{\text{low}}(u, v)`, with
    :math:`E_{\text{low}}` the share of the unit product :math:`\varphi_u\varphi_v` on the
    eigenvectors below its window :math:`\lambda_u + \lambda_v - \delta`.

    Two eigenfunctions of one factor multiply into two frequencies, half of it at the
    difference frequency, below the window (:math:`E_{\text{low}} = 1/2`); a product of two
    factors is one eigenfunction at the sum (:math:`E_{\text{low}} = 0`). So the vote is
    > 0 when v is another factor's than the members, < 0 when it is theirs. Only the part
    below the window is used: it is always computed (the spectrum starts at the bottom), while
    the window itself may lie beyond the computed eigenvectors, or hold a product mode that
    sampling mixed with others (the box at n = 10,000). Pairs whose window starts beyond the
    computed spectrum do not vote."""
    vote = 0.0
    for u in members:
        lo = lam[u] + lam[v] - delta[min(int(np.searchsorted(lam, lam[u] + lam[v])),
                                          lam.size - 1)]
        if lo > lam[-1]:
            continue
        prod = unit[:, u] * unit[:, v]
        prod = prod / max(float(np.linalg.norm(prod)), 1e-300)
        below = (lam < lo) & (np.arange(lam.size) > 0)
        vote += 0.5 - float(((unit[:, below].T @ prod) ** 2).sum())
    return vote


def pair_votes(vertices, phi: np.ndarray, lam: np.ndarray, *,
               degeneracy: float = 0.0) -> np.ndarray:
    r"""Signed evidence that two eigenvectors belong to different factors, for every pair.

    :math:`T_{uv} = \tfrac14 - E(u, v)`, with :math:`E` the share of the unit product
    :math:`\varphi_u\varphi_v` on the eigenvectors whose eigenvalue is below
    :math:`\max(\lambda_u, \lambda_v)`. Two eigenfunctions :math:`\cos a\theta, \cos b\theta`
    (:math:`a < b`) of one factor multiply into :math:`\tfrac12\cos(a+b)\theta +
    \tfrac12\cos(b-a)\theta`, and the difference mode lies below :math:`\lambda_b` (its
    eigenvalue is :math:`\propto (b-a)^2 \le b^2 - a^2`): :math:`E = \tfrac12`,
    :math:`T = -\tfrac14`. Two factors' product is one eigenfunction at
    :math:`\lambda_u + \lambda_v`: :math:`E \approx 0`, :math:`T = +\tfrac14`. The
    threshold lies halfway (a distance :math:`\min(\lambda_u, \lambda_v)` from either), so a
    product eigenvector that sampling mixed with its neighbours just below
    :math:`\lambda_u + \lambda_v` still counts as a product (:func:`cross_vote`, which
    counts everything below the window, does not have that margin). 0 where the two
    eigenvalues are within ``degeneracy`` of each other (a circle's
    :math:`\cos n\theta, \sin n\theta` multiply into :math:`\tfrac12\sin 2n\theta` alone,
    which would look like a product). Used to break ties between equal cuts of the
    separability graph (:func:`max_cut` ``tiebreak``).

    Parameters
    ----------
    vertices : array_like of int, shape (m,)
        Columns of ``phi``.
    phi : ndarray, shape (n, N + 1)
        Eigenvectors, column 0 the constant one.
    lam : ndarray, shape (N + 1,)
        Sorted eigenvalues.
    degeneracy : float >= 0

    Returns
    -------
    ndarray, shape (m, m)
        Symmetric, zero diagonal.
    """
    verts = np.asarray(vertices, dtype=np.int64)
    unit = phi / np.linalg.norm(phi, axis=0)
    out = np.zeros((verts.size, verts.size))
    for a in range(verts.size):
        for b in range(a + 1, verts.size):
            u, v = int(verts[a]), int(verts[b])
            top = max(lam[u], lam[v])
            if abs(lam[u] - lam[v]) < degeneracy * abs(top):
                continue
            prod = unit[:, u] * unit[:, v]
            prod = prod / max(float(np.linalg.norm(prod)), 1e-300)
            below = (lam < top) & (np.arange(lam.size) > 0)
            out[a, b] = out[b, a] = 0.25 - float(((unit[:, below].T @ prod) ** 2).sum())
    return out


def window_links(vertices, phi: np.ndarray, lam: np.ndarray, delta: np.ndarray,
                 window_cols, *, gamma: float, purity: float) -> np.ndarray:
    r"""Separability links from a product's eigenvalue window, not from one eigenvector.

    Algorithm 1 links :math:`u, v` when one eigenvector :math:`\varphi_k` (or a degenerate
    group) matches :math:`\varphi_u\varphi_v`. In a crowded stretch of the spectrum (three
    factors, images: 25 eigenvectors within 15 % of each other) the product eigenfunction is
    spread over several eigenvectors around :math:`\lambda_u + \lambda_v`, none of which
    matches it above ``gamma`` (rotor x sliding bar, n = 3000: 0.74 and 0.69 on two, 0.81 on
    their window). Here the similarity is the norm of the unit product's projection on the
    span of all eigenvectors ``window_cols`` within :math:`\delta` of the sum, which no
    rotation inside the window changes; a link needs it above ``gamma`` and a purity (share
    in the window among window and below, :func:`product_purity`) of at least ``purity``:
    two eigenfunctions of one factor put half of their product below the window.

    Parameters
    ----------
    vertices : array_like of int, shape (m,)
    phi : ndarray, shape (n, N + 1)
    lam, delta : ndarray, shape (N + 1,)
        Sorted eigenvalues and the eigenvalue window per column.
    window_cols : array_like of int
        Columns that may form the window (the resolved eigenvectors).
    gamma, purity : float

    Returns
    -------
    ndarray, shape (m, m)
        The window similarity of every linked pair, 0 elsewhere (symmetric).
    """
    verts = np.asarray(vertices, dtype=np.int64)
    unit = phi / np.linalg.norm(phi, axis=0)
    out = np.zeros((verts.size, verts.size))
    for a in range(verts.size):
        for b in range(a + 1, verts.size):
            e = window_energy(int(verts[a]), int(verts[b]), unit, lam, delta, window_cols)
            if e is None:
                continue
            e_win, e_low = e
            if np.sqrt(e_win) > gamma and e_win / max(e_win + e_low, 1e-300) >= purity:
                out[a, b] = out[b, a] = np.sqrt(e_win)
    return out


def window_energy(u: int, v: int, unit: np.ndarray, lam: np.ndarray, delta: np.ndarray,
                  window_cols) -> tuple[float, float] | None:
    r"""Where the product of two eigenvectors lies in the spectrum: in its window or below.

    With :math:`p` the centred unit product :math:`\varphi_u\varphi_v`, :math:`s = \lambda_u +
    \lambda_v` and :math:`\delta` the window at :math:`s`, returns :math:`E_\text{win} =
    \|Q_\text{win}^T p\|^2` and :math:`E_\text{low} = \|Q_\text{low}^T p\|^2` for orthonormal
    bases of the columns ``window_cols`` with :math:`|\lambda - s| \le \delta` and
    :math:`\lambda < s - \delta` (unchanged by rotations inside either set). Two factors'
    product is one eigenfunction at :math:`s`: :math:`E_\text{win} \approx 1`. Two
    eigenfunctions of one factor put half of it at the difference frequency, below, and the
    other half at the sum frequency, above the window: :math:`E_\text{win} \approx 0`,
    :math:`E_\text{low} \approx 1/2`. ``None`` when the window reaches beyond the computed
    columns (``unit``: unit-norm eigenvectors, shape (n, N + 1)).
    """
    wcols = np.asarray(window_cols, dtype=np.int64)
    if wcols.size == 0:
        return None
    s = lam[u] + lam[v]
    d = delta[min(int(np.searchsorted(lam, s)), lam.size - 1)]
    if s + d > lam[wcols].max():  # the window is not all computed
        return None
    win = wcols[np.abs(lam[wcols] - s) <= d]
    low = wcols[lam[wcols] < s - d]
    prod = unit[:, u] * unit[:, v]
    prod = prod - prod.mean()
    prod = prod / max(float(np.linalg.norm(prod)), 1e-300)
    e_win = float(((np.linalg.qr(unit[:, win])[0].T @ prod) ** 2).sum()) if win.size else 0.0
    e_low = float(((np.linalg.qr(unit[:, low])[0].T @ prod) ** 2).sum()) if low.size else 0.0
    return e_win, e_low


def place_left(bins: list, left: np.ndarray, phi: np.ndarray, lam: np.ndarray,
                delta: np.ndarray) -> tuple[list, np.ndarray]:
    """Put eigenvectors of a split bin that no sub-triplet links into one of the two new bins.

    A sub-split's separability graph holds only eigenvectors that a triplet inside the bin
    links; a factor eigenvector whose product with the other factor is not an eigenvector of
    the computed spectrum (mixed with a near-degenerate mode) is left out of it. The purity
    vote of :func:`align_components` places it: v joins bin 0 when its products with bin 1
    are single eigenfunctions and those with bin 0 split in two (and vice versa), by at least
    ``ALIGN_MARGIN``.
    """
    unit = phi / np.linalg.norm(phi, axis=0)
    bins = [b.copy() for b in bins]
    placed = []
    for v in left.tolist():
        vote = (cross_vote(bins[1], v, unit, lam, delta)
                - cross_vote(bins[0], v, unit, lam, delta))  # > 0: v belongs with bin 0
        if abs(vote) < ALIGN_MARGIN:
            continue
        b = 0 if vote > 0 else 1
        bins[b] = np.sort(np.append(bins[b], v))
        placed.append(v)
    return bins, np.asarray(placed, dtype=np.int64)


def refine_bins(bins: list, sep: np.ndarray, phi: np.ndarray, lam: np.ndarray, *,
                degeneracy: float, max_parts: int, min_fraction: float,
                grow: bool = True) -> tuple[list, list]:
    r"""Revisit hierarchical bins on the whole separability graph (all levels' links).

    A hierarchy of two-way cuts decides each level alone. Two of its errors show only on the
    whole graph :math:`W` (every link of every level) over the binned eigenvectors:

    * **ties between bins**: an eigenvector linked to one factor only may join any other
      bin at equal cut weight, but the top-level 2-cut had put two factors on one side, so it
      was forced to the third (three-part images, n = 10,000, SNR 0.1: the stretch's
      :math:`\varphi_{15}`, linked to the bar alone, binned with the rotor). Weight-neutral
      moves decided by :func:`pair_votes` fix it (:func:`improve_cut` ``ties_only``). A
      move needs a vote gain above ``ALIGN_MARGIN``: the rotor's circle has its third
      harmonic below its second (images, n = 3000), so its own modes vote near +1/4 too,
      and moves on vote differences of 0.01 split it.
    * **links left inside a bin**: a link is a triplet saying that its two eigenvectors
      belong to different factors, yet the top cut may leave one uncut, and a bin whose own
      sub-search finds too few triplets (the rotor x bar products spread over crowded
      eigenvectors) is never split. With ``grow``, one more part is opened and vertices
      move into it by the local search of MAX-k-CUT; the new partition is kept when it cuts
      more weight, at least ``min_fraction`` of it, and the pair votes of the links it newly
      cuts are positive in total (a product at the sum of the eigenvalues, not a same-factor
      pair with half its product below: the second, independent evidence that a chance
      triplet inside one factor lacks). Repeated up to ``max_parts``.

    Parameters
    ----------
    bins : list of ndarray of int
    sep : ndarray, shape (N + 1, N + 1)
        Separability weights of all levels.
    phi, lam : eigenvectors and eigenvalues (column 0 constant).
    degeneracy : float
        As :func:`pair_votes`.
    max_parts : int
    min_fraction : float
        Smallest cut fraction of an accepted new partition.
    grow : bool, default True

    Returns
    -------
    bins : list of ndarray of int
    steps : list of dict
        One ``{"split": "refine", "bins": ..., "cut_fraction": ...}`` per accepted change.
    """
    verts = np.concatenate(bins)
    labels = np.concatenate([np.full(len(b), t) for t, b in enumerate(bins)]).astype(np.int64)
    w = sep[np.ix_(verts, verts)]
    total = float(np.triu(w, 1).sum())
    if len(bins) < 2 or total <= 0:
        return bins, []
    votes = pair_votes(verts, phi, lam, degeneracy=degeneracy)
    steps = []

    def as_bins(lab, k):
        out = [np.sort(verts[lab == p]) for p in range(k) if np.any(lab == p)]
        return sorted(out, key=lambda b: int(b.min()))

    k = len(bins)
    # a revision needs evidence: a vote gain of at least half the difference between one
    # pair's same-factor and product votes (ALIGN_MARGIN), not rounding-level differences
    new = improve_cut(w, labels, k, tiebreak=votes, ties_only=True, margin=ALIGN_MARGIN)
    if np.any(new != labels):
        labels = new
        steps.append({"split": "refine", "bins": [b.tolist() for b in as_bins(labels, k)],
                      "cut_fraction": cut_weight(w, labels) / total})
    while grow and k < max_parts:
        before = cut_weight(w, labels)
        if before >= total * (1 - 1e-9):
            break
        trial = improve_cut(w, labels, k + 1, tiebreak=votes, margin=ALIGN_MARGIN)
        after = cut_weight(w, trial)
        newly = (labels[:, None] == labels[None, :]) & (trial[:, None] != trial[None, :])
        newly &= w > 0
        support = float(np.triu(np.where(newly, votes, 0.0), 1).sum())
        if (np.unique(trial).size < k + 1 or after <= before * (1 + 1e-9)
                or after < min_fraction * total or support <= 0):
            break
        labels, k = trial, k + 1
        steps.append({"split": "refine", "bins": [b.tolist() for b in as_bins(labels, k)],
                      "cut_fraction": after / total})
    return as_bins(labels, k), steps


#: merge_bins: the smallest mean share of a cross pair's product below its window. Two modes of
#: one factor put 1/2 there (the difference frequency), two factors about 0 (their product is
#: the sum mode); halfway, as in pair_votes. A guard only: where neither pair's product is
#: resolved (both shares tiny) the ratio of merge_bins alone would be noise. Measured on the two
#: over-split image runs of diagnosis.md section 9: same-factor pairs 0.29-0.92, cross-factor
#: pairs 0.03-0.38 (so the ratio, not this mean, separates them).
MERGE_MIN_LOW = 0.25


def merge_bins(bins: list, sep: np.ndarray, phi: np.ndarray, lam: np.ndarray,
               delta: np.ndarray, window_cols, *, purity: float) -> tuple[list, list]:
    r"""Join bins that no separability link separates and whose products say "one factor".

    A hierarchy of two-way cuts may put two sets of one factor's eigenvectors on different
    sides of a cut (three-part images, n = 3000: the bar's :math:`\varphi_2` and
    :math:`\varphi_{12}`), and the tie-breaking moves of :func:`refine_bins` may split a
    circle into harmonic pairs (its harmonics vote about +1/4 with each other, as different
    factors would: :func:`pair_votes` compares with :math:`\max(\lambda_u, \lambda_v)`,
    which a near-three-fold rotor's shortened chords put out of order). No link between two
    bins means no triplet says they are different factors; it may also mean that their
    products were not found. The products themselves tell which: for every cross pair
    :math:`(a, b)` whose window is computed, :func:`window_energy` gives
    :math:`E_\text{win}, E_\text{low}`. Two factors' product lies in its window (the pair
    would be a link if :math:`\sqrt{E_\text{win}}` reached ``gamma``, even when it does not);
    one factor's lies half below and half above it. Bins :math:`A, B` are merged when

    .. math:: \frac{\sum E_\text{low}}{\sum (E_\text{win} + E_\text{low})} \ge
        \text{purity} \quad\text{and}\quad \overline{E_\text{low}} \ge
        \text{MERGE\_MIN\_LOW},

    the mirror of the purity a link needs (``purity`` of the product in its window), with
    the guard :data:`MERGE_MIN_LOW` that the products are resolved at all. The pair with the
    largest share is merged first, then the test is repeated; never below two bins.

    Parameters
    ----------
    bins : list of ndarray of int
    sep : ndarray, shape (N + 1, N + 1)
        Separability weights of all levels.
    phi : ndarray, shape (n, N + 1)
    lam, delta : ndarray, shape (N + 1,)
        Sorted eigenvalues and the eigenvalue window per column.
    window_cols : array_like of int
        Columns that may form a window (:func:`factorize_spectrum` passes every computed
        column: a window is a subspace test, which needs no single resolved eigenvector).
    purity : float in (0, 1)

    Returns
    -------
    bins : list of ndarray of int
        Sorted by their smallest column.
    steps : list of dict
        One ``{"split": "merge", "bins": ..., "low_share": ..., "cut_fraction": ...}`` per
        merge (the cut fraction of the merged partition on ``sep``).
    """
    unit = phi / np.linalg.norm(phi, axis=0)
    bins = [np.sort(np.asarray(b, dtype=np.int64)) for b in bins]
    steps = []
    while len(bins) > 2:
        best, best_share = None, -1.0
        for a in range(len(bins)):
            for b in range(a + 1, len(bins)):
                if np.any(sep[np.ix_(bins[a], bins[b])] > 0):
                    continue
                energies = [window_energy(int(u), int(v), unit, lam, delta, window_cols)
                            for u in bins[a] for v in bins[b]]
                energies = np.array([e for e in energies if e is not None]).reshape(-1, 2)
                total = float(energies.sum())
                if energies.shape[0] == 0 or total <= 0:
                    continue
                low = float(energies[:, 1].sum())
                share = low / total
                if (share >= purity and low / energies.shape[0] >= MERGE_MIN_LOW
                        and share > best_share):
                    best, best_share = (a, b), share
        if best is None:
            break
        a, b = best
        merged = np.sort(np.concatenate([bins[a], bins[b]]))
        bins = [m for t, m in enumerate(bins) if t not in best] + [merged]
        bins.sort(key=lambda m: int(m.min()))
        steps.append({"split": "merge", "bins": [m.tolist() for m in bins],
                      "low_share": round(best_share, 3),
                      "cut_fraction": partition_fraction(sep, bins)})
    return bins, steps


def partition_fraction(sep: np.ndarray, bins: list) -> float:
    """The cut fraction of a partition: the share of the separability weight among the
    binned eigenvectors that joins different bins (0 when there is none)."""
    verts = np.concatenate(bins)
    labels = np.concatenate([np.full(len(m), t) for t, m in enumerate(bins)])
    w = sep[np.ix_(verts, verts)]
    total = float(np.triu(w, 1).sum())
    return cut_weight(w, labels) / total if total > 0 else 0.0


#: rejoin_unsupported: the fewest triplets that must join two bins cut out of one earlier bin
#: for them to stay apart. 1: a triplet with one eigenvector in each is direct evidence of two
#: factors. Session 13 used 2 (as ``AUTO_MIN_TRIPLETS`` for a split itself); on a fresh CLI run
#: (three-part images, n = 3000, SNR 1, seed 198) that joined the bar's and the rotor's bins over
#: one triplet (pair vote 0.236). Every same-factor pair the rule joined on the 117 image runs
#: of diagnosis.md sections 13-14 had no triplet, and with 1 the same runs give the same results
#: (section 14).
REJOIN_MIN_TRIPLETS = 1


def rejoin_unsupported(bins: list, partitions: list, triplets: np.ndarray, sep: np.ndarray,
                       phi: np.ndarray, lam: np.ndarray, *, degeneracy: float,
                       min_triplets: int = REJOIN_MIN_TRIPLETS,
                       margin: float = ALIGN_MARGIN) -> tuple[list, list]:
    r"""Join two bins cut out of one earlier bin when no triplets say they are two factors.

    A triplet :math:`(i, j, k)`, :math:`\varphi_k \approx \varphi_i \varphi_j`, is the direct
    evidence that :math:`i` and :math:`j` belong to different factors. A cut of one bin may rest
    on other evidence: a hierarchical split on the products of an eigenvector of another
    factor that the top cut put in the bin (three-part images, n = 10,000, SNR 0.1: a stretch
    mode in the rotor's bin), which :func:`refine_bins` then moves back to its own factor; or a
    part that :func:`refine_bins` opens on window links alone (n = 6000, SNR 0.1: one rotor
    mode). Either leaves two parts of one factor that no triplet joins, and linked by windows,
    so :func:`merge_bins` (which judges only unlinked bins) never sees them. Two final bins
    :math:`A, B` that both lie mostly (more than half of the members of each) in the same bin
    of an earlier partition are merged when

    * fewer than ``min_triplets`` distinct triplets have one factor eigenvector in :math:`A`
      and the other in :math:`B`, and
    * their pair votes (:func:`pair_votes`) give no evidence of two factors either:
      :math:`\sum_{u \in A, v \in B} T_{uv} <` ``margin``. Two factors whose products
      no triplet found still vote about +1/4 a pair (three-part images, n = 3000: the bar's
      second mode cut from the rotor, total votes 0.43-0.98); parts of one circle are its
      near-degenerate cos/sin pairs, which abstain (0).

    The pair with the fewest triplets first, then the test is repeated; never below two bins.

    Parameters
    ----------
    bins : list of ndarray of int
        The bins after :func:`refine_bins`.
    partitions : list of list of ndarray of int
        The earlier partitions (the top cut and the bins after each hierarchical split).
    triplets : ndarray of int, shape (m, 3)
        Every level's triplets ``(i, j, k)``.
    sep : ndarray, shape (N + 1, N + 1)
        Separability weights of all levels (for the cut fraction of each step).
    phi : ndarray, shape (n, N + 1)
        Eigenvectors, column 0 the constant one.
    lam : ndarray, shape (N + 1,)
        Sorted eigenvalues.
    degeneracy : float
        As :func:`pair_votes`.
    min_triplets : int, default REJOIN_MIN_TRIPLETS
        The fewest distinct triplets that keep two bins apart.
    margin : float, default ALIGN_MARGIN
        The total pair vote from which two bins count as two factors (``inf``: triplets
        alone decide).

    Returns
    -------
    bins : list of ndarray of int
        Sorted by their smallest column.
    steps : list of dict
        One ``{"split": "rejoin", "bins": ..., "triplets": ..., "vote": ...,
        "cut_fraction": ...}`` per merge (``triplets``: how many joined the two bins, ``vote``:
        their total pair vote).
    """
    bins = sorted((np.sort(np.asarray(b, dtype=np.int64)) for b in bins if len(b)),
                  key=lambda m: int(m.min()))
    steps = []
    # merging bins keeps their columns: the pair votes are computed once
    votes = column_votes(bins, phi, lam, degeneracy=degeneracy) if len(bins) > 2 else None
    while len(bins) > 2:
        weak = [c for c in rejoin_candidates(bins, partitions, triplets, phi, lam,
                                             degeneracy=degeneracy, votes=votes)
                if c["triplets"] < min_triplets and c["vote"] < margin]
        if not weak:
            break
        best = min(weak, key=lambda c: c["triplets"])
        a, b = best["bins"]
        merged = np.sort(np.concatenate([bins[a], bins[b]]))
        bins = [m for t, m in enumerate(bins) if t not in (a, b)] + [merged]
        bins.sort(key=lambda m: int(m.min()))
        steps.append({"split": "rejoin", "bins": [m.tolist() for m in bins],
                      "triplets": best["triplets"], "vote": round(best["vote"], 3),
                      "cut_fraction": partition_fraction(sep, bins)})
    return bins, steps


def column_votes(bins: list, phi: np.ndarray, lam: np.ndarray, *,
                 degeneracy: float) -> np.ndarray:
    """:func:`pair_votes` among the binned columns, as an (N + 1, N + 1) matrix indexed by
    column (zero elsewhere)."""
    verts = np.concatenate([np.asarray(b, dtype=np.int64) for b in bins])
    votes = np.zeros((phi.shape[1], phi.shape[1]))
    votes[np.ix_(verts, verts)] = pair_votes(verts, phi, lam, degeneracy=degeneracy)
    return votes


def rejoin_candidates(bins: list, partitions: list, triplets: np.ndarray, phi: np.ndarray,
                      lam: np.ndarray, *, degeneracy: float, votes=None) -> list:
    r"""The pairs of bins that :func:`rejoin_unsupported` judges, with its two statistics.

    Parameters
    ----------
    bins, partitions, triplets, phi, lam, degeneracy
        As :func:`rejoin_unsupported`.
    votes : ndarray, shape (N + 1, N + 1), optional
        :func:`column_votes` of these columns, when already computed.

    Returns
    -------
    list of dict
        One ``{"bins": (a, b), "triplets": ..., "vote": ...}`` per pair of bins (indices into
        ``bins``, a < b) that both lie mostly (more than half of the members of each) in the
        same bin of an earlier partition: the number of distinct triplets with one factor
        eigenvector in each, and their total pair vote :math:`\sum_{u \in A, v \in B} T_{uv}`.
    """
    bins = [np.asarray(b, dtype=np.int64) for b in bins]
    if votes is None:
        votes = column_votes(bins, phi, lam, degeneracy=degeneracy)
    # each level's search finds some triplets again: count each (i, j, k) once
    trip = np.unique(np.asarray(triplets, dtype=np.int64).reshape(-1, 3), axis=0)
    earlier = [np.asarray(e, dtype=np.int64) for part in partitions for e in part]
    homes = [{t for t, e in enumerate(earlier) if 2 * np.isin(b, e).sum() > b.size}
             for b in bins]
    out = []
    for a in range(len(bins)):
        for b in range(a + 1, len(bins)):
            if not homes[a] & homes[b]:
                continue
            ia, ja = np.isin(trip[:, 0], bins[a]), np.isin(trip[:, 1], bins[a])
            ib, jb = np.isin(trip[:, 0], bins[b]), np.isin(trip[:, 1], bins[b])
            out.append({"bins": (a, b), "triplets": int(np.sum((ia & jb) | (ib & ja))),
                        "vote": float(votes[np.ix_(bins[a], bins[b])].sum())})
    return out
