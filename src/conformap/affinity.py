"""The affinity graph: what :mod:`conformap.graph` builds and :mod:`conformap.diffusion` solves.

:class:`AffinityGraph` holds the kernel, its local scales and everything the graph line
(:meth:`AffinityGraph.summary`) reports about how it was built: dense or kNN, the bandwidth
rule, the dimension of the adaptive normalisation, and the truncation of a kNN graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

__all__ = ["DROPPED_MASS_LOCAL", "AffinityGraph", "averaging_phrase"]

#: Above this mean dropped kernel mass (most of a row's mass beyond its k stored neighbours)
#: the graph line says that the kNN graph is the truncated kernel, not an approximation of the
#: complete one. Measured (docs/large-n/TRUNCATION.md): clean clustered circles drop
#: 0.24-0.28 % at n = 30,000-100,000, circles with noise 0.01 15-18 %, noisy 64 x 64 particle
#: images 63-77 % at n = 5,000 and 95 % at n = 100,000 (their neighbour distances sit on a
#: noise floor).
DROPPED_MASS_LOCAL = 0.5


@dataclass(frozen=True)
class AffinityGraph:
    r"""A symmetric Gaussian affinity graph, ready for :func:`conformap.diffusion.diffusion_core`.

    Attributes
    ----------
    kernel : ndarray (n, n) or scipy.sparse.csr_matrix (n, n)
        :math:`K_{ij}`, symmetric, unit diagonal.
    scales : ndarray, shape (n,)
        :math:`\rho_i` (all equal to ``bandwidth`` for a fixed kernel).
    bandwidth : float
        The fixed sigma, or the median adaptive scale.
    adaptive : bool
    dimension : int or float
        Intrinsic dimension used by the adaptive normalisation (1 for a fixed kernel; on the
        dense path the unrounded estimate, :data:`conformap.graph.UNROUNDED_DIMENSION`).
    method : {"dense", "knn"}
    n_neighbors : int or None
        Stored neighbours per item (kNN), or the neighbour count of the adaptive scales
        (dense, adaptive); None for a dense fixed kernel.
    scale_neighbor : int or None
        The neighbour whose distance is :math:`\rho_i` (adaptive), else None.
    max_dropped_affinity : float
        Bound on any affinity the graph does not store (0 for dense).
    dropped_mass, dropped_mass_max : float or None
        Mean and largest fraction of a row's kernel mass not stored, measured exactly on up to
        :data:`conformap.truncation.DROPPED_MASS_SAMPLE` random rows (0 for dense; None when only
        distances were given).
    n_bridges : int
        Edges added to join the pieces of a kNN graph.
    note : str
        Why bandwidth="auto" chose a fixed kernel where it would have been adaptive ("" else).
    dimension_items : int or None
        The subset size at whose neighbour scale ``dimension`` was measured
        (:data:`conformap.graph.DIMENSION_REFERENCE_ITEMS`), None where it is the graph's own.
    averaging_steps : int
        Steps of the first graph's Markov operator by which the denoised items were averaged
        before this graph was built (:mod:`conformap.averaging`; 0: not averaged).
    fallback_distances : ndarray or sparse matrix or None
        The distances an adaptive kernel chosen by ``bandwidth="auto"`` was built from, kept
        for the localisation guard of the diffusion core (:mod:`conformap.localisation`),
        which may replace it by the fixed kernel at its median scale; None otherwise.
    """

    kernel: np.ndarray | sp.csr_matrix
    scales: np.ndarray
    bandwidth: float
    adaptive: bool
    dimension: float
    method: str
    n_neighbors: int | None
    scale_neighbor: int | None
    max_dropped_affinity: float
    dropped_mass: float | None
    dropped_mass_max: float | None
    n_bridges: int = 0
    note: str = ""
    dimension_items: int | None = None
    averaging_steps: int = 0
    fallback_distances: object = field(default=None, repr=False, compare=False)

    def summary(self) -> str:
        """One line: kernel, neighbours, truncation."""
        kind = (f"adaptive kernel (rho = distance to neighbour {self.scale_neighbor}, median "
                f"{self.bandwidth:.4g}, dimension {self.dimension:.3g}"
                + (f" at the scale of {self.dimension_items:,} items" if self.dimension_items
                   else "") + ")" if self.adaptive
                else f"fixed kernel sigma={self.bandwidth:.4g}")
        if self.note:
            kind += f" ({self.note})"
        if self.averaging_steps:
            kind += f", {averaging_phrase(self.averaging_steps)}"
        if self.method == "dense":
            return f"dense graph, {kind}, nothing dropped"
        drop = ("" if self.dropped_mass is None else
                f", dropped kernel mass {self.dropped_mass:.2%} mean / "
                f"{self.dropped_mass_max:.2%} max (measured on sampled rows)")
        if self.dropped_mass is not None and self.dropped_mass > DROPPED_MASS_LOCAL:
            drop += ("; most of the kernel's mass lies beyond the stored neighbours (distances "
                     "on a noise floor?), so this graph is the truncated kNN kernel, not an "
                     "approximation of the complete one (docs/large-n/TRUNCATION.md)")
        return (f"kNN graph k={self.n_neighbors}, {kind}, dropped affinities <= "
                f"{self.max_dropped_affinity:.3g}{drop}")


def averaging_phrase(steps: int) -> str:
    """How a summary line says that a graph was built on averaged items
    (:mod:`conformap.averaging`)."""
    return (f"built on the items averaged by {steps} step(s) of the first graph's Markov "
            "operator (two-pass graph of denoised items)")
