"""Earthmover paper (Zelesko et al. 2020): Figs. 3, 4, 5 plus recovery and bandwidth tables.

Fig. 3: WEMD and L2 distance vs rotation angle. Fig. 4: running times vs n (each n measured).
Fig. 5: 2-D diffusion maps for growing n, clean and noisy, L2 and WEMD, coloured by the true
angle. Added: for every Fig. 5 cell and seed the angular recovery error, the geometry
correlation and a loop score (``loop_score``: does the embedding wind once around its centre,
in the order of the true angles, without passing through it?), and the same vs bandwidth
(scale factors around the automatic choice, and each automatic rule) for both metrics. Runs
on the procedural rotor, or on a user's map (``map_path``, e.g. the paper's
rotating_shaft_res6.mrc). Because draws are i.i.d., each seed simulates the largest n once and
smaller n use its first items.

Entry point: :func:`run` (plain keyword arguments; ``conformap reproduce earthmover`` maps its
options onto them). The tables and the README are rendered from ``results.json`` alone by
:mod:`conformap.reproduce.earthmover_report`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

QUICK_SIZES = (25, 50, 100, 200)
FULL_SIZES = (25, 50, 100, 200, 400, 800)
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
RULES = ("auto", "mst", "median", "kernel-sum", "knn")
NOISES = (0.0, 0.1)
METRICS = ("l2", "wemd")
#: Items of the bandwidth sweep (the paper's bandwidth discussion uses n = 100).
SWEEP_N = 100
#: A cell is a loop when it winds once around its centre and keeps every point but the
#: closest 5 % at least this fraction of the median radius away from it (set before looking
#: at the results: a closed curve has a hole, a star passes through its centre).
LOOP_MIN_HOLE = 0.5


def _log(msg: str) -> None:
    """Progress line (``conformap reproduce`` shows this logger's INFO records on stdout)."""
    logger.info(msg)


# ---------------------------------------------------------------------------------- data


def load_volume(map_path):
    """The user's map as a 3-D array, or None for the procedural rotor."""
    if map_path is None:
        return None
    from ..io import read_stack

    return read_stack(map_path).data[0]


def simulate(volume, n: int, noise: float, seed: int):
    """``n`` maps at the paper's random angles (rotations of ``volume``, or the procedural
    rotor)."""
    from ..datasets import make_rotor, rotate_map

    if volume is not None:
        return rotate_map(volume, n, noise=noise, rng=seed)
    return make_rotor(n, noise=noise, rng=seed)


def simulate_at(volume, angles):
    """Clean maps at the given angles."""
    from ..datasets import rotate_map, rotor_density

    if volume is not None:
        return rotate_map(volume, angles=angles)
    return rotor_density(angles), angles


# ---------------------------------------------------------------------------- measurements


def loop_score(embedding, angles) -> dict:
    """Is a 2-D embedding a closed curve around its centre, traversed in the true order?

    The first two coordinates are centred and scaled by their mid-range (as in
    :func:`conformap.evaluate.circle_recovery`). ``winding`` is the winding number about the
    centre of the closed polygon through the points sorted by true angle (+-1 for a loop in
    either direction); ``hole`` is the 5th percentile of the radii over their median (near 0
    when the curve passes through the centre, as a star's arms do). ``is_loop`` is
    ``|winding| == 1 and hole >= LOOP_MIN_HOLE``.
    """
    emb = np.asarray(embedding, dtype=float)[:, :2]
    lo, hi = emb.min(axis=0), emb.max(axis=0)
    xy = (emb - (lo + hi) / 2) / np.where(hi > lo, (hi - lo) / 2, 1.0)
    order = np.argsort(np.asarray(angles, dtype=float) % 360.0, kind="stable")
    phase = np.arctan2(xy[order, 1], xy[order, 0])
    steps = np.angle(np.exp(1j * np.diff(np.r_[phase, phase[:1]])))
    winding = int(np.rint(steps.sum() / (2 * np.pi)))
    radius = np.hypot(xy[:, 0], xy[:, 1])
    med = float(np.median(radius))
    hole = float(np.percentile(radius, 5) / med) if med > 0 else 0.0
    return {"winding": winding, "hole": hole,
            "is_loop": bool(abs(winding) == 1 and hole >= LOOP_MIN_HOLE)}


def score_embedding(distances, angles, bandwidth="auto") -> dict:
    """Diffusion map (2 components) of ``distances`` and how well it recovers the circle.

    Returns the recovery measures and :func:`loop_score`; ``failed: True`` (and NaNs) when no
    embedding exists at this bandwidth (e.g. a disconnected graph).
    """
    from ..diffusion import diffusion_map
    from ..evaluate import circle_recovery

    try:
        res = diffusion_map(distances, n_components=2, bandwidth=bandwidth)
    except ValueError as exc:
        return {"failed": True, "reason": str(exc).split(";")[0], "median_error": np.nan,
                "geometry_correlation": np.nan, "circular_correlation": np.nan,
                "winding": 0, "hole": np.nan, "is_loop": False, "embedding": None}
    rec = circle_recovery(res.embedding, angles)
    return {"failed": False, "median_error": rec.median_error,
            "geometry_correlation": rec.geometry_correlation,
            "circular_correlation": rec.circular_correlation, "bandwidth": res.bandwidth,
            **loop_score(res.embedding, angles), "embedding": res.embedding}


def fig3(volume, level: int, out: Path, plt) -> dict:
    """Distance from the 0-degree map vs angle (5-degree steps), both metrics; the figure."""
    from ..distances import pairwise_distances
    from ..plotting import save_figure
    from ..wemd import wemd_embedding

    angles = np.arange(-180, 181, 5.0)
    maps, _ = simulate_at(volume, angles)
    e = wemd_embedding(maps, level=level)
    w = pairwise_distances(e[angles == 0], e)[0]
    l2 = pairwise_distances(maps[angles == 0], maps, metric="l2")[0]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(angles, w, label="WEMD")
    ax.plot(angles, l2 * w.max() / l2.max(), label="L2 (scaled)")
    ax.set_xlabel("angle difference (deg)")
    ax.set_ylabel("distance")
    ax.legend()
    ax.set_title("Fig. 3: distance from the 0-degree map")
    save_figure(fig, out / "fig3_distance_vs_angle.png")
    pos = angles >= 0

    def first_drop(v):
        steps = np.diff(v[pos]) <= 0
        return float(angles[pos][int(np.argmax(steps))]) if steps.any() else 180.0

    return {"wemd_monotone_until_deg": first_drop(w), "l2_monotone_until_deg": first_drop(l2)}


def distance_matrices(maps, level: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """All-pairs WEMD and L2 of ``maps``, with the time of each phase (seconds)."""
    from ..distances import pairwise_distances
    from ..wemd import wemd_embedding

    t0 = time.perf_counter()
    coeffs = wemd_embedding(maps, level=level, negative="keep")
    t1 = time.perf_counter()
    dw = pairwise_distances(coeffs)
    t2 = time.perf_counter()
    dl = pairwise_distances(maps, metric="l2")
    t3 = time.perf_counter()
    return dw, dl, {"transform_s": t1 - t0, "wemd_s": t2 - t1, "l2_s": t3 - t2}


def measure_timings(maps, sizes, level: int, largest: dict) -> list[dict]:
    """Fig. 4: transform / WEMD / L2 time at every n, each measured on the first n maps.

    ``largest`` is the measurement already made at the largest n (reused, not repeated).
    """
    rows = []
    for n in sizes:
        t = largest if n == len(maps) else distance_matrices(maps[:n], level)[2]
        rows.append({"n": int(n), **{k: float(v) for k, v in t.items()}})
    return rows


def score_cells(D, angles, sizes, keep_embeddings: bool) -> tuple[list[dict], dict]:
    """Score the Fig. 5 cells of one (seed, noise, metric): one record per n."""
    cells, embeddings = [], {}
    for n in sizes:
        rec = score_embedding(D[:n, :n], angles[:n])
        emb = rec.pop("embedding")
        if keep_embeddings and emb is not None:
            embeddings[n] = (emb, angles[:n])
        cells.append({"n": int(n), **rec})
    return cells, embeddings


def bandwidth_sweep(D, angles) -> list[dict]:
    """Recovery at scale factors of the automatic sigma, and at every automatic rule."""
    from ..bandwidth import select_bandwidth

    base = select_bandwidth(D)
    settings = [(f"x{s:g}", base * s) for s in SCALES] + [(rule, rule) for rule in RULES]
    out = []
    for name, bw in settings:
        rec = score_embedding(D, angles, bw)
        rec.pop("embedding")
        out.append({"setting": name, **rec})
    return out


# ------------------------------------------------------------------------------- figures


def plot_fig5(embeddings: dict, sizes, out: Path, plt) -> None:
    from ..plotting import save_figure

    rows = [(noise, metric) for noise in NOISES for metric in METRICS]
    fig, axes = plt.subplots(len(rows), len(sizes), figsize=(2.2 * len(sizes) + 0.9,
                                                             2.3 * len(rows)),
                             squeeze=False, layout="constrained")
    drawn = None
    for r, (noise, metric) in enumerate(rows):
        for c, n in enumerate(sizes):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if (noise, metric, n) in embeddings:
                emb, ang = embeddings[(noise, metric, n)]
                # one 0-360 scale for every panel, so one colour bar serves the figure
                drawn = ax.scatter(emb[:, 0], emb[:, 1], c=ang, cmap="twilight", vmin=0,
                                   vmax=360, s=6, linewidths=0)
            if c == 0:
                ax.set_ylabel(f"{'noisy' if noise else 'clean'} {metric}\nψ2", fontsize=8)
            if r == 0:
                ax.set_title(f"n = {n}", fontsize=9)
            if r == len(rows) - 1:
                ax.set_xlabel("ψ1", fontsize=8)
    if drawn is not None:
        fig.colorbar(drawn, ax=axes, label="true rotor angle (deg)", shrink=0.6)
    fig.suptitle("Fig. 5: diffusion maps (x: ψ1, y: ψ2) coloured by the true angle (seed 0)",
                 fontsize=10)
    save_figure(fig, out / "fig5_embeddings.png")


def plot_fig4(timings: list[dict], out: Path, plt) -> None:
    from ..plotting import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ns = [r["n"] for r in timings]
    for key, label in (("transform_s", "wavelet transform"), ("wemd_s", "WEMD distances"),
                       ("l2_s", "L2 distances")):
        ax.loglog(ns, [max(r[key], 1e-4) for r in timings], "o-", label=label)
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("n")
    ax.set_ylabel("seconds")
    ax.legend(fontsize=8)
    ax.set_title("Fig. 4: running time, every n measured (seed 0, clean)", fontsize=9)
    save_figure(fig, out / "fig4_timings.png")


# ----------------------------------------------------------------------------------- run


def resolve_sizes(full: bool, seeds: int | None, sizes) -> tuple[tuple[int, ...], int]:
    """The sample sizes and the number of seeds of a run (quick or ``full`` defaults)."""
    from .._validation import check_int

    sizes = tuple(sorted({check_int(n, "sizes", low=5) for n in sizes})) if sizes else (
        FULL_SIZES if full else QUICK_SIZES)
    n_seeds = check_int(seeds, "seeds", low=1) if seeds is not None else (5 if full else 2)
    return sizes, n_seeds


def command_line(out, map_path, full, level, seeds, sizes) -> str:
    """The ``conformap reproduce earthmover`` command that runs these parameters."""
    parts = ["conformap reproduce earthmover"]
    if full:
        parts.append("--full")
    if seeds is not None:
        parts.append(f"--seeds {seeds}")
    if sizes:
        parts.append("--sizes " + " ".join(str(n) for n in sizes))
    if level != 5:
        parts.append(f"--level {level}")
    if map_path is not None:
        parts.append(f"--map {map_path}")
    parts.append(f"--out {out}")
    return " ".join(parts)


def machine_description() -> dict:
    """CPU, core count and load: what the timings in ``results.json`` were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                       cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_start": [round(v, 2) for v in os.getloadavg()]}


def run_seed(volume, seed: int, sizes, level: int, embeddings: dict) -> dict:
    """Every measurement of one seed: cells, bandwidth sweep and (seed 0) timings."""
    records: dict = {"cells": [], "bandwidth": [], "timings": None}
    for noise in NOISES:
        maps, angles = simulate(volume, max(sizes), noise, seed)
        dw, dl, t = distance_matrices(maps, level)
        if seed == 0 and noise == 0.0:
            records["timings"] = measure_timings(maps, sizes, level, t)
        for metric, D in (("wemd", dw), ("l2", dl)):
            cells, embs = score_cells(D, angles, sizes, keep_embeddings=seed == 0)
            embeddings.update({(noise, metric, n): e for n, e in embs.items()})
            tag = {"seed": seed, "noise": noise, "metric": metric}
            records["cells"] += [{**tag, **c} for c in cells]
            nb = min(SWEEP_N, max(sizes))
            records["bandwidth"] += [{**tag, "n": nb, **r}
                                     for r in bandwidth_sweep(D[:nb, :nb], angles[:nb])]
        _log(f"seed {seed} noise {noise}: transform {t['transform_s']:.1f}s, "
             f"WEMD {t['wemd_s']:.1f}s, L2 {t['l2_s']:.1f}s")
    return records


def run(
    *,
    out="docs/earthmover",
    map_path=None,
    full: bool = False,
    level: int = 5,
    seeds: int | None = None,
    sizes=None,
) -> dict:
    """Reproduce Figs. 3-5 and the tables; write them and ``results.json`` to ``out``.

    Parameters
    ----------
    out : path
        Output directory (created).
    map_path : path, optional
        MRC map to rotate (e.g. the paper's ``rotating_shaft_res6.mrc``); default: the
        procedural rotor.
    full : bool
        The paper's sizes n = 25 ... 800 and 5 seeds (default: n <= 200, 2 seeds).
    level : int
        WEMD levels (paper: 5).
    seeds : int, optional
        Number of seeds (overrides the default of ``full``).
    sizes : sequence of int, optional
        Sample sizes (overrides the default of ``full``).

    Returns
    -------
    dict
        The contents of ``results.json``.
    """
    from ..io import atomic_path
    from ..plotting import pyplot
    from .earthmover_report import render_tables

    plt = pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sizes, n_seeds = resolve_sizes(full, seeds, sizes)
    volume = load_volume(map_path)
    t_start = time.perf_counter()
    summary = {
        "command": command_line(out, map_path, full, level, seeds, sizes if sizes != (
            FULL_SIZES if full else QUICK_SIZES) else None),
        "data": str(map_path) if map_path is not None else "procedural rotor",
        "sizes": list(sizes), "seeds": n_seeds, "level": level, "sweep_n": min(SWEEP_N,
                                                                                 max(sizes)),
        "loop_min_hole": LOOP_MIN_HOLE, "machine": machine_description(),
    }
    summary["fig3"] = fig3(volume, level, out, plt)
    _log("fig3 done: distance grows with the angle up to " + ", ".join(
        f"{v:g} deg ({k.split('_')[0].upper()})" for k, v in summary["fig3"].items()))
    embeddings: dict = {}
    cells, sweep = [], []
    for seed in range(n_seeds):
        rec = run_seed(volume, seed, sizes, level, embeddings)
        cells += rec["cells"]
        sweep += rec["bandwidth"]
        if rec["timings"] is not None:
            summary["timings"] = rec["timings"]
        _log(f"seed {seed} done ({time.perf_counter() - t_start:.0f}s so far)")
    plot_fig5(embeddings, sizes, out, plt)
    plot_fig4(summary["timings"], out, plt)
    summary["cells"] = cells
    summary["bandwidth"] = sweep
    summary["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    summary["seconds"] = round(time.perf_counter() - t_start, 1)
    text = json.dumps(summary, indent=1, default=_json_default) + "\n"
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(text)
    with atomic_path(out / "tables.md") as tmp:
        tmp.write_text(render_tables(json.loads(text)))
    _log(f"wrote {out}/fig3_distance_vs_angle.png, fig4_timings.png, fig5_embeddings.png, "
         f"tables.md, results.json in {summary['seconds']:.0f} s")
    return summary


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o)}")
