"""Cryo-EM workflow measurements behind ``docs/cryo-em/README.md`` (rendered from its JSON).

``python -m benchmarks.bench_particles [--full] [--out docs/cryo-em/results.json]`` writes the
results JSON (records in the format of ``benchmarks/__init__.py``, with the machine and the
command); ``python -m benchmarks.docs`` renders the page from it (``render_readme``). The module
is registered in ``benchmarks.__main__.EXTERNAL``, so ``python -m benchmarks`` runs the same
cases (``SUITES``) into the suite's results.

Cases (each a fresh subprocess, ``benchmarks/_harness.py``):

* ``ParticleRead``: :func:`conformap.io.read_stack` on a shuffled RELION 3.1 STAR file (each
  stack memory-mapped once, rows gathered) against the per-particle loop many scripts use (open
  the row's stack, copy one image, close), on the same files; check: both arrays identical
  (SHA-256 of the bytes).
* ``ReportPage``: ``conformap report`` of an n-item embedding with 1000 random-noise
  thumbnails (the worst case for PNG compression): build time and page size.
* ``EmbedExtras``: what the report's data cost ``conformap embed``: ``DiffusionMap(2,
  metric="wemd").fit`` and then :func:`conformap.diagnostics.embedding_extras` on the same maps.

Timings on a shared 2-core machine are noisy: read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as _dt
import hashlib
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._harness import (
    ROOT,
    check_result,
    load_average,
    machine,
    measure,
    measurement_record,
    pair_record,
)
from .bench_wemd import PAPER_MAP

SUITES = {
    "quick": {"read": [{"n": 2000, "box": 64, "stacks": 10}],
              "report": [1_000, 100_000],
              "extras": [{"n": 100, "source": "rotor", "noise": 0.1}],
              "repeats": 1},
    "full": {"read": [{"n": 20_000, "box": 64, "stacks": 10}, {"n": 2000, "box": 64, "stacks": 10}],
             "report": [1_000, 100_000, 1_000_000],
             "extras": [{"n": 400, "source": "rotor", "noise": 0.1},
                        {"n": 40, "source": "paper"}],
             "repeats": 2},
}
RESULTS = ROOT / "docs" / "cryo-em" / "results.json"


def _tmpdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="conformap-bench-particles-"))
    atexit.register(shutil.rmtree, d, True)
    return d


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def per_particle(star) -> np.ndarray:
    """The baseline: one open / copy / close of the row's stack per particle."""
    import mrcfile

    from conformap.particles import read_particle_table

    t = read_particle_table(star)
    out = []
    for f, i in zip(t.files, t.indices, strict=True):
        with mrcfile.mmap(f, mode="r") as m:
            out.append(np.array(m.data[i], dtype=np.float32))
    return np.stack(out)


class ParticleRead:
    """n random images of box x box in ``stacks`` stacks, STAR rows shuffled."""

    def setup(self, n, box, stacks):
        from conformap.particles import write_particle_set

        rng = np.random.default_rng(0)
        images = rng.random((n, box, box), dtype=np.float32) + 0.1
        return write_particle_set(images, _tmpdir(), n_stacks=stacks, rng=1)

    def warmup(self, impl):
        from conformap.particles import write_particle_set

        small = write_particle_set(np.ones((20, 8, 8), np.float32), _tmpdir(), n_stacks=2, rng=1)
        self._read(impl, small)

    def _read(self, impl, star):
        from conformap.io import read_stack

        return read_stack(star).data if impl == "ours" else per_particle(star)

    def ours(self, star):
        t0 = time.perf_counter()
        data = self._read("ours", star)
        t = time.perf_counter() - t0
        return {"digest": _digest(data), "shape": data.shape}, {"read": t}

    def baseline(self, star):
        t0 = time.perf_counter()
        data = self._read("baseline", star)
        t = time.perf_counter() - t0
        return {"digest": _digest(data), "shape": data.shape}, {"read": t}


class ReportPage:
    """``conformap report`` of an n-point noisy circle with 1000 noise thumbnails."""

    def setup(self, n):
        self.folder = _tmpdir()
        return self._make(n)

    def _make(self, n):
        rng = np.random.default_rng(0)
        ang = rng.uniform(0, 2 * np.pi, n)
        emb = np.c_[np.cos(ang), np.sin(ang)] + 0.05 * rng.normal(size=(n, 2))
        names = np.array([f"{i % 500 + 1:06d}@Particles/stack_{i // 500:04d}.mrcs"
                          for i in range(n)])
        n_thumbs = min(n, 1000)
        thumbs = (rng.random((n_thumbs, 64, 64)) * 255).astype(np.uint8)
        npz = self.folder / f"emb{n}.npz"
        np.savez(npz, embedding=emb, names=names, eigenvalues=np.array([1, 0.9, 0.8]),
                 bandwidth=np.float64(1.0), metric=np.array("wemd"), params=np.array("{}"),
                 thumbnails=thumbs, thumbnail_index=np.sort(rng.choice(n, n_thumbs, replace=False)),
                 kernel_degrees=rng.random(n))
        return npz

    def warmup(self, impl):
        from conformap.cli import main

        npz = self._make(50)
        main(["report", str(npz), "--out", str(self.folder / "warm.html")])

    def ours(self, npz):
        from conformap.cli import main

        out = self.folder / "report.html"
        t0 = time.perf_counter()
        code = main(["report", str(npz), "--out", str(out)])
        t = time.perf_counter() - t0
        size = out.stat().st_size / 2**20 if out.is_file() else 0.0
        return {"exit_status": code, "page_mib": size}, {"report": t}


