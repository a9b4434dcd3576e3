"""The two-pass graph of denoised items (conformap.averaging, GRAPH_AVERAGING_STEPS)."""

from __future__ import annotations

import numpy as np
import pytest

from conformap import DiffusionMap
from conformap import averaging as ca
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
    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", 1)
    graph, fs = cg.build_graph(noisy, metric="wemd", metric_params=KEEP, rng=0)
    assert fs.denoiser is not None and graph.averaging_steps == 1
    assert "averaged by 1 step(s)" in graph.summary()
    # the oracle: the one-pass graph, its Markov matrix by hand (dense), P @ scores, WEMD
    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", 0)
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
    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", steps)
    dm = DiffusionMap(metric="wemd", metric_params=KEEP, random_state=0).fit(noisy)
    assert dm.denoise_rank_ is not None
    assert dm.result_.graph["averaging_steps"] == steps
    assert ("first graph's Markov operator" in dm.graph_summary_) == bool(steps)


@pytest.mark.parametrize("method", ["auto", "knn"])
def test_cached_distances_are_those_of_the_in_memory_two_pass_graph(noisy, tmp_path,
                                                                     monkeypatch, method):
    """The on-disk cache averages as the in-memory builder does (same graph, same numbers),
    and a second run reuses every chunk of both passes."""
    from conformap.cache import cached_distances

    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", 1)
    ref = DiffusionMap(metric="wemd", metric_params=KEEP, method=method, random_state=0,
                       n_components=3).fit(noisy)
    assert ref.result_.graph["averaging_steps"] == 1
    stats: dict = {}
    dist = cached_distances(noisy, tmp_path, metric_params=KEEP, method=method, rng=0,
                            stats=stats)
    assert stats["averaging_steps"] == 1 and stats["denoiser"].rank == ref.denoise_rank_
    dm = DiffusionMap(metric="precomputed", n_components=3, random_state=0).fit(dist)
    np.testing.assert_allclose(dm.eigenvalues_, ref.eigenvalues_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dm.embedding_, ref.embedding_, rtol=1e-5, atol=1e-7)
    again: dict = {}
    cached_distances(noisy, tmp_path, metric_params=KEEP, method=method, rng=0, stats=again)
    assert again["wemd"]["computed"] == 0 and again["wemd"]["reused"] >= 2  # both passes
    # with averaging off the cache gives the one-pass distances (another graph)
    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", 0)
    one: dict = {}
    d1 = cached_distances(noisy, tmp_path, metric_params=KEEP, method=method, rng=0, stats=one)
    assert one["averaging_steps"] == 0
    assert not np.allclose(d1.toarray() if hasattr(d1, "toarray") else d1,
                           dist.toarray() if hasattr(dist, "toarray") else dist)


def test_cli_cache_embeds_as_the_in_memory_run(noisy, tmp_path, monkeypatch, capsys):
    from conformap.cli import main

    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", 1)
    np.save(tmp_path / "x.npy", noisy)
    base = ["embed", str(tmp_path / "x.npy"), "--negative", "keep", "--seed", "0"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    mem = capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b"), "--cache", str(tmp_path / "c")]) == 0
    cached = capsys.readouterr().err
    for err in (mem, cached):
        assert "averaged by 1 step(s) of the first graph's Markov operator" in err
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_allclose(a["embedding"], b["embedding"], rtol=1e-5, atol=1e-7)
