"""PCA denoising before the distances (conformap.denoise): oracles (scikit-learn PCA, numpy
SVD), the Marchenko-Pastur rank on low-rank + noise, chunked = one-shot, the "auto" rule,
transform consistency, validation, the CLI flag and the scheduler path."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformap import DiffusionMap
from conformap import averaging as ca
from conformap import denoise as dn
from conformap.denoise import apply_denoiser, denoise_items
from conformap.graph import prepare_features


def low_rank(n, p, rank, sigma=1.0, seed=0, spikes=None):
    r = np.random.default_rng(seed)
    basis = np.linalg.qr(r.standard_normal((p, rank)))[0]
    sd = np.asarray(spikes if spikes is not None else np.linspace(12, 6, rank)) * sigma
    signal = (r.standard_normal((n, rank)) * sd) @ basis.T + 3.0
    return signal + sigma * r.standard_normal((n, p)), signal, basis


def aligned(a, b):
    """b's columns with the sign of a's."""
    return b * np.sign(np.sum(a * b, axis=0))


def test_projection_equals_sklearn_pca():
    from sklearn.decomposition import PCA

    X, _, _ = low_rank(900, 120, 4, seed=1)
    m = dn.fit_denoiser(X, 6, chunk_rows=250)
    ref = PCA(6, svd_solver="full").fit(X)
    np.testing.assert_allclose(m.mean, ref.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.components, aligned(m.components, ref.components_.T),
                               atol=1e-8)
    # sklearn's explained_variance_ is the 1/(n-1) covariance; ours the 1/n (MP) one
    np.testing.assert_allclose(m.eigenvalues, ref.explained_variance_ * (899 / 900), rtol=1e-10)
    s = dn.project_block(m, X, 0, 900)
    np.testing.assert_allclose(s, aligned(s, ref.transform(X)), atol=1e-8)
    rec = dn.reconstruct_block(m, X, 0, 900)
    np.testing.assert_allclose(rec, ref.inverse_transform(ref.transform(X)), atol=1e-8)


def test_gram_path_with_more_values_than_items_equals_numpy_svd():
    X, _, _ = low_rank(60, 500, 3, seed=2)
    m = dn.fit_denoiser(X.reshape(60, 20, 25), 3)
    Xc = X - X.mean(axis=0)
    u, s, vt = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(m.components, aligned(m.components, vt[:3].T), atol=1e-8)
    np.testing.assert_allclose(m.eigenvalues, s[:3] ** 2 / 60, rtol=1e-10)
    assert m.item_shape == (20, 25)
    assert dn.reconstruct_block(m, X.reshape(60, 20, 25), 0, 5).shape == (5, 20, 25)


@pytest.mark.parametrize(("n", "p"), [(3000, 300), (200, 1500)])
def test_marchenko_pastur_rule_recovers_rank_and_noise(n, p):
    X, _, _ = low_rank(n, p, 5, sigma=0.7, seed=3, spikes=[20, 16, 12, 9, 7])
    m = dn.fit_denoiser(X)
    assert m.rank == 5
    assert abs(m.noise_variance / 0.49 - 1) < 0.05
    assert m.noise_fraction > 0.2 and m.edge > 0
    assert dn.denoise_applies("pca", m, n)


def test_marchenko_pastur_median_matches_monte_carlo():
    r = np.random.default_rng(4)
    for beta in (0.2, 0.5, 1.0):
        n = 800
        p = int(beta * n)
        ev = np.linalg.eigvalsh(np.cov(r.standard_normal((n, p)), rowvar=False, bias=True))
        assert abs(np.median(ev) / dn.marchenko_pastur_median(beta) - 1) < 0.05
    with pytest.raises(ValueError, match="beta"):
        dn.marchenko_pastur_median(0)


@settings(max_examples=25, deadline=None)
@given(st.integers(5, 80), st.integers(1, 9), st.integers(0, 2**16))
def test_chunked_moments_equal_the_one_shot_covariance(n, chunk, seed):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, 7)) * 3 + 100.0
    shift = X[:chunk].mean(axis=0)
    mean, cov = dn.combine_moments(
        [dn.moments_block(X, a, min(n, a + chunk), shift) for a in range(0, n, chunk)], shift)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(X, rowvar=False, bias=True), atol=1e-9)


def test_fit_is_independent_of_the_chunk_size():
    X, _, _ = low_rank(700, 150, 3, seed=5)
    a, b = dn.fit_denoiser(X, chunk_rows=64), dn.fit_denoiser(X, chunk_rows=700)
    assert a.rank == b.rank == 3
    np.testing.assert_allclose(a.components, b.components, atol=1e-9)
    assert a.noise_variance == pytest.approx(b.noise_variance, rel=1e-9)


def test_auto_rule_leaves_clean_small_and_low_dimensional_data_alone(monkeypatch):
    noisy, clean, _ = low_rank(600, 120, 4, sigma=1.0, seed=6)
    assert dn.fit_for(noisy, "auto") is not None
    assert dn.fit_for(clean, "auto") is None  # no noise bulk: f ~ 0
    assert dn.fit_for(noisy[:300], "auto") is None  # < DENOISE_MIN_ITEMS
    assert dn.fit_for(noisy[:, :50], "auto") is None  # < DENOISE_MIN_FEATURES values
    wide, _, _ = low_rank(450, 500, 4, sigma=1.0, seed=6)
    assert dn.fit_for(wide, "auto").rank == 4  # fewer items than values, p/n = 1.1
    wider, _, _ = low_rank(400, dn.DENOISE_MAX_RATIO * 400 + 1, 4, sigma=1.0, seed=6)
    assert dn.fit_for(wider, "auto") is None  # p > DENOISE_MAX_RATIO * n
    assert dn.fit_for(wider[:, :-1], "auto").rank == 4  # p = DENOISE_MAX_RATIO * n
    assert dn.fit_for(wider, "pca").rank == 4
    assert dn.fit_for(noisy, "off") is None
    assert dn.fit_for(noisy[:300], "pca").rank == 4
    assert dn.fit_for(clean, 2).rank == 2
    # above DECISION_ROWS "auto" decides on evenly spaced rows first, then fits all
    monkeypatch.setattr(dn, "DECISION_ROWS", 450)
    assert dn.fit_for(noisy, "auto").rank == 4
    assert dn.fit_for(clean, "auto") is None


def test_auto_denoises_fewer_images_than_pixels():
    # 700 noisy 32 x 32 images (p/n = 1.46) of a blob moving on a circle (the sets of
    # benchmarks/denoise_blobs.py, at ADAPTIVE_MIN_ITEMS items, where "auto" is the adaptive
    # kernel). The rule before (denoise only when n >= p) left them as they are: median angular
    # error 7.74-12.59 degrees against the true angles on seeds 0-3; DENOISE_MAX_RATIO projects
    # them (rank 10) and the error drops to 2.85-3.52.
    from benchmarks.denoise_blobs import blobs
    from conformap.evaluate import circle_recovery

    noisy, t = blobs(700, radius=7, noise=0.3, seed=1, size=32)
    auto = DiffusionMap(metric="euclidean", random_state=0).fit(noisy)
    off = DiffusionMap(metric="euclidean", denoise="off", random_state=0).fit(noisy)
    assert auto.denoise_rank_ is not None and off.denoise_rank_ is None
    assert circle_recovery(auto.embedding_, t).median_error < 4.5
    assert circle_recovery(off.embedding_, t).median_error > 6.0


def test_features_and_transform_apply_the_fitted_projection():
    r = np.random.default_rng(8)
    t = r.uniform(0, 2 * np.pi, 500)
    yy, xx = np.mgrid[:16, :16]
    imgs = np.exp(-((yy - 8 - 4 * np.sin(t)[:, None, None]) ** 2
                    + (xx - 8 - 4 * np.cos(t)[:, None, None]) ** 2) / 6.0) + 0.02
    noisy = imgs + 0.3 * r.standard_normal(imgs.shape)
    fs = prepare_features(noisy, "euclidean")
    assert fs.denoiser is not None and fs.features.shape == (500, fs.denoiser.rank)
    for metric in ("euclidean", "wemd"):
        kw = {"metric_params": {"negative": "keep"}} if metric == "wemd" else {}
        dm = DiffusionMap(metric=metric, method="knn", random_state=0, **kw).fit(noisy)
        assert dm.denoise_rank_ == dm.denoiser_.rank >= 2
        assert dm.noise_variance_ == pytest.approx(0.09, rel=0.1)
        assert "PCA denoising: rank" in dm.graph_summary_
        new = noisy[:20] + 0.3 * r.standard_normal((20, 16, 16))
        proj, _ = apply_denoiser(dm.denoiser_, new)
        # the projection is idempotent, so transform(new) == transform(its reconstruction)
        # exactly when transform applies it
        np.testing.assert_allclose(dm.transform(new), dm.transform(proj), atol=1e-9)
        off = DiffusionMap(metric=metric, method="knn", denoise="off", random_state=0,
                           **kw).fit(noisy)
        assert off.denoiser_ is None and off.denoise_rank_ is None
        assert not np.allclose(off.transform(new), off.transform(proj), atol=1e-6)


def test_denoise_items_reconstructs_in_blocks_in_the_input_dtype(monkeypatch):
    X, _, _ = low_rank(600, 144, 3, seed=9)
    X = X.astype(np.float32).reshape(600, 12, 12)
    monkeypatch.setattr(dn, "CHUNK_ROWS", 128)
    out, m = denoise_items(X, "pca")
    assert out.dtype == np.float32 and out.shape == X.shape
    np.testing.assert_array_equal(out[130:140], dn.reconstruct_block(m, X, 130, 140))


@pytest.mark.parametrize("bad", ["yes", 0, -2, 1.5, True, None])
def test_bad_denoise_is_named_with_the_fix(bad):
    with pytest.raises(ValueError, match=r"denoise: expected .*'off'"):
        DiffusionMap(metric="euclidean", denoise=bad).fit(np.random.default_rng(0).random((20, 3)))


def test_denoise_is_refused_for_emd_and_precomputed():
    x = np.random.default_rng(0).random((12, 8)) + 0.1
    with pytest.raises(ValueError, match="denoise: 'pca' is not available for metric='emd'"):
        DiffusionMap(metric="emd", denoise="pca").fit(x)
    with pytest.raises(ValueError, match="denoise='off'"):
        DiffusionMap(metric="precomputed", denoise=3).fit(np.abs(x[:, :1] - x[:, :1].T))


def test_cli_denoise_flag(tmp_path, capsys):
    from conformap.cli import main

    r = np.random.default_rng(10)
    x, _, _ = low_rank(450, 144, 3, sigma=0.05, seed=10, spikes=[2, 1.5, 1])
    np.save(tmp_path / "x.npy", (x.reshape(450, 12, 12) - x.min() + 0.1).astype(np.float32))
    assert main(["embed", str(tmp_path / "x.npy"), "--metric", "euclidean", "--out",
                 str(tmp_path / "a")]) == 0
    assert "PCA denoising: rank 3" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "x.npy"), "--metric", "euclidean", "--denoise", "off",
                 "--out", str(tmp_path / "b")]) == 0
    assert "PCA denoising" not in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["embed", str(tmp_path / "x.npy"), "--denoise", "often", "--out",
              str(tmp_path / "c")])
    assert exc.value.code == 2
    assert "--denoise" in capsys.readouterr().err and not list(tmp_path.glob("c*"))
    # the cache path denoises the same way and says so
    assert main(["embed", str(tmp_path / "x.npy"), "--metric", "euclidean", "--cache",
                 str(tmp_path / "cache"), "--out", str(tmp_path / "d")]) == 0
    assert "PCA denoising: rank 3" in capsys.readouterr().err
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "d.npz") as d:
        np.testing.assert_allclose(np.abs(a["embedding"]), np.abs(d["embedding"]), atol=1e-8)
    del r


def noisy_blobs(seed: int, n: int = 160, offset: float = 0.3) -> np.ndarray:
    """n noisy 16 x 16 images of a Gaussian blob at random positions (float32)."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:16, :16]
    c = r.uniform(4, 12, (n, 2))
    return (np.exp(-((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2) / 8.0)
            + offset + 0.1 * r.standard_normal((n, 16, 16))).astype(np.float32)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_scheduler_path_denoises_exactly_like_the_local_one(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    x = noisy_blobs(11)
    kw = {"n_components": 2, "metric_params": {"negative": "keep"}, "random_state": 2,
          "denoise": 4}
    # the out-of-core paths build the two-pass graph as the in-memory one does
    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", 1)
    ref = DiffusionMap(method="knn", **kw).fit(x)
    dm = DiffusionMap(scheduler="local:1", cache_dir=tmp_path, **kw).fit(x)
    assert dm.denoise_rank_ == ref.denoise_rank_ == 4
    np.testing.assert_array_equal(dm.embedding_, ref.embedding_)
    np.testing.assert_allclose(dm.transform(x[:5]), ref.transform(x[:5]), rtol=1e-6,
                               atol=1e-12)
    assert not list(tmp_path.glob("conformap-denoised-*"))  # the temporary file is removed


@pytest.mark.parametrize("steps", [0, 1])
def test_store_path_denoises_into_a_cache_dir_not_yet_made(tmp_path, monkeypatch, steps):
    """embed --cache NEW (WEMD, kNN): the in-process store path makes the directory; its
    graph (one pass or two, conformap.averaging) is the in-memory one."""
    x = noisy_blobs(12)
    kw = {"n_components": 2, "metric_params": {"negative": "keep"}, "random_state": 2,
          "denoise": 4, "method": "knn"}
    monkeypatch.setattr(ca, "GRAPH_AVERAGING_STEPS", steps)
    ref = DiffusionMap(**kw).fit(x)
    dm = DiffusionMap(cache_dir=tmp_path / "new" / "cache", **kw).fit(x)
    assert dm.denoise_rank_ == 4
    assert dm.result_.graph["averaging_steps"] == ref.result_.graph["averaging_steps"] == steps
    assert dm.graph_summary_ == ref.graph_summary_
    np.testing.assert_allclose(dm.embedding_, ref.embedding_, rtol=1e-9, atol=1e-12)
    assert not list((tmp_path / "new" / "cache").glob("conformap-denoised-*"))


@pytest.mark.parametrize("columns", ["resolved", "support", "all"])
def test_wemd_of_denoised_in_blocks_equals_wemd_of_all_reconstructions(monkeypatch, columns):
    from conformap import wemd_embedding

    x = noisy_blobs(12, 300, offset=0.2)
    m = dn.fit_denoiser(x, 5)
    monkeypatch.setattr(dn, "CHUNK_ROWS", 70)
    feats, cols, full = dn.wemd_of_denoised(m, x, {"negative": "keep", "columns": columns})
    rec, _ = apply_denoiser(m, x)
    ref, ref_cols = wemd_embedding(rec, negative="keep", columns=columns, return_columns=True)
    np.testing.assert_array_equal(feats, ref)
    np.testing.assert_array_equal(np.arange(full) if cols is None else cols, ref_cols)


@pytest.mark.parametrize("path", ["memory", "store"])
def test_negative_voxels_are_counted_on_the_users_items_not_the_reconstructions(
        tmp_path, monkeypatch, path):
    """The warning describes the input stack (a reconstruction is signed by construction)."""
    from conformap import _validation as v
    from conformap._validation import NegativeDensityWarning

    monkeypatch.setattr(v, "_SHOWN", set())  # as tests/test_messages.py does
    monkeypatch.setattr(dn, "CHUNK_ROWS", 70)  # several blocks: the first one is not the stack
    x = noisy_blobs(13, 300, offset=0.2)
    n_neg = int((x.reshape(len(x), -1).min(axis=1) < 0).sum())
    assert 0 < n_neg < len(x)
    kw = {"cache_dir": tmp_path} if path == "store" else {}
    with pytest.warns(NegativeDensityWarning) as rec:
        DiffusionMap(method="knn", denoise=5, n_components=2, random_state=0, **kw).fit(x)
    got = [w.message for w in rec if isinstance(w.message, NegativeDensityWarning)]
    assert [(w.n_negative, w.n_items) for w in got] == [(n_neg, len(x))]
    with pytest.raises(ValueError, match=r"densities: item \d+ has negative"):
        DiffusionMap(method="knn", denoise=5, metric_params={"negative": "error"},
                     **kw).fit(x)
