"""Figures written to files (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import atomic_path

__all__ = ["pyplot", "save_figure", "scatter_embedding"]


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


_pyplot = pyplot  # the name other modules used before it was public


def save_figure(fig, path) -> Path:
    """Save a figure atomically and close it."""
    path = Path(path)
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def scatter_embedding(embedding, path, *, color=None, color_label=None, title=None, cyclic=False):
    """Scatter the first two embedding coordinates (or coordinate 1 vs index for k = 1).

    Always with axis labels and a labelled colour bar: ``color`` (e.g. a ground-truth column)
    or, when none is given, the item's position in the input (so the bar says what the colours
    mean either way). A cyclic ``color`` whose values lie in [0, 360] is drawn on the full
    0-360 range, so that 0 and 360 get the same colour.
    """
    plt = pyplot()
    emb = np.asarray(embedding)
    fig, ax = plt.subplots(figsize=(4.8, 4), layout="constrained")
    x = emb[:, 0]
    y = emb[:, 1] if emb.shape[1] > 1 else np.arange(emb.shape[0])
    kw = {"s": 14, "linewidths": 0}
    if color is None:
        color, color_label, cyclic = np.arange(emb.shape[0]), "item (input order)", False
    c = np.asarray(color, dtype=float)
    if cyclic and c.size and np.nanmin(c) >= 0 and np.nanmax(c) <= 360:
        kw.update(vmin=0.0, vmax=360.0)
    sc = ax.scatter(x, y, c=c, cmap="twilight" if cyclic else "viridis", **kw)
    fig.colorbar(sc, ax=ax, label=color_label or "colour value")
    ax.set_xlabel("ψ1")
    ax.set_ylabel("ψ2" if emb.shape[1] > 1 else "item")
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_aspect("equal" if emb.shape[1] > 1 else "auto", adjustable="datalim")
    return save_figure(fig, path)
