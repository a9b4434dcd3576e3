"""``python -m benchmarks --quick`` (< 10 min on 2 cores) or ``--full``.

Every measurement runs in a fresh subprocess (see ``_harness.py``); ours and the baseline are
interleaved in the same run, on the same data. Every row carries a ``check`` (both sides
compute the same thing within a stated tolerance); a failed check fails its row and the run
(exit status 1). Results: ``<out>/<suite>.json`` (raw, with the machine and the command),
``<suite>.md`` (the tables) and ``<suite>-scaling.png``; ``--out docs/benchmarks`` writes the
files behind ``docs/benchmarks.md`` (re-rendered by ``python -m benchmarks.docs``).

Registering a standalone benchmark module (one line in ``EXTERNAL``): the module defines
``SUITES = {"quick": cfg, "full": cfg}`` and ``run(cfg, log) -> list[dict]`` returning records
in the format of ``benchmarks/__init__.py`` (``pair_record`` / ``single_record`` /
``measurement_record`` in ``_harness.py`` build them). ``--quick`` and ``--full`` run every
built-in benchmark and then every registered module with its ``SUITES["quick"]`` or
``SUITES["full"]``; ``--only`` / ``--skip`` select by name (``--list`` prints them). A failed
check, an exception or a module that does not import fails that benchmark's row and the run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import shlex
import sys
import time
from pathlib import Path

from ._harness import (
    ROOT,
    load_average,
    machine,
    measure,
    measurement_record,
    pair_record,
    run_child,
    single_record,
    validate_record,
)
from .bench_product import (
    FIXED_RULE,
    approximation_check,
    diffusion_check,
    solver_check,
    triplet_check,
)
from .bench_wemd import emd_agreement, wemd_pair_check
from .report import SUITE_VERSION, plot_scaling, to_markdown

RESULTS = ROOT / "benchmarks" / "results"

SUITES = {
    "quick": {
        # n = 160 measured, extrapolated to the target n = 800 (transform ~ n, distances ~ n^2).
        "wemd": {"n": [160], "extrapolate_to": 800, "repeats": 2},
        "triplets": {"n": 10_000, "n_vec": 400, "repeats": 1},
        "diffusion": {"n": 3000, "n_vec": 400, "repeats": 1},
        "diffusion_approximation": {"n": 3000},
        "solver_check": {"n": 1500, "n_vec": 50},
        "emd": {"n": 10, "sizes": [8, 16, 24]},
        "scaling": {
            "WemdTransform": [{"n": n} for n in (25, 50, 100, 200)],
            "AllPairs": [{"n": n, "dim": 100_000} for n in (50, 100, 200, 400)],
            "KnnPath": [{"n": n, "dim": 256} for n in (1000, 2000, 4000, 8000)],
            "DiffusionScaling": [{"n": n, "n_vec": 100} for n in (1000, 2000, 4000)],
            "TripletScaling": [{"n": 10_000, "n_vec": m} for m in (50, 100, 200, 400)],
        },
    },
    "full": {
        "wemd": {"n": [400, 800], "noisy_n": [400], "extrapolate_to": None, "repeats": 1},
        "triplets": {"n": 10_000, "n_vec": 400, "repeats": 2},
        "diffusion": {"n": 10_000, "n_vec": 400, "repeats": 1},
        "diffusion_approximation": {"n": 10_000},
        "solver_check": {"n": 3000, "n_vec": 100},
        "emd": {"n": 12, "sizes": [8, 16, 24, 32]},
        "scaling": {
            "WemdTransform": [{"n": n} for n in (50, 100, 200, 400, 800)],
            "AllPairs": [{"n": n, "dim": 200_000} for n in (100, 200, 400, 800, 1600)],
            "KnnPath": [{"n": n, "dim": 256} for n in (2000, 4000, 8000, 16000, 32000)],
            "DiffusionScaling": [{"n": n, "n_vec": 100} for n in (1000, 2000, 4000, 8000, 16000)],
            "TripletScaling": [{"n": 10_000, "n_vec": m} for m in (50, 100, 200, 300, 400)],
        },
    },
}

#: Standalone benchmark modules: name -> module with SUITES and run(cfg, log). One line each.
EXTERNAL: dict[str, str] = {
    "import": "benchmarks.bench_import",
    "particles": "benchmarks.bench_particles",
    "neighbors": "benchmarks.bench_neighbors",
    "largen": "benchmarks.bench_largen",
    "distributed": "benchmarks.bench_distributed",
    "density": "benchmarks.bench_density",
}


def _log(msg: str) -> None:
    print(msg, flush=True)


def run_wemd(cfg, log):
    from .bench_wemd import PAPER_MAP

    records = []
    source = "paper" if PAPER_MAP.exists() else "procedural"
    if source == "procedural":
        log("  (the paper's map is absent: procedural rotor of the same shape instead)")
    cases = [(n, 0.0) for n in cfg["n"]] + [(n, 0.1) for n in cfg.get("noisy_n", [])]
    for n, noise in cases:
        params = {"n": n, "source": source, "level": 5}
        if noise:
            params["noise"] = noise
        summary, outs = measure("benchmarks.bench_wemd", "WemdPipeline",
                                ["ours", "baseline", "ours_all_columns"], params,
                                repeats=cfg["repeats"], log=log)
        check = wemd_pair_check(outs["ours"]["distances"], outs["baseline"]["distances"],
                                outs["baseline"]["l1_norms"], params["level"])
        rec = pair_record("wemd", params, summary, check)
        target = cfg.get("extrapolate_to")
        if target and target != n:
            rec["extrapolated"] = _extrapolate(rec, n, target)
        records.append(rec)
    return records


def _extrapolate(rec, n, target):
    """An estimate, labelled as such: transform ~ n, all pairs ~ n (n - 1), memory ~ n."""
    f1, f2 = target / n, target * (target - 1) / (n * (n - 1))
    est = {}
    for side in ("ours", "baseline"):
        ph = rec[side]["phases"]
        est[side] = {"time": ph["transform"] * f1 + ph["distances"] * f2,
                     "peak_extra_mib": rec[side]["peak_extra_mib"] * f1}
    return {"n": target, "measured_n": n, "ours": est["ours"], "baseline": est["baseline"],
            "speedup": est["baseline"]["time"] / est["ours"]["time"],
            "memory_ratio": est["ours"]["peak_extra_mib"] / est["baseline"]["peak_extra_mib"],
            "model": "transform x n, distances x n(n-1), memory x n (an extrapolation)"}


def run_triplets(cfg, log):
    params = {"n": cfg["n"], "n_vec": cfg["n_vec"]}
    summary, outs = measure("benchmarks.bench_product", "TripletSearch", ["ours", "baseline"],
                            params, repeats=cfg["repeats"], log=log)
    return [pair_record("triplets", params, summary, triplet_check(outs["ours"], outs["baseline"]))]


def run_diffusion(cfg, log):
    params = {"n": cfg["n"], "n_vec": cfg["n_vec"]}
    summary, outs = measure("benchmarks.bench_product", "DiffusionMap",
                            ["ours", "baseline", "ours_adaptive", "published_dense"], params,
                            repeats=cfg["repeats"], log=log)
    check = diffusion_check(outs["ours"]["eigenvalues"], outs["baseline"]["eigenvalues"])
    return [pair_record("diffusion", params, summary, check)]


def run_diffusion_approximation(cfg, log):
    records = []
    for bandwidth in cfg.get("bandwidth", [FIXED_RULE, "auto"]):
        params = {"n": cfg["n"], "bandwidth": bandwidth}
        info, out = run_child("benchmarks.bench_product", "DiffusionApproximation", "measure",
                              params)
        check = approximation_check(out)
        log(f"    kNN graph ({check['kernel']}) vs complete kernel: dropped mass "
            f"{check['dropped_mass_mean']:.3g} mean / {check['dropped_mass_max']:.3g} max, top "
            f"eigenvalues {check['max_abs_eigenvalue_diff_top']:.3g} apart")
        records.append(measurement_record("diffusion_approximation", params, info, check))
    return records


def run_solver_check(cfg, log):
    params = {"n": cfg["n"], "n_vec": cfg["n_vec"]}
    summary, outs = measure("benchmarks.bench_product", "SolverCheck", ["ours", "dense"], params,
                            log=log)
    check = solver_check(outs["ours"]["eigenvalues"], outs["dense"]["eigenvalues"])
    return [pair_record("solver_check", params, summary, check)]


def run_emd(cfg, log):
    records = []
    for size in cfg["sizes"]:
        params = {"n": cfg["n"], "size": size}
        summary, outs = measure("benchmarks.bench_wemd", "EmdTradeoff", ["ours", "baseline"],
                                params, log=log)
        check = emd_agreement(outs["ours"]["distances"], outs["baseline"]["distances"])
        pairs = cfg["n"] * (cfg["n"] - 1) / 2
        rec = pair_record("emd", params, summary, check)
        rec["per_pair_s"] = {"ours": summary["ours"]["time"] / pairs,
                             "baseline": summary["baseline"]["time"] / pairs}
        records.append(rec)
    return records


def run_scaling(cfg, log):
    records = []
    for case, points in cfg.items():
        for params in points:
            summary, _ = measure("benchmarks.bench_scaling", case, ["ours"], params, log=log)
            records.append(single_record("scaling", case, params, summary["ours"]))
    return records


RUNNERS = {
    "wemd": run_wemd,
    "triplets": run_triplets,
    "diffusion": run_diffusion,
    "diffusion_approximation": run_diffusion_approximation,
    "solver_check": run_solver_check,
    "emd": run_emd,
    "scaling": run_scaling,
}


def _external(module: str):
    """Runner and cfg-getter of a registered module, imported when it runs: a module that fails
    to import fails its own row of the run, not the others."""
    def run(cfg, log):
        return importlib.import_module(module).run(cfg, log)

    def cfg(suite):
        return importlib.import_module(module).SUITES[suite]

    return run, cfg


def _runners(only=None, skip=None):
    """(name, runner, cfg-getter) of the built-in and registered external benchmarks, in the
    order they run: the built-in ones, then ``EXTERNAL``'s."""
    out = [(name, fn, (lambda suite, name=name: SUITES[suite][name])) for name, fn in
           RUNNERS.items()]
    out += [(name, *_external(module)) for name, module in EXTERNAL.items()]
    return [r for r in out if (not only or r[0] in only) and r[0] not in (skip or ())]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the quick suite (default)")
    group.add_argument("--full", action="store_true", help="the full suite (n = 800 WEMD, ...)")
    parser.add_argument("--only", nargs="+", help="run only these benchmarks (names as logged)")
    parser.add_argument("--skip", nargs="+", help="run all but these benchmarks")
    parser.add_argument("--list", action="store_true", help="list the benchmarks (built-in, "
                        "then the registered external modules) and exit")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--name", default=None, help="stem of the result files (default: the "
                        "suite's name, e.g. quick.json)")
    parser.add_argument("--note", default="", help="free text stored with the results, e.g. "
                        "'machine shared with 5 other engineers'")
    args = parser.parse_args(argv)
    suite = "full" if args.full else "quick"
    stem = args.name or suite
    known = [r[0] for r in _runners()]
    if args.list:
        for name in known:
            print(name + (f" (external: {EXTERNAL[name]})" if name in EXTERNAL else ""))
        return 0
    for opt, names in (("--only", args.only), ("--skip", args.skip)):
        unknown = sorted(set(names or ()) - set(known))
        if unknown:
            parser.error(f"{opt}: unknown benchmark {unknown}; choose from {known}")
    runners = _runners(args.only, args.skip)
    args.out.mkdir(parents=True, exist_ok=True)
    argv_used = sys.argv[1:] if argv is None else list(argv)
    report = {"suite": suite, "suite_version": SUITE_VERSION,
              "command": shlex.join(["python", "-m", "benchmarks", *argv_used]),
              "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
              "machine": machine(), "note": args.note, "load_average": {"start": load_average()},
              "complete": False, "records": [], "failures": []}
    t0 = time.perf_counter()
    for name, runner, cfg in runners:
        _log(f"[{time.perf_counter() - t0:6.0f} s] {name} (load average {load_average()})")
        try:
            recs = runner(cfg(suite), _log)
            for rec in recs:
                validate_record(rec)
            report["records"] += recs
        except Exception as exc:  # keep the other benchmarks' results
            _log(f"  FAILED: {exc}")
            report["failures"].append({"benchmark": name, "error": str(exc)[-2000:]})
        report["load_average"][name] = load_average()
        report["suite_seconds"] = time.perf_counter() - t0
        # write after every benchmark, so an interrupted run keeps what it measured
        _write(args.out, stem, report)
    report["complete"] = True
    report["failed_checks"] = [
        {"benchmark": r["benchmark"], "params": r["params"], "tolerance": r["check"]["tolerance"]}
        for r in report["records"] if not r["passed"]]
    _write(args.out, stem, report)
    if any(r["benchmark"] == "scaling" for r in report["records"]):
        plot_scaling(report, args.out / f"{stem}-scaling.png")
    _log((args.out / f"{stem}.md").read_text())
    for f in report["failed_checks"]:
        _log(f"CHECK FAILED: {f['benchmark']} {f['params']}: {f['tolerance']}")
    return 1 if report["failures"] or report["failed_checks"] else 0


def _write(out: Path, stem: str, report: dict) -> None:
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"{stem}.md").write_text(to_markdown(report))


if __name__ == "__main__":
    sys.exit(main())
