"""The two-pass graph of denoised items (conformap.averaging, GRAPH_AVERAGING_STEPS)."""

from __future__ import annotations

import numpy as np
import pytest

from conformap import DiffusionMap
from conformap import graph as cg
from conformap.datasets import make_particles
from conformap.diffusion import normalized_operator
from conformap.wemd import wemd_embedding

KEEP = {"negative": "keep"}  # noisy images have negative pixels (kept, silently)


@pytest.fixture(scope="module")
def noisy():
    imgs, _ = make_particles(450, size=24, snr=0.5, rng=3)
    return imgs


def test_averaged_features_are_the_wemd_of_p_times_the_scores(noisy, monkeypatch):
    # shipped off (GRAPH_AVERAGING_STEPS = 0, docs/large-n/NOISY_IMAGES.md section 7); on here
    monkeypatch.setattr(cg, "GRAPH_AVERAGING_STEPS", 1)
    graph, fs = cg.build_graph(noisy, metric="wemd", metric_params=KEEP, rng=0)
    assert fs.denoiser is not None and graph.averaging_steps == 1
    assert "averaged by 1 step(s)" in graph.summary()
    # the oracle: the one-pass graph, its Markov matrix by hand (dense), P @ scores, WEMD
    monkeypatch.setattr(cg, "GRAPH_AVERAGING_STEPS", 0)
    g1, fs1 = cg.build_graph(noisy, metric="wemd", metric_params=KEEP, rng=0)
    assert g1.averaging_steps == 0
    w = normalized_operator(g1, alpha=1.0)[0]
    w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
    P = w / w.sum(axis=1, keepdims=True)
    den = fs1.denoiser
    scores = (noisy.reshape(len(noisy), -1).astype(np.float64) - den.mean) @ den.components
    items = (P @ scores @ den.components.T + den.mean).reshape(noisy.shape)
    want = wemd_embedding(items.astype(noisy.dtype), columns="all", negative="keep")
    got = fs.features if fs.columns is None else None
    if got is None:  # the resolved columns of the averaged items; the others are dropped
        full = np.zeros((len(noisy), fs.full_size), dtype=fs.features.dtype)
        full[:, fs.columns] = fs.features
        got = full
        kept = np.zeros(fs.full_size, bool)
        kept[fs.columns] = True
        assert np.abs(want[:, ~kept]).sum(axis=1).max() <= 1e-3 * np.abs(want).sum(axis=1).min()
        want = np.where(kept, want, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_undenoised_items_are_not_averaged(noisy):
    clean, _ = make_particles(450, size=24, snr=None, rng=3)
    for X, kw in ((clean, {}), (noisy, {"denoise": "off"})):
        dm = DiffusionMap(metric="wemd", metric_params=KEEP, random_state=0, **kw).fit(X)
        assert dm.denoise_rank_ is None
        assert dm.result_.graph["averaging_steps"] == 0
        assert "averaged" not in dm.graph_summary_
    # and a 2-D point cloud (never denoised) through the euclidean path
    pts = np.random.default_rng(0).standard_normal((500, 2))
    g, fs = cg.build_graph(pts, metric="euclidean")
    assert fs.denoiser is None and g.averaging_steps == 0


@pytest.mark.parametrize("steps", [0, 1])
def test_diffusion_map_reports_the_rule(noisy, monkeypatch, steps):
    monkeypatch.setattr(cg, "GRAPH_AVERAGING_STEPS", steps)
    dm = DiffusionMap(metric="wemd", metric_params=KEEP, random_state=0).fit(noisy)
    assert dm.denoise_rank_ is not None
    assert dm.result_.graph["averaging_steps"] == steps
    assert ("first graph's Markov operator" in dm.graph_summary_) == bool(steps)
