"""Markdown and plots rendered from a results JSON of ``python -m benchmarks`` (no typed numbers).

``to_markdown(report)`` is the run's table (``<suite>.md``); ``render_doc(report)`` is the whole
of ``docs/benchmarks.md``: every number in it is formatted here from ``report``, so
``tests/test_docs.py`` can re-render it from the committed JSON and compare.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

#: Version of what the suite measures, stored in each results JSON (``suite_version``). Raise
#: it when a benchmark changes what it compares; a page rendered from an older run says so.
#: 2: the diffusion rows solve conformap's own graph (``graph.build_graph``), externals run.
SUITE_VERSION = 2
SUITE_CHANGES = {2: "the diffusion rows then solved a fixed-sigma 15-neighbour operator written "
                    "in bench_product, not the graph conformap builds, and the approximation row "
                    "reported a spectral-norm distance instead of the dropped kernel mass"}


def stale_note(report: dict) -> list[str]:
    """A warning paragraph if ``report`` was measured by an older version of the suite."""
    v = report.get("suite_version", 1)
    if v >= SUITE_VERSION:
        return []
    why = "; ".join(SUITE_CHANGES[k] for k in sorted(SUITE_CHANGES) if k > v)
    return [f"**This run predates the current suite** (suite version {v}, now "
            f"{SUITE_VERSION}): {why}. The description below is the current code's; the numbers "
            "are that older run's. Re-run with `make benchmark-docs` and re-render.", ""]


def fmt_t(t: float) -> str:
    return f"{t:.3g} s" if t < 100 else f"{t:.0f} s"


def fmt_m(m: float) -> str:
    return f"{m / 1024:.2f} GiB" if m >= 1024 else f"{m:.0f} MiB"


def fmt_v(v) -> str:
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    return f"{v:.3g}"


def _phases(info: dict) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in info["phases"].items())


def _check_cell(rec: dict) -> str:
    c = rec["check"]
    vals = ", ".join(f"{k}={fmt_v(v)}" for k, v in c.items()
                     if k not in ("passed", "tolerance") and not isinstance(v, list))
    selfc = "".join(f"; {impl} self-check {'ok' if sc['passed'] else 'FAILED'}"
                    for impl, sc in rec.get("self_checks", {}).items())
    return f"**{'pass' if rec['passed'] else 'FAIL'}**: {vals}{selfc}"


def pair_rows(report: dict) -> list[str]:
    head = ("| benchmark | params | ours | baseline | speed-up | ours peak | baseline peak | "
            "memory ratio | check |")
    lines = [head, "|" + "---|" * 9]
    for rec in report["records"]:
        if "ours" not in rec or "baseline" not in rec:
            continue
        o, b = rec["ours"], rec["baseline"]
        lines.append(
            f"| {rec['benchmark']} | {json.dumps(rec['params'])} | {fmt_t(o['time'])} "
            f"({_phases(o)}) | {rec['baseline_name']}: {fmt_t(b['time'])} ({_phases(b)}) | "
            f"{rec['speedup']:.1f}x | {fmt_m(o['peak_extra_mib'])} | "
            f"{fmt_m(b['peak_extra_mib'])} | {rec['memory_ratio']:.2f} | {_check_cell(rec)} |")
        for name, info in rec.get("others", {}).items():
            lines.append(
                f"| {rec['benchmark']}, {name} | (same) | {fmt_t(info['time'])} ({_phases(info)}) "
                f"| | baseline / this {b['time'] / info['time']:.1f}x; this / ours "
                f"{info['time'] / o['time']:.1f}x | "
                f"{fmt_m(info['peak_extra_mib'])} | | | timed for context |")
        if "extrapolated" in rec:
            e = rec["extrapolated"]
            lines.append(
                f"| {rec['benchmark']}, **extrapolated, not measured** | n={e['n']} | "
                f"{fmt_t(e['ours']['time'])} | {fmt_t(e['baseline']['time'])} | "
                f"{e['speedup']:.1f}x | {fmt_m(e['ours']['peak_extra_mib'])} | "
                f"{fmt_m(e['baseline']['peak_extra_mib'])} | {e['memory_ratio']:.2f} | "
                f"from n={e['measured_n']}: {e['model']} |")
    return lines


def check_rows(report: dict) -> list[str]:
    lines = ["| benchmark | params | passed | tolerance (what is compared, and the bound) |",
             "|---|---|---|---|"]
    for rec in report["records"]:
        tol = rec["check"]["tolerance"]
        for impl, sc in rec.get("self_checks", {}).items():
            tol += f"; *{impl} self-check*: {sc['tolerance']}"
        case = f"{rec['benchmark']}" + (f" {rec['case']}" if "case" in rec else "")
        lines.append(f"| {case} | {json.dumps(rec['params'])} | "
                     f"{'yes' if rec['passed'] else '**NO**'} | {tol} |")
    return lines


def scaling_rows(report: dict) -> list[str]:
    lines = ["| case | params | time | peak (extra) | check |", "|---|---|---|---|---|"]
    for rec in report["records"]:
        if rec["benchmark"] == "scaling":
            lines.append(f"| {rec['case']} | {json.dumps(rec['params'])} | {fmt_t(rec['time'])} | "
                         f"{fmt_m(rec['peak_extra_mib'])} | {_check_cell(rec)} |")
    return lines


def measurement_rows(report: dict) -> list[str]:
    lines = []
    for rec in report["records"]:
        if rec.get("measurement"):
            c = rec["check"]
            vals = ", ".join(f"{k}={fmt_v(v)}" for k, v in c.items()
                             if k not in ("passed", "tolerance") and not isinstance(v, list))
            lines.append(f"- {rec['benchmark']} {json.dumps(rec['params'])}: {vals}")
    return lines


def to_markdown(report: dict) -> str:
    """The run's tables (``<suite>.md``)."""
    lines = [f"# conformap benchmarks ({report['suite']})", ""] + stale_note(report) + [
             f"Command: `{report['command']}`  ", f"Date: {report['date']}  ",
             f"Wall time of the suite: {report.get('suite_seconds', 0):.0f} s  ",
             f"Load average (1, 5, 15 min) at the start: {report['load_average']['start']}", ""]
    lines += pair_rows(report) + [""] + measurement_rows(report)
    lines += ["", "## Scaling (ours)", ""] + scaling_rows(report)
    lines += ["", "## Checks", ""] + check_rows(report) + [""]
    for f in report.get("failures", []):
        lines.append(f"- **{f['benchmark']} did not run**: {f['error'].splitlines()[-1]}")
    return "\n".join(lines) + "\n"


