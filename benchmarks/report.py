"""Markdown and plots rendered from a results JSON of ``python -m benchmarks`` (no typed numbers).

``to_markdown(report)`` is the run's table (``<suite>.md``); ``render_doc(report)`` is the whole
of ``docs/benchmarks.md``: every number in it is formatted here from ``report``, so
``tests/test_docs.py`` can re-render it from the committed JSON and compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


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
                f"| | {b['time'] / info['time']:.1f}x (baseline / this) | "
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
    lines = [f"# conformap benchmarks ({report['suite']})", "",
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
