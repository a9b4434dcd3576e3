"""On-disk cache: identical numbers, reuse, resume after interruption, corrupt files, --cache."""

from __future__ import annotations

import numpy as np
import pytest

import conformap._kernels
import conformap.cache as cache_mod
import conformap.wemd
from conformap import kneighbors_distances, pairwise_distances, wemd_embedding
from conformap.cache import DiskCache, array_digest, cached_wemd_embedding
from conformap.cli import main
from conformap.io import write_mrc


class Interrupted(Exception):
    """Stands in for Ctrl-C / a killed job (pytest reserves KeyboardInterrupt for itself)."""


def densities(n=12, shape=(12, 10), seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(n, *shape)).astype(dtype)


@pytest.fixture
def small_chunks(monkeypatch):
    # Force several chunks / blocks on tiny data.
    monkeypatch.setattr(cache_mod, "_CHUNK_BYTES", 4096)
    monkeypatch.setattr(cache_mod, "_KNN_BLOCK", 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cached_equals_direct_and_is_reused(tmp_path, small_chunks, dtype):
    x = densities(dtype=dtype)
    c = DiskCache(tmp_path)
    e = c.wemd_embedding(x, wavelet="db2")
    np.testing.assert_array_equal(e, wemd_embedding(x, wavelet="db2"))
    assert e.dtype == dtype
    assert c.stats["wemd"]["computed"] > 1
    assert c.stats["wemd"]["reused"] == 0
    again = DiskCache(tmp_path)
    np.testing.assert_array_equal(again.wemd_embedding(x, wavelet="db2"), e)
    assert again.stats["wemd"] == {"reused": 1, "computed": 0}
    mm = again.wemd_embedding(x, wavelet="db2", mmap=True)
    assert isinstance(mm, np.memmap)
    assert not mm.flags.writeable
    np.testing.assert_array_equal(mm, e)


def test_distances_equal_direct(tmp_path, small_chunks):
    e = wemd_embedding(densities(n=40))
    c = DiskCache(tmp_path)
    for metric in ("l1", "l2"):
        d = c.pairwise_distances(e, metric=metric)
        np.testing.assert_allclose(d, pairwise_distances(e, metric=metric), rtol=1e-12, atol=0)
        assert (d == d.T).all()
        assert (np.diag(d) == 0).all()
    g = c.kneighbors_distances(e, 4)
    g0 = kneighbors_distances(e, 4)
    np.testing.assert_array_equal(g.indices, g0.indices)
    np.testing.assert_allclose(g.toarray(), g0.toarray(), rtol=1e-12)
    assert c.stats["knn"]["computed"] == 8  # 40 rows in blocks of 5
    g2 = DiskCache(tmp_path).kneighbors_distances(e, 4)
    assert (g2 != g).nnz == 0


def test_keys_follow_contents_and_parameters(tmp_path):
    x = densities()
    c = DiskCache(tmp_path)
    k = c.wemd_key(x)
    assert c.wemd_key(x.copy()) == k
    assert c.wemd_key(x, level=None, wavelet="coif3") == k  # defaults resolved
    assert c.wemd_key(x, wavelet="db2") != k
    assert c.wemd_key(x, level=2) != k
    y = x.copy()
    y[3, 2, 1] += 1e-3
    assert c.wemd_key(y) != k
    assert array_digest(x) != array_digest(x.astype(np.float64))
    assert array_digest(x) != array_digest(x.reshape(12, 120))
    with pytest.raises(TypeError, match="unexpected"):
        c.wemd_key(x, wavlet="db2")


def test_interrupted_wemd_resumes_where_it_stopped(tmp_path, small_chunks, monkeypatch):
    x = densities(n=20)
    real = conformap.wemd.wemd_embedding
    calls, fail = [], True

    def flaky(chunk, **kw):
        calls.append(len(chunk))
        if len(calls) == 4 and fail:
            raise Interrupted
        return real(chunk, **kw)

    monkeypatch.setattr(conformap.wemd, "wemd_embedding", flaky)
    with pytest.raises(Interrupted):
        cached_wemd_embedding(x, tmp_path)
    n_chunks_done = 3
    rows_done = sum(calls[:n_chunks_done])
    (entry,) = DiskCache(tmp_path).entries()
    assert len(list(entry.glob("part-*.npy"))) == n_chunks_done
    assert not (entry / "result.npy").exists()
    assert not list(entry.glob("*.part*"))  # no half-written file
    calls.clear()
    fail = False
    c = DiskCache(tmp_path)
    e = c.wemd_embedding(x)
    assert sum(calls) == len(x) - rows_done  # only the missing rows were transformed
    assert c.stats["wemd"]["reused"] == n_chunks_done
    np.testing.assert_array_equal(e, real(x))
    assert not list(entry.glob("part-*"))  # chunks folded into result.npy


def test_interrupted_distances_resume(tmp_path, monkeypatch):
    e = wemd_embedding(densities(n=70))
    real = conformap._kernels.pairwise_block
    calls, fail = [], True

    def flaky(X, Y, *, squared):
        calls.append(X.shape[0])
        if len(calls) == 2 and fail:
            raise Interrupted
        return real(X, Y, squared=squared)

    monkeypatch.setattr(conformap._kernels, "pairwise_block", flaky)
    with pytest.raises(Interrupted):
        DiskCache(tmp_path).pairwise_distances(e)
    calls.clear()
    fail = False
    c = DiskCache(tmp_path)
    d = c.pairwise_distances(e)
    assert c.stats["pairwise"]["reused"] == 1
    assert c.stats["pairwise"]["computed"] == len(calls)
    np.testing.assert_allclose(d, pairwise_distances(e), rtol=1e-12)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape"])
def test_corrupt_cache_files_are_recomputed(tmp_path, damage, caplog):
    x = densities()
    c = DiskCache(tmp_path)
    e = c.wemd_embedding(x)
    (entry,) = c.entries()
    result = entry / "result.npy"
    if damage == "truncate":
        result.write_bytes(result.read_bytes()[:200])
    elif damage == "garbage":
        result.write_bytes(b"not an npy file")
    else:
        np.save(result, np.zeros((3, 3), dtype=e.dtype))
    c2 = DiskCache(tmp_path)
    np.testing.assert_array_equal(c2.wemd_embedding(x), e)
    assert c2.stats["wemd"]["computed"] >= 1
    assert "recomputing" in caplog.text


def test_cache_dir_must_be_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        DiskCache(f)


def test_clear_removes_only_cache_entries(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    c = DiskCache(tmp_path)
    c.wemd_embedding(densities(n=3))
    assert len(c.entries()) == 1
    c.clear()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.fixture
def map_dir(tmp_path):
    d = tmp_path / "maps"
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:16, :16]
    for i, t in enumerate(np.linspace(0, 2 * np.pi, 24, endpoint=False)):
        cy, cx = 8 + 4 * np.sin(t), 8 + 4 * np.cos(t)
        m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 4.0) + 0.01 * rng.random((16, 16))
        write_mrc(d / f"m{i:02d}.mrc", m.astype(np.float32))
    return d


