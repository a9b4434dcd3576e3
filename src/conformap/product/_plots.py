"""Figures of a factorization (used by ``conformap factorize`` and the reproduction)."""

from __future__ import annotations

import numpy as np

from ..plotting import pyplot, save_figure

__all__ = ["plot_embeddings", "plot_factor_eigenvectors", "plot_separability"]


def _conf(result, factor: int, position: int) -> float | None:
    """Confidence of the eigenvector at ``position`` in bin ``factor`` (None if unknown)."""
    conf = getattr(result, "confidence", None)
    if not conf or factor >= len(conf) or position >= len(conf[factor]):
        return None
    return float(conf[factor][position])


def plot_factor_eigenvectors(result, path, *, coords=None, coord_labels=("x", "y"),
                             max_per_factor: int = 5, title=None, cyclic=(False, False)):
    """One column per factor, its first eigenvectors (rows).

    With ``coords`` (n, 2) ground-truth coordinates, each eigenvector is drawn as colours on
    the coordinate plane (the paper's Figs. 2, 3); otherwise it is plotted against the
    factor's leading eigenvector (a curve when the factor is one-dimensional).
    """
    plt = pyplot()
    factors = [f[:max_per_factor] for f in result.factors]
    n_rows = max(1, max(len(f) for f in factors))
    n_cols = len(factors)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.3 * n_cols, 1.8 * n_rows),
                             squeeze=False)
    phi = result.eigenvectors
    rng = np.random.default_rng(0)
    sub = rng.permutation(phi.shape[0])[: min(phi.shape[0], 1500)]  # keep the PNG small
    for c, cols in enumerate(factors):
        for r in range(n_rows):
            ax = axes[r, c]
            if r >= len(cols):
                ax.axis("off")
                continue
            k = cols[r]
            v = phi[sub, k]
            if coords is not None:
                lim = np.percentile(np.abs(v), 99) or 1.0
                sc = ax.scatter(coords[sub, 0], coords[sub, 1], c=v, s=1.5, cmap="RdBu_r",
                                vmin=-lim, vmax=lim, linewidths=0, rasterized=True)
                cb = fig.colorbar(sc, ax=ax, fraction=0.05, pad=0.03)
                cb.set_label(f"φ{k}", fontsize=6)
                cb.ax.tick_params(labelsize=5)
                ax.set_xlabel(coord_labels[0], fontsize=7)
                ax.set_ylabel(coord_labels[1], fontsize=7)
            else:
                ax.scatter(phi[sub, cols[0]], v, s=2, linewidths=0, rasterized=True)
                ax.set_xlabel(f"φ{cols[0]}", fontsize=7)
                ax.set_ylabel(f"φ{k}", fontsize=7)
            cf = _conf(result, c, r)
            ax.set_title(f"factor {c + 1}: φ{k} (λ={result.eigenvalues[k]:.3g}"
                         + (f", conf {cf:.2f})" if cf is not None else ")"), fontsize=7)
            ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    # leave room for the title above the first row (it overlapped the panels' titles)
    top = 1.0 - (0.5 + 0.25 * (title.count("\n") + 1 if title else 0)) / (1.8 * n_rows + 0.5)
    fig.subplots_adjust(hspace=0.75, wspace=0.45 if coords is None else 0.8, top=min(0.95, top))
    return save_figure(fig, path)


def plot_separability(result, path, *, title=None):
    """The separability matrix W (Eq. 21) on the graph's vertices, ordered by factor."""
    plt = pyplot()
    order = np.concatenate([*result.factors, result.unassigned]).astype(int)
    w = result.separability[np.ix_(order, order)]
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    im = ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
    conf = {}
    for f, cols in enumerate(result.factors):
        for i, c in enumerate(cols):
            cf = _conf(result, f, i)
            if cf is not None:
                conf[int(c)] = cf
    ax.set_xticks(range(order.size), [str(o) for o in order], fontsize=6, rotation=90)
    ax.set_yticks(range(order.size),
                  [f"{o} ({conf[int(o)]:.2f})" if int(o) in conf else str(o) for o in order],
                  fontsize=6)
    ax.set_ylabel("eigenvector (assignment confidence)", fontsize=7)
    edges = np.cumsum([len(f) for f in result.factors])[:-1]
    for e in edges:
        ax.axhline(e - 0.5, color="w", lw=1)
        ax.axvline(e - 0.5, color="w", lw=1)
    fig.colorbar(im, ax=ax, label="max similarity S")
    ax.set_title(title or "separability matrix (eigenvector columns, grouped by factor)",
                 fontsize=8)
    return save_figure(fig, path)


def plot_embeddings(result, path, *, color=None, color_labels=None, cyclic=None, title=None):
    """Each factor's 2-D embedding (its two leading eigenvectors)."""
    plt = pyplot()
    nf = len(result.factors)
    fig, axes = plt.subplots(1, nf, figsize=(3.4 * nf, 3.1), squeeze=False)
    rng = np.random.default_rng(0)
    n = result.eigenvectors.shape[0]
    sub = rng.permutation(n)[: min(n, 1500)]
    for f in range(nf):
        ax = axes[0, f]
        emb = result.embedding(f, 2)
        y = emb[sub, 1] if emb.shape[1] > 1 else np.zeros(sub.size)
        c = None if color is None else np.asarray(color[f % len(color)])[sub]
        cmap = "twilight" if (cyclic is not None and cyclic[f % len(cyclic)]) else "viridis"
        kw = {"c": c, "cmap": cmap} if c is not None else {}
        sc = ax.scatter(emb[sub, 0], y, s=2, linewidths=0, rasterized=True, **kw)
        if c is not None:
            lab = color_labels[f % len(color_labels)] if color_labels else ""
            fig.colorbar(sc, ax=ax, label=lab)
        cols = result.factors[f][:2]
        ax.set_xlabel(f"φ{cols[0]}", fontsize=8)
        ax.set_ylabel(f"φ{cols[1]}" if len(cols) > 1 else "", fontsize=8)
        cf = [_conf(result, f, i) for i in range(len(cols))]
        cf = [c for c in cf if c is not None]
        ax.set_title(f"factor {f + 1}" + (f" (confidence {', '.join(f'{c:.2f}' for c in cf)})"
                                          if cf else ""), fontsize=8)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(wspace=0.35)
    return save_figure(fig, path)
