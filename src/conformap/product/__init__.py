"""Product manifold learning (Zhang, Moscovich & Singer 2021): factorize a data manifold.

``factorize`` (function) and ``ProductManifoldFactorizer`` (estimator) split the Laplacian
eigenvectors of a data set into one bin per independent factor; the building blocks are public
too: ``laplacian_spectrum`` (log-transformed eigenvalues), ``find_triplets`` (Algorithm 1),
``max_cut`` (MAX-CUT / MAX-k-CUT SDP with randomized rounding), ``unmix_eigenvectors``
(rotates near-degenerate eigenvectors back to separable functions before the search).
"""

from ._denoise import DenoisedFeatures, pca_denoise
from ._estimator import ProductManifoldFactorizer
from ._factorize import (
    DEFAULT_CLEAN_PRODUCTS,
    DEFAULT_GAMMA,
    DEFAULT_HARMONICS,
    factorize,
    factorize_spectrum,
)
from ._harmonics import (
    HARMONIC_CLEAN,
    HARMONIC_DEGREE,
    HARMONIC_FIT,
    HARMONIC_MAX_PRODUCT,
    HARMONIC_MAX_SPREAD,
    HARMONIC_MIN_SHARE,
    HARMONIC_WINDOW,
    PRODUCT_IN_WINDOW,
    UNMIX_BINS,
    clean_products,
    complete_harmonics,
    cross_product_share,
    harmonic_basis,
    leading_count,
    participation,
    unmix_bins,
)
from ._maxcut import CutResult, cut_weight, improve_cut, max_cut
from ._placement import (
    MERGE_MIN_LOW,
    REJOIN_MIN_TRIPLETS,
    merge_bins,
    pair_votes,
    partition_fraction,
    refine_bins,
    rejoin_candidates,
    rejoin_unsupported,
    window_energy,
    window_links,
)
from ._plots import plot_embeddings, plot_factor_eigenvectors, plot_separability
from ._result import FactorizationResult, FactorizationWarning
from ._spectrum import (
    AUTO_BANDWIDTH_RULE,
    LaplacianSpectrum,
    laplacian_spectrum,
    spectral_dimension,
)
from ._triplets import (
    TripletSearch,
    degenerate_groups,
    find_triplets,
    product_purity,
    product_share,
    triplet_scores,
)
from ._unmix import DEFAULT_UNMIX, UNMIX_KEEP, UnmixResult, unmix_blocks, unmix_eigenvectors

__all__ = [
    "AUTO_BANDWIDTH_RULE",
    "DEFAULT_CLEAN_PRODUCTS",
    "DEFAULT_GAMMA",
    "DEFAULT_HARMONICS",
    "DEFAULT_UNMIX",
    "HARMONIC_CLEAN",
    "HARMONIC_DEGREE",
    "HARMONIC_FIT",
    "HARMONIC_MAX_PRODUCT",
    "HARMONIC_MAX_SPREAD",
    "HARMONIC_MIN_SHARE",
    "HARMONIC_WINDOW",
    "MERGE_MIN_LOW",
    "PRODUCT_IN_WINDOW",
    "REJOIN_MIN_TRIPLETS",
    "UNMIX_BINS",
    "UNMIX_KEEP",
    "CutResult",
    "DenoisedFeatures",
    "FactorizationResult",
    "FactorizationWarning",
    "LaplacianSpectrum",
    "ProductManifoldFactorizer",
    "TripletSearch",
    "UnmixResult",
    "clean_products",
    "complete_harmonics",
    "cross_product_share",
    "cut_weight",
    "degenerate_groups",
    "factorize",
    "factorize_spectrum",
    "find_triplets",
    "harmonic_basis",
    "improve_cut",
    "laplacian_spectrum",
    "leading_count",
    "max_cut",
    "merge_bins",
    "pair_votes",
    "participation",
    "partition_fraction",
    "pca_denoise",
    "plot_embeddings",
    "plot_factor_eigenvectors",
    "plot_separability",
    "product_purity",
    "product_share",
    "refine_bins",
    "rejoin_candidates",
    "rejoin_unsupported",
    "spectral_dimension",
    "triplet_scores",
    "unmix_bins",
    "unmix_blocks",
    "unmix_eigenvectors",
    "window_energy",
    "window_links",
]
