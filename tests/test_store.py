"""Coefficient store: same numbers as in memory, resume after SIGKILL, cache keying, kNN by blocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

from conformap import engine, neighbors, wemd_embedding
from conformap.cache import DiskCache
from conformap.neighbors import nearest_neighbors
from conformap.store import CoefficientStore, open_wemd_store, plan_chunk_rows, transform_chunk


def blobs(n, size=20, seed=0):
    """Noisy Gaussian blobs at random positions (positive densities)."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = r.uniform(5, size - 5, (n, 2))
    x = np.exp(-((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2) / 8.0)
    return (x + 0.05 * r.random((n, size, size))).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return blobs(300)


def test_store_equals_in_memory_transform(data, tmp_path):
    s = open_wemd_store(data, tmp_path, memory=200_000)
    assert s.n_chunks > 4 and not s.complete
    st = {}
    engine.wemd_embedding_to_store(data, s, stats=st)
    assert st == {"chunks_reused": 0, "chunks_computed": s.n_chunks}
    assert s.complete and s.verify() == []
    np.testing.assert_array_equal(s.to_numpy(), wemd_embedding(data, columns="all"))
    # the resolved selection from the per-chunk statistics is the in-memory one, bit for bit
    res, cols = wemd_embedding(data, columns="resolved", return_columns=True)
    np.testing.assert_array_equal(s.columns("resolved"), cols)
    np.testing.assert_array_equal(s.to_numpy(cols), res)
    sup, scols = wemd_embedding(data, columns="support", return_columns=True)
    np.testing.assert_array_equal(s.columns("support"), scols)
    # a second run reuses everything
    engine.wemd_embedding_to_store(data, CoefficientStore(s.path), stats=st)
    assert st == {"chunks_reused": s.n_chunks, "chunks_computed": 0}


def test_store_lives_in_the_cache_entry_of_the_same_key(data, tmp_path):
    s = open_wemd_store(data, tmp_path, wavelet="db2", level=3)
    key = DiskCache(tmp_path).wemd_key(data, wavelet="db2", level=3)
    assert s.key == key
    assert s.path == tmp_path / f"wemd-{key}" / "coefficients.zarr"
    assert DiskCache(tmp_path).entries() == [tmp_path / f"wemd-{key}"]
    # other parameters, other key; the in-memory cache's coefficients are the store's
    assert open_wemd_store(data, tmp_path, wavelet="db2", level=4).key != key
    engine.wemd_embedding_to_store(data, s)
    cached = DiskCache(tmp_path).wemd_embedding(data, wavelet="db2", level=3)
    np.testing.assert_array_equal(s.to_numpy(), cached)
    DiskCache(tmp_path).clear()
    assert not s.path.exists()


def test_errors_name_the_problem(data, tmp_path):
    s = open_wemd_store(data, tmp_path, cache=False, memory=200_000)
    with pytest.raises(ValueError, match="not written yet"):
        s.read_rows(0, 5)
    with pytest.raises(ValueError, match="chunk"):
        engine.kneighbors(s, 5)
    with pytest.raises(ValueError, match="holds other coefficients"):
        CoefficientStore.create(s.path, n=5, n_features=s.n_features, dtype=s.dtype,
                                item_shape=s.item_shape, params=s.params, key=s.key,
                                chunk_rows=2)
    with pytest.raises(ValueError, match="does not match"):
        engine.wemd_embedding_to_store(data[:10], s)
    with pytest.raises(ValueError, match="not a coefficient store"):
        CoefficientStore(tmp_path / "nothing")
    with pytest.raises(ValueError, match="memory"):
        plan_chunk_rows(100, 100, 4, 0)


def test_corrupt_marker_or_chunk_is_recomputed(data, tmp_path):
    s = open_wemd_store(data, tmp_path, memory=200_000)
    engine.wemd_embedding_to_store(data, s)
    ref = s.to_numpy()
    (s.path / "done" / "chunk-000002.npz").write_bytes(b"garbage")
    assert s.missing_chunks() == [2]
    # overwrite chunk 3's rows behind the store's back: verify() finds it, forget() redoes it
    i0, i1 = s.chunk_bounds(3)
    s._zarr("r+")[i0:i1, :] = 0
    assert s.verify.__doc__ and s.missing_chunks() == [2]
    st = {}
    engine.wemd_embedding_to_store(data, s, stats=st)
    assert st["chunks_computed"] == 1
    assert s.verify() == [3]
    s.forget([3])
    engine.wemd_embedding_to_store(data, s)
    np.testing.assert_array_equal(s.to_numpy(), ref)


_KILLED_RUN = textwrap.dedent("""
    import sys, time
    import numpy as np
    from conformap import engine
    from conformap.store import open_wemd_store

    class Slow:
        # an input that takes a while per chunk, so that the run can be killed in the middle
        def __init__(self, a): self.a, self.shape, self.dtype = a, a.shape, a.dtype
        def __array__(self, dtype=None, copy=None): return self.a
        def __getitem__(self, s):
            time.sleep(0.05)
            return self.a[s]

    x = np.random.default_rng(0).random((240, 16, 16)).astype(np.float32)
    engine.wemd_embedding_to_store(Slow(x), open_wemd_store(Slow(x), sys.argv[1], memory=60_000))
""")


def test_sigkill_mid_transform_resumes_with_identical_bytes(tmp_path):
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(killed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(killed.glob("wemd-*/coefficients.zarr/done/chunk-*.npz"))) >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    written = len(list(killed.glob("wemd-*/coefficients.zarr/done/chunk-*.npz")))
    # the killed run's input, resumed here
    x = np.random.default_rng(0).random((240, 16, 16)).astype(np.float32)
    a = open_wemd_store(x, killed, memory=60_000)
    assert 3 <= written < a.n_chunks and len(a.missing_chunks()) == a.n_chunks - written
    st = {}
    engine.wemd_embedding_to_store(x, a, stats=st)
    assert st == {"chunks_reused": written, "chunks_computed": a.n_chunks - written}
    b = engine.wemd_embedding_to_store(x, open_wemd_store(x, fresh, memory=60_000))
    assert a.key == b.key and a.digests() == b.digests() and a.verify() == []
    assert not [p for p in a.path.rglob("*") if ".part" in p.name]  # no temporaries left
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    np.testing.assert_array_equal(a.to_numpy(), wemd_embedding(x, columns="all"))


@pytest.fixture(scope="module")
def full_store(data, tmp_path_factory):
    s = open_wemd_store(data, tmp_path_factory.mktemp("store"), memory=400_000)
    return engine.wemd_embedding_to_store(data, s)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_kneighbors_on_store_is_the_exact_search(full_store, metric, monkeypatch):
    cols = full_store.columns("resolved")
    feats = full_store.to_numpy(cols)
    # several column blocks, as at large n: blocks of 64 rows on both sides
    monkeypatch.setattr(neighbors, "COL_BLOCK", 64)
    st = {}
    idx, dist = engine.kneighbors(full_store, 7, metric=metric, resume=False, stats=st)
    assert st["n_col_blocks"] == 5 and st["same_blocks_as_local"]
    ref_i, ref_d = nearest_neighbors(feats, 7, metric=metric, method="exact")
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_array_equal(dist, ref_d)
    # and the same as the array path of the engine
    i2, d2 = engine.kneighbors(feats, 7, metric=metric)
    np.testing.assert_array_equal(i2, idx)
    np.testing.assert_array_equal(d2, dist)
    g = engine.kneighbors_graph(feats, 7, metric=metric)
    np.testing.assert_array_equal(g.indices.reshape(-1, 7), idx)


def test_kneighbors_independent_oracle_and_small_memory(full_store):
    from sklearn.neighbors import NearestNeighbors

    feats = full_store.to_numpy(full_store.columns("resolved")).astype(np.float64)
    d_ref, i_ref = NearestNeighbors(n_neighbors=6, metric="manhattan").fit(feats).kneighbors()
    st = {}
    # a memory setting too small for the default column block: smaller blocks, same graph
    per_row = feats.shape[1] * full_store.dtype.itemsize
    idx, dist = engine.kneighbors(full_store, 6, memory=(256 + 128) * per_row + 3 * 256 * 128 * 8,
                                  resume=False, stats=st)
    assert st["col_block"] < 300 and st["n_tasks"] > 1
    np.testing.assert_array_equal(idx, i_ref)
    np.testing.assert_allclose(dist, d_ref, rtol=1e-6)


def test_kneighbors_resumes_from_saved_panels(full_store, monkeypatch):
    monkeypatch.setattr(neighbors, "COL_BLOCK", 64)
    st = {}
    ref = engine.kneighbors(full_store, 5, memory=5 * 2**20, stats=st)
    assert st["n_panels"] == 2 and st["panels_reused"] == 0
    panels = sorted(full_store.path.glob("knn/*/panel-*.npz"))
    assert len(panels) == st["n_panels"]
    panels[0].unlink()
    again = engine.kneighbors(full_store, 5, memory=5 * 2**20, stats=st)
    assert st["panels_reused"] == st["n_panels"] - 1
    assert st["tasks_run"] == st["n_col_blocks"]
    for a, b in zip(again, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_search_memory_is_bounded_by_the_setting_not_by_n(tmp_path):
    """Python-side peak (tracemalloc sees numpy's buffers) of the store search: flat in n apart
    from the (n, k) output, and within twice the plan's task bytes (read buffers included)."""
    peaks, tasks, memory, k = {}, {}, 6 * 2**20, 5
    for n in (400, 1600):
        x = blobs(n, size=16, seed=n)
        s = engine.wemd_embedding_to_store(x, open_wemd_store(x, tmp_path / str(n),
                                                              memory=500_000))
        if n == 400:
            engine.kneighbors(s, k, memory=memory, resume=False)  # load the kernels once
        tracemalloc.start()
        st = {}
        engine.kneighbors(s, k, memory=memory, resume=False, stats=st)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        peaks[n] = peak - n * k * 16  # less the output (indices and distances)
        assert peaks[n] < 2 * st["task_bytes"], (n, peak, st)
        tasks[n] = st["task_bytes"]
    # the plan's bound does not grow with n (both sets need 200-row column blocks)
    assert abs(tasks[1600] - tasks[400]) < 0.01 * tasks[400], tasks
    # the features alone of the larger set would be more than the whole peak
    assert 1600 * s.n_features * 4 > peaks[1600] + 1600 * k * 16


def test_transform_chunk_is_idempotent(data, tmp_path):
    s = open_wemd_store(data, tmp_path, memory=200_000)
    i0, i1 = s.chunk_bounds(1)
    a = transform_chunk(s.path, 1, data[i0:i1])
    b = transform_chunk(s.path, 1, data[i0:i1])
    assert a == b and s.done_chunks() == [1]
    assert os.path.exists(s.path / "done" / "chunk-000001.npz")


def test_knn_graph_is_the_in_memory_knn_graph_with_bridged_pieces(tmp_path):
    """Two far-apart groups (so the 4-NN graph falls apart): the store path bridges them as
    distances.connect_components does, and the diffusion map on it is the in-memory one."""
    from conformap import DiffusionMap, diffusion_map
    from conformap.distances import connect_components, kneighbors_distances

    r = np.random.default_rng(3)
    yy, xx = np.mgrid[:20, :20]
    c = np.r_[np.full((60, 2), 6.0), np.full((50, 2), 14.0)] + 0.3 * r.standard_normal((110, 2))
    x = np.exp(-((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2) / 8.0)
    x = (x + 0.01 * r.random(x.shape)).astype(np.float32)
    st = {}
    g = engine.knn_graph(x, 4, cache_dir=tmp_path, stats=st)
    assert st["transform"]["chunks_computed"] >= 1 and st["search"]["n_tasks"] >= 1
    feats, cols = wemd_embedding(x, columns="resolved", return_columns=True)
    knn = kneighbors_distances(feats, 4, metric="l1")
    from scipy.sparse.csgraph import connected_components

    assert connected_components(knn, directed=False)[0] >= 2
    ref = connect_components(feats, knn, metric="l1")
    assert (g != ref).nnz == 0
    np.testing.assert_array_equal(g.toarray(), ref.toarray())
    dm = DiffusionMap(metric="wemd", method="knn", n_neighbors=4, random_state=0,
                      metric_params={"negative": "keep"}).fit(x)
    res = diffusion_map(g, n_components=2, rng=0)
    np.testing.assert_array_equal(res.embedding, dm.embedding_)
    # the second call reuses the store and the search panels in the cache
    g2 = engine.knn_graph(x, 4, cache_dir=tmp_path, stats=st)
    assert st["transform"]["chunks_computed"] == 0 and st["search"]["tasks_run"] == 0
    assert (g2 != g).nnz == 0


def test_leftover_temporaries_of_interrupted_writes_are_removed(data, tmp_path):
    import os

    s = open_wemd_store(data, tmp_path, memory=150_000)
    engine.wemd_embedding_to_store(data, s)
    chunk = next(p for p in (s.path / "coefficients.zarr").rglob("*") if p.is_file()
                 and p.parent.name == "0")
    leftovers = [chunk.with_name(chunk.name + ".0123456789abcdef0123456789abcdef.partial"),
                 s.path / "done" / ".chunk-000001.npz.0badc0de.part.npz",
                 s.path / "knn" / "x" / ".panel-000000000-000000256.npz.deadbeef.part.npz"]
    keep = s.path / "done" / "notes.partial.txt"  # not a temporary name: kept
    for p in [*leftovers, keep]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half")
    s.forget([1])  # a chunk to redo: the run cleans up
    st = {}
    engine.wemd_embedding_to_store(data, s, stats=st)
    assert st["chunks_computed"] == 1
    assert not leftovers[0].exists() and not leftovers[1].exists() and keep.exists()
    assert leftovers[2].exists()  # another search's directory: its own run cleans it
    # by age: a recent temporary may belong to a live writer, an old one is a leftover
    assert s.remove_partials(before=1.0) == 0
    os.utime(leftovers[2], (0, 0))
    assert s.remove_partials(before=1.0) == 1 and not leftovers[2].exists()
    np.testing.assert_array_equal(s.to_numpy(), wemd_embedding(data, columns="all"))
