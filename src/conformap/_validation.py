"""Validation helpers used once, at the public boundary.

Every error raised here names the parameter (or the item index), the bad value and what to do
about it, so that a user reading a traceback can fix the call without reading our source.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np

__all__ = [
    "ConformapWarning",
    "NegativeDensityWarning",
    "check_choice",
    "check_densities",
    "check_int",
    "check_positive",
    "check_rng",
    "validate_items",
    "warn_negative_voxels",
    "warn_once",
]


class ConformapWarning(UserWarning):
    """Base class of the warnings conformap emits."""


class NegativeDensityWarning(ConformapWarning):
    """Some densities have negative voxels (typical of noisy maps); see ``wemd_embedding``.

    The message is the same sentence every time, so that Python's default warning filter shows
    it once per run however many calls see noisy maps; the numbers of each call are attributes
    (and are logged at INFO level by ``conformap._validation``).

    Attributes
    ----------
    name : str
        The argument that held the densities.
    n_negative, n_items : int
        Items with a negative voxel, and all items.
    fraction : float
        Largest share of negative mass in an item's absolute mass.
    """

    def __init__(self, message: str, *, name: str = "densities", n_negative: int = 0,
                 n_items: int = 0, fraction: float = 0.0):
        super().__init__(message)
        self.name, self.n_negative, self.n_items = name, n_negative, n_items
        self.fraction = fraction


#: How to choose a negative-voxel policy, in the API's own spelling: ``negative=`` of
#: ``wemd_embedding``/``wemd_distances``, ``metric_params={"negative": ...}`` of DiffusionMap.
NEGATIVE_ADVICE = (
    "pass negative='{keep}' (signed-measure WEMD) or negative='{clip}' (zero them) to "
    "wemd_embedding/wemd_distances, or metric_params={{'negative': '{keep}'}} (or '{clip}') "
    "to DiffusionMap"
)

NEGATIVE_WARNING = (
    "some densities have negative voxels (typical of noisy maps); they are kept and the WEMD is "
    "computed for the signed measures (a Kantorovich-Rubinstein norm approximation). To choose "
    "explicitly and silence this: negative='keep' (the default behaviour), 'clip' (zero them) "
    "or 'error' (refuse them), as the negative= argument of wemd_embedding/wemd_distances or "
    "metric_params={'negative': ...} of DiffusionMap."
)


def warn_negative_voxels(name: str, n_negative: int, n_items: int, fraction: float) -> None:
    """Emit the :class:`NegativeDensityWarning`, once per run (see :func:`warn_once`)."""
    import logging

    logging.getLogger(__name__).info(
        "%s: %d of %d items have negative voxels (negative mass up to %.1f%% of absolute mass)",
        name, n_negative, n_items, 100 * fraction)
    warn_once(NegativeDensityWarning(NEGATIVE_WARNING, name=name, n_negative=n_negative,
                                     n_items=n_items, fraction=fraction))


#: (category, message) of the warnings shown so far in this process.
_SHOWN: set = set()


def _filter_action(warning: Warning, module: str) -> str:
    """The action of the first :mod:`warnings` filter that matches (as ``warnings`` does)."""
    text = str(warning)
    for action, msg, cat, mod, _lineno in warnings.filters:
        if ((msg is None or msg.match(text)) and issubclass(type(warning), cat)
                and (mod is None or mod.match(module))):
            return action
    return warnings.defaultaction


def warn_once(warning: Warning, *, stacklevel: int = 3) -> None:
    """Warn, but only once per run for the same category and message.

    Python's own "default" filter is meant to do this, but its registry is cleared whenever any
    library touches the filters (``catch_warnings``), so a noisy data set used to warn on every
    call. A filter that asks for every occurrence ("always", as ``pytest.warns`` sets) or
    turns warnings into errors still gets each one.
    """
    key = (type(warning), str(warning))
    action = _filter_action(warning, __name__)
    if action in ("default", "once", "module") and key in _SHOWN:
        return
    _SHOWN.add(key)
    warnings.warn(warning, stacklevel=stacklevel)


def check_rng(rng: int | np.random.Generator | None) -> np.random.Generator:
    """Normalise a seed or generator to a :class:`numpy.random.Generator` (SPEC 7)."""
    if isinstance(rng, np.random.RandomState):
        raise TypeError(
            "rng: got a legacy numpy RandomState; pass an int seed or np.random.default_rng(seed)"
        )
    if rng is not None and not isinstance(rng, np.random.Generator | numbers.Integral):
        raise TypeError(f"rng: expected None, an int seed or a numpy Generator, got {rng!r}")
    return np.random.default_rng(rng)


def check_int(value: object, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name}: {value} is out of range; use an integer in [{lo}, {hi}]")
    return value


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` as a bool (True, False or a numpy bool) or raise naming ``name``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0) or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: {value!r} is invalid; use a finite number {bound}")
    return value


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices`` or raise naming ``name`` and the options."""
    if not isinstance(value, str) or value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: {value!r} is not supported; choose one of {opts}")
    return value


