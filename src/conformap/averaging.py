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

Where. Only where the items were denoised (WEMD features in memory,
:func:`conformap.graph.build_graph`): clean items, point clouds and every graph of undenoised
items are left as they were (on clean rotor images averaging hurt: 0.68 / 2.60 -> 1.22 / 3.44
degrees).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["GRAPH_AVERAGING_STEPS", "averaged_features", "averaged_scores", "markov_operator"]

#: Steps of the first graph's Markov operator by which the PCA scores of denoised items are
#: averaged before the graph is built again (0: one pass). Measured on noisy 47 x 47
#: projections of the real rotor map (docs/large-n/NOISY_IMAGES.md §7): chosen on seeds 0-1
#: (n = 1,000-3,000, SNR 0.5 and 1; 1 step better than none on every cell, 2 steps mixed
#: against 1), held out on seeds 5-8 (better on 23 of 24 cells with 1). Shipped as 0 (off)
#: until the out-of-core paths (coefficient store, scheduler, ``--cache``) average too and the
#: 1e5-image budget is measured with it: a local and a cached run must give the same numbers.
GRAPH_AVERAGING_STEPS = 0


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
    from .denoise import apply_denoiser, reconstruction_policy, wemd_of_denoised
    from .features import FeatureSet

    scores, _ = apply_denoiser(denoiser, X, scores=True)
    scores = averaged_scores(markov_operator(graph), scores, steps)
    # the user's items were checked for negative voxels by the first pass: not again
    params = dict(metric_params or {})
    params["negative"] = reconstruction_policy(params.get("negative"))
    feats, cols, full = wemd_of_denoised(denoiser, X, params, scores=scores)
    return FeatureSet(feats, "l1", cols, full, denoiser=denoiser)
