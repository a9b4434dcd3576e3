"""conformap: map conformation spaces by Earthmover-based and product manifold learning.

Core functions work on arrays; :class:`DiffusionMap` is the scikit-learn adapter.
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, evaluate
from ._validation import ConformapWarning, NegativeDensityWarning
from .bandwidth import select_bandwidth
from .cache import DiskCache, cached_distances
from .diffusion import DiffusionMapResult, diffusion_map, nystrom_extension
from .distances import emd_distances, kneighbors_distances, pairwise_distances
from .estimators import DiffusionMap
from .product import ProductManifoldFactorizer, factorize
from .resources import ResourceError, estimate_all_pairs, plan_all_pairs
from .structures import read_models, structures_to_maps
from .wemd import (
    WaveletBand,
    default_level,
    wemd_bands,
    wemd_distances,
    wemd_embedding,
    wemd_size,
)

try:
    __version__ = version("conformap")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ConformapWarning",
    "DiffusionMap",
    "DiffusionMapResult",
    "DiskCache",
    "NegativeDensityWarning",
    "ProductManifoldFactorizer",
    "ResourceError",
    "WaveletBand",
    "__version__",
    "cached_distances",
    "datasets",
    "default_level",
    "diffusion_map",
    "emd_distances",
    "estimate_all_pairs",
    "evaluate",
    "factorize",
    "kneighbors_distances",
    "nystrom_extension",
    "pairwise_distances",
    "plan_all_pairs",
    "read_models",
    "select_bandwidth",
    "structures_to_maps",
    "wemd_bands",
    "wemd_distances",
    "wemd_embedding",
    "wemd_size",
]
