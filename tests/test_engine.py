"""Dask engine on a real scheduler with two worker processes on loopback (started and stopped
here): same bytes as the in-process run, a worker killed mid-run changes nothing, resume,
scheduler specs and a clear error for an unreachable scheduler."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import numpy as np
import pytest

from conformap import distributed as dist
from conformap import engine, engine_approx, neighbors, wemd_embedding
from conformap.neighbors import nearest_neighbors, recall
from conformap.store import open_wemd_store, transform_chunk

pytest.importorskip("distributed")

pytestmark = [
    # the scheduler and nannies close their sockets asynchronously at shutdown
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def blobs(n, size=24, seed=0):
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = r.uniform(5, size - 5, (n, 2))
    x = np.exp(-((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2) / 10.0)
    return (x + 0.05 * r.random((n, size, size))).astype(np.float32)


@pytest.fixture(scope="module")
def client():
    """A scheduler and two one-thread worker processes on 127.0.0.1, stopped at the end."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", silence_logs=50) as cluster, \
            Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        dist.warm_up(c)
        yield c


@pytest.fixture(scope="module")
def data():
    return blobs(600)


def _kill_one_worker_when_busy(client, stop, killed, min_done=0, done_dir=None):
    """Thread body: SIGKILL a worker process while it is running a task."""
    pids = client.run(os.getpid)
    while not stop.is_set():
        busy = {w: keys for w, keys in client.processing().items() if keys}
        ready = done_dir is None or len(list(done_dir.glob("chunk-*.npz"))) >= min_done
        if busy and ready:
            w = sorted(busy)[0]
            if w in pids:
                os.kill(pids[w], signal.SIGKILL)
                killed.append(pids[w])
                return
        time.sleep(0.005)


def test_transform_on_dask_is_bitwise_the_local_one_with_a_worker_killed(client, data,
                                                                          tmp_path):
    data = data[:320]
    local = engine.wemd_embedding_to_store(
        data, open_wemd_store(data, tmp_path / "local", memory=300_000))
    assert local.n_chunks >= 20
    s = open_wemd_store(data, tmp_path / "dask", memory=300_000)
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_kill_one_worker_when_busy,
                         args=(client, stop, killed, 2, s.path / "done"))
    t.start()
    try:
        st = {}
        engine.wemd_embedding_to_store(data, s, scheduler=client, stats=st)
    finally:
        stop.set()
        t.join()
    assert killed, "no worker was killed during the run"
    assert st["chunks_computed"] == s.n_chunks
    assert s.digests() == local.digests() and s.verify() == []
    np.testing.assert_array_equal(s.to_numpy(), wemd_embedding(data, columns="all"))


def test_interrupted_distributed_transform_resumes_from_the_store(client, data, tmp_path):
    data = data[:200]
    s = open_wemd_store(data, tmp_path, memory=300_000)
    for i in range(0, s.n_chunks, 3):  # as if a run had stopped after these chunks
        i0, i1 = s.chunk_bounds(i)
        transform_chunk(s.path, i, data[i0:i1])
    written = len(s.done_chunks())
    st = {}
    engine.wemd_embedding_to_store(data, s, scheduler=client, stats=st)
    assert st == {"chunks_reused": written, "chunks_computed": s.n_chunks - written}
    np.testing.assert_array_equal(s.to_numpy(), wemd_embedding(data, columns="all"))


@pytest.fixture(scope="module")
def store(data, tmp_path_factory):
    s = open_wemd_store(data, tmp_path_factory.mktemp("s"), memory=400_000)
    return engine.wemd_embedding_to_store(data, s)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_kneighbors_on_dask_equal_local_and_exact_search(client, store, metric, monkeypatch):
    monkeypatch.setattr(neighbors, "COL_BLOCK", 128)  # several column blocks
    feats = store.to_numpy(store.columns("resolved"))
    st = {}
    idx, dist = engine.kneighbors(store, 9, metric=metric, scheduler=client, resume=False,
                                  stats=st)
    assert st["n_tasks"] >= 10
    li, ld = engine.kneighbors(store, 9, metric=metric, resume=False)
    ri, rd = nearest_neighbors(feats, 9, metric=metric, method="exact")
    for a, b in ((idx, li), (dist, ld), (idx, ri), (dist, rd)):
        np.testing.assert_array_equal(a, b)
    # rows in memory (scattered blocks) give the same graph
    ai, ad = engine.kneighbors(feats, 9, metric=metric, scheduler=client)
    np.testing.assert_array_equal(ai, idx)
    np.testing.assert_array_equal(ad, dist)


