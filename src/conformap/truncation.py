r"""The kNN truncation of the kernel: how much of a row's mass it drops, and when "auto" keeps it.

A kNN graph stores, for every item, the affinities to its ``k`` nearest neighbours; the rest of
the complete kernel's row is dropped. :func:`measure_dropped_mass` measures that share exactly
against the complete kernel on :data:`DROPPED_MASS_SAMPLE` random rows (:func:`dropped_mass_rows`,
the same rows in memory and from an on-disk store). On denoised items whose complete kernel has
most of its mass beyond the ``k`` neighbours (distances on a noise floor), ``method="auto"``
keeps the kNN graph below the dense limit too (:func:`truncate_on_noise_floor`,
``docs/large-n/TRUNCATION.md``). The graph builder (:mod:`conformap.graph`) calls these.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from ._validation import check_rng
from .affinity import DROPPED_MASS_LOCAL
from .features import FeatureSet
from .neighbor_graph import knn_of_dense
from .scales import dense_kernel, dropped_mass_block, mass_beyond

__all__ = [
    "DENOISED_TRUNCATION_MASS",
    "DROPPED_MASS_SAMPLE",
    "dropped_mass_rows",
    "kept_knn_distances",
    "measure_dropped_mass",
    "noise_floor_distances",
    "truncate_on_noise_floor",
]

#: On denoised features (noisy images) method="auto" keeps, on the dense path, only the k
#: nearest neighbours of the adaptive kernel (the method="knn" graph) when the complete
#: kernel's mean share of a row's mass beyond them exceeds this (distances on a noise floor,
#: the far mass linking other angles). Measured (docs/large-n/TRUNCATION.md, "The truncated
#: kernel is the better operator"; real-map projections 47 x 47 and 64 x 64, SNR 0.5 and 1,
#: n = 1,000-3,000): chosen on seeds 0-1, kNN better than dense on 8 of 8 runs (median and
#: p90) where the kNN graph drops over half the mass, on 0 of 4 where it drops 42-47 %
#: (n = 1,000); held out (seeds 5-8, all above the bound) median 15 of 20, p90 18 of 20, and
#: on the procedural rotor (n = 2,000-3,000, seeds 1-2) 4 of 4, complete-kernel p90 13-17 deg.
DENOISED_TRUNCATION_MASS = DROPPED_MASS_LOCAL
#: Rows whose dropped kernel mass is measured exactly (kNN graphs with features at hand).
DROPPED_MASS_SAMPLE = 256


def dropped_mass_rows(n: int, rng=None) -> np.ndarray:
    """The sorted rows (at most :data:`DROPPED_MASS_SAMPLE` of ``n``) whose dropped mass is
    measured, drawn from ``rng``."""
    return np.sort(check_rng(rng).choice(n, size=min(n, DROPPED_MASS_SAMPLE), replace=False))


def measure_dropped_mass(graph, fs: FeatureSet, *, rng=None):
    """``graph`` (kNN) with the kernel mass its truncation drops measured exactly against the
    complete kernel at its scales, on :data:`DROPPED_MASS_SAMPLE` rows drawn from ``rng``."""
    rows = dropped_mass_rows(graph.kernel.shape[0], rng)
    pattern = sp.csr_matrix(graph.kernel)
    fr = np.concatenate([
        dropped_mass_block(fs.features, rows[a:a + 64], (pattern.indptr, pattern.indices),
                           graph.scales, fs.lp)
        for a in range(0, rows.size, 64)])
    return replace(graph, dropped_mass=float(fr.mean()), dropped_mass_max=float(fr.max()))


def kept_knn_distances(graph, d, fs: FeatureSet, *, n_jobs=None):
    """``(knn, share)``: the share of the dense adaptive ``graph``'s complete kernel mass that
    lies beyond each row's k nearest neighbours (mean over rows), and the sparse kNN distances
    (:func:`conformap.neighbor_graph.knn_of_dense` of ``d`` (n, n) between the rows of ``fs``)
    that "auto" keeps instead when that share exceeds :data:`DENOISED_TRUNCATION_MASS`
    (None where the dense graph is kept)."""
    knn = knn_of_dense(d, graph.n_neighbors, fs.features, fs.lp, n_jobs)
    share = float(mass_beyond(graph.kernel, knn.maximum(knn.T)).mean())
    return (knn if share > DENOISED_TRUNCATION_MASS else None), share


def noise_floor_distances(d, fs: FeatureSet, *, bandwidth="auto", n_neighbors=None,
                          n_jobs=None):
    """The distances ``method="auto"`` builds its graph from, given the dense distances ``d``
    of denoised items ``fs``: ``d`` itself, or the sparse kNN distances where
    :func:`kept_knn_distances` keeps them. For callers that hold distances, not a graph (the
    on-disk cache, :func:`conformap.cache.cached_distances`), so that they build the same
    graph as the in-memory :func:`conformap.graph.build_graph`."""
    from .graph import graph_from_distances

    if fs.denoiser is None:
        return d
    graph = graph_from_distances(d, bandwidth=bandwidth, n_neighbors=n_neighbors,
                                 validate=False)
    if not graph.adaptive:
        return d
    knn, _ = kept_knn_distances(graph, d, fs, n_jobs=n_jobs)
    return d if knn is None else knn


def truncate_on_noise_floor(graph, d, fs, *, bandwidth="auto", n_jobs=None):
    """Dense adaptive ``graph`` of distances ``d`` (n, n) between the rows of ``fs``, or the
    ``method="knn"`` graph of the same rows where :data:`DENOISED_TRUNCATION_MASS` says so
    (its dropped mass measured on every row against the complete kernel at its scales)."""
    from .graph import graph_from_distances  # the builder calls this module

    knn, share = kept_knn_distances(graph, d, fs, n_jobs=n_jobs)
    if knn is None:
        return graph
    g = graph_from_distances(knn, bandwidth=bandwidth, validate=False)
    fr = mass_beyond(dense_kernel(d, g.scales), g.kernel)
    note = (f"denoised items: {share:.0%} of the complete kernel's mass lies beyond the "
            f"{graph.n_neighbors} nearest neighbours, so 'auto' keeps the kNN graph")
    return replace(g, dropped_mass=float(fr.mean()), dropped_mass_max=float(fr.max()),
                   note=f"{g.note}; {note}" if g.note else note)
