"""The result of a product-manifold factorization, and the warning its steps may raise."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import ConformapWarning

__all__ = ["FactorizationResult", "FactorizationWarning"]


class FactorizationWarning(ConformapWarning):
    """The separability graph is disconnected, or a hierarchical split was impossible."""


@dataclass(frozen=True)
class FactorizationResult:
    """Output of :func:`factorize`. Eigenvector indices are columns of ``eigenvectors``
    (column 0 is the constant one).

    Attributes
    ----------
    factors : list of ndarray of int
        One bin of factor-eigenvector columns per factor, each sorted by column (the
        graph's eigenvalue order; columns rotated after the cut carry their Rayleigh
        quotients in ``eigenvalues``).
    products : ndarray of int, shape (p,)
        Columns identified as products (the k of a kept triplet), not in any factor.
    triplets : ndarray of int, shape (t, 3)
        Kept :math:`(i, j, k)` with :math:`\\varphi_k \\approx \\varphi_i \\varphi_j`.
    scores : ndarray, shape (t,)
        Their similarities.
    best_pair, best_score : ndarray, shape (N + 1, 2) and (N + 1,)
        Best admissible pair of every column and its similarity (all scores, kept or not;
        -1 / 0 where none).
    separability : ndarray, shape (N + 1, N + 1)
        :math:`W_{ij}` of Eq. (21) (0 where no triplet links i and j).
    unassigned : ndarray of int
        Vertices of the separability graph left out of the factors: components not linked to
        the main one (see the warning), and eigenvectors that mix a factor mode with a product
        mode (pure-product share >= ``MIXED_SHARE``, :func:`product_share`).
    eigenvectors : ndarray, shape (n, N + 1)
    eigenvalues : ndarray, shape (N + 1,)
        Log-transformed Laplacian eigenvalues, :math:`\\lambda_0 = 0`.
    bandwidth, delta, gamma : float
        ``delta`` is the constant part (:math:`0.5\\lambda_1` for "auto").
    cut_weight, sdp_bound : float
        Weight of the (top-level) cut and its SDP upper bound.
    levels : list of dict
        Hierarchical steps: which bin was split and into which bins ("split": "all" for the
        top cut, "refine" for a revision of all bins on the whole graph, :func:`refine_bins`,
        "rejoin" for two parts of one earlier bin joined, :func:`rejoin_unsupported`, with
        the "triplets" and the pair "vote" that joined them; "merge" for two bins joined as
        one factor, :func:`merge_bins`, with its "low_share";
        "products" / "harmonics" for the eigenvectors cleaned by :func:`clean_products` or
        cleaned or added by :func:`complete_harmonics`, "unmix_bins" for near-degenerate
        eigenvectors of different bins rotated towards their own factors by
        :func:`unmix_bins`, with their "steps").
    timings : dict
        Seconds per step: "diffusion_map", "triplets", "sorting".
    confidence : list of ndarray
        One array per factor, aligned with ``factors``: the confidence in [0, 1] of each
        assignment, :math:`c_v = \\frac{\\sum_{u \\notin b(v)} W_{vu}}{\\sum_u W_{vu}}
        \\max_{u \\notin b(v)} W_{vu}`: the fraction of the eigenvector's separability weight
        that agrees with its bin (its product partners are in other factors), times its best
        product similarity. With one factor (no product found) it is :math:`1 - S_v`, one
        minus the eigenvector's best similarity with a product of two others. An eigenvector
        added by :func:`complete_harmonics` (no triplet names it) gets its polynomial fit
        times the smallest confidence of the bin's leading eigenvectors.
    cut_fraction : list of float
        Per split (``levels``), the cut weight over the total separability weight of the
        split graph: 1 for a clean product (every triplet links different factors), about
        0.5-0.7 for a graph that has no two-factor structure.
    message : str
        What was found and why, in words (e.g. why the data count as one factor).
    preprocessing : dict
        How the items were turned into features before the graph (``{"method": "none"}``, or
        ``"pca"`` with ``n_components`` and the estimated ``noise_variance``).
    """

    factors: list
    products: np.ndarray
    triplets: np.ndarray
    scores: np.ndarray
    best_pair: np.ndarray
    best_score: np.ndarray
    separability: np.ndarray
    unassigned: np.ndarray
    eigenvectors: np.ndarray
    eigenvalues: np.ndarray
    bandwidth: float
    delta: float
    gamma: float
    cut_weight: float
    sdp_bound: float
    levels: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    confidence: list = field(default_factory=list)
    cut_fraction: list = field(default_factory=list)
    message: str = ""
    preprocessing: dict = field(default_factory=lambda: {"method": "none"})

    @property
    def n_factors(self) -> int:
        """Number of factors found."""
        return len(self.factors)

    def embedding(self, factor: int, n_components: int = 2) -> np.ndarray:
        """The factor's diffusion coordinates: its ``n_components`` leading eigenvectors."""
        cols = self.factors[factor][:n_components]
        return self.eigenvectors[:, cols]
