"""Figures written to files (matplotlib, non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import atomic_path

__all__ = ["labelled_scatter", "pyplot", "save_figure", "scatter_embedding"]


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt




def save_figure(fig, path) -> Path:
    """Save a figure atomically and close it."""
    path = Path(path)
    plt = pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def labelled_scatter(ax, x, y, color, *, xlabel: str, ylabel: str, color_label: str,
                     cyclic: bool = False, colorbar_ax=None, **kwargs):
    """A scatter plot people can read: axis labels and a labelled colour bar.

    Parameters
    ----------
    ax : matplotlib Axes
    x, y, color : array_like, shape (n,)
    xlabel, ylabel, color_label : str
    cyclic : bool
        A cyclic colour map ("twilight"); values within [0, 360] are drawn on the full 0-360
        range so that 0 and 360 get the same colour.
    colorbar_ax : Axes or list of Axes, optional
        Where the colour bar takes its space (default ``ax``); pass all panels of a figure to
        share one bar.
    **kwargs
        Passed to ``ax.scatter`` (default ``s=10, linewidths=0``).

    Returns
    -------
    PathCollection
    """
    c = np.asarray(color, dtype=float)
    kw = {"s": 10, "linewidths": 0, **kwargs}
    if cyclic and c.size and np.nanmin(c) >= 0 and np.nanmax(c) <= 360:
        kw.setdefault("vmin", 0.0)
        kw.setdefault("vmax", 360.0)
    sc = ax.scatter(x, y, c=c, cmap="twilight" if cyclic else "viridis", **kw)
    ax.figure.colorbar(sc, ax=ax if colorbar_ax is None else colorbar_ax,
                       label=color_label or "colour value")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return sc


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
    if color is None:
        color, color_label, cyclic = np.arange(emb.shape[0]), "item (input order)", False
    labelled_scatter(ax, x, y, color, xlabel="ψ1", ylabel="ψ2" if emb.shape[1] > 1 else "item",
                     color_label=color_label, cyclic=cyclic, s=14)
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_aspect("equal" if emb.shape[1] > 1 else "auto", adjustable="datalim")
    return save_figure(fig, path)
