"""More sections of ``benchmarks.bench_distributed`` (issue 11): the approximate search on Dask,
peak memory of the whole ``conformap embed`` process, and the client's eigensolver at 1e4-2e5.

Each measurement runs in a fresh process (``python -m benchmarks.bench_outofcore --child KIND``)
whose peak memory is sampled every 10 ms (anonymous RSS, summed over the process and all its
children: Dask workers included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _tree_anon(pid: int, field: str = "RssAnon:") -> int:
    """Anonymous RSS (bytes; ``field="VmRSS:"``: all resident pages, the memory-mapped input's
    included) of ``pid`` and all its descendants."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith(field):
                        total += int(line.split()[1]) * 1024
                        break
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def _own_anon(pid: int) -> int:
    """Anonymous RSS of ``pid`` alone (bytes): the client, without its Dask workers."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def sample_peak(pid: int | None = None, interval: float = 0.01):
    """Thread recording the peak anonymous RSS of a process tree: ``(peak dict, stop event)``."""
    pid = os.getpid() if pid is None else pid
    peak = {"anon": 0, "rss": 0, "client": 0, "samples": 0}
    stop = threading.Event()

    def run():
        while not stop.is_set():
            peak["anon"] = max(peak["anon"], _tree_anon(pid))
            peak["rss"] = max(peak["rss"], _tree_anon(pid, "VmRSS:"))
            peak["client"] = max(peak["client"], _own_anon(pid))
            peak["samples"] += 1
            stop.wait(interval)

    threading.Thread(target=run, daemon=True).start()
    return peak, stop


def run_measured(cmd, *, cwd=ROOT, env=None) -> dict:
    """Run ``cmd`` (at this process's ``nice``), sampling its process tree's peak anonymous RSS
    every 10 ms."""
    t = time.perf_counter()
    load0 = os.getloadavg()[0]
    proc = subprocess.Popen([*map(str, cmd)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, stop = sample_peak(proc.pid)
    out, err = proc.communicate()
    stop.set()
    dt = time.perf_counter() - t
    return {"rc": proc.returncode, "s": dt, "peak_anon_bytes": peak["anon"],
            "peak_rss_bytes": peak["rss"], "peak_client_anon_bytes": peak["client"],
            "samples": peak["samples"], "stdout": out[-4000:], "stderr": err[-4000:],
            "load_average": [load0, os.getloadavg()[0]]}


# -- the client's eigensolver ----------------------------------------------------------------------


def child_eigen(n: int) -> dict:
    """Build the kNN graph conformap builds for n items (default k, adaptive kernel) on a noisy
    circle in 3-D, then time the client's share: the sparse eigenproblem (``diffusion_core``)."""
    from conformap.diffusion import diffusion_core
    from conformap.graph import build_graph

    r = np.random.default_rng(0)
    th = r.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(th), np.sin(th), 0.01 * r.standard_normal(n)]
    t = time.perf_counter()
    graph, _ = build_graph(X, metric="euclidean", method="knn", rng=0)
    t_graph = time.perf_counter() - t
    base = _tree_anon(os.getpid())
    peak, stop = sample_peak()
    t, c = time.perf_counter(), time.process_time()
    res = diffusion_core(graph, n_components=2, rng=0)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    stop.set()
    # the two coordinates span (cos, sin) up to a rotation (a degenerate pair): R^2 of the
    # least-squares fit of cos and sin by them
    E = np.c_[np.ones(n), res.embedding]
    r2 = []
    for y in (np.cos(th), np.sin(th)):
        coef, *_ = np.linalg.lstsq(E, y, rcond=None)
        r2.append(1 - np.var(y - E @ coef) / np.var(y))
    return {"n": n, "k": int(graph.n_neighbors), "nnz": int(graph.kernel.nnz),
            "graph_s": t_graph, "eigen_s": dt, "eigen_cpu_s": dc, "anon_before_bytes": base,
            "peak_anon_bytes": peak["anon"],
            "kernel_bytes": int(graph.kernel.data.nbytes + graph.kernel.indices.nbytes
                                + graph.kernel.indptr.nbytes),
            "circle_r2": float(min(r2)),
            "eigenvalues": [float(v) for v in res.eigenvalues]}