def row_extremes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum of every item (axis 0), by reductions with no (n, V) temporary.

    Both propagate NaN, and an infinity is an extreme, so an item is finite exactly when both
    of its extremes are.
    """
    flat = x.reshape(x.shape[0], -1)
    return flat.min(axis=1), flat.max(axis=1)


def check_finite_items(x: np.ndarray, name: str, extremes=None) -> None:
    """Raise naming the first item (index along axis 0) that holds a NaN or an infinity."""
    lo, hi = row_extremes(x) if extremes is None else extremes
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"{name}: item {idx[0]} contains NaN or infinite values "
            f"({idx.size} item(s) affected: {_head(idx)}); remove or repair them"
        )


def check_densities(
    densities: object,
    name: str = "densities",
    *,
    ndim: tuple[int, ...] = (1, 2, 3),
    negative: str | None = None,
    dtype: type | None = None,
) -> np.ndarray:
    """Validate a stack of densities of shape ``(n, *shape)``.

    Parameters
    ----------
    densities : array_like, shape (n, *shape)
        ``len(shape)`` must be in ``ndim``.
    negative : {None, "keep", "clip", "error"}
        What to do with negative voxels. ``None`` keeps them and emits a
        :class:`NegativeDensityWarning`; ``"keep"`` keeps them silently; ``"clip"`` sets them to
        zero; ``"error"`` raises. See :func:`conformap.wemd_embedding` for why keeping is sound.
    dtype : numpy dtype, optional
        Output float dtype; default keeps float32/float64 and converts anything else to float64.

    Returns
    -------
    ndarray, shape (n, *shape)
        Floating array (a copy only when conversion or clipping requires one).
    """
    arr = np.asarray(densities)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: complex values are not densities; pass the real part or abs()")
    if arr.ndim - 1 not in ndim:
        dims = "/".join(f"{d}-D" for d in ndim)
        raise ValueError(
            f"{name}: expected a stack of {dims} densities with shape (n, *shape), got an array "
            f"of shape {arr.shape}; add a leading axis with x[None] for a single density"
        )
    if arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(f"{name}: got an empty array of shape {arr.shape}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = np.asarray(arr, dtype=dtype)
    lo, hi = row_extremes(arr)
    check_finite_items(arr, name, (lo, hi))
    flat = arr.reshape(arr.shape[0], -1)
    has_neg = lo < 0
    if has_neg.any():
        if negative == "error":
            idx = np.flatnonzero(has_neg)
            raise ValueError(
                f"{name}: item {idx[0]} has negative values ({idx.size} item(s): {_head(idx)}); "
                f"{NEGATIVE_ADVICE.format(keep='keep', clip='clip')}"
            )
        if negative == "clip":
            arr = np.maximum(arr, 0)
            flat = arr.reshape(arr.shape[0], -1)
            lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
        elif negative is None:
            frac = 0.0  # largest negative share of the absolute mass, row by row: no (n, V)
            for i in np.flatnonzero(has_neg):  # temporaries (two of them were 1.5 GB at n = 800)
                neg = -float(flat[i][flat[i] < 0].sum(dtype=np.float64))
                frac = max(frac, neg / (float(flat[i].sum(dtype=np.float64)) + 2 * neg))
            warn_negative_voxels(name, int(has_neg.sum()), arr.shape[0], frac)
    mass = flat.sum(axis=1, dtype=np.float64)
    scale = np.maximum(np.abs(lo), np.abs(hi))
    bad = mass <= 1e-12 * np.maximum(scale, np.finfo(float).tiny) * flat.shape[1]
    if bad.any():
        idx = np.flatnonzero(bad)
        i = idx[0]
        what = "is all zero" if scale[i] == 0 else f"has non-positive total mass {mass[i]:.3g}"
        raise ValueError(
            f"{name}: item {i} {what} ({idx.size} item(s): {_head(idx)}); a density must have "
            "positive total mass to be normalised; remove the item or check the map's sign"
        )
    return arr


def _head(idx: np.ndarray, k: int = 5) -> str:
    s = ", ".join(str(int(i)) for i in idx[:k])
    return s + (", ..." if idx.size > k else "")


def validate_items(estimator, X, *, reset: bool, min_samples: int = 1, min_features: int = 1,
                   precomputed: bool = False, needs: str | None = None):
    """Validate an estimator's input with scikit-learn (``validate_data``), once, at the top.

    Rejects sparse input (unless ``precomputed``), complex, non-numeric, NaN/inf and empty
    arrays with scikit-learn's standard messages; converts to float64 (float32 is kept). Sets
    (``reset``, in fit) or checks (in transform) ``n_features_in_``: values per item (voxels of
    a map, coordinates of a vector), or the training items for ``precomputed`` distances.
    Items of more than one axis (maps, images) keep their shape and ``item_shape_`` records
    it. Read-only and memory-mapped arrays are accepted as they are (no copy).

    Parameters
    ----------
    estimator : BaseEstimator
    X : array_like, shape (n, ...) or (n, n) for ``precomputed``
    reset : bool
        True in fit, False in transform.
    min_samples : int
        Fewest items accepted (fit).
    needs : str, optional
        What needs ``min_samples`` items, for the message (e.g. ``"n_components: 12"``).
    min_features : int
        Fewest values per item (a density needs 2 voxels for a non-trivial distance).
    precomputed : bool
        ``X`` is a distance matrix: square in fit, (m, n_train) in transform; dense or
        sparse (CSR/CSC/COO).

    Returns
    -------
    ndarray or sparse matrix
    """
    import scipy.sparse as sp
    from sklearn.utils.validation import check_array, validate_data

    name = type(estimator).__name__
    if precomputed:
        X = validate_data(estimator, X, reset=reset, accept_sparse=("csr", "csc", "coo"),
                          dtype=np.float64)
        _check_min_samples(X, min_samples, needs or name)
        if reset and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"X: metric='precomputed' expects a square (n, n) distance matrix, got shape "
                f"{X.shape}; pass the distances between all training items"
            )
        return X
    dtype = [np.float64, np.float32]
    nd = X.ndim if isinstance(X, np.ndarray) else (2 if sp.issparse(X) else None)
    if nd is None:  # lists, DataFrames, array-likes: their numpy shape
        nd = 2 if hasattr(X, "columns") else np.asarray(X).ndim
    # NaN/inf are checked below, naming the first bad item (scikit-learn's message does not).
    if nd <= 2:
        X = validate_data(estimator, X, reset=reset, accept_sparse=False, dtype=dtype,
                          ensure_min_features=1, ensure_all_finite=False)
    else:
        X = check_array(X, accept_sparse=False, allow_nd=True, dtype=dtype, input_name="X",
                        estimator=name, ensure_all_finite=False)
        if X.size == 0:
            raise ValueError(f"X: items of shape {X.shape[1:]} hold 0 feature(s) (shape="
                             f"{X.shape}) while a minimum of 1 is required by {name}")
        validate_data(estimator, X.reshape(X.shape[0], -1), reset=reset, skip_check_array=True)
    if X.size:  # bad values first: they are reported whatever the other problems
        check_finite_items(X, "X")
    _check_min_samples(X, min_samples, needs or name)
    if reset:
        n_values = int(np.prod(X.shape[1:]))
        if n_values < min_features:
            raise ValueError(
                f"X: items hold {n_values} feature(s) (shape={X.shape}) while a minimum of "
                f"{min_features} is required by {name}: the distance between densities of one "
                "voxel is always 0"
            )
        estimator.item_shape_ = tuple(X.shape[1:])
    elif tuple(X.shape[1:]) != getattr(estimator, "item_shape_", tuple(X.shape[1:])):
        raise ValueError(f"X: items have shape {X.shape[1:]} but the training items had "
                         f"{estimator.item_shape_}; pass data of the training shape")
    return X


def _check_min_samples(X, min_samples: int, needs: str) -> None:
    n = X.shape[0]
    if n < min_samples:
        raise ValueError(
            f"X: {needs} needs at least {min_samples} items, got {n} sample(s) (shape="
            f"{X.shape}); pass more items" + ("" if "n_components" not in needs
                                              else " or use fewer components")
        )
