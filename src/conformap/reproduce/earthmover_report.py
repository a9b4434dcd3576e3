"""Markdown of the earthmover reproduction, rendered from ``results.json`` alone.

``render_tables(results)`` is a run directory's ``tables.md``; ``render_readme(runs)`` is
``docs/earthmover/README.md`` from the three committed runs. Every number in either is formatted
here from the results, so the committed markdown can be re-rendered and compared
(``tests/test_docs.py``); claims ("WEMD is a loop", "auto matches or beats mst") are counted
from the recorded per-cell measurements, not written by hand.
"""

from __future__ import annotations

import math

import numpy as np

NOISE_LABEL = {0.0: "clean", 0.1: "noisy"}


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _nanmedian(values) -> float:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    return float(np.nanmedian(v)) if np.isfinite(v).any() else math.nan


def cells_of(results, noise, metric, n=None, key="cells"):
    return [c for c in results[key] if c["noise"] == noise and c["metric"] == metric
            and (n is None or c["n"] == n)]


def _err_cell(cells) -> str:
    failed = sum(c["failed"] for c in cells)
    med = _nanmedian([c["median_error"] for c in cells])
    txt = "failed" if math.isnan(med) else f"{med:.1f}"
    return txt + (f" ({failed} failed)" if failed and not math.isnan(med) else "")


def _loop_cell(cells) -> str:
    loops = sum(c["is_loop"] for c in cells)
    return f"{loops}/{len(cells)}"


def _hole_cell(cells) -> str:
    med = _nanmedian([c["hole"] for c in cells])
    return "n/a" if math.isnan(med) else f"{med:.2f}"


def _grid(results, fmt, key="cells", columns=None) -> list[list]:
    rows = []
    for noise in (0.0, 0.1):
        for metric in ("l2", "wemd"):
            cols = columns if columns is not None else results["sizes"]
            field = "n" if key == "cells" else "setting"
            rows.append([NOISE_LABEL[noise], metric] + [
                fmt([c for c in cells_of(results, noise, metric, key=key) if c[field] == col])
                for col in cols])
    return rows


def bandwidth_settings(results) -> list[str]:
    seen = []
    for c in results["bandwidth"]:
        if c["setting"] not in seen:
            seen.append(c["setting"])
    return seen


def render_tables(results: dict) -> str:
    """``tables.md`` of one run directory."""
    sizes = results["sizes"]
    m = results["machine"]
    f3 = results["fig3"]
    size_head = ["data", "metric"] + [f"n={n}" for n in sizes]
    settings = bandwidth_settings(results)
    bw_head = ["data", "metric"] + [f"σ{s.replace('x', '×')}" if s.startswith("x") else s
                                    for s in settings]
    out = [
        f"Data: {results['data']}; seeds: {results['seeds']}; WEMD level {results['level']}; "
        "bandwidth 'auto' unless stated.  ",
        f"Command: `{results['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average_start']} at the "
        f"start and {m['load_average_end']} at the end (shared machine: timings are noisy); "
        f"{results['seconds']:.0f} s in all.",
        "",
        "### Fig. 3",
        f"WEMD increases with the angle up to {f3['wemd_monotone_until_deg']:.0f}°, L2 up to "
        f"{f3['l2_monotone_until_deg']:.0f}° (5° steps).",
        "",
        "### Median angular recovery error (degrees; median over seeds) for each Fig. 5 cell",
        _table(size_head, _grid(results, _err_cell)),
        "### Geometry: Spearman correlation of embedding distances with true chord distances "
        "(1 = a faithful circle; median over seeds)",
        _table(size_head, _grid(results, lambda cs: f"{_nanmedian([c['geometry_correlation'] for c in cs]):.3f}")),
        "### Loops: seeds whose embedding is a loop (winds once around its centre in the true "
        f"order, 95 % of the points at least {results['loop_min_hole']:g} x the median radius "
        "from it)",
        _table(size_head, _grid(results, _loop_cell)),
        "### Hole: 5th-percentile radius / median radius about the centre (median over seeds; "
        "0 = the embedding passes through its centre, as a star does)",
        _table(size_head, _grid(results, _hole_cell)),
        f"### Recovery error (degrees) vs bandwidth, n = {results['sweep_n']}: scale factors "
        "times the 'auto' sigma, then each automatic rule (median over seeds)",
        _table(bw_head, _grid(results, _err_cell, key="bandwidth", columns=settings)),
        f"### Loops vs bandwidth, n = {results['sweep_n']} (seeds whose embedding is a loop)",
        _table(bw_head, _grid(results, _loop_cell, key="bandwidth", columns=settings)),
        "### Fig. 4: running times on this machine (seed 0, clean maps; every n measured)",
        _table(["n", "wavelet transform (s)", "WEMD distances (s)", "L2 distances (s)"],
               [[t["n"], f"{t['transform_s']:.2f}", f"{t['wemd_s']:.2f}", f"{t['l2_s']:.3f}"]
                for t in results["timings"]]),
    ]
    return "\n".join(out)
