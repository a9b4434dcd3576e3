"""Feature vectors of the items: the metric's coordinates, the WEMD column choice, denoising.

:func:`prepare_features` is the only place that chooses which WEMD coefficients are kept and
whether the items are first projected on their principal components
(:mod:`conformap.denoise`); :mod:`conformap.graph` builds the affinity graph from its
:class:`FeatureSet`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._validation import check_choice
from .denoise import (
    check_denoise,
    denoise_items,
    fit_for,
    reconstruction_negative,
    wemd_of_denoised,
)

__all__ = ["FeatureSet", "prepare_features"]


@dataclass(frozen=True)
class FeatureSet:
    """Feature rows whose L1 (``"l1"``) or L2 (``"l2"``) distances are the metric.

    Attributes
    ----------
    features : ndarray, shape (n, D')
    lp : {"l1", "l2"} or None
        None for exact EMD (``features`` are then the densities).
    columns : ndarray of int or None
        For WEMD with ``columns="resolved"``: the kept coefficient columns.
    full_size : int
        Coefficients per item before the column choice (``D``).
    key : str or None
        Cache key of ``features`` when they came from a store.
    denoiser : conformap.denoise.PCADenoiser or None
        The PCA projection applied to the items before the features (None: not applied);
        for "l2" the features are its scores, for WEMD the coefficients of the reconstruction.
    """

    features: np.ndarray
    lp: str | None
    columns: np.ndarray | None
    full_size: int
    key: str | None = None
    denoiser: object = None


def prepare_features(X, metric: str, metric_params: dict | None = None, *, store=None,
                     denoise="auto"):
    """Feature vectors for ``metric`` (the only place that chooses WEMD columns and denoising).

    For "wemd" only the coefficients that can change a distance are kept unless
    ``metric_params["columns"]`` says otherwise ("resolved" by default; see
    :func:`conformap.wemd_embedding`). ``store`` (a :class:`conformap.cache.DiskCache`) computes
    or reloads the coefficients from disk (memory-mapped). ``denoise`` ("auto", "pca", "off" or
    a rank; :mod:`conformap.denoise`) first projects the items on their leading principal
    components: "l2" features are then the scores, WEMD coefficients those of the
    reconstructed items.
    """

    den = None
    if metric == "wemd" and store is None:
        X = np.asarray(X)
        den = fit_for(X, denoise)
        if den is not None:
            feats, cols, full = wemd_of_denoised(den, X, metric_params)
            return FeatureSet(feats, "l1", cols, full, denoiser=den)
    elif metric in ("wemd", "euclidean"):
        user = X = np.asarray(X)
        X, den = denoise_items(X, denoise, scores=metric == "euclidean")
        if den is not None and metric == "wemd":  # count the user's negative voxels
            metric_params = {**(metric_params or {}), "negative": reconstruction_negative(
                user, (metric_params or {}).get("negative"))}
    elif check_denoise(denoise) not in ("auto", "off"):
        raise ValueError(f"denoise: {denoise!r} is not available for metric={metric!r} (exact "
                         "EMD needs non-negative densities); use denoise='off'")
    fs = _prepare(X, metric, metric_params, store=store)
    return fs if den is None else replace(fs, denoiser=den)


def _prepare(X, metric: str, metric_params: dict | None = None, *, store=None):
    from .wemd import resolved_columns, wemd_embedding, wemd_size

    params = dict(metric_params or {})
    if metric == "wemd":
        columns = check_choice(params.pop("columns", "resolved"), "metric_params['columns']",
                               ["all", "support", "resolved"])
        shape = np.shape(X)[1:]
        full = wemd_size(shape, **{k: v for k, v in params.items()
                                   if k in ("wavelet", "level", "mode")})
        if store is None:
            feats, cols = wemd_embedding(X, return_columns=True, columns=columns, **params)
            if cols is not None and cols.size == full:
                cols = None
            return FeatureSet(feats, "l1", cols, full)
        key = store.wemd_key(X, **params)
        feats = store.wemd_embedding(X, key=key, mmap=True, **params)
        cols = None
        if columns == "resolved":
            cols = resolved_columns(feats)
            if cols.size < feats.shape[1]:
                feats = np.ascontiguousarray(feats[:, cols])
                key = store.derive_key("resolved", key, {"columns": int(cols.size)})
            else:
                cols = None
        return FeatureSet(feats, "l1", cols, full, key)
    if metric == "emd":
        if params:
            raise ValueError(f"metric_params: metric='emd' takes no parameters, got {params}")
        feats = np.asarray(X)
        return FeatureSet(feats, None, None, int(np.prod(feats.shape[1:])))
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"X: expected shape (n, ...) with one item per row, got {X.shape}")
    if params:
        raise ValueError(f"metric_params: metric={metric!r} takes no parameters, got {params}")
    feats = X.reshape(X.shape[0], -1)
    key = store.array_key(feats) if store is not None else None
    return FeatureSet(feats, "l2", None, feats.shape[1], key)