@pytest.mark.parametrize("method", ["dense", "knn"])
def test_cli_cache_gives_identical_outputs_and_reuses(map_dir, tmp_path, capsys, method):
    base = ["embed", str(map_dir), "--method", method, "--n-neighbors", "6", "--seed", "3"]
    assert main([*base, "--out", str(tmp_path / "plain"), "--quiet"]) == 0
    assert main([*base, "--out", str(tmp_path / "c1"), "--cache", str(tmp_path / "cc")]) == 0
    err = capsys.readouterr().err
    assert "plan:" in err
    # dense: the cached all-pairs distances; knn: the out-of-core store, streamed input
    assert ("0 chunk(s) reused" if method == "dense" else "0 reused") in err
    assert main([*base, "--out", str(tmp_path / "c2"), "--cache", str(tmp_path / "cc")]) == 0
    err = capsys.readouterr().err
    assert ("wemd: 1 chunk(s) reused, 0 computed" if method == "dense"
            else "0 transform chunk(s) computed, 1 reused") in err
    if method == "knn":
        assert "dropped kernel mass" in err  # measured from the store
    with np.load(tmp_path / "plain.npz") as a, np.load(tmp_path / "c1.npz") as b, \
            np.load(tmp_path / "c2.npz") as c:
        np.testing.assert_allclose(b["embedding"], a["embedding"], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(c["embedding"], b["embedding"])
        assert str(b["metric"]) == "wemd"
        assert b["bandwidth"] == a["bandwidth"]
        np.testing.assert_array_equal(b["names"], a["names"])
    assert not list(tmp_path.glob("**/*.part*"))


def test_cli_same_seed_same_numbers(map_dir, tmp_path):
    for out in ("r1", "r2"):
        assert main(["embed", str(map_dir), "--method", "knn", "--n-neighbors", "6", "--quiet",
                     "--out", str(tmp_path / out)]) == 0
    with np.load(tmp_path / "r1.npz") as a, np.load(tmp_path / "r2.npz") as b:
        for key in ("embedding", "eigenvalues", "bandwidth"):
            np.testing.assert_array_equal(a[key], b[key])


def test_cli_cache_refuses_exact_emd(map_dir, tmp_path, capsys):
    rc = main(["embed", str(map_dir), "--metric", "emd", "--cache", str(tmp_path / "cc"),
               "--out", str(tmp_path / "e"), "--quiet"])
    assert rc == 2
    assert "--cache" in capsys.readouterr().err
    assert not list(tmp_path.glob("e.*"))


def test_cli_cache_euclidean_and_bandwidth_hint(map_dir, tmp_path, capsys):
    base = ["embed", str(map_dir), "--metric", "euclidean", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "p")]) == 0
    assert main([*base, "--out", str(tmp_path / "c"), "--cache", str(tmp_path / "cc")]) == 0
    with np.load(tmp_path / "p.npz") as a, np.load(tmp_path / "c.npz") as b:
        np.testing.assert_allclose(b["embedding"], a["embedding"], rtol=1e-9, atol=1e-12)
        assert str(b["metric"]) == "euclidean"
    capsys.readouterr()
    rc = main([*base, "--out", str(tmp_path / "bad"), "--cache", str(tmp_path / "cc"),
               "--bandwidth", "1e-6"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "use a larger bandwidth" in err
    assert "re-run with other --bandwidth" in err
    assert not list(tmp_path.glob("bad.*"))


@pytest.mark.parametrize(("metric", "method"), [("wemd", "dense"), ("wemd", "knn"),
                                                ("euclidean", "dense")])
def test_cached_distances_give_the_estimators_embedding(tmp_path, metric, method):
    from conformap import DiffusionMap
    from conformap.cache import cached_distances

    yy, xx = np.mgrid[:16, :16]
    x = np.stack([np.exp(-((yy - 8 - 4 * np.sin(t)) ** 2 + (xx - 8 - 4 * np.cos(t)) ** 2) / 4)
                  for t in np.linspace(0, 2 * np.pi, 30, endpoint=False)])
    params = {"negative": "keep"} if metric == "wemd" else None
    ref = DiffusionMap(2, metric=metric, method=method, n_neighbors=8, metric_params=params,
                       random_state=0).fit(x)
    stats: dict = {}
    dist = cached_distances(x, tmp_path, metric=metric, method=method, n_neighbors=8,
                            metric_params=params, stats=stats)
    got = DiffusionMap(2, metric="precomputed", random_state=0).fit(dist)
    np.testing.assert_allclose(got.embedding_, ref.embedding_, rtol=1e-7, atol=1e-10)
    assert got.bandwidth_ == ref.bandwidth_
    assert all(s["computed"] > 0 for s in stats.values())
    with pytest.raises(ValueError, match="metric_params: metric='euclidean' takes no parameters"):
        cached_distances(x, tmp_path, metric="euclidean", metric_params={"level": 2})


def test_cached_knn_bridges_clusters_like_the_estimator(tmp_path):
    from conformap import DiffusionMap
    from conformap.cache import cached_distances

    # Three tight clusters of 12 on a circle plus a few items between them: a 5-NN graph falls
    # apart into pieces, which both paths must bridge the same way.
    rng = np.random.default_rng(0)
    t = np.concatenate([c + rng.normal(0, 0.02, 12) for c in (0.0, 2.1, 4.2)] + [[1.0, 3.1, 5.2]])
    yy, xx = np.mgrid[:16, :16]
    x = np.stack([np.exp(-((yy - 8 - 5 * np.sin(a)) ** 2 + (xx - 8 - 5 * np.cos(a)) ** 2) / 3)
                  for a in t])
    import scipy.sparse.csgraph

    raw = kneighbors_distances(wemd_embedding(x, negative="keep"), 5)
    assert scipy.sparse.csgraph.connected_components(raw, directed=False)[0] > 1
    ref = DiffusionMap(2, metric="wemd", method="knn", n_neighbors=5,
                       metric_params={"negative": "keep"}, random_state=0).fit(x)
    dist = cached_distances(x, tmp_path, method="knn", n_neighbors=5,
                            metric_params={"negative": "keep"})
    got = DiffusionMap(2, metric="precomputed", random_state=0).fit(dist)
    np.testing.assert_allclose(got.embedding_, ref.embedding_, rtol=1e-7, atol=1e-10)


def _flip_a_byte(path, offset=-5):
    """Same size, different bytes: the damage only a checksum can see."""
    b = bytearray(path.read_bytes())
    b[offset] ^= 0x40
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("stage", ["wemd", "pairwise", "knn"])
def test_corrupted_bytes_of_the_right_size_are_discarded(tmp_path, stage, caplog):
    x = densities(n=30)
    c = DiskCache(tmp_path)
    e = wemd_embedding(x)
    if stage == "wemd":
        want, again = c.wemd_embedding(x), lambda c: c.wemd_embedding(x)
        name = "result.npy"
    elif stage == "pairwise":
        want, again = c.pairwise_distances(e), lambda c: c.pairwise_distances(e)
        name = "result.npy"
    else:
        want = c.kneighbors_distances(e, 5).toarray()
        again = lambda c: c.kneighbors_distances(e, 5).toarray()  # noqa: E731
        name = "result.npz"
    (entry,) = [p for p in c.entries() if p.name.startswith(stage)]
    result = entry / name
    assert (entry / (name + ".blake2b")).is_file()
    size = result.stat().st_size
    _flip_a_byte(result)
    assert result.stat().st_size == size
    c2 = DiskCache(tmp_path)
    got = again(c2)
    np.testing.assert_array_equal(got, want)
    assert c2.stats[stage]["computed"] >= 1 and c2.stats[stage]["reused"] == 0
    assert "does not match its checksum" in caplog.text
    # the recomputed entry is sealed again and reused next time, silently
    caplog.clear()
    c3 = DiskCache(tmp_path)
    np.testing.assert_array_equal(again(c3), want)
    assert c3.stats[stage] == {"reused": 1, "computed": 0}
    assert "checksum" not in caplog.text


def test_corrupted_chunk_of_an_interrupted_run_is_recomputed(tmp_path, small_chunks,
                                                             monkeypatch, caplog):
    x = densities(n=20)
    real = conformap.wemd.wemd_embedding
    calls = []

    def flaky(chunk, **kw):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise Interrupted
        return real(chunk, **kw)

    monkeypatch.setattr(conformap.wemd, "wemd_embedding", flaky)
    with pytest.raises(Interrupted):
        cached_wemd_embedding(x, tmp_path)
    monkeypatch.setattr(conformap.wemd, "wemd_embedding", real)
    (entry,) = DiskCache(tmp_path).entries()
    first = sorted(entry.glob("part-*.npy"))[0]
    _flip_a_byte(first, offset=-1)
    c = DiskCache(tmp_path)
    np.testing.assert_array_equal(c.wemd_embedding(x), real(x))
    assert c.stats["wemd"]["reused"] == 1  # the intact chunk only
    assert str(first) in caplog.text and "checksum" in caplog.text


def test_entry_without_checksum_is_not_trusted(tmp_path, caplog):
    x = densities()
    c = DiskCache(tmp_path)
    want = c.wemd_embedding(x)
    (entry,) = c.entries()
    (entry / "result.npy.blake2b").unlink()
    c2 = DiskCache(tmp_path)
    np.testing.assert_array_equal(c2.wemd_embedding(x), want)
    assert c2.stats["wemd"]["computed"] >= 1 and "no checksum" in caplog.text