class EmbedExtras:
    """``DiffusionMap(2, metric="wemd").fit`` then ``embedding_extras`` on the same maps."""

    def setup(self, n, source, noise=0.0):
        from conformap.datasets import make_rotor

        from .bench_wemd import rotor_maps

        if source == "paper":
            return rotor_maps(n, "paper", noise)[0]
        maps, _ = make_rotor(n, noise=noise, rng=0)  # the default grid, 40 x 72 x 40
        return np.ascontiguousarray(maps, dtype=np.float32)

    def warmup(self, impl):
        from conformap import DiffusionMap
        from conformap.datasets import make_rotor
        from conformap.diagnostics import embedding_extras

        maps, _ = make_rotor(12, shape=(16, 24, 16), rng=0)
        dm = DiffusionMap(2, metric="wemd").fit(maps)
        embedding_extras(maps, dm, metric="wemd")

    def ours(self, maps):
        from conformap import DiffusionMap
        from conformap.diagnostics import embedding_extras

        t0 = time.perf_counter()
        dm = DiffusionMap(2, metric="wemd").fit(maps)
        t1 = time.perf_counter()
        extras = embedding_extras(maps, dm, metric="wemd")
        t2 = time.perf_counter()
        return ({"n_kernel_degrees": len(extras["kernel_degrees"]),
                 "n_thumbnails": len(extras.get("thumbnails", [])),
                 "keys": sorted(extras)}, {"fit": t1 - t0, "extras": t2 - t1})


def run(cfg, log):
    """The cases of ``cfg`` (one of ``SUITES``) as records of the suite."""
    records = []
    mod = "benchmarks.bench_particles"
    for params in cfg["read"]:
        summary, outs = measure(mod, "ParticleRead", ["ours", "baseline"], params,
                                repeats=cfg["repeats"], log=log)
        same = str(outs["ours"]["digest"]) == str(outs["baseline"]["digest"])
        check = check_result(same, "identical arrays (SHA-256 of the bytes, float32)",
                             identical=same)
        records.append(pair_record("particles_read", params, summary, check,
                                   baseline="baseline"))
    for n in cfg["report"]:
        params = {"n": n}
        summary, outs = measure(mod, "ReportPage", ["ours"], params, log=log)
        mib = float(outs["ours"]["page_mib"])
        code = int(outs["ours"]["exit_status"])
        check = check_result(code == 0 and mib > 0, "conformap report exits 0 and writes the page",
                             exit_status=code, page_mib=mib,
                             build_s=float(summary["ours"]["time"]))
        records.append(measurement_record("report_page", params, summary["ours"], check))
    from conformap.diagnostics import MAX_DIAGNOSTIC_ITEMS, MAX_THUMBNAILS

    for params in cfg["extras"]:
        if params["source"] == "paper" and not PAPER_MAP.exists():
            log(f"  (skipped EmbedExtras {params}: {PAPER_MAP} is absent)")
            continue
        summary, outs = measure(mod, "EmbedExtras", ["ours"], params, repeats=cfg["repeats"],
                                log=log)
        o = outs["ours"]
        info = summary["ours"]
        ok = int(o["n_kernel_degrees"]) == params["n"] and int(o["n_thumbnails"]) > 0
        check = check_result(
            ok, "the extras hold one kernel degree per item and the thumbnails",
            fit_s=float(info["phases"]["fit"]), extras_s=float(info["phases"]["extras"]),
            overhead=float(info["phases"]["extras"] / info["phases"]["fit"]),
            repeats=len(info["times"]), max_thumbnails=MAX_THUMBNAILS,
            max_items=MAX_DIAGNOSTIC_ITEMS)
        records.append(measurement_record("embed_extras", params, info, check))
    return records


# ------------------------------------------------------------------------ docs/cryo-em/README.md


def _recs(results: dict, name: str) -> list[dict]:
    return [r for r in results["records"] if r["benchmark"] == name]


def _ok(rec: dict) -> str:
    return "yes" if rec["passed"] else "**NO**"


