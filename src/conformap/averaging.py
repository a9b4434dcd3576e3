r"""The two-pass graph of denoised items: average the items along their first graph, rebuild.

Why. After the PCA projection (:mod:`conformap.denoise`) noisy particle images still carry the
residual noise of the kept components, and the adaptive kernel's neighbours are right but
their distances scatter item by item (``docs/large-n/NOISY_IMAGES.md`` §2: the p90 is
item-level scatter). One step of the graph's own diffusion averages every item with its
neighbours, which cuts that scatter while the signal, smooth along the manifold, is hardly
moved; the graph built again on the averaged items embeds better.

What. With the first graph's Markov operator :math:`P = D^{-1} W` (:func:`markov_operator`:
:math:`W` the alpha = 1 normalised kernel of :func:`conformap.diffusion.normalized_operator`,
:math:`D` its degrees), the PCA scores :math:`S` (n x rank) of the items are replaced by
:math:`P^s S` with :math:`s` = :data:`GRAPH_AVERAGING_STEPS`, the items reconstructed from them
and their WEMD coefficients computed again (the column choice redone,
:func:`conformap.denoise.wemd_of_denoised`). WEMD is linear in a density of fixed mass, so this is
the average :math:`P^s F` of the coefficients up to the items' mass differences (measured: the
two differ by under 0.03 degrees); averaging the scores costs an (n, rank) array instead of a
second (n, D') copy of the coefficients (3.7 GB at 1e5 images of 47 x 47).

Where. Only where the items were denoised and compared by WEMD (:func:`averaging_steps`, the
one rule): clean items, point clouds and every graph of undenoised items are left as they were
(on clean rotor images averaging hurt: 0.68 / 2.60 -> 1.22 / 3.44 degrees). Every path applies
it the same way, so a local, a cached and a distributed run give the same graph: in memory
(:func:`conformap.graph.build_graph`, :func:`averaged_features`), through the on-disk cache
(:func:`conformap.cache.cached_distances`, :func:`averaged_feature_set` with a store) and over
the coefficient store of a scheduler or ``cache_dir`` (:class:`conformap.DiffusionMap`, the
averaged reconstructions written block by block by :func:`conformap.denoise.denoised_file`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "GRAPH_AVERAGING_STEPS",
    "averaged_feature_set",
    "averaged_features",
    "averaged_item_scores",
    "averaged_scores",
    "averaging_steps",
    "markov_operator",
    "second_pass_params",
]

#: Steps of the first graph's Markov operator by which the PCA scores of denoised items are
#: averaged before the graph is built again (0: one pass). Every path reads it through
#: :func:`averaging_steps` (in memory, the on-disk cache, a store with or without a scheduler),
#: so one setting changes them all alike. Measured (docs/large-n/NOISY_IMAGES.md sections 7-8):
#: on noisy 47 x 47 projections of the real rotor map, 1 step beat none on 23 of 24 held-out
#: cells (n = 1,000-3,000); on the 64 x 64 procedural rotor images of the large-n target it
#: raises the p90 at n = 2,000 and from 5,000 up (n = 100,000: 1.53 / 4.29 -> 1.96 / 9.57
#: degrees, failing p90 <= 6). Hence 0 (off).
GRAPH_AVERAGING_STEPS = 0


def averaging_steps(denoiser, metric: str) -> int:
    """Steps by which the items of a graph are averaged before it is built again (0: one pass).

    The one rule every path calls: :data:`GRAPH_AVERAGING_STEPS` where the items were denoised
    (``denoiser`` is a :class:`conformap.denoise.PCADenoiser`) and compared by WEMD, else 0.
    """
    return int(GRAPH_AVERAGING_STEPS) if denoiser is not None and metric == "wemd" else 0


def markov_operator(graph):
    r""":math:`P = D^{-1} W` of an :class:`conformap.affinity.AffinityGraph`, sparse (n, n).

    :math:`W` is the kernel normalised as the diffusion core does at alpha = 1 (with the
    adaptive kernel's scale weights), :math:`D` its row sums; every row of :math:`P` sums to 1.
    """
    from .diffusion import normalized_operator

    w, _q, _u, deg, _mass = normalized_operator(graph, alpha=1.0)
    return sp.diags(1.0 / deg) @ sp.csr_matrix(w)


def averaged_scores(P, scores, steps: int = GRAPH_AVERAGING_STEPS) -> np.ndarray:
    """:math:`P^{steps}` applied to ``scores`` (n, r), float64."""
    s = np.asarray(scores, dtype=np.float64)
    for _ in range(int(steps)):
        s = np.asarray(P @ s)
    return s


def averaged_item_scores(graph, denoiser, X, steps: int) -> np.ndarray:
    """The PCA scores of ``X`` (n, ...) under ``denoiser``, averaged by :math:`P^{steps}` of
    ``graph``: shape (n, rank), float64 (the same blocks as every path's first pass)."""
    from .denoise import apply_denoiser

    scores, _ = apply_denoiser(denoiser, X, scores=True)
    return averaged_scores(markov_operator(graph), scores, steps)


def averaged_features(graph, denoiser, X, metric_params: dict | None = None,
                      steps: int = GRAPH_AVERAGING_STEPS):
    """The WEMD :class:`conformap.features.FeatureSet` of ``X``'s denoised items with their
    PCA scores averaged along ``graph`` by :math:`P^{steps}` (the module docstring).

    Parameters
    ----------
    graph : AffinityGraph
        The first graph, built on the WEMD features of ``denoiser``'s reconstructions.
    denoiser : conformap.denoise.PCADenoiser
    X : ndarray, shape (n, ...)
        The user's items.
    metric_params : dict, optional
        As for :func:`conformap.features.prepare_features`.
    steps : int
    """
    from .denoise import wemd_of_denoised
    from .features import FeatureSet

    scores = averaged_item_scores(graph, denoiser, X, steps)
    feats, cols, full = wemd_of_denoised(denoiser, X, second_pass_params(metric_params),
                                         scores=scores)
    return FeatureSet(feats, "l1", cols, full, denoiser=denoiser)


def averaged_feature_set(graph, denoiser, X, metric_params: dict | None = None, *,
                         steps: int, store=None):
    """:func:`averaged_features`, or with ``store`` (a :class:`conformap.cache.DiskCache`) the
    same features computed and kept by the store from the averaged reconstructions (held in
    memory, as that store's first pass holds the reconstructions; cache keys are theirs)."""
    if store is None:
        return averaged_features(graph, denoiser, X, metric_params, steps=steps)
    from dataclasses import replace

    from .denoise import from_scores_blocks
    from .features import prepare_features

    items = from_scores_blocks(denoiser, averaged_item_scores(graph, denoiser, X, steps),
                               np.asarray(X[:0]).dtype)
    fs = prepare_features(items, "wemd", second_pass_params(metric_params), store=store,
                          denoise="off")
    return replace(fs, denoiser=denoiser)


def second_pass_params(metric_params: dict | None) -> dict:
    """``metric_params`` for the averaged reconstructions: the user's items were checked for
    negative voxels by the first pass, so not again
    (:func:`conformap.denoise.reconstruction_policy`)."""
    from .denoise import reconstruction_policy

    params = dict(metric_params or {})
    params["negative"] = reconstruction_policy(params.get("negative"))
    return params
