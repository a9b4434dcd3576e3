"""Figures written to files (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import atomic_path

__all__ = ["pyplot", "save_figure", "scatter_embedding"]


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
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
    """Scatter the first two embedding coordinates (or coordinate 1 vs index for k = 1)."""
    plt = _pyplot()
    emb = np.asarray(embedding)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    x = emb[:, 0]
    y = emb[:, 1] if emb.shape[1] > 1 else np.arange(emb.shape[0])
    kw = {"s": 14, "linewidths": 0}
    if color is not None:
        sc = ax.scatter(x, y, c=color, cmap="twilight" if cyclic else "viridis", **kw)
        fig.colorbar(sc, ax=ax, label=color_label or "")
    else:
        ax.scatter(x, y, **kw)
    ax.set_xlabel("ψ1")
    ax.set_ylabel("ψ2" if emb.shape[1] > 1 else "item")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_aspect("equal" if emb.shape[1] > 1 else "auto", adjustable="datalim")
    return save_figure(fig, path)