def render_readme(results: dict) -> str:
    """``docs/cryo-em/README.md`` from the results JSON of ``main`` (every number from it)."""
    load = results["load_average"]
    lines = [
        "# Cryo-EM workflow: measurements", "",
        "Generated by `python -m benchmarks.docs` from [`results.json`](results.json), written by",
        f"`{results['command']}` on {results['date']} (every number below is formatted from that",
        "file by `benchmarks/bench_particles.py:render_readme`; `tests/test_docs.py` compares).",
        f"Machine: {results['machine']['cpu'].get('Model name', '?')}, "
        f"{results['machine']['cpu'].get('CPU(s)', '?')} logical CPUs, 1-minute load average "
        f"{load['start'][0]:g} at the start and {load['end'][0]:g} at the end"
        + (f"; {results['note']}" if results.get("note") else "")
        + ". Seconds on a shared machine are noisy; the ratios are what to read.", "",
        "## Reading a STAR file: one pass per stack vs one open per particle", "",
        "Random images in `.mrcs` stacks, STAR rows shuffled (RELION 3.1 layout).",
        "`conformap.io.read_stack` (each stack memory-mapped once, its rows gathered in index",
        "order) against the per-particle loop (open the row's stack, copy one image, close);",
        "each side in a fresh process after a warm-up, best of the repeats.", "",
        "| n | box | stacks | conformap (s) | per particle (s) | ratio | conformap peak | "
        "per-particle peak | identical arrays |",
        "|---|---|---|---|---|---|---|---|---|"]
    for r in _recs(results, "particles_read"):
        p = r["params"]
        lines.append(f"| {p['n']:,} | {p['box']} | {p['stacks']} | {r['ours']['time']:.2f} | "
                     f"{r['baseline']['time']:.2f} | {r['speedup']:.1f}x | "
                     f"{r['ours']['peak_extra_mib']:.0f} MiB | "
                     f"{r['baseline']['peak_extra_mib']:.0f} MiB | {_ok(r)} |")
    lines += [
        "", "## Report page size for large n", "",
        "Synthetic embeddings (a noisy circle) with 1000 stored random-noise thumbnails (the",
        "worst case for PNG compression; real particle thumbnails compress better). The page",
        "caps the thumbnails and the plotted points on a random subsample (and says so on the",
        "page), and bins the kernel-degree histogram.", "",
        "| n | page (MiB) | build (s) | written |", "|---|---|---|---|"]
    pages = _recs(results, "report_page")
    for r in pages:
        lines.append(f"| {r['params']['n']:,} | {r['check']['page_mib']:.1f} | "
                     f"{r['check']['build_s']:.1f} | {_ok(r)} |")
    if len(pages) >= 2:
        a, b = pages[-2], pages[-1]
        growth = b["check"]["page_mib"] / a["check"]["page_mib"]
        lines += ["", f"From n = {a['params']['n']:,} to n = {b['params']['n']:,} the page "
                  f"grows by a factor of {growth:.2f}."]
    lines += [
        "", "## What the report's data cost `conformap embed`", ""]
    extras = _recs(results, "embed_extras")
    caps = extras[0]["check"] if extras else {}
    lines += [
        f"`embed` stores thumbnails (block averages of at most {caps.get('max_thumbnails', '?')}",
        "items) and a kernel-sum bandwidth curve on a random subsample of at most",
        f"{caps.get('max_items', '?')} items, whose WEMD transform and distances are computed",
        "again (the estimator does not expose its features). Measured with `DiffusionMap(2,",
        "metric=\"wemd\").fit` then `conformap.diagnostics.embedding_extras` on the same maps",
        "(the repeat with the shortest total; rotor maps on the default 40 x 72 x 40 grid):", "",
        "| data | fit (s) | extras (s) | overhead | check |", "|---|---|---|---|---|"]
    for r in extras:
        p = r["params"]
        what = (f"{p['n']} rotated `rotating_shaft_res6.mrc` maps" if p["source"] == "paper"
                else f"{p['n']} rotor maps, noise {p.get('noise', 0):g}")
        c = r["check"]
        lines.append(f"| {what} | {c['fit_s']:.1f} | {c['extras_s']:.1f} | "
                     f"{100 * c['overhead']:.0f} % | {_ok(r)} |")
    lines += [
        "", "For small n the subsample is the whole set, so the extra cost is about one more WEMD",
        f"transform; for large n it is bounded by the {caps.get('max_items', '?')} items. Exposing "
        "the fitted features (or the graph) from `DiffusionMap` would remove it.", "",
        "The README's \"Cryo-EM workflow\" block (simulate particles, embed with WEMD, report,",
        "exports, trajectory) is run as written by `tests/test_readme.py`.", ""]
    for f in results.get("failures", []):
        lines.append(f"- **{f['benchmark']} did not run**: {f['error'].splitlines()[-1]}")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_particles",
                                description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="the full sizes (default: quick)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS})")
    p.add_argument("--note", default="", help="free text stored with the results")
    args = p.parse_args(argv)
    suite = "full" if args.full else "quick"
    argv_used = sys.argv[1:] if argv is None else list(argv)
    results = {"suite": suite,
               "command": shlex.join(["python", "-m", "benchmarks.bench_particles", *argv_used]),
               "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
               "machine": machine(), "note": args.note, "load_average": {"start": load_average()},
               "records": [], "failures": []}
    try:
        results["records"] = run(SUITES[suite], print)
    except Exception as exc:  # write what is known, fail the run
        results["failures"].append({"benchmark": "bench_particles", "error": str(exc)[-2000:]})
    results["load_average"]["end"] = load_average()
    results["failed_checks"] = [r["benchmark"] for r in results["records"] if not r["passed"]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 1 if results["failures"] or results["failed_checks"] else 0


if __name__ == "__main__":
    sys.exit(main())
