"""conformap: map conformation spaces by Earthmover-based and product manifold learning.

Core functions work on arrays; :class:`DiffusionMap` is the scikit-learn adapter.
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, evaluate
from ._validation import ConformapWarning, NegativeDensityWarning
from .bandwidth import select_bandwidth
from .diffusion import DiffusionMapResult, diffusion_map, nystrom_extension
from .distances import emd_distances, kneighbors_distances, pairwise_distances
from .estimators import DiffusionMap
from .product import ProductManifoldFactorizer, factorize
from .wemd import WaveletBand, default_level, wemd_bands, wemd_embedding, wemd_size

try:
    __version__ = version("conformap")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ConformapWarning",
    "DiffusionMap",
    "DiffusionMapResult",
    "NegativeDensityWarning",
    "ProductManifoldFactorizer",
    "WaveletBand",
    "__version__",
    "datasets",
    "default_level",
    "diffusion_map",
    "emd_distances",
    "evaluate",
    "factorize",
    "kneighbors_distances",
    "nystrom_extension",
    "pairwise_distances",
    "select_bandwidth",
    "wemd_bands",
    "wemd_embedding",
    "wemd_size",
]
