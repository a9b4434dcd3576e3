"""The separability graph of product learning and its cut into factor bins.

:func:`split_columns` runs Algorithm 1 (:func:`find_triplets`) on a set of eigenvector columns,
builds the separability graph (Eq. 21, plus :func:`window_links`) and cuts it
(:func:`max_cut`, ties decided by :func:`pair_votes`); :func:`assignment_confidence` scores
each binned eigenvector by how much of its separability weight agrees with its bin.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (makes sp.csgraph available)

from ._maxcut import max_cut
from ._placement import align_components, pair_votes, window_links
from ._triplets import TripletSearch, find_triplets

__all__ = ["assignment_confidence", "split_columns"]


def split_columns(cols: np.ndarray, phi: np.ndarray, lam: np.ndarray, *, delta: np.ndarray,
                  gamma: float, n_parts: int, n_rounds: int, rng, degeneracy: float = 0.0,
                  purity: float = 0.0, window_cols=None, members=None) -> dict:
    """Algorithm 1, the separability graph and its MAX-(k-)CUT, on the columns ``cols``.

    Returns a dict: ``search`` (:class:`TripletSearch` on ``cols``), ``triplets`` (kept, in
    column numbers), ``separability`` (shape (N + 1, N + 1)), ``vertices``, ``bins`` (the cut's
    parts, sorted by their smallest column), ``unassigned`` (vertices outside the main
    component), ``cut_weight``, ``sdp_bound``, ``cut_fraction``, ``n_window`` (links added by
    :func:`window_links`), timings ``t_triplets`` / ``t_sorting`` and, for a disconnected
    graph, ``warning`` (emitted by the caller).
    """
    t0 = time.perf_counter()
    search: TripletSearch = find_triplets(phi[:, cols], lam[cols], delta=delta[cols],
                                          gamma=gamma, degeneracy=degeneracy, purity=purity)
    t1 = time.perf_counter()
    trip = cols[search.triplets] if search.triplets.size else np.zeros((0, 3), dtype=np.int64)
    n_all = phi.shape[1]
    sep = np.zeros((n_all, n_all))
    ends = []
    for (_i, _j, k), s in zip(search.triplets, search.scores, strict=True):
        # the pairs that explain phi_k (just (i, j) outside degenerate groups)
        pairs = cols[search.best_members[k]]
        for a, b in pairs:
            sep[a, b] = sep[b, a] = max(sep[a, b], s)
        ends.append(pairs.ravel())
    # vertices: the factor eigenvectors, i.e. members of a kept pair that are not themselves
    # explained as a product (with more than two factors a product such as phi_x * phi_z can
    # pair with phi_y; it must not be binned as a factor eigenvector)
    vertices = (np.setdiff1d(np.unique(np.concatenate(ends)), trip[:, 2]) if trip.size
                else np.zeros(0, dtype=np.int64))
    n_window = 0
    cand = vertices if members is None else np.union1d(vertices, members)
    if window_cols is not None and purity > 0 and cand.size >= 2:
        # links whose product is spread over its eigenvalue window (window_links), between
        # eigenvectors that triplets made vertices (and, in a sub-split, the bin's own)
        wl = window_links(cand, phi, lam, delta, window_cols, gamma=gamma, purity=purity)
        sub = sep[np.ix_(cand, cand)]
        new = (wl > 0) & (sub == 0)
        n_window = int(np.triu(new, 1).sum())
        sep[np.ix_(cand, cand)] = np.where(new, wl, sub)
        linked = cand[(sep[np.ix_(cand, cand)] > 0).any(axis=1)]
        vertices = np.union1d(vertices, linked)
    out = {"search": search, "triplets": trip, "separability": sep, "vertices": vertices,
           "bins": [], "unassigned": np.zeros(0, dtype=np.int64), "cut_weight": 0.0,
           "sdp_bound": 0.0, "cut_fraction": 0.0, "t_triplets": t1 - t0,
           "n_window": n_window}
    if vertices.size < 2:
        out["t_sorting"] = time.perf_counter() - t1
        return out
    w = sep[np.ix_(vertices, vertices)]
    n_comp, comp = sp.csgraph.connected_components(sp.csr_matrix(w), directed=False)
    main = np.argmax(np.bincount(comp))
    keep = comp == main
    if n_comp > 1:
        left = vertices[~keep]
        # emitted by the caller, and only if the result has more than one factor
        out["warning"] = (
            f"the separability graph has {n_comp} connected components; the eigenvectors "
            f"{left.tolist()[:10]} share no triplet with the main component, so their factor "
            "is undetermined and they are left unassigned. More eigenvectors, a larger delta "
            "or a smaller gamma link more of them.")
        out["unassigned"] = left
    vmain = vertices[keep]
    # equal cuts (a vertex linked to one part only may join either other part of a k-cut)
    # are decided by how the pairs' products spread over the spectrum (pair_votes)
    votes = pair_votes(vmain, phi, lam, degeneracy=degeneracy)
    cut = max_cut(w[np.ix_(keep, keep)], n_parts, n_rounds=n_rounds, rng=rng, tiebreak=votes)
    bins = [vmain[cut.labels == p] for p in range(n_parts)]
    if n_comp > 1 and n_parts == 2 and purity > 0 and all(b.size for b in bins):
        bins, joined = align_components(bins, vertices, comp, main, w, phi, lam, delta,
                                         n_rounds=n_rounds, rng=rng)
        if joined.size:
            out["unassigned"] = np.setdiff1d(out["unassigned"], joined)
            out["aligned"] = joined
            if out["unassigned"].size == 0:
                out.pop("warning", None)
            else:
                out["warning"] = (
                    f"the separability graph has {n_comp} connected components; the "
                    f"eigenvectors {out['unassigned'].tolist()[:10]} share no triplet with the "
                    "others and no purity vote places them, so their factor is undetermined "
                    "and they are left unassigned. More eigenvectors, a larger delta or a "
                    "smaller gamma link more of them.")
    bins = [b for b in bins if b.size]
    bins.sort(key=lambda b: int(b.min()))
    total = float(np.triu(w[np.ix_(keep, keep)], 1).sum())
    out.update(bins=bins, cut_weight=cut.weight, sdp_bound=cut.sdp_bound,
               cut_fraction=cut.weight / total if total > 0 else 0.0,
               t_sorting=time.perf_counter() - t1)
    return out


def assignment_confidence(bins: list, sep: np.ndarray) -> list:
    r"""Per-assignment confidence :math:`c_v = \frac{\sum_{u \notin b(v)} W_{vu}}{\sum_u W_{vu}}
    \max_{u \notin b(v)} W_{vu}` (see :class:`conformap.product.FactorizationResult`)."""
    label = np.full(sep.shape[0], -1)
    for b, members in enumerate(bins):
        label[members] = b
    out = []
    for b, members in enumerate(bins):
        conf = np.zeros(len(members))
        for t, v in enumerate(members):
            other = (label >= 0) & (label != b)
            same = label == b
            cross, within = sep[v, other].sum(), sep[v, same].sum() - sep[v, v]
            if cross > 0:
                conf[t] = cross / (cross + within) * sep[v, other].max()
        out.append(np.clip(conf, 0.0, 1.0))
    return out
