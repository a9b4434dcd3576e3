"""conformap: map conformation spaces by Earthmover-based and product manifold learning.

Core functions work on arrays; :class:`DiffusionMap` is the scikit-learn adapter.

Names are imported on first use (module-level ``__getattr__``, PEP 562): ``import conformap``
and ``conformap --help`` stay well under a second, although the full stack (numba, scipy,
scikit-learn) takes seconds to load; ``python -m benchmarks.bench_import`` measures both.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: public name -> submodule that defines it (relative to this package)
_LAZY = {
    "ConformapWarning": "._validation",
    "NegativeDensityWarning": "._validation",
    "select_bandwidth": ".bandwidth",
    "DiskCache": ".cache",
    "cached_distances": ".cache",
    "DiffusionMapResult": ".diffusion",
    "diffusion_map": ".diffusion",
    "nystrom_extension": ".diffusion",
    "emd_distances": ".distances",
    "kneighbors_distances": ".distances",
    "pairwise_distances": ".distances",
    "DiffusionMap": ".estimators",
    "ProductManifoldFactorizer": ".product",
    "factorize": ".product",
    "ResourceError": ".resources",
    "estimate_all_pairs": ".resources",
    "plan_all_pairs": ".resources",
    "read_models": ".structures",
    "structures_to_maps": ".structures",
    "WaveletBand": ".wemd",
    "default_level": ".wemd",
    "wemd_bands": ".wemd",
    "wemd_distances": ".wemd",
    "wemd_embedding": ".wemd",
    "wemd_size": ".wemd",
}
_SUBMODULES = ("datasets", "evaluate")

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("conformap")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0"
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from . import datasets, evaluate  # noqa: F401
    from ._validation import ConformapWarning, NegativeDensityWarning  # noqa: F401
    from .bandwidth import select_bandwidth  # noqa: F401
    from .cache import DiskCache, cached_distances  # noqa: F401
    from .diffusion import DiffusionMapResult, diffusion_map, nystrom_extension  # noqa: F401
    from .distances import emd_distances, kneighbors_distances, pairwise_distances  # noqa: F401
    from .estimators import DiffusionMap  # noqa: F401
    from .product import ProductManifoldFactorizer, factorize  # noqa: F401
    from .resources import ResourceError, estimate_all_pairs, plan_all_pairs  # noqa: F401
    from .structures import read_models, structures_to_maps  # noqa: F401
    from .wemd import (  # noqa: F401  # noqa: F401
        WaveletBand,
        default_level,
        wemd_bands,
        wemd_distances,
        wemd_embedding,
        wemd_size,
    )
