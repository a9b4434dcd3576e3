"""Scale-out numbers of the out-of-core store and the Dask engine (issue 11), measured here.

Run (standalone; writes docs/distributed-results.json unless --out says otherwise)::

    nice .venv/bin/python -m benchmarks.bench_distributed --full
    nice .venv/bin/python -m benchmarks.bench_distributed --quick --out /tmp/quick.json

Sections (all on noisy 64 x 64 particle images from ``conformap.datasets.make_particles``,
SNR 0.5, D = 11,526 WEMD coefficients each, float32):

* ``transform_memory``: a fresh process per n transforms a memory-mapped .npy stack into a
  coefficient store (memory setting 256 MiB) and reports its peak memory (anonymous RSS
  sampled every 10 ms, and VmHWM, which also counts the memory-mapped input's pages, which the
  kernel can drop), wall time and bytes written;
* ``transform_workers``: the same transform in-process, on ``local:1`` and on ``local:2`` (the
  cluster start is timed apart), seconds per chunk and bytes moved per chunk;
* ``search_task``: one neighbour-search task (row panel x column block) at full width;
* ``search_workers``: the exact kNN search of n items from the store in-process (n_jobs 1 and 2),
  on ``local:1`` and ``local:2`` with one thread per task, whether the results are identical, and
  the same 2-worker run with one worker SIGKILLed mid-run;
* ``search_memory``: peak memory of the store search for growing n at a fixed memory setting;
* ``embed_memory``, ``approx_equality``, ``eigensolver_scaling``: see
  ``benchmarks/bench_outofcore.py`` (whole ``conformap embed --scheduler`` peak memory; the
  approximate search on Dask against the in-memory fit; the client's eigensolver at 1e4-2e5);
* ``plan_extrapolated``: the 1e6 plan computed from the measured costs (not measured).

The machine is shared (2 cores with other engineers working at the same time): timings are
noisy, and 1 vs 2 workers on 2 cores is an upper bound on what a second core gives.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_NOTE = ("2-core VM shared with other engineers running their own work at the same time: "
               "timings are noisy (single runs)")


def _peak_sampler():
    """Start a thread that records the peak anonymous RSS of this process (bytes)."""
    peak = {"anon": 0}
    stop = threading.Event()

    def run():
        while not stop.is_set():
            try:
                with open("/proc/self/status") as fh:
                    for line in fh:
                        if line.startswith("RssAnon:"):
                            peak["anon"] = max(peak["anon"], int(line.split()[1]) * 1024)
            except OSError:
                return
            stop.wait(0.01)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return peak, stop


def _vm_hwm() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def make_input(path: Path, n: int, size: int = 64, block: int = 10_000) -> Path:
    """Write n noisy particle images to an .npy file block by block (never all in memory)."""
    from conformap.datasets import make_particles

    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, size, size))
    for b, i0 in enumerate(range(0, n, block)):
        i1 = min(n, i0 + block)
        mm[i0:i1] = make_particles(i1 - i0, size=size, snr=0.5, rng=1000 + b)[0]
    mm.flush()
    del mm
    return path


# -- child processes (one measurement each, fresh memory) ---------------------------------------


def child_transform(args) -> dict:
    from conformap import engine
    from conformap.store import open_wemd_store

    peak, stop = _peak_sampler()
    x = np.load(args.input, mmap_mode="r")[: args.n]
    t0 = time.perf_counter()
    s = open_wemd_store(x, args.cache, negative="keep", memory=args.memory)
    t1 = time.perf_counter()
    engine.wemd_embedding_to_store(x, s, scheduler=args.scheduler)
    t2 = time.perf_counter()
    stop.set()
    return {"n": args.n, "key_s": t1 - t0, "transform_s": t2 - t1, "chunks": s.n_chunks,
            "chunk_rows": s.chunk_rows, "n_features": s.n_features,
            "store_bytes": _dir_bytes(s.path), "peak_anon_bytes": peak["anon"],
            "vm_hwm_bytes": _vm_hwm()}


def child_search(args) -> dict:
    from conformap import engine
    from conformap.store import CoefficientStore

    s = CoefficientStore(args.store)
    engine.kneighbors(np.random.default_rng(0).random((300, 20)), 3)  # load compiled kernels
    peak, stop = _peak_sampler()
    st = {}
    t0 = time.perf_counter()
    engine.kneighbors(s, args.k, memory=args.memory, n_jobs=args.n_jobs, resume=False, stats=st)
    dt = time.perf_counter() - t0
    stop.set()
    return {"n": s.n, "search_s": dt, "plan": st, "peak_anon_bytes": peak["anon"],
            "vm_hwm_bytes": _vm_hwm()}


def _child(kind: str, **kw) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_distributed", "--child", kind]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} child failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- sections ------------------------------------------------------------------------------------


def transform_memory(work: Path, sizes, memory: int) -> list[dict]:
    inp = make_input(work / "images.npy", max(sizes))
    rows = []
    for n in sizes:
        cache = work / f"cache-{n}"
        r = _child("transform", input=inp, n=n, cache=cache, memory=memory)
        print(f"  transform n={n}: {r['transform_s']:.1f} s, peak anon "
              f"{r['peak_anon_bytes'] / 2**20:.0f} MiB, VmHWM {r['vm_hwm_bytes'] / 2**20:.0f} MiB, "
              f"store {r['store_bytes'] / 2**30:.2f} GiB", flush=True)
        rows.append(r)
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def transform_workers(work: Path, n: int, memory: int) -> dict:
    from distributed import Client, LocalCluster

    from conformap import distributed as cdist
    from conformap import engine
    from conformap.store import open_wemd_store

    inp = work / "images.npy"
    x = np.load(inp, mmap_mode="r")[:n]
    out = {"n": n}
    digests = {}
    for name in ("in-process", "local:1", "local:2"):
        cache = work / f"tw-{name.replace(':', '')}"
        s = open_wemd_store(x, cache, negative="keep", memory=memory)
        if name == "in-process":
            t = time.perf_counter()
            engine.wemd_embedding_to_store(x, s)
            out[name] = {"s": time.perf_counter() - t}
        else:
            w = int(name[-1])
            t = time.perf_counter()
            with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=":0", silence_logs=50) as cl, Client(cl) as c:
                c.wait_for_workers(w)
                cdist.warm_up(c)  # numba's compiled kernels load from its cache
                start = time.perf_counter() - t
                t = time.perf_counter()
                engine.wemd_embedding_to_store(x, s, scheduler=c)
                out[name] = {"s": time.perf_counter() - t, "cluster_start_s": start}
        digests[name] = s.digest()
        out["chunks"], out["chunk_rows"] = s.n_chunks, s.chunk_rows
        out["bytes_in_per_chunk"] = s.chunk_rows * x[0].size * 4
        out["bytes_written_per_chunk"] = _dir_bytes(s.path / "coefficients.zarr") / s.n_chunks
        shutil.rmtree(cache, ignore_errors=True)
        print(f"  transform {name}: {out[name]}", flush=True)
    out["identical"] = len(set(digests.values())) == 1
    out["s_per_chunk_in_process"] = out["in-process"]["s"] / out["chunks"]
    out["s_per_image_in_process"] = out["in-process"]["s"] / n
    return out


def transform_task(rows: int = 512, repeats: int = 3) -> dict:
    """One transform chunk (64 x 64 noisy images), best of ``repeats``: the per-chunk cost."""
    from conformap.datasets import make_particles
    from conformap.store import open_wemd_store, transform_chunk

    x = make_particles(rows, size=64, snr=0.5, rng=7)[0]
    with tempfile.TemporaryDirectory() as d:
        s = open_wemd_store(x, d, cache=False, negative="keep", memory=2**30)
        transform_chunk(s.path, 0, x[:4] if s.n_chunks > 1 else x)  # warm
        best = np.inf
        for _ in range(repeats):
            t = time.perf_counter()
            transform_chunk(s.path, 0, x)
            best = min(best, time.perf_counter() - t)
        out = {"rows": rows, "s": best, "s_per_image": best / rows, "threads": os.cpu_count(),
               "bytes_in": int(x.nbytes), "bytes_written": int(rows * s.n_features * 4),
               "n_features": s.n_features}
    print(f"  transform task: {out}", flush=True)
    return out


def plan(results: dict, n: int = 1_000_000, k: int = 15, n_searched: int = 9328) -> dict:
    """Extrapolated (not measured) plan for n images from the measured per-task costs."""
    from conformap.engine import search_plan

    t_img = results["transform_task"]["s_per_image"] * results["transform_task"]["threads"]
    rate = results["search_task"]["threads_1"]["abs_diffs_per_s"]
    D = results["transform_task"]["n_features"]
    out = {"n": n, "k": k, "n_features_stored": D, "n_features_searched": n_searched,
           "input_bytes": n * 64 * 64 * 4, "store_bytes": n * D * 4,
           "transform_core_s": n * t_img, "search_abs_diffs": float(n) * n * n_searched,
           "search_core_s": float(n) * n * n_searched / rate, "workers": {}}
    for mem in (2**30, 4 * 2**30):
        sp = search_plan(n, n_searched, 4, memory=mem, n_workers=64)
        out[f"search_plan_{mem // 2**30}GiB"] = {
            **sp, "returned_bytes": sp["n_tasks"] * sp["row_panel"] * k * 16,
            "task_core_s": sp["row_panel"] * sp["col_block"] * n_searched / rate}
    for w in (16, 32, 64):
        out["workers"][w] = {"transform_h_1core": out["transform_core_s"] / w / 3600,
                             "search_h_1core": out["search_core_s"] / w / 3600,
                             "search_h_16cores": out["search_core_s"] / w / 16 / 3600}
    from .bench_outofcore import plan_approx

    out["approx"] = plan_approx(results, n)
    return out


def search_task(n_features: int = 11526) -> dict:
    from conformap.engine import panel_neighbors

    r = np.random.default_rng(0)
    rows = r.random((256, n_features)).astype(np.float32)
    cols = r.random((4096, n_features)).astype(np.float32)
    panel_neighbors(rows[:16], cols[:64], 0, 16, 0, 64, 15, "l1", 1)
    res = {"rows": 256, "cols": 4096, "n_features": n_features}
    for th in (1, 2):
        t = time.perf_counter()
        panel_neighbors(rows, cols, 0, 256, 0, 4096, 15, "l1", th)
        dt = time.perf_counter() - t
        res[f"threads_{th}"] = {"s": dt, "abs_diffs_per_s": 256 * 4096 * n_features / dt}
    res["bytes_read"] = (256 + 4096) * n_features * 4
    res["bytes_returned"] = 256 * 15 * 16
    print(f"  search task: {res}", flush=True)
    return res


def _killer(client, stop, killed):
    pids = client.run(os.getpid)
    while not stop.is_set():
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        if busy:
            os.kill(pids[sorted(busy)[0]], signal.SIGKILL)
            killed.append(True)
            return
        time.sleep(0.005)


def search_workers(work: Path, n: int, k: int = 15) -> dict:
    from distributed import Client, LocalCluster

    from conformap import distributed as cdist
    from conformap import engine
    from conformap.store import open_wemd_store

    x = np.load(work / "images.npy", mmap_mode="r")[:n]
    s = engine.wemd_embedding_to_store(x, open_wemd_store(x, work / "sw", negative="keep"))
    out = {"n": n, "k": k}
    ref = None
    for name, jobs in (("in-process n_jobs=1", 1), ("in-process n_jobs=2", 2)):
        st = {}
        t = time.perf_counter()
        res = engine.kneighbors(s, k, n_jobs=jobs, resume=False, stats=st)
        out[name] = {"s": time.perf_counter() - t}
        if jobs == 1:
            ref = res
        out["plan_in_process"] = st
        print(f"  search {name}: {out[name]}", flush=True)
    for w, kill in ((1, False), (2, False), (2, True)):
        name = f"local:{w}" + (" (one worker SIGKILLed mid-run)" if kill else "")
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0", silence_logs=50) as cl, Client(cl) as c:
            c.wait_for_workers(w)
            cdist.warm_up(c)
            stop, killed = threading.Event(), []
            th = threading.Thread(target=_killer, args=(c, stop, killed)) if kill else None
            st = {}
            t = time.perf_counter()
            if th:
                th.start()
            try:
                res = engine.kneighbors(s, k, scheduler=c, n_jobs=1, resume=False, stats=st)
            finally:
                stop.set()
                if th:
                    th.join()
            out[name] = {"s": time.perf_counter() - t, "tasks": st["n_tasks"],
                         "row_panel": st["row_panel"], "col_block": st["col_block"],
                         "identical_to_in_process": bool(np.array_equal(res[0], ref[0])
                                                         and np.array_equal(res[1], ref[1])),
                         "read_bytes": st["read_bytes"],
                         "returned_bytes": n * k * 16}
            if kill:
                out[name]["worker_killed"] = bool(killed)
        print(f"  search {name}: {out[name]}", flush=True)
    out["store_path"] = str(s.path)
    return out


def search_memory(work: Path, store_path: str, sizes, memory: int) -> list[dict]:
    from conformap import engine
    from conformap.store import CoefficientStore, open_wemd_store

    full = np.load(work / "images.npy", mmap_mode="r")
    rows = []
    for n in sizes:
        x = full[:n]
        s = engine.wemd_embedding_to_store(x, open_wemd_store(x, work / f"sm-{n}",
                                                              negative="keep"))
        r = _child("search", store=s.path, n=n, k=15, memory=memory, n_jobs=2)
        print(f"  search memory n={n}: {r['search_s']:.1f} s, peak anon "
              f"{r['peak_anon_bytes'] / 2**20:.0f} MiB (features alone: "
              f"{n * s.n_features * 4 / 2**20:.0f} MiB)", flush=True)
        r["features_bytes"] = n * s.n_features * 4
        rows.append(r)
        shutil.rmtree(work / f"sm-{n}", ignore_errors=True)
    del CoefficientStore, store_path
    return rows


def plot_memory(results: dict, path: Path) -> Path:
    """Peak memory against n (transform into the store, and the store search) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def mib(r, key):  # run 1's rows were parsed from its log in MiB/GiB; fresh runs in bytes
        return r[f"{key}_MiB"] if f"{key}_MiB" in r else r[f"{key}_bytes"] / 2**20

    fig, ax = plt.subplots(figsize=(6, 3.6))
    em = results.get("embed_memory") or []
    if em:
        from .distributed_doc import client_nk_bytes

        for c, mode in zip(("C3", "C4"), dict.fromkeys(r.get("mode", "--scheduler local:2")
                                                        for r in em), strict=False):
            mr = [r for r in em if r.get("mode", "--scheduler local:2") == mode]
            ax.loglog([r["n"] for r in mr], [r["peak_anon_bytes"] / 2**20 for r in mr], "D-",
                      color=c, label=f"whole `conformap embed {mode}`: peak anon RSS")
        ns = sorted({r["n"] for r in em})
        ax.loglog(ns, [client_nk_bytes(n)["total"] / 2**20 for n in ns], "C3:",
                  label="O(n k) on the client (arithmetic)")
        ax.loglog(ns, [next(r["input_bytes"] for r in em if r["n"] == n) / 2**20 for n in ns],
                  "k:", label="the input images themselves")
    tm = results["transform_memory"]
    ax.loglog([r["n"] for r in tm], [mib(r, "peak_anon") for r in tm], "o-",
              label="transform into the store: peak anon RSS (256 MiB setting)")
    ax.loglog([r["n"] for r in tm], [r["store_GiB"] * 1024 if "store_GiB" in r
                                         else r["store_bytes"] / 2**20 for r in tm], "k--",
              label="the coefficients themselves (store size)")
    sm = results["search_memory"]
    ax.loglog([r["n"] for r in sm], [mib(r, "peak_anon") for r in sm], "s-",
              label="exact search from the store: peak anon RSS (64 MiB/task)")
    ax.set_xlabel("n (noisy 64 x 64 images)")
    ax.set_ylabel("MiB")
    ax.set_title("Peak memory with the on-disk store (shared 2-core VM)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- the suite's hook (benchmarks.__main__.EXTERNAL) and the 1 vs 2 workers table ---------------

#: ``python -m benchmarks --quick/--full`` sizes (the standalone --full run writes the doc JSON).
SUITES = {
    "quick": {"transform_n": 2_000, "search_n": 800, "approx_n": None},
    "full": {"transform_n": 20_000, "search_n": 3_000, "approx_n": 10_000},
}


def scaleout_rows(results: dict) -> list[dict]:
    """The 1 vs 2 workers rows of a results dict (``transform_workers``, ``search_workers``,
    ``approx_equality`` sections), one schema for every stage:
    ``{"stage", "n", "run", "workers", "s", "identical", "abs_corr_min", "worker_killed"}``
    (``workers`` 0 = in-process; ``abs_corr_min`` only for the approximate search)."""
    rows = []
    tw = results.get("transform_workers")
    if tw:
        for run in ("in-process", "local:1", "local:2"):
            if run in tw:
                rows.append({"stage": "WEMD transform into the store", "n": tw["n"], "run": run,
                             "workers": 0 if run == "in-process" else int(run[-1]),
                             "s": tw[run]["s"], "identical": bool(tw["identical"])})
    sw = results.get("search_workers")
    if sw:
        for run, r in sw.items():
            if not isinstance(r, dict) or "s" not in r:
                continue
            w = 0 if run.startswith("in-process") else int(run.split(":")[1][0])
            rows.append({"stage": "exact kNN search from the store", "n": sw["n"], "run": run,
                         "workers": w, "s": r["s"],
                         "identical": bool(r.get("identical_to_in_process", True)),
                         "worker_killed": r.get("worker_killed")})
    ae = results.get("approx_equality")
    if ae:
        for run, r in ae["runs"].items():
            rows.append({"stage": "DiffusionMap fit, approximate search", "n": ae["n"],
                         "run": run, "workers": int(r.get("workers", 0)), "s": r["s"],
                         "identical": r.get("identical", True),
                         "abs_corr_min": min(r["abs_corr"]) if "abs_corr" in r else None,
                         "worker_killed": r.get("worker_killed")})
    return rows


def render_scaleout(results: dict) -> str:
    """Markdown table of :func:`scaleout_rows` (for ``docs/benchmarks.md`` and
    ``docs/distributed.md``), from a parsed ``docs/distributed-results.json``."""
    lines = ["| stage | n | run | time (s) | result vs the first (in-process) row |",
             "|---|---:|---|---:|---|"]
    seen = set()
    for r in scaleout_rows(results):
        if r["stage"] not in seen:
            seen.add(r["stage"])
            same = "reference"
        elif r.get("abs_corr_min") is not None:
            same = ("identical" if r["identical"] else "not bitwise") + \
                f"; per-component abs corr >= {r['abs_corr_min']:.6f}"
        elif r["workers"] == 0:
            same = "-"
        else:
            same = "identical" if r["identical"] else "**differs**"
        lines.append(f"| {r['stage']} | {r['n']:,} | `{r['run']}` | {r['s']:.1f} | {same} |")
    return "\n".join(lines) + "\n"


def run(cfg: dict, log) -> list[dict]:
    """The suite's rows: in-process vs 1 vs 2 workers (transform, exact search and, in the full
    suite, the approximate search inside DiffusionMap), each checked to give the in-process
    result (bitwise; per-component |corr| >= 0.999 for the approximate search)."""
    from ._harness import check_result, measurement_record
    from .bench_outofcore import approx_equality

    work = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    try:
        n_in = max(cfg["transform_n"], cfg["search_n"], cfg.get("approx_n") or 0)
        make_input(work / "images.npy", n_in)
        res = {"transform_workers": transform_workers(work, cfg["transform_n"], 64 * 2**20),
               "search_workers": search_workers(work, cfg["search_n"])}
        res["search_workers"].pop("store_path", None)
        if cfg.get("approx_n"):
            res["approx_equality"] = approx_equality(work, work / "images.npy", cfg["approx_n"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    records = []
    for r in scaleout_rows(res):
        if r.get("abs_corr_min") is not None:
            ok = r["abs_corr_min"] >= 0.999
            tol = "per-component |corr| of the embedding vs the in-memory fit >= 0.999"
        else:
            ok = bool(r["identical"])
            tol = "bitwise the in-process result"
        if r.get("worker_killed") is not None:
            ok = ok and bool(r["worker_killed"])
            tol += "; a worker was SIGKILLed mid-run"
        params = {"stage": r["stage"], "n": r["n"], "run": r["run"]}
        records.append(measurement_record(
            "distributed (1 vs 2 workers)", params, {"time": r["s"]},
            check_result(ok, tol, seconds=r["s"], workers=r["workers"],
                         **({"abs_corr_min": r["abs_corr_min"]}
                            if r.get("abs_corr_min") is not None else {}))))
        log(f"  {params}: {r['s']:.1f} s, passed {ok}")
    return records


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    p.add_argument("--out", default=str(ROOT / "docs" / "distributed-results.json"))
    p.add_argument("--only", default=None,
                   help="comma-separated sections to (re)run, merged into an existing --out")
    p.add_argument("--plot", action="store_true",
                   help="only redraw docs/distributed-memory.png from --out")
    p.add_argument("--images", default=None, metavar="FILE.npy",
                   help="an image stack written by make_input (e.g. once into /tmp; never "
                   "committed) for embed_memory/approx_equality instead of a fresh one")
    p.add_argument("--embed-sizes", default=None, metavar="N,N,...",
                   help="the sizes of embed_memory (default 10000,30000,100000,200000 with "
                   "--full)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    for a in ("--input", "--cache", "--store", "--scheduler"):
        p.add_argument(a, default=None, help=argparse.SUPPRESS)
    for a in ("--n", "--memory", "--k", "--n-jobs"):
        p.add_argument(a, type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.plot:
        print(plot_memory(json.loads(Path(args.out).read_text()),
                          ROOT / "docs" / "distributed-memory.png"))
        return 0
    if args.child:
        fn = {"transform": child_transform, "search": child_search}[args.child]
        print(json.dumps(fn(args)))
        return 0
    full = args.full
    sizes = [10_000, 20_000, 50_000, 100_000, 200_000] if full else [2_000, 8_000]
    work = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    only = set(args.only.split(",")) if args.only else None
    results = {}
    if only and Path(args.out).exists():
        results = json.loads(Path(args.out).read_text())
    results.setdefault("runs", []).append(
        {"command": " ".join(["python -m benchmarks.bench_distributed",
                              "--full" if full else "--quick",
                              *([f"--only {args.only}"] if args.only else [])]),
         "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform(), "note": SHARED_NOTE}

    def section(name, fn, *a):
        if only and name not in only:
            return None
        print(name, flush=True)
        load0 = os.getloadavg()[0]
        out = fn(*a)
        results[name] = out
        results.setdefault("load_average", {})[name] = [load0, os.getloadavg()[0]]
        return out

    from .bench_outofcore import (
        EMBED_MODES,
        approx_equality,
        eigensolver_scaling,
        embed_memory,
        nndescent_scaling,
    )

    approx_n = 10_000 if full else 2_000
    try:
        inp = work / "images.npy"
        if not only or {"transform_workers", "search_workers", "search_memory"} & only:
            if not only or "transform_memory" in only:
                section("transform_memory", transform_memory, work, sizes, 256 * 2**20)
            else:
                make_input(inp, 20_000 if full else 2_000)
        embed_sizes = ([int(v) for v in args.embed_sizes.split(",")] if args.embed_sizes
                       else [10_000, 30_000, 100_000, 200_000] if full else [2_000, 8_000])
        if args.images:
            inp = Path(args.images)
        elif (not only or {"embed_memory", "approx_equality"} & only) and (
                not inp.exists() or np.load(inp, mmap_mode="r").shape[0] < max(embed_sizes)):
            make_input(inp, max(embed_sizes))
        section("embed_memory", embed_memory, work, inp, embed_sizes, EMBED_MODES,
                work.parent / "embed_memory.partial.json")
        section("approx_equality", approx_equality, work, inp, approx_n)
        if only and "nndescent_scaling" in only and not inp.exists():
            make_input(inp, 100_000 if full else 8_000)
        section("nndescent_scaling", nndescent_scaling, inp,
                [20_000, 50_000, 100_000] if full else [2_000, 8_000])
        section("eigensolver_scaling", eigensolver_scaling,
                [10_000, 50_000, 100_000, 200_000] if full else [10_000])
        section("transform_workers", transform_workers, work, 20_000 if full else 2_000,
                64 * 2**20)
        section("transform_task", transform_task)
        section("search_task", search_task)
        sw = section("search_workers", search_workers, work, 3000 if full else 800)
        if sw:
            sw.pop("store_path", None)
        section("search_memory", search_memory, work, None,
                [1000, 2000, 4000, 8000] if full else [400, 800], 64 * 2**20)
        if "transform_task" in results and "search_task" in results:
            results["plan_extrapolated"] = plan(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["runs"][-1]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    Path(args.out).write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