def test_kneighbors_with_a_worker_killed_mid_run_changes_nothing(client, store, monkeypatch):
    monkeypatch.setattr(neighbors, "COL_BLOCK", 64)
    client.wait_for_workers(2, timeout=60)
    ref = engine.kneighbors(store, 8, resume=False)
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_kill_one_worker_when_busy, args=(client, stop, killed))
    t.start()
    try:
        st = {}
        got = engine.kneighbors(store, 8, scheduler=client, resume=False, stats=st)
    finally:
        stop.set()
        t.join()
    assert killed and st["n_tasks"] >= 10
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    client.wait_for_workers(2, timeout=60)


def test_distributed_search_resumes_from_saved_panels(client, store, monkeypatch):
    monkeypatch.setattr(neighbors, "COL_BLOCK", 128)
    st = {}
    ref = engine.kneighbors(store, 6, scheduler=client, stats=st)
    panels = sorted(store.path.glob("knn/*/panel-*.npz"))
    assert len(panels) == st["n_panels"] >= 2
    for p in panels[1:]:
        p.unlink()
    again = engine.kneighbors(store, 6, scheduler=client, stats=st)
    assert st["panels_reused"] == 1
    assert st["tasks_run"] == (st["n_panels"] - 1) * st["n_col_blocks"]
    for a, b in zip(again, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_client_passed_in_stays_open(client, store):
    engine.kneighbors(store, 3, scheduler=client, resume=False)
    assert client.status == "running"


@pytest.mark.parametrize(("spec", "parsed"), [
    (None, ("none", None)),
    ("local:3", ("local", 3)),
    ("tcp://10.0.0.1:8786", ("address", "tcp://10.0.0.1:8786")),
    ("10.0.0.1:8786", ("address", "tcp://10.0.0.1:8786")),
    ("tls://node7:8786", ("address", "tls://node7:8786")),
])
def test_parse_scheduler(spec, parsed):
    assert dist.parse_scheduler(spec) == parsed


@pytest.mark.parametrize("spec", ["local:0", "local:x", "http://a:1", "tcp://host", "tcp://:9"])
def test_bad_scheduler_spec_is_a_value_error(spec):
    with pytest.raises(ValueError, match="scheduler"):
        dist.parse_scheduler(spec)
    with pytest.raises(TypeError, match="scheduler"):
        dist.parse_scheduler(8786)


def test_unreachable_scheduler_is_a_clear_error_and_nothing_is_written(data, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = open_wemd_store(data, tmp_path, memory=150_000)
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}.*dask scheduler.*local:N"):
        engine.wemd_embedding_to_store(data, s, scheduler=address, timeout=1)
    assert s.done_chunks() == []


def test_cli_embed_on_the_scheduler_equals_the_local_knn_run(client, tmp_path, capsys):
    from conformap.cli import main

    x = blobs(120, size=16, seed=5)
    np.save(tmp_path / "x.npy", x)
    base = ["embed", str(tmp_path / "x.npy"), "--n-neighbors", "8", "--seed", "1",
            "--negative", "keep"]
    assert main([*base, "--method", "knn", "--quiet", "--out", str(tmp_path / "local")]) == 0
    address = client.scheduler.address
    assert main([*base, "--scheduler", address, "--cache", str(tmp_path / "cc"),
                 "--out", str(tmp_path / "dask")]) == 0
    err = capsys.readouterr().err
    assert "transform chunk(s) computed, 0 reused" in err
    with np.load(tmp_path / "local.npz") as a, np.load(tmp_path / "dask.npz") as b:
        np.testing.assert_array_equal(b["embedding"], a["embedding"])
        np.testing.assert_array_equal(b["eigenvalues"], a["eigenvalues"])
    # rerun: everything comes from the cache
    assert main([*base, "--scheduler", address, "--cache", str(tmp_path / "cc"),
                 "--out", str(tmp_path / "again")]) == 0
    assert "0 transform chunk(s) computed" in capsys.readouterr().err


def test_cli_embed_on_the_scheduler_streams_a_star_stack(client, tmp_path, capsys):
    """A STAR particle set is spilled stack by stack to a memory map inside --cache (removed
    at the end); same embedding as the same images in memory."""
    from conformap.cli import main
    from conformap.particles import write_particle_set

    x = blobs(120, size=16, seed=5)
    write_particle_set(x, tmp_path / "ps", n_stacks=3)
    star = next((tmp_path / "ps").glob("*.star"))
    base = ["--n-neighbors", "8", "--seed", "1", "--negative", "keep", "--quiet"]
    assert main(["embed", str(star), *base, "--method", "knn", "--out",
                 str(tmp_path / "local")]) == 0
    (tmp_path / "cc").mkdir()
    assert main(["embed", str(star), *base, "--scheduler", client.scheduler.address,
                 "--cache", str(tmp_path / "cc"), "--out", str(tmp_path / "dask")]) == 0
    with np.load(tmp_path / "local.npz") as a, np.load(tmp_path / "dask.npz") as b:
        np.testing.assert_array_equal(b["embedding"], a["embedding"])
        np.testing.assert_array_equal(b["names"], a["names"])
    assert not list((tmp_path / "cc").glob("conformap-input-*"))


def test_cli_unreachable_scheduler_exits_2_and_writes_nothing(tmp_path, capsys):
    from conformap.cli import main

    np.save(tmp_path / "x.npy", blobs(30, size=16))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out"
    code = main(["embed", str(tmp_path / "x.npy"), "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--cache", str(tmp_path / "cc"), "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "dask scheduler" in err
    assert not list(tmp_path.glob("out*"))
    assert not list((tmp_path / "cc").glob("wemd-*")) if (tmp_path / "cc").exists() else True
    for bad, msg in ((["--scheduler", "local:0"], "local:N"),
                     (["--scheduler", "local:1", "--method", "dense"], "--method knn"),
                     (["--scheduler", "tcp://127.0.0.1:1"], "--cache DIR")):
        assert main(["embed", str(tmp_path / "x.npy"), *bad, "--out", str(out),
                     "--quiet"]) == 2
        assert msg in capsys.readouterr().err
        assert not list(tmp_path.glob("out*"))


def test_unreachable_scheduler_fails_before_the_denoising(tmp_path, monkeypatch):
    """The scheduler is reached before the client fits the denoiser (12 s at 6,000 images of
    64 x 64), so an unreachable one fails within the timeout and creates no cache dir."""
    import conformap.denoise
    from conformap import DiffusionMap

    def boom(*a, **k):
        raise AssertionError("the denoiser was fitted before the scheduler was reached")

    monkeypatch.setattr(conformap.denoise, "fit_for", boom)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dm = DiffusionMap(scheduler=f"tcp://127.0.0.1:{port}", cache_dir=tmp_path / "cc",
                      denoise="pca", metric_params={"negative": "keep"})
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        dm.fit(blobs(30, size=16))
    assert not (tmp_path / "cc").exists()


def test_diffusion_map_with_scheduler_equals_the_in_memory_knn_fit(client, tmp_path):
    from conformap import DiffusionMap

    x = blobs(150, size=16, seed=9)
    kw = {"n_components": 3, "metric_params": {"negative": "keep"}, "random_state": 2}
    ref = DiffusionMap(method="knn", **kw).fit(x)
    dm = DiffusionMap(scheduler=client, cache_dir=tmp_path, **kw).fit(x)
    np.testing.assert_array_equal(dm.embedding_, ref.embedding_)
    np.testing.assert_array_equal(dm.eigenvalues_, ref.eigenvalues_)
    assert dm.n_neighbors_ == ref.n_neighbors_
    assert dm.scheduler_stats_["transform"]["chunks_computed"] >= 1
    # the dropped kernel mass, measured from the store block by block on the same rows
    assert dm.dropped_mass_ == pytest.approx(ref.dropped_mass_, rel=1e-9)
    # cache_dir without a scheduler: the same store pipeline in this process (reusing it)
    local = DiffusionMap(method="knn", cache_dir=tmp_path, **kw).fit(x)
    np.testing.assert_array_equal(local.embedding_, ref.embedding_)
    assert local.scheduler_stats_["transform"]["chunks_computed"] == 0
    assert local.dropped_mass_ == dm.dropped_mass_
    # out-of-sample: the new items' neighbours searched in the store, as in memory
    new = blobs(7, size=16, seed=10)
    np.testing.assert_allclose(dm.transform(new), ref.transform(new), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(dm.transform(x[:4]), ref.transform(x[:4]), rtol=1e-6,
                               atol=1e-12)
    import shutil

    shutil.rmtree(tmp_path)  # as the temporary store of a fit without cache_dir
    with pytest.raises(ValueError, match="cache_dir=DIR"):
        dm.transform(x[:3])
    with pytest.raises(ValueError, match="metric='wemd'"):
        DiffusionMap(metric="euclidean", scheduler=client).fit(x)
    with pytest.raises(ValueError, match="method"):
        DiffusionMap(method="dense", scheduler=client, **kw).fit(x)



# -- the approximate search as tasks (conformap.engine_approx) ---------------------------------
# NN-descent (pynndescent) compiles for ~30 s of CPU in every process that first runs it: the
# tests below run it once here (the reference) and once on one worker; later runs reuse the
# candidates kept in the store directory, as a resumed run would.

N_APPROX = 1100
K_APPROX = 30  # default_n_neighbors(1100), so that the DiffusionMap test reuses the candidates
SEED = 2
MEM = 2_000_000  # bytes of store rows per re-ranking task: several groups


@pytest.fixture(scope="module")
def approx_data():
    return blobs(N_APPROX, size=16, seed=11)


@pytest.fixture(scope="module")
def approx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("approx")


@pytest.fixture(scope="module")
def approx_store(approx_data, approx_cache):
    s = open_wemd_store(approx_data, approx_cache, negative="keep", memory=200_000)
    return engine.wemd_embedding_to_store(approx_data, s)


@pytest.fixture(scope="module")
def approx_local(approx_store):
    """The in-process approximate search on the same features and seed (the reference)."""
    feats = approx_store.to_numpy(approx_store.columns("resolved"))
    return feats, nearest_neighbors(feats, K_APPROX, method="approx", random_state=SEED,
                                    n_jobs=1)


def _approx(store, **kw):
    return engine_approx.approximate_kneighbors(store, K_APPROX, random_state=SEED, n_jobs=1,
                                                memory=MEM, **kw)


def test_store_rows_in_any_order(approx_store):
    rows = np.array([5, N_APPROX - 1, 0, 5, 300, 7])
    np.testing.assert_array_equal(approx_store.take_rows(rows), approx_store.to_numpy()[rows])
    assert approx_store.chunks_of(rows) == np.unique(rows // approx_store.chunk_rows).size
    with pytest.raises(ValueError, match="rows"):
        approx_store.take_rows([N_APPROX])


def test_approx_on_dask_equals_the_local_search_with_a_worker_killed(client, approx_store,
                                                                     approx_local):
    feats, (ri, rd) = approx_local
    st = {}
    idx, dist = _approx(approx_store, scheduler=client, stats=st)
    assert st["groups"] >= 3 and st["method"] == "approx"
    np.testing.assert_array_equal(idx, ri)
    np.testing.assert_array_equal(dist, rd)
    assert recall(idx, nearest_neighbors(feats, K_APPROX, method="exact")[0]) >= 0.98
    # again with one worker SIGKILLed while it re-ranks (the candidates are reused from the
    # store directory, the groups recomputed)
    for g in approx_store.path.glob("knn/approx-*/groups-*/group-*.npz"):
        g.unlink()
    client.wait_for_workers(2, timeout=60)
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_kill_one_worker_when_busy, args=(client, stop, killed))
    t.start()
    try:
        st = {}
        got = _approx(approx_store, scheduler=client, stats=st)
    finally:
        stop.set()
        t.join()
    assert killed and st["candidates_reused"] and st["tasks_run"] == st["groups"]
    np.testing.assert_array_equal(got[0], ri)
    np.testing.assert_array_equal(got[1], rd)
    client.wait_for_workers(2, timeout=60)


def test_approx_in_process_tasks_and_resume(approx_store, approx_local):
    _, (ri, rd) = approx_local
    _approx(approx_store)  # in-process (or resumed from the runs above): saves every group
    groups = sorted(approx_store.path.glob("knn/approx-*/groups-*/group-*.npz"))
    assert len(groups) >= 3
    for g in groups[1:]:
        g.unlink()
    st = {}
    idx, dist = _approx(approx_store, stats=st)  # in-process, resumed
    assert st["candidates_reused"] and st["groups_reused"] == 1
    assert st["tasks_run"] == st["groups"] - 1
    np.testing.assert_array_equal(idx, ri)
    np.testing.assert_array_equal(dist, rd)


def test_store_kneighbors_auto_follows_the_in_memory_rule(approx_store, monkeypatch):
    (_, _), used = engine_approx.store_kneighbors(approx_store, 5, resume=False)
    assert used == "exact"  # N_APPROX <= AUTO_EXACT_MAX_ITEMS
    monkeypatch.setattr(neighbors, "AUTO_EXACT_MAX_ITEMS", 500)
    assert neighbors.choose_method(N_APPROX, 100) == "approx"


def test_diffusion_map_on_dask_above_the_switch_equals_the_in_memory_fit(
        client, approx_data, approx_cache, approx_store, monkeypatch):
    """Above the exact/approx switch (lowered to 500 rows here; the rule is read on the client
    in both runs) the scheduler path runs the approximate search as tasks; same seed, same
    embedding."""
    from conformap import DiffusionMap

    monkeypatch.setattr(neighbors, "AUTO_EXACT_MAX_ITEMS", 500)
    kw = {"n_components": 2, "metric_params": {"negative": "keep"}, "random_state": SEED,
          "n_jobs": 1}
    ref = DiffusionMap(method="knn", **kw).fit(approx_data)
    dm = DiffusionMap(scheduler=client, cache_dir=approx_cache, **kw).fit(approx_data)
    st = dm.scheduler_stats_
    assert st["search"]["method"] == "approx"  # candidates reused when the tests above ran here
    assert st["transform"]["chunks_computed"] == 0  # the store of the tests above
    for j in range(2):
        assert abs(np.corrcoef(dm.embedding_[:, j], ref.embedding_[:, j])[0, 1]) >= 0.999
    np.testing.assert_allclose(dm.eigenvalues_, ref.eigenvalues_, rtol=1e-9)


def test_out_of_core_fit_measures_the_dimension_on_the_same_reference_subset(tmp_path,
                                                                               monkeypatch):
    # oracle: the in-memory fit. Above DIMENSION_REFERENCE_ITEMS items the dimension of the
    # adaptive kernel is measured on the neighbours of a random subset; the store pipeline
    # reads the same rows from disk and must reach the same m and the same embedding.
    import conformap.graph as G
    from conformap import DiffusionMap

    monkeypatch.setattr(G, "DIMENSION_REFERENCE_ITEMS", 100)
    monkeypatch.setattr(G, "DIMENSION_SAMPLE_ROWS", 60)
    x = blobs(150, size=16, seed=9)
    kw = {"n_components": 3, "metric_params": {"negative": "keep"}, "random_state": 2,
          "bandwidth": "adaptive"}
    ref = DiffusionMap(method="knn", **kw).fit(x)
    local = DiffusionMap(method="knn", cache_dir=tmp_path, **kw).fit(x)
    assert "at the scale of 100 items" in ref.graph_summary_
    assert "at the scale of 100 items" in local.graph_summary_
    np.testing.assert_array_equal(local.embedding_, ref.embedding_)
