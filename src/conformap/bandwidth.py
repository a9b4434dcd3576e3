r"""Automatic choice of the Gaussian kernel width :math:`\sigma` in :math:`e^{-d^2/(2\sigma^2)}`.

The paper hand-picked :math:`\sigma` per data set. We choose it from the distances alone:

``"auto"`` / ``"adaptive"`` (graph level, not rules of this function)
    :class:`conformap.DiffusionMap` and :func:`conformap.diffusion_map` default to
    ``bandwidth="auto"``: the variable-bandwidth kernel of :mod:`conformap.graph` (one local
    scale per item) from ``conformap.graph.ADAPTIVE_MIN_ITEMS`` items on, the fixed rule
    ``"wide"`` below, and ``"connect"`` where the neighbour distances are noise-dominated
    (``conformap.graph.ADAPTIVE_MAX_DIMENSION``); after the solve, the fixed kernel at the
    adaptive kernel's median scale where its first coordinates localise on a few items
    (``conformap.localisation``). :func:`select_bandwidth` returns one sigma, so it refuses
    both names.
``"connect"`` (this function's default; the fixed-bandwidth ``"auto"`` of earlier versions)
    ``min(3 * mst, median)``: three times the connectivity scale (every edge of the minimum
    spanning tree keeps an affinity of at least :math:`e^{-1/18} \approx 0.95`), but never
    wider than the median distance. For a sparse kNN input: ``max(mst, min(3 * mst,
    cutoff / 2))`` with ``cutoff`` the median distance to an item's farthest stored
    neighbour. This does *not* make the truncation negligible: on clustered data ``mst`` (set
    by the sparsest stretch) exceeds the neighbour radius of the dense regions, where the
    kernel is then cut while affinities are still near 1 and the graph is close to an
    unweighted kNN graph (issue 10: sigma 0.114 against a median 15-NN cut-off of 0.083 at
    n = 10,000). The adaptive kernel avoids this, and every kNN graph reports its measured
    dropped kernel mass (``conformap.graph.AffinityGraph.dropped_mass``). Below ~400 items
    it beats the adaptive kernel on the rotor angle mixture (``docs/large-n/README.md``,
    small-n table; ``ADAPTIVE_MIN_ITEMS`` was chosen on that data), and ``"wide"`` beats it
    (below); ``docs/earthmover/README.md`` has its behaviour on the paper's rotor maps
    (n = 25-800), measured when it was "auto".
``"wide"`` (what ``"auto"`` uses below ``conformap.graph.ADAPTIVE_MIN_ITEMS`` items)
    :data:`WIDE_FACTOR` times ``"connect"``, on dense and sparse input alike (one meaning;
    on a kNN graph such a kernel is cut at the stored neighbours, and the graph reports the
    kernel mass it drops, so ``"auto"`` takes ``"connect"`` there). With a few hundred
    items or fewer, ``"connect"`` is set by the sparsest gap between dwells and leaves the
    dense dwells almost unsmoothed; a kernel four times wider averages over them. Measured
    (``docs/large-n/SMALL_N.md``, ``benchmarks/bench_small_n.py``, dense, n = 25-400,
    scored with the ellipse-fitted :func:`conformap.evaluate.circle_recovery`): cells within
    the target (median <= 2, p90 <= 5 degrees) went from 24 of 105 to 105 of 105 on planar
    clustered circles and from 1 to 14 of 15 (clean) and 0 to 11 of 15 (noise 0.1) on the
    paper's real rotor maps (WEMD), seeds 0-2 chosen on, 3-5 held out (the held-out counts
    are in the doc); on a curved closed curve (:func:`benchmarks.bench_small_n.saddle`)
    neither rule meets the target below 400 items. Factors 1.5, 2 and 3 were measured too and
    lie in between; 4 was the widest tried. At n = 400-600 it beats the adaptive kernel too
    (everywhere but on the saddle curve, where neither meets the target), so "auto" keeps it
    up to ``ADAPTIVE_MIN_ITEMS`` = 700 (``docs/large-n/SMALL_N.md``, section 4).
``"mst"``
    The longest edge of the minimum spanning tree of the distances: the smallest sigma at
    which every item has an affinity of at least :math:`e^{-1/2}` to some chain of items
    linking it to all others (single-linkage connectivity scale).
``"kernel-sum"``
    Coifman, Shkolnisky, Sigworth & Singer (2008) and Berry & Harlim (2016): the kernel sum
    :math:`S(\sigma) = \sum_{i \ne j} e^{-d_{ij}^2 / (2\sigma^2)}` grows like
    :math:`\sigma^{m}` while :math:`\sigma` is in the range where the data look like an
    :math:`m`-dimensional manifold, and flattens outside it (all pairs unconnected below, all
    connected above). We take the :math:`\sigma` of steepest growth of :math:`\log S` in
    :math:`\log \sigma`, on a log-spaced grid between the 1st and 99th percentile of the
    non-zero distances. The rule is invariant to rescaling the distances, so it behaves the
    same for WEMD (in its units) and L2 (in its units).
``"median"``
    The median of the non-zero pairwise distances (a common heuristic; too wide when most
    distances saturate, as L2 does between distant conformations).
``"knn"``
    The median over points of the distance to the :math:`k`-th nearest neighbour,
    :math:`k = \lceil \log_2 n \rceil + 1` (local scale; Zelnik-Manor & Perona 2004).

All rules accept a dense ``(n, n)`` matrix or a sparse k-nearest-neighbour matrix (only its
stored distances are used, so with a sparse input "kernel-sum" sees the local pairs only).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ._validation import check_choice

__all__ = ["BANDWIDTH_RULES", "FIXED_BANDWIDTH_RULES", "WIDE_FACTOR", "select_bandwidth"]

#: Rules of :func:`select_bandwidth`: each gives one fixed sigma.
FIXED_BANDWIDTH_RULES = ("connect", "wide", "kernel-sum", "mst", "median", "knn")
#: The rule "wide" is this many times "connect" (dense input): the widest of the factors
#: 1, 1.5, 2, 3, 4 measured at n = 25-400 and the best on planar clustered circles and the
#: real rotor maps (module docstring, ``docs/large-n/SMALL_N.md``).
WIDE_FACTOR = 4.0
#: Every name ``bandwidth=`` accepts (DiffusionMap, diffusion_map, the CLI): "auto" and
#: "adaptive" select the variable-bandwidth kernel of :mod:`conformap.graph` ("auto": from
#: ``conformap.graph.ADAPTIVE_MIN_ITEMS`` items on, else "wide" on a dense graph and
#: "connect" on a kNN graph).
BANDWIDTH_RULES = ("auto", "adaptive", *FIXED_BANDWIDTH_RULES)


def _offdiag_values(distances) -> np.ndarray:
    if sp.issparse(distances):
        coo = sp.coo_matrix(distances)
        vals = coo.data[coo.row != coo.col]
    else:
        d = np.asarray(distances)
        vals = d[~np.eye(d.shape[0], dtype=bool)]
    return vals[vals > 0]


def _kernel_sum_sigma(vals: np.ndarray, n_grid: int = 200) -> float:
    lo, hi = np.percentile(vals, [1, 99])
    if not hi > lo:
        return float(hi)
    sigmas = np.geomspace(lo / 4, hi, n_grid)
    sq = np.sort(vals) ** 2
    # Subsample very large sets of distances: the slope of log S is a smooth statistic.
    if sq.size > 200_000:
        sq = sq[:: math.ceil(sq.size / 200_000)]
    log_s = np.array([np.log(np.exp(-sq / (2 * s * s)).sum() + 1e-300) for s in sigmas])
    slope = np.gradient(log_s, np.log(sigmas))
    return float(sigmas[int(np.argmax(slope))])


def _knn_sigma(distances) -> float:
    n = distances.shape[0]
    k = min(n - 1, math.ceil(math.log2(max(n, 2))) + 1)
    if sp.issparse(distances):
        rows = sp.csr_matrix(distances)
        kth = []
        for i in range(n):
            r = rows.data[rows.indptr[i] : rows.indptr[i + 1]]
            r = np.sort(r[r > 0])
            if r.size:
                kth.append(r[min(k, r.size) - 1])
        return float(np.median(kth))
    d = np.asarray(distances, dtype=float).copy()
    np.fill_diagonal(d, np.inf)
    return float(np.median(np.partition(d, k - 1, axis=1)[:, k - 1]))


def _mst_sigma(distances) -> float:
    d = distances if sp.issparse(distances) else np.asarray(distances, dtype=float)
    tree = sp.csgraph.minimum_spanning_tree(d)
    return float(tree.data.max()) if tree.nnz else 0.0


def select_bandwidth(distances, *, rule: str = "connect") -> float:
    """Choose the Gaussian bandwidth sigma from a distance matrix.

    Parameters
    ----------
    distances : ndarray of shape (n, n) or sparse matrix
        Symmetric distances (dense) or k-nearest-neighbour distances (sparse).
    rule : {"connect", "wide", "kernel-sum", "mst", "median", "knn"}
        See the module docstring.

    Returns
    -------
    float
        sigma > 0.

    Raises
    ------
    ValueError
        If all distances are zero (every item identical): no bandwidth can separate them.
    """
    if rule in ("auto", "adaptive"):
        raise ValueError(
            "bandwidth: 'auto' is a graph-level choice (the adaptive kernel, see "
            "conformap.graph) and has no single sigma; select_bandwidth takes one of "
            f"{', '.join(repr(r) for r in FIXED_BANDWIDTH_RULES)} (the former 'auto' is "
            "'connect')"
        )
    check_choice(rule, "bandwidth", FIXED_BANDWIDTH_RULES)
    vals = _offdiag_values(distances)
    if vals.size == 0:
        raise ValueError(
            "distances: all pairwise distances are zero (the items are identical), so no "
            "kernel bandwidth can tell them apart; check the inputs"
        )
    if rule == "median":
        return float(np.median(vals))
    if rule == "knn":
        sigma = _knn_sigma(distances)
        return sigma if sigma > 0 else float(np.median(vals))
    if rule == "mst":
        sigma = _mst_sigma(distances)
        return sigma if sigma > 0 else float(np.median(vals))
    if rule == "wide":
        return WIDE_FACTOR * select_bandwidth(distances, rule="connect")
    if rule == "connect":
        mst = _mst_sigma(distances)
        median = float(np.median(vals))
        if sp.issparse(distances):
            # On a kNN graph the kernel is cut off at each item's farthest stored neighbour:
            # aim below half the median cut-off, but never below the connectivity scale (which
            # can exceed the cut-off in dense regions: see the module docstring).
            cutoff = float(np.median(sp.csr_matrix(distances).max(axis=1).toarray()))
            return max(mst, min(3.0 * mst, 0.5 * cutoff)) if mst > 0 else median
        return min(3.0 * mst, median) if mst > 0 else median
    return _kernel_sum_sigma(vals)
