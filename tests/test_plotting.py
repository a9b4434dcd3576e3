"""Figures people can read: axis labels and a labelled colour bar on every scatter plot."""

from __future__ import annotations

import numpy as np
import pytest

from conformap import plotting


@pytest.fixture
def captured(monkeypatch):
    figs = []

    def keep(fig, path):
        figs.append(fig)
        return path
    monkeypatch.setattr(plotting, "save_figure", keep)
    yield figs
    for fig in figs:
        plotting.pyplot().close(fig)


def _colorbar_labels(fig):
    return [a.get_ylabel() for a in fig.axes if a.get_label() == "<colorbar>"]


@pytest.mark.parametrize(("color", "label", "want"), [
    (None, None, "item (input order)"), (np.linspace(0, 360, 30), "angle (deg)", "angle (deg)")])
def test_scatter_embedding_has_labels_and_colour_bar(captured, color, label, want):
    emb = np.random.default_rng(0).normal(size=(30, 2))
    plotting.scatter_embedding(emb, "x.png", color=color, color_label=label, title="t",
                               cyclic=color is not None)
    (fig,) = captured
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("ψ1", "ψ2")
    assert _colorbar_labels(fig) == [want]
    if color is not None:
        assert ax.collections[0].get_clim() == (0.0, 360.0)  # cyclic: full turn


def test_demo_summary_has_labels_one_colour_bar_and_separate_titles(captured):
    from conformap.cli import _demo
    from conformap.evaluate import circle_recovery

    rng = np.random.default_rng(1)
    panels = []
    for tag in ("clean_n25_wemd", "clean_n25_euclidean", "noisy_n25_wemd", "noisy_n25_euclidean"):
        ang = rng.uniform(0, 360, 25)
        emb = np.c_[np.cos(np.radians(ang)), np.sin(np.radians(ang))]
        panels.append((tag, emb, ang, circle_recovery(emb, ang)))
    _demo.plot_summary(panels, "summary.png", n_cols=2)
    (fig,) = captured
    fig.canvas.draw()
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert all(a.get_xlabel() == "ψ1" and a.get_ylabel() == "ψ2" for a in axes)
    assert _colorbar_labels(fig) == ["true rotor angle (deg)"]
    boxes = [a.title.get_window_extent() for a in axes] + [fig._suptitle.get_window_extent()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)  # no title overlaps another