def plot_scaling(report: dict, path: Path) -> None:
    """Measured points only (log-log): time and peak extra memory of every scaling case."""
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
    axes[0].set(xlabel="n (items) or N (eigenvectors)", ylabel="time [s]",
                title="time (measured points)")
    axes[1].set(xlabel="n (items) or N (eigenvectors)", ylabel="peak extra RSS [MiB]",
                title="memory (measured points)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{report['suite']} run of {report['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------ docs/benchmarks.md


def find(report: dict, benchmark: str, case: str | None = None, **params):
    """The first record of ``benchmark`` (and ``case``) whose params include ``params``."""
    for rec in report["records"]:
        if rec["benchmark"] == benchmark and (case is None or rec.get("case") == case) and all(
                rec["params"].get(k) == v for k, v in params.items()):
            return rec
    return None


def _machine_lines(report: dict) -> list[str]:
    m = report["machine"]
    cpu = m["cpu"]
    load = report["load_average"]
    during = [v[0] for k, v in load.items() if k != "start"]
    return [
        f"- CPU: {cpu.get('Model name', '?')}, {cpu.get('CPU(s)', '?')} logical CPUs "
        f"({cpu.get('Thread(s) per core', '?')} thread per core), L2 {cpu.get('L2 cache', '?')}, "
        f"L3 {cpu.get('L3 cache', '?')}, {cpu.get('Hypervisor vendor', 'no')} hypervisor; "
        f"vector extensions: {cpu.get('Flags', '?')}.",
        f"- Memory: {m['memory_gib']} GiB.",
        f"- Python {m['python']}, numpy {m['numpy']}, scipy {m['scipy']}, numba {m['numba']} "
        f"({m['numba_threads']} threads), PyWavelets {m['pywavelets']}, scikit-learn "
        f"{m['scikit-learn']}, POT {m['pot']}.",
        f"- Load: 1-minute load average {load['start'][0]:g} at the start and "
        f"{min(during, default=load['start'][0]):g} to {max(during, default=load['start'][0]):g}"
        f" after each benchmark, on {cpu.get('CPU(s)', '?')} logical CPUs. "
        + (f"Note of the run: {report['note']}" if report.get("note") else ""),
    ]


def _targets(report: dict) -> list[str]:
    """Issue 4's targets, each with the measured value of this run and met / not met."""
    rows = ["| target | measured (this run) | status |", "|---|---|---|"]

    def row(target, measured, ok):
        rows.append(f"| {target} | {measured} | {'met' if ok else '**not met**'} |")

    w = find(report, "wemd", n=800) or find(report, "wemd", n=max(
        (r["params"]["n"] for r in report["records"] if r["benchmark"] == "wemd"), default=0))
    if w is not None:
        ext = w.get("extrapolated")
        src = ext if ext else w
        label = " (extrapolated from n = {}, not measured)".format(w["params"]["n"]) if ext else ""
        row("WEMD n = 800, >= 20x faster than (a)" + label,
            f"{src['speedup']:.1f}x ({fmt_t(src['ours']['time'])} vs "
            f"{fmt_t(src['baseline']['time'])})", src["speedup"] >= 20)
        row("WEMD n = 800, <= 1/4 of (a)'s peak memory" + label, f"{src['memory_ratio']:.2f}",
            src["memory_ratio"] <= 0.25)
        c = w["check"]
        row(f"WEMD distances agree with (a) (n = {w['params']['n']})",
            f"{c['pairs_over_bound']} of {c['pairs']} pairs over the stated bound; "
            f"normwise {c['normwise_rel_diff']:.2g}, median {c['median_rel_diff']:.2g} relative",
            w["passed"])
    t = find(report, "triplets")
    if t is not None:
        row(f"Algorithm 1, N = {t['params']['n_vec']}, n = {t['params']['n']}: < 1 s",
            fmt_t(t["ours"]["time"]), t["ours"]["time"] < 1)
        row("... and >= 50x faster than (b)'s loop, identical triplets",
            f"{t['speedup']:.0f}x; {t['check']['n_triplets']} triplets, identical: "
            f"{t['check']['identical_triplets']}", t["speedup"] >= 50 and t["passed"])
    d = find(report, "diffusion")
    if d is not None:
        row(f"Diffusion map n = {d['params']['n']}, {d['params']['n_vec']} eigenvectors, "
            "sparse path: < 5 s", fmt_t(d["ours"]["time"]), d["ours"]["time"] < 5)
    s = find(report, "solver_check")
    if s is not None:
        row("Sparse eigenvalues = dense solve within 1e-6 (smaller instance)",
            f"{s['check']['max_abs_eigenvalue_diff']:.2g} (n = {s['params']['n']})", s["passed"])
    wt = sorted((r for r in report["records"] if r.get("case") == "WemdTransform"),
                key=lambda r: r["params"]["n"])
    if wt:
        per = [1000 * r["time"] / r["params"]["n"] for r in wt]
        row("Linear-time WEMD transform (time per map flat in n)",
            ", ".join(f"{p:.1f}" for p in per) + f" ms per map at n = {wt[0]['params']['n']} ... "
            f"{wt[-1]['params']['n']}", max(per) <= 2 * min(per))
    kp = sorted((r for r in report["records"] if r.get("case") == "KnnPath"),
                key=lambda r: r["params"]["n"])
    if kp:
        per = [r["peak_extra_mib"] / r["params"]["n"] * 1024 for r in kp]
        row("kNN path memory linear in n",
            ", ".join(fmt_m(r["peak_extra_mib"]) for r in kp) + f" at n = {kp[0]['params']['n']}"
            f" ... {kp[-1]['params']['n']}", max(per) <= 2 * min(per))
    return rows


DOC_HEAD = """# Benchmarks: conformap against the published pipelines

Generated by `python -m benchmarks.docs` from the committed raw results
[`{json_path}`]({json_rel}) of the run below: every number on this page is formatted from that
file by `benchmarks/report.py` (`tests/test_docs.py` re-renders the page and compares). Re-run
and regenerate with `make docs` (or only this page: `make benchmark-docs`).

Exact command of the run: `{command}` (in the venv that `make install` creates, package
installed editable), started {date}, {seconds:.0f} s wall.

## Machine

{machine}

The machine was **shared** with other engineers' work during this run (see the load above):
absolute times are noisy and slower than on an idle machine, and a baseline's pure-Python or
BLAS part and our compiled kernels do not slow down alike. Compare ratios, measured side by side
in one run, not absolute times; expect them to move between runs.
"""

DOC_METHOD = """## How we measure

Each measurement is a fresh subprocess (`benchmarks/_harness.py`): inputs are built, and
**both** sides warmed up (imports such as `import ot`, numba compilation, BLAS threads, a small
call of the same code), untimed; then the kernel's peak-RSS counter is reset
(`/proc/self/clear_refs`) and the call is timed. "Peak" is the high-water resident size *during*
the call minus the size just before it. Times are the best of the repeats; ours and the baseline
run interleaved in the same suite run, on the same data, in the same dtype.

Every row has a **check** that both sides compute the same thing within a stated tolerance
(table "Checks" below); a failed check marks the row FAIL and makes the run exit with status 1.
Where a case defines a self-check (an oracle run after the timed call, e.g. the float64
published pipeline on the first maps), it is part of the row's check.

Baselines, written in the benchmark modules:

- (a) `bench_wemd.wemd_published`: the earthmover paper's pipeline: one
  `pywt.wavedecn(vol / vol.sum(), "coif3", mode="zero", level=5)` per volume **in float32** (the
  maps are float32, as in the published code), detail level j (0 = finest) times
  2^(j (1 + d/2)), vectors in a Python list, `pdist(..., "cityblock")`. Ours:
  `wemd_embedding(..., columns="resolved")` + `pairwise_distances(metric="l1")`, what
  `wemd_distances` and `DiffusionMap(metric="wemd")` run. Dropping the columns below float32
  resolution is a faster formulation than the published one, so `ours_all_columns`
  (`columns="all"`, every coefficient) is timed as well.
- (b) `bench_product.triplets_published`: Algorithm 1 as a Python loop over
  `itertools.combinations` with the element-wise product of each admissible triplet, float64.
  Ours: `conformap.product.find_triplets` (float32 screening, float64 rescoring of close calls).
- (b) eigenvectors: `bench_product.eigs_published`, the published `randomized_svd` with
  **n_iter = 5** (as the paper's code), applied to **the operator conformap builds**: the kNN
  graph of `conformap.graph.build_graph(X, metric="euclidean", method="knn",
  bandwidth="connect")` (default k, fixed sigma, union-symmetrised, bridged), normalised by
  `conformap.diffusion.normalized_operator` (alpha = 1) into the symmetric
  D^-1/2 W D^-1/2 (`bench_product.diffusion_operator`). Ours:
  `conformap.diffusion.diffusion_eigenpairs(graph, eigen_solver="sparse")` on the same graph
  (Chebyshev-filtered subspace iteration); the check compares the top eigenvalues.
  Timed for context, not compared: `ours_adaptive`, the same call on the default
  `bandwidth="auto"` graph (adaptive kernel: a generalized eigenproblem, shift-invert, that the
  randomized SVD as published cannot solve), and `published_dense`, the published pipeline
  as it stands (dense kernel over all pairs, same sigma, randomized SVD). The row
  `diffusion_approximation` measures how far each kNN graph is from its complete kernel.
- (c) `bench_wemd.emd_exact_pot`: exact EMD, `ot.emd2`, Euclidean ground cost, every pair;
  ours in float64 like the LP. WEMD approximates EMD; the check bounds the distortion.

Data: WEMD uses the paper's map `rotating_shaft_res6.mrc` (47 x 104 x 47, float32) rotated by
`conformap.datasets.rotate_map(vol, n, rng=0)` (the paper's angle mixture; `noise=0.1` adds
Gaussian noise of 0.1 x the map's maximum); without the file, the procedural rotor of the same
shape. Product manifold: the paper's rectangle (`make_rectangle(n, rng=0)`); Algorithm 1 gets
the exact Neumann eigenfunctions at the sample points, delta = 1.5 lambda_1, gamma = 0.75.
"""


_WORKERS = re.compile(r"^local:(\d+)")
DISTRIBUTED_JSON = "docs/distributed-results.json"


def _seconds(v):
    """The wall seconds of one setting: a number, or a dict's ``s``; None if neither."""
    if isinstance(v, dict):
        v = v.get("s")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _details(v) -> str:
    if not isinstance(v, dict):
        return ""
    return ", ".join(f"{k}={fmt_v(x)}" for k, x in v.items()
                     if k != "s" and not isinstance(x, (dict, list)))


def worker_rows(dist: dict) -> list[str]:
    """Tables of every section of the distributed results with 1, 2, ... Dask workers.

    A section is a top-level dict with ``"local:N"`` settings (``{"s": seconds, ...}`` or a
    number of seconds) and optionally ``"in-process..."`` settings; every other scalar field of a
    setting is listed as it is, so records that gain fields keep rendering.
    """
    lines: list[str] = []
    for name, sec in dist.items():
        if not isinstance(sec, dict) or not any(_WORKERS.match(k) for k in sec):
            continue
        settings = [k for k in sec if _WORKERS.match(k) or k.startswith("in-process")]
        one = next((_seconds(sec[k]) for k in settings if _WORKERS.match(k)
                    and _WORKERS.match(k).group(1) == "1"), None)
        about = ", ".join(f"{k}={fmt_v(v)}" for k, v in sec.items()
                          if k not in settings and not isinstance(v, (dict, list)))
        lines += [f"**{name}**" + (f" ({about})" if about else "") + ":", "",
                  "| setting | time | 1 worker / this | details |", "|---|---|---|---|"]
        for k in settings:
            t = _seconds(sec[k])
            ratio = f"{one / t:.2f}x" if one and t else ""
            lines.append(f"| {k} | {fmt_t(t) if t is not None else '?'} | {ratio} | "
                         f"{_details(sec[k])} |")
        lines.append("")
    return lines


def distributed_section(dist: dict | None) -> list[str]:
    """``docs/benchmarks.md``'s section on 1 vs 2 Dask workers, from ``DISTRIBUTED_JSON``."""
    lines = ["## 1 vs 2 Dask workers (issue 11)", ""]
    if not dist:
        return lines + [f"(no `{DISTRIBUTED_JSON}`)", ""]
    lines += [f"From [`{DISTRIBUTED_JSON}`](distributed-results.json) (written by "
              "`benchmarks/bench_distributed.py`; the page on it is "
              "[`distributed.md`](distributed.md)). Runs behind it:", ""]
    for run in dist.get("runs", []):
        if isinstance(run, dict):
            lines.append(f"- `{run.get('command', '?')}`, started {run.get('started', '?')}"
                         + (f": {run['note']}" if run.get("note") else ""))
    for k, v in dist.items():
        if "note" in k and isinstance(v, str):
            lines.append(f"- {k}: {v}")
    rows = worker_rows(dist)
    return lines + [""] + (rows or ["(no section with `local:N` worker settings)", ""])


def render_doc(report: dict, distributed: dict | None = None, *,
               json_path: str = "docs/benchmarks/full.json") -> str:
    """The whole of ``docs/benchmarks.md`` from one results JSON of the suite.

    ``distributed`` is the parsed ``DISTRIBUTED_JSON`` (the 1 vs 2 workers tables), optional.
    """
    rel = json_path.split("docs/", 1)[-1]
    plot = rel.rsplit(".", 1)[0] + "-scaling.png"
    head = DOC_HEAD.format(json_path=json_path, json_rel=rel, command=report["command"],
                           date=report["date"], seconds=report.get("suite_seconds", 0),
                           machine="\n".join(_machine_lines(report)))
    lines = [head] + stale_note(report)
    if not report.get("complete", "failed_checks" in report):
        lines += ["**This run did not finish**: only the benchmarks below ran.", ""]
    if report["suite"] != "full":
        lines += [f"This is the **{report['suite']}** suite (`make benchmark`): smaller sizes than "
                  "the targets of issue 4 (`make benchmark-full`); rows marked *extrapolated* "
                  "are estimates from a smaller measured n, not measurements.", ""]
    lines += [DOC_METHOD, f"## Results ({report['suite']} run)", ""]
    lines += pair_rows(report)
    slower = [f"{r['benchmark']} {json.dumps(r['params'])} ({r['speedup']:.2f}x)"
              for r in report["records"] if "speedup" in r and r["speedup"] < 1]
    lines += ["", "Rows where ours is slower than the baseline: "
              + ("; ".join(slower) if slower else "none") + "."]
    lines += ["", "## How far the kNN graph is from the complete kernel", ""]
    lines += measurement_rows(report) or ["(not run)"]
    lines += ["", "For the fixed kernel of the diffusion row and the default adaptive one, at the "
              "same points and scales (`bench_product.DiffusionApproximation`): the fraction of "
              "each row's off-diagonal kernel mass that the kNN graph does not store, exactly "
              "over all rows (`dropped_mass_mean`, `dropped_mass_max`; the graph's own estimate "
              "on sampled rows is `graph_dropped_mass_estimate`), and the top Markov "
              "eigenvalues of the kNN problem (the library's solver) against a dense LAPACK "
              "`eigh` of the complete kernel (`max_abs_eigenvalue_diff_top`; relative "
              "difference of the Laplacian eigenvalues `max_rel_laplacian_eigenvalue_diff_top`). "
              "This is the approximation the kNN path makes, independent of the eigensolver. "
              "The row fails if an unstored affinity exceeds the bound the graph states "
              "(`graph_max_dropped_affinity`).", ""]
    lines += ["## Scaling (ours; every point measured)", ""] + scaling_rows(report)
    lines += ["", f"![scaling]({plot})", "", "## Checks", ""] + check_rows(report)
    for f in report.get("failures", []):
        lines.append(f"\n- **{f['benchmark']} did not run**: {f['error'].splitlines()[-1]}")
    lines += [""] + distributed_section(distributed)
    lines += ["", "## Targets of issue 4", ""]
    if report["suite"] == "full":
        load = [v[0] for v in report["load_average"].values()]
        cpus = report["machine"]["cpu"].get("CPU(s)", "?")
        lines += [f"The time targets were set for an idle machine; during this run the 1-minute "
                  f"load average was {min(load):g} to {max(load):g} on {cpus} logical CPUs, so a "
                  "target marked not met here is not a measurement on an idle machine (and no "
                  "raw results of an idle run are committed to compare with).", ""]
        lines += _targets(report)
    else:
        lines += ["The targets of issue 4 are stated at the full suite's sizes (WEMD n = 800, "
                  "diffusion n = 10,000); this quick run does not test them."]
    lines += ["", "Engineering notes on how these speeds were reached, and what was tried and "
              "dropped, are in the commit messages (`git log -- src/conformap/_kernels.py "
              "src/conformap/wemd.py src/conformap/_eigensolver.py`): they were measured during "
              "development, not by this run, so they are not repeated here.", ""]
    return "\n".join(lines)
