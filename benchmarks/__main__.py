"""``python -m benchmarks --quick`` (< 10 min on 2 cores) or ``--full``.

Every measurement runs in a fresh subprocess (see ``_harness.py``); ours and the baseline are
interleaved in the same run, on the same data. Results: ``benchmarks/results/<suite>.json``,
``<suite>.md`` and ``<suite>-scaling.png``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ._harness import ROOT, measure
from .bench_wemd import distance_agreement, emd_agreement

RESULTS = ROOT / "benchmarks" / "results"

SUITES = {
    "quick": {
        # n = 160 measured, extrapolated to the target n = 800 (transform ~ n, distances ~ n^2).
        "wemd": {"n": [160], "extrapolate_to": 800, "repeats": 2},
        "triplets": {"n": 10_000, "n_vec": 400, "repeats": 1},
        "diffusion": {"n": 3000, "n_vec": 400, "repeats": 1},
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


def _log(msg: str) -> None:
    print(msg, flush=True)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("inf")


def _pair_record(name, params, summary, check, extra=None):
    ours, base = summary["ours"], summary[[k for k in summary if k != "ours"][0]]
    rec = {
        "benchmark": name,
        "params": params,
        "ours": ours,
        "baseline": base,
        "speedup": _ratio(base["time"], ours["time"]),
        "memory_ratio": _ratio(ours["peak_extra_mib"], base["peak_extra_mib"]),
        "check": check,
    }
    if extra:
        rec.update(extra)
    return rec


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
        summary, outs = measure("benchmarks.bench_wemd", "WemdPipeline", ["ours", "baseline"],
                                params, repeats=cfg["repeats"], log=log)
        check = distance_agreement(outs["ours"]["distances"], outs["baseline"]["distances"],
                                   outs["baseline"]["l1_norms"])
        rec = _pair_record("wemd", params, summary, check)
        target = cfg.get("extrapolate_to")
        if target and target != n:
            # transform ~ n, all pairs ~ n (n - 1); memory ~ n (coefficient vectors dominate).
            f1, f2 = target / n, target * (target - 1) / (n * (n - 1))
            est = {}
            for side in ("ours", "baseline"):
                ph = rec[side]["phases"]
                est[side] = {
                    "time": ph["transform"] * f1 + ph["distances"] * f2,
                    "peak_extra_mib": rec[side]["peak_extra_mib"] * f1,
                }
            rec["extrapolated"] = {
                "n": target,
                "ours": est["ours"],
                "baseline": est["baseline"],
                "speedup": _ratio(est["baseline"]["time"], est["ours"]["time"]),
                "memory_ratio": _ratio(est["ours"]["peak_extra_mib"],
                                       est["baseline"]["peak_extra_mib"]),
            }
        records.append(rec)
    return records


def run_triplets(cfg, log):
    params = {"n": cfg["n"], "n_vec": cfg["n_vec"]}
    summary, outs = measure("benchmarks.bench_product", "TripletSearch", ["ours", "baseline"],
                            params, repeats=cfg["repeats"], log=log)
    a, b = outs["ours"], outs["baseline"]
    check = {
        "identical_triplets": bool(np.array_equal(a["triplets"], b["triplets"])),
        "n_triplets": int(len(b["triplets"])),
        "max_score_diff": float(np.abs(a["best_score"] - b["best_score"]).max()),
    }
    return [_pair_record("triplets", params, summary, check)]


def run_diffusion(cfg, log):
    params = {"n": cfg["n"], "n_vec": cfg["n_vec"]}
    summary, outs = measure("benchmarks.bench_product", "DiffusionMap", ["ours", "baseline"],
                            params, repeats=cfg["repeats"], log=log)
    mu_o, mu_b = outs["ours"]["eigenvalues"], outs["baseline"]["eigenvalues"]
    check = {
        "note": "different operators (kNN-truncated vs dense kernel): agreement is indicative",
        "max_abs_eigenvalue_diff_top10": float(np.abs(mu_o[:10] - mu_b[:10]).max()),
    }
    return [_pair_record("diffusion", params, summary, check)]


def run_solver_check(cfg, log):
    params = {"n": cfg["n"], "n_vec": cfg["n_vec"]}
    summary, outs = measure("benchmarks.bench_product", "SolverCheck", ["ours", "dense"], params,
                            log=log)
    diff = np.abs(outs["ours"]["eigenvalues"] - outs["dense"]["eigenvalues"]).max()
    return [_pair_record("solver_check", params, summary,
                         {"max_abs_eigenvalue_diff": float(diff)})]


def run_emd(cfg, log):
    records = []
    for size in cfg["sizes"]:
        params = {"n": cfg["n"], "size": size}
        summary, outs = measure("benchmarks.bench_wemd", "EmdTradeoff", ["ours", "baseline"],
                                params, log=log)
        check = emd_agreement(outs["ours"]["distances"], outs["baseline"]["distances"])
        pairs = cfg["n"] * (cfg["n"] - 1) / 2
        rec = _pair_record("emd", params, summary, check)
        rec["per_pair_s"] = {"ours": summary["ours"]["time"] / pairs,
                             "baseline": summary["baseline"]["time"] / pairs}
        records.append(rec)
    return records


def run_scaling(cfg, log):
    records = []
    for case, points in cfg.items():
        module = "benchmarks.bench_scaling"
        for params in points:
            summary, _ = measure(module, case, ["ours"], params, log=log)
            info = summary["ours"]
            records.append({"benchmark": "scaling", "case": case, "params": params,
                            "time": info["time"], "peak_extra_mib": info["peak_extra_mib"],
                            "peak_rss_mib": info["peak_rss_mib"]})
    return records


def machine() -> dict:
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    lscpu = run(["lscpu"])
    keep = ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache", "Flags")
    cpu = {}
    for line in lscpu.splitlines():
        key, _, val = line.partition(":")
        if key.strip() in keep:
            val = val.strip()
            if key.strip() == "Flags":
                val = " ".join(f for f in val.split() if f.startswith(("avx", "fma")))
            cpu[key.strip()] = val
    import numba
    import scipy

    return {
        "cpu": cpu,
        "memory": run(["free", "-g"]).strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "load_average_at_start": list(__import__("os").getloadavg()),
    }


def _fmt_t(t):
    return f"{t:.3g} s" if t < 100 else f"{t:.0f} s"


def _fmt_m(m):
    return f"{m / 1024:.2f} GiB" if m >= 1024 else f"{m:.0f} MiB"


def to_markdown(report: dict) -> str:
    lines = [f"# conformap benchmarks ({report['suite']})", "",
             f"Command: `{report['command']}`  ", f"Date: {report['date']}  ",
             f"Wall time of the suite: {report['suite_seconds']:.0f} s", ""]
    lines += ["Times are the best of the repeats (fresh subprocess each, interleaved); memory is",
              "the peak resident size *during* the timed call above the size right before it",
              "(inputs and libraries excluded).", ""]
    head = ("| benchmark | params | ours | baseline | speed-up | ours peak | baseline peak | "
            "memory ratio | check |")
    lines += [head, "|" + "---|" * 9]
    for rec in report["records"]:
        if rec["benchmark"] == "scaling":
            continue
        o, b = rec["ours"], rec["baseline"]
        ph = ", ".join(f"{k} {v:.3g}" for k, v in o["phases"].items())
        bph = ", ".join(f"{k} {v:.3g}" for k, v in b["phases"].items())
        check = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in rec["check"].items() if k != "note")
        lines.append(
            f"| {rec['benchmark']} | {json.dumps(rec['params'])} | {_fmt_t(o['time'])} ({ph}) | "
            f"{_fmt_t(b['time'])} ({bph}) | {rec['speedup']:.1f}x | "
            f"{_fmt_m(o['peak_extra_mib'])} | {_fmt_m(b['peak_extra_mib'])} | "
            f"{rec['memory_ratio']:.2f} | {check} |"
        )
        if "extrapolated" in rec:
            e = rec["extrapolated"]
            lines.append(
                f"| wemd, extrapolated | n={e['n']} | {_fmt_t(e['ours']['time'])} | "
                f"{_fmt_t(e['baseline']['time'])} | {e['speedup']:.1f}x | "
                f"{_fmt_m(e['ours']['peak_extra_mib'])} | "
                f"{_fmt_m(e['baseline']['peak_extra_mib'])} | {e['memory_ratio']:.2f} | "
                "from the row above: transform x n, distances x n(n-1) |"
            )
    lines += ["", "## Scaling (ours)", "", "| case | params | time | peak (extra) |",
              "|---|---|---|---|"]
    for rec in report["records"]:
        if rec["benchmark"] == "scaling":
            lines.append(f"| {rec['case']} | {json.dumps(rec['params'])} | "
                         f"{_fmt_t(rec['time'])} | {_fmt_m(rec['peak_extra_mib'])} |")
    lines += ["", f"Plot: `{report['suite']}-scaling.png`", ""]
    return "\n".join(lines)


def plot_scaling(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    cases: dict = {}
    for rec in report["records"]:
        if rec["benchmark"] == "scaling":
            x = rec["params"]["n_vec"] if rec["case"] == "TripletScaling" else rec["params"]["n"]
            cases.setdefault(rec["case"], []).append((x, rec["time"], rec["peak_extra_mib"]))
    for case, pts in cases.items():
        pts.sort()
        x = np.array([p[0] for p in pts], float)
        label = case + (" (x = N)" if case == "TripletScaling" else "")
        axes[0].loglog(x, [p[1] for p in pts], "o-", label=label)
        axes[1].loglog(x, [max(p[2], 1.0) for p in pts], "o-", label=label)
    axes[0].set(xlabel="n (items) or N (eigenvectors)", ylabel="time [s]", title="time")
    axes[1].set(xlabel="n (items) or N (eigenvectors)", ylabel="peak extra RSS [MiB]",
                title="memory")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


RUNNERS = {
    "wemd": run_wemd,
    "triplets": run_triplets,
    "diffusion": run_diffusion,
    "solver_check": run_solver_check,
    "emd": run_emd,
    "scaling": run_scaling,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="the quick suite (default)")
    group.add_argument("--full", action="store_true", help="the full suite (n = 800 WEMD, ...)")
    parser.add_argument("--only", nargs="+", choices=sorted(RUNNERS), help="run only these")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parser.parse_args(argv)
    suite = "full" if args.full else "quick"
    cfg = SUITES[suite]
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"suite": suite, "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
              "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "records": []}
    t0 = time.perf_counter()
    for name, runner in RUNNERS.items():
        if args.only and name not in args.only:
            continue
        _log(f"[{time.perf_counter() - t0:6.0f} s] {name}")
        try:
            report["records"] += runner(cfg[name], _log)
        except Exception as exc:  # keep the other benchmarks' results
            _log(f"  FAILED: {exc}")
            report.setdefault("failures", []).append({"benchmark": name, "error": str(exc)})
        report["suite_seconds"] = time.perf_counter() - t0
        # write after every benchmark, so an interrupted run keeps what it measured
        (args.out / f"{suite}.json").write_text(json.dumps(report, indent=1))
        (args.out / f"{suite}.md").write_text(to_markdown(report))
    if any(r["benchmark"] == "scaling" for r in report["records"]):
        plot_scaling(report, args.out / f"{suite}-scaling.png")
    _log((args.out / f"{suite}.md").read_text())
    return 1 if report.get("failures") else 0


if __name__ == "__main__":
    sys.exit(main())
