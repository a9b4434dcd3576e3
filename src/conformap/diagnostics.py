r"""What an embedding file carries for the report: thumbnails and bandwidth diagnostics.

``conformap embed`` stores these next to the embedding in ``OUT.npz`` so that ``conformap
report`` needs nothing but that file (the inputs can be far away or gone):

``thumbnails`` (m, h, w) uint8, ``thumbnail_index`` (m,)
    Small grey-scale pictures of a capped random subsample of the items (at most
    :data:`MAX_THUMBNAILS`, each at most :data:`THUMBNAIL_SIZE` pixels a side by block
    averaging): the image itself, or the central z-section of a map. Each is scaled to its own
    1st-99th percentile.
``bw_sigmas``, ``bw_log_kernel_sum`` (g,)
    The kernel-sum curve :math:`\log S(\sigma) = \log \sum_{i \ne j} e^{-d_{ij}^2/2\sigma^2}`
    over a log-spaced grid, computed on the distances of a random subsample of at most
    :data:`MAX_DIAGNOSTIC_ITEMS` items (the slope of this curve is the local dimension the
    data show at scale :math:`\sigma`; see :mod:`conformap.bandwidth`).
``bw_rules`` (JSON)
    The sigma each rule of :func:`conformap.select_bandwidth` gives on that subsample.
``kernel_degrees`` (n,)
    Each item's kernel degree :math:`q_i` in the fitted graph: items with a degree far below
    the others are isolated at the chosen bandwidth.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np

__all__ = [
    "MAX_DIAGNOSTIC_ITEMS",
    "MAX_THUMBNAILS",
    "THUMBNAIL_SIZE",
    "bandwidth_curve",
    "embedding_extras",
    "make_thumbnails",
    "thumbnail_source",
]

MAX_THUMBNAILS = 1000
THUMBNAIL_SIZE = 64
MAX_DIAGNOSTIC_ITEMS = 128  # the WEMD transform of these items is the extra cost


def thumbnail_source(item: np.ndarray) -> np.ndarray | None:
    """The 2-D picture of one item: itself (image), its central z-section (map), or None."""
    item = np.asarray(item)
    if item.ndim == 2:
        return item
    if item.ndim == 3:
        return item[item.shape[0] // 2]
    return None


def make_thumbnails(data, indices, *, size: int = THUMBNAIL_SIZE) -> np.ndarray | None:
    """uint8 thumbnails (m, h, w) of ``data[indices]``; None for 1-D items.

    Block-averaged by the integer factor that brings the longer side to at most ``size``;
    each thumbnail is scaled to its own 1st-99th percentile.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0 or thumbnail_source(data[int(indices[0])]) is None:
        return None
    first = thumbnail_source(data[int(indices[0])])
    f = max(1, math.ceil(max(first.shape) / size))
    h, w = first.shape[0] // f, first.shape[1] // f
    out = np.empty((len(indices), h, w), dtype=np.uint8)
    for j, i in enumerate(indices):
        img = np.asarray(thumbnail_source(data[int(i)]), dtype=np.float64)
        img = img[: h * f, : w * f].reshape(h, f, w, f).mean(axis=(1, 3))
        lo, hi = np.percentile(img, [1, 99])
        scaled = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        out[j] = np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)
    return out


def bandwidth_curve(distances, *, n_grid: int = 60) -> tuple[np.ndarray, np.ndarray, dict]:
    r"""The kernel-sum curve and every rule's sigma for a dense distance matrix.

    Returns
    -------
    sigmas : ndarray, shape (n_grid,)
        Log-spaced from a quarter of the 1st percentile to twice the 99th percentile of the
        non-zero distances.
    log_kernel_sum : ndarray, shape (n_grid,)
        :math:`\log \sum_{i \ne j} e^{-d_{ij}^2 / (2\sigma^2)}`.
    rules : dict
        Rule name -> sigma from :func:`conformap.select_bandwidth` (each single-sigma rule;
        "auto"/"adaptive" are per-item scales, see :mod:`conformap.graph`).
    """
    from .bandwidth import FIXED_BANDWIDTH_RULES, select_bandwidth

    d = np.asarray(distances, dtype=np.float64)
    vals = d[~np.eye(d.shape[0], dtype=bool)]
    vals = vals[vals > 0]
    rules = {}
    for rule in FIXED_BANDWIDTH_RULES:  # the rules that give one sigma
        try:
            rules[rule] = float(select_bandwidth(d, rule=rule))
        except ValueError:
            rules[rule] = float("nan")
    if vals.size == 0:
        return np.zeros(0), np.zeros(0), rules
    lo, hi = np.percentile(vals, [1, 99])
    sigmas = np.geomspace(max(lo, 1e-300) / 4, max(hi, lo) * 2, n_grid)
    sq = vals**2
    log_s = np.array([np.log(np.exp(-sq / (2 * s * s)).sum() + 1e-300) for s in sigmas])
    return sigmas, log_s, rules


def embedding_extras(data, dm, *, metric: str, metric_params=None, rng=0,
                     max_thumbnails: int = MAX_THUMBNAILS,
                     max_items: int = MAX_DIAGNOSTIC_ITEMS) -> dict:
    """Arrays ``conformap embed`` adds to ``OUT.npz`` for the report (see module docstring).

    Parameters
    ----------
    data : ndarray, shape (n, ...)
        The items that were embedded.
    dm : fitted DiffusionMap
    metric : str
        "wemd", "euclidean" or "emd" (exact EMD: no kernel-sum curve, it would cost as much as
        the run).
    metric_params : dict, optional
        As given to the estimator (wavelet, level, negative).
    rng : int or Generator
    """
    from ._validation import check_rng
    from .distances import pairwise_distances
    from .estimators import features_for_metric

    gen = check_rng(rng)
    n = len(data)
    out: dict = {"kernel_degrees": np.asarray(dm.result_.kernel_degrees, dtype=np.float64)}
    pick = np.sort(gen.choice(n, size=min(n, max_thumbnails), replace=False))
    thumbs = make_thumbnails(data, pick)
    if thumbs is not None:
        out["thumbnails"], out["thumbnail_index"] = thumbs, pick
    if metric in ("wemd", "euclidean"):
        sub = np.sort(gen.choice(n, size=min(n, max_items), replace=False))
        params = {k: v for k, v in (metric_params or {}).items() if k != "progress"}
        if metric == "wemd":  # as the fit does: same distances, a third of the memory
            params.setdefault("negative", "keep")
            params.setdefault("columns", "resolved")
        with warnings.catch_warnings():  # the fit has already warned about the same items
            warnings.simplefilter("ignore")
            items = np.asarray(data[sub])
            if getattr(dm, "denoiser_", None) is not None:  # the distances the fit used
                from .denoise import apply_denoiser

                items, _ = apply_denoiser(dm.denoiser_, items, scores=metric == "euclidean")
            feats = features_for_metric(items, metric, params or None)
        dist = pairwise_distances(feats, metric="l1" if metric == "wemd" else "l2")
        sigmas, log_s, rules = bandwidth_curve(dist)
        out["bw_sigmas"], out["bw_log_kernel_sum"] = sigmas, log_s
        out["bw_rules"] = np.array(json.dumps({**rules, "n_items": len(sub)}))
    return out