def child_lu(n: int) -> dict:
    """Why shift-invert slows down: on the graph of :func:`child_eigen`, the reverse
    Cuthill-McKee envelope of the normalised Laplacian (the solver's chain-like test) and the
    sparse LU (COLAMD, scipy's default) that shift-invert factorises: time and fill-in."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as sla

    from conformap.diffusion import CHAIN_ENVELOPE, normalized_operator, rcm_envelope
    from conformap.graph import build_graph

    r = np.random.default_rng(0)
    th = r.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(th), np.sin(th), 0.01 * r.standard_normal(n)]
    graph, _ = build_graph(X, metric="euclidean", method="knn", rng=0)
    w, _, _, deg, mass = normalized_operator(graph, 1.0)
    smi = sp.diags(mass**-0.5)
    lap = sp.csr_matrix(smi @ (sp.diags(deg) - w) @ smi)
    lap = (lap + lap.T) * 0.5
    out = {"n": n, "nnz": int(lap.nnz), "envelope_per_nnz": rcm_envelope(lap) / lap.nnz,
           "chain_threshold": CHAIN_ENVELOPE}
    t, c = time.perf_counter(), time.process_time()
    lu = sla.splu(sp.csc_matrix(lap + 1e-11 * lap.diagonal().max() * sp.eye(n)))
    out.update(lu_s=time.perf_counter() - t, lu_cpu_s=time.process_time() - c,
               fill_per_nnz=(lu.L.nnz + lu.U.nnz) / lap.nnz, load=os.getloadavg()[0])
    return out


def child_compare(n: int) -> dict:
    """The previous sparse solver and the multilevel one side by side on the graph of
    :func:`child_eigen`: CPU time, eigenvalues, per-component |corr| of the embeddings."""
    from conformap import diffusion
    from conformap.graph import build_graph

    r = np.random.default_rng(0)
    th = r.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(th), np.sin(th), 0.01 * r.standard_normal(n)]
    graph, _ = build_graph(X, metric="euclidean", method="knn", rng=0)
    out, emb = {"n": n}, {}
    threshold = diffusion.MULTILEVEL_MIN_ITEMS
    for name, thr in (("multilevel", threshold), ("previous", 10**12)):
        diffusion.MULTILEVEL_MIN_ITEMS = thr
        t, c = time.perf_counter(), time.process_time()
        res = diffusion.diffusion_core(graph, n_components=2, rng=0)
        out[name] = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                     "eigenvalues": res.eigenvalues.tolist(), "load": os.getloadavg()[0]}
        emb[name] = res.embedding
    diffusion.MULTILEVEL_MIN_ITEMS = threshold
    a, b = emb["multilevel"], emb["previous"]
    out["abs_corr"] = [float(abs(np.corrcoef(a[:, j], b[:, j])[0, 1])) for j in range(2)]
    qa, qb = np.linalg.qr(a - a.mean(0))[0], np.linalg.qr(b - b.mean(0))[0]
    out["plane_min_cos"] = float(np.linalg.svd(qa.T @ qb, compute_uv=False).min())
    # relative difference of the Laplacian eigenvalues 1 - mu (mu itself is ~1 - 3e-6)
    la = 1 - np.array(out["multilevel"]["eigenvalues"][1:])
    lb = 1 - np.array(out["previous"]["eigenvalues"][1:])
    out["max_rel_laplacian_eigenvalue_diff"] = float(np.max(np.abs(la - lb) / lb))
    return out


def eigensolver_scaling(sizes) -> list[dict]:
    rows = []
    for n in sizes:
        m = run_measured([sys.executable, "-m", "benchmarks.bench_outofcore", "--child",
                          "eigen", "--n", n])
        if m["rc"] != 0:
            raise RuntimeError(f"eigen n={n} failed: {m['stderr']}")
        r = json.loads(m["stdout"].strip().splitlines()[-1])
        r["process_peak_anon_bytes"], r["process_s"] = m["peak_anon_bytes"], m["s"]
        r["load_average"] = m["load_average"]
        print(f"  eigensolver n={n}: {r['eigen_s']:.1f} s, graph {r['graph_s']:.1f} s, "
              f"peak {r['peak_anon_bytes'] / 2**20:.0f} MiB", flush=True)
        rows.append(r)
    return rows


# -- NN-descent (the one candidates task) alone ---------------------------------------------------


def nndescent_scaling(images: Path, sizes) -> list[dict]:
    """The engine's candidates task (:func:`conformap.neighbors.candidate_neighbors`, 1 thread,
    ``APPROX_CANDIDATES * k`` candidates) on n x 32 float32 projections of the first n images
    (a 32-d PCA of their pixels fitted on 2,000 rows: the layout and size of the engine's
    projection of WEMD coefficients), JIT compiled first; wall and CPU time per n."""
    from conformap.graph import default_n_neighbors
    from conformap.neighbors import APPROX_CANDIDATES, candidate_neighbors

    x = np.load(images, mmap_mode="r")
    sample = np.asarray(x[:2000]).reshape(2000, -1).astype(np.float64)
    mu = sample.mean(axis=0)
    axes = np.linalg.svd(sample - mu, full_matrices=False)[2][:32].T
    candidate_neighbors(np.random.default_rng(0).random((500, 32)).astype(np.float32), 10,
                        seed=0)  # compile
    rows = []
    for n in sizes:
        P = np.concatenate([((np.asarray(x[i:min(n, i + 20_000)]).reshape(-1, x[0].size) - mu)
                             @ axes).astype(np.float32) for i in range(0, n, 20_000)])
        k = default_n_neighbors(n)
        t, c = time.perf_counter(), time.process_time()
        candidate_neighbors(P, APPROX_CANDIDATES * k, seed=0, threads=1)
        r = {"n": n, "k": k, "n_candidates": APPROX_CANDIDATES * k,
             "wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
             "load": os.getloadavg()[0]}
        print(f"  NN-descent n={n}: {r['cpu_s']:.1f} core-s ({r['wall_s']:.1f} s wall)",
              flush=True)
        rows.append(r)
    return rows


# -- peak memory of the whole `conformap embed --scheduler` run -----------------------------------


#: The two ways ``embed_memory`` runs ``conformap embed`` with the on-disk store.
EMBED_MODES = {"local --cache": [], "--scheduler local:2": ["--scheduler", "local:2"]}


def embed_memory(work: Path, images: Path, sizes, modes=tuple(EMBED_MODES),
                 partial: Path | None = None) -> list[dict]:
    """``conformap embed N.npy --cache DIR [--scheduler local:2]`` for each n and mode, fresh
    cache each: peak anonymous RSS of the whole process tree (client, scheduler, nannies,
    workers) and of the client process alone, sampled every 10 ms, and wall time. The input is
    a .npy of the first n images (memory-mapped by ``embed``)."""
    import shutil

    conformap = Path(sys.executable).with_name("conformap")
    full = np.load(images, mmap_mode="r")
    rows = []
    for n in sizes:
        inp = images
        if n != full.shape[0]:
            inp = work / f"x{n}.npy"
            mm = np.lib.format.open_memmap(inp, mode="w+", dtype=np.float32,
                                           shape=(n, *full.shape[1:]))
            for i0 in range(0, n, 10_000):
                mm[i0:i0 + 10_000] = full[i0:min(n, i0 + 10_000)]
            mm.flush()
            del mm
        for mode in modes:
            cache = work / f"embed-cache-{n}"
            cmd = [conformap, "embed", inp, *EMBED_MODES[mode], "--cache", cache,
                   "--out", work / f"emb{n}", "--negative", "keep", "--seed", "0"]
            m = run_measured(cmd)
            if m["rc"] != 0:
                raise RuntimeError(f"embed n={n} {mode} failed: {m['stderr']}")
            with np.load(work / f"emb{n}.npz") as z:
                emb = z["embedding"]
            r = {"n": n, "mode": mode, "s": m["s"], "peak_anon_bytes": m["peak_anon_bytes"],
                 "peak_client_anon_bytes": m["peak_client_anon_bytes"],
                 "peak_rss_bytes": m["peak_rss_bytes"], "samples": m["samples"],
                 "load_average": m["load_average"], "input_bytes": int(inp.stat().st_size),
                 "store_bytes": int(sum(p.stat().st_size for p in cache.rglob("*")
                                        if p.is_file())),
                 "embedding_finite": bool(np.isfinite(emb).all()),
                 "command": " ".join(["conformap embed", f"x{n}.npy",
                                      *EMBED_MODES[mode], "--cache DIR --out OUT",
                                      "--negative keep --seed 0"]),
                 "log": [ln for ln in m["stderr"].splitlines()
                         if "store" in ln or "scheduler" in ln or "plan" in ln
                         or "graph" in ln][-3:]}
            print(f"  embed n={n} {mode}: {r['s']:.0f} s, "
                  f"peak anon {r['peak_anon_bytes'] / 2**20:.0f}"
                  f" MiB (client {r['peak_client_anon_bytes'] / 2**20:.0f} MiB, all RSS "
                  f"{r['peak_rss_bytes'] / 2**20:.0f} MiB), load {r['load_average']}", flush=True)
            rows.append(r)
            if partial is not None:  # the rows so far, in case a long sweep is stopped
                partial.write_text(json.dumps(rows, indent=1))
            shutil.rmtree(cache, ignore_errors=True)
            for suffix in (".npz", ".csv", ".png"):
                (work / f"emb{n}{suffix}").unlink(missing_ok=True)
        if inp != images:
            inp.unlink()
    return rows


# -- approximate search: distributed = local, with and without a worker killed ---------------------


def _kill_when_reranking(client, stop, killed):
    import signal

    pids = client.run(os.getpid)
    while not stop.is_set():
        for w, keys in client.processing().items():
            if any("approx-rerank" in str(key) for key in keys) and w in pids:
                os.kill(pids[w], signal.SIGKILL)
                killed.append(w)
                return
        time.sleep(0.01)


def approx_equality(work: Path, images: Path, n: int, seed: int = 0,
                    partial: Path | None = None) -> dict:
    """DiffusionMap defaults in memory (approximate search above 5,000 items) against
    DiffusionMap(scheduler=local:1 / local:2 / local:2 with a worker SIGKILLed while it
    re-ranks), same seed: per-component |corr| of the embeddings, eigenvalues, times."""
    import shutil

    from distributed import Client, LocalCluster

    from conformap import DiffusionMap
    from conformap import distributed as cdist

    x = np.load(images, mmap_mode="r")[:n]
    kw = {"metric_params": {"negative": "keep"}, "random_state": seed}
    out = {"n": n, "seed": seed, "runs": {}}
    t = time.perf_counter()
    ref = DiffusionMap(**kw).fit(np.asarray(x))
    out["runs"]["in-memory"] = {"s": time.perf_counter() - t, "graph": ref.graph_summary_}
    print(f"  approx n={n} in memory: {out['runs']['in-memory']}", flush=True)
    cache = work / "approx-cache"
    from conformap import engine
    from conformap.store import open_wemd_store

    # the transform once, in-process, into the store the fits below find (same key)
    t = time.perf_counter()
    engine.wemd_embedding_to_store(x, open_wemd_store(x, cache, negative="keep"))
    out["transform_in_process_s"] = time.perf_counter() - t
    for name, w, kill in (("local:2", 2, False),
                          ("local:2, one worker SIGKILLed mid re-rank", 2, True),
                          ("local:1", 1, False)):
        for d in cache.glob("wemd-*/coefficients.zarr/knn"):
            shutil.rmtree(d)  # the search runs again; the transform chunks are reused
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0", silence_logs=50) as cl, Client(cl) as c:
            c.wait_for_workers(w)
            cdist.warm_up(c)
            stop, killed = threading.Event(), []
            th = threading.Thread(target=_kill_when_reranking, args=(c, stop, killed))
            if kill:
                th.start()
            t = time.perf_counter()
            try:
                dm = DiffusionMap(scheduler=c, cache_dir=cache, **kw).fit(x)
            finally:
                stop.set()
                if kill:
                    th.join()
            dt = time.perf_counter() - t
        corr = [float(abs(np.corrcoef(dm.embedding_[:, j], ref.embedding_[:, j])[0, 1]))
                for j in range(ref.embedding_.shape[1])]
        st = dm.scheduler_stats_
        r = {"s": dt, "workers": w, "abs_corr": corr,
             "identical": bool(np.array_equal(dm.embedding_, ref.embedding_)),
             "eigenvalues_max_rel_diff": float(np.max(np.abs(dm.eigenvalues_ - ref.eigenvalues_)
                                                      / np.abs(ref.eigenvalues_))),
             "transform": st["transform"],
             "search": {k: v for k, v in st["search"].items() if not isinstance(v, list)}}
        if kill:
            r["worker_killed"] = bool(killed)
        out["runs"][name] = r
        print(f"  approx n={n} {name}: {dt:.0f} s, |corr| {corr}, identical {r['identical']}",
              flush=True)
        if partial is not None:  # the runs so far, in case a long run is stopped
            partial.write_text(json.dumps(out, indent=1, default=float))
    shutil.rmtree(cache, ignore_errors=True)
    return out


def plan_approx(results: dict, n: int = 1_000_000) -> dict | None:
    """Extrapolated cost of the approximate search at n from the measured distributed run
    (``approx_equality``, its ``local:1`` run: one worker process, ``threads`` numba threads):
    re-ranking core-seconds and store bytes per item (constant in n: a leaf's candidate union
    depends on the local geometry), NN-descent extrapolated as n^1.14 (Dong, Charikar & Li
    2011), the client's eigensolver by the exponent measured between its two largest sizes."""
    from conformap.graph import default_n_neighbors
    from conformap.neighbors import APPROX_CANDIDATES

    ae = results.get("approx_equality")
    if not ae:
        return None
    # core-seconds = wall seconds x the machine's cores (an upper bound: it was shared)
    run = "local:1" if "local:1" in ae["runs"] else "local:2"
    r1 = ae["runs"].get(run)
    if not r1 or "rerank_s" not in r1["search"]:
        return None
    s1, n0 = r1["search"], ae["n"]
    threads = int(results.get("machine", {}).get("cpus", 2))
    k = default_n_neighbors(n)
    out = {"n": n, "k": k, "measured_at_n": n0, "threads_per_task": threads, "from_run": run,
           "rerank_core_s_per_item": s1["rerank_s"] * threads / n0,
           "rerank_read_bytes_per_item": s1["rerank_read_bytes"] / n0,
           "candidates_core_s_measured": s1["candidates_s"] * threads,
           "nndescent_exponent": 1.14}
    out["rerank_core_s"] = out["rerank_core_s_per_item"] * n
    out["rerank_read_bytes"] = out["rerank_read_bytes_per_item"] * n
    out["candidates_core_s"] = out["candidates_core_s_measured"] * (n / n0) ** 1.14
    nd = results.get("nndescent_scaling") or []
    if len(nd) >= 2:  # NN-descent's own CPU time measured at several n: its exponent, its cost
        a, b = nd[-2], nd[-1]
        expo = float(np.log(b["cpu_s"] / a["cpu_s"]) / np.log(b["n"] / a["n"]))
        out.update(nndescent_exponent=expo, candidates_measured_at_n=b["n"],
                   candidates_core_s_measured=b["cpu_s"],
                   candidates_core_s=b["cpu_s"] * (n / b["n"]) ** expo)
    out["bytes"] = {"projected_rows": n * 32 * 4, "candidates_int32": n * APPROX_CANDIDATES * k * 4,
                    "knn_returned": n * k * 16, "input": n * 64 * 64 * 4,
                    "store": n * results["transform_task"]["n_features"] * 4}
    for w in (16, 32, 64):
        out.setdefault("workers", {})[w] = {
            "rerank_h_1core": out["rerank_core_s"] / w / 3600,
            "rerank_read_GB_per_worker": out["rerank_read_bytes"] / w / 1e9}
    eig = results.get("eigensolver_scaling") or []
    if len(eig) >= 2:
        a, b = eig[-2], eig[-1]
        key = "eigen_cpu_s" if "eigen_cpu_s" in a and "eigen_cpu_s" in b else "eigen_s"
        expo = float(np.log(b[key] / a[key]) / np.log(b["n"] / a["n"]))
        out["eigen"] = {"from_n": [a["n"], b["n"]], "exponent": expo, "measure": key,
                        "s_at_n": b[key] * (n / b["n"]) ** expo,
                        "peak_bytes_at_n": b["peak_anon_bytes"] * n / b["n"]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--child", required=True)
    p.add_argument("--n", type=int)
    a = p.parse_args(argv)
    fn = {"eigen": lambda: child_eigen(a.n), "lu": lambda: child_lu(a.n),
          "compare": lambda: child_compare(a.n)}[a.child]
    print(json.dumps(fn()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
