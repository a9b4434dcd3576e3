"""Density robustness and dense-path speed: conformap against pyDiffMap and datafold, one run.

Usage (from the repository root)::

    python -m benchmarks.bench_density [--quick | --full] [--out docs/large-n/density.json]

writes the JSON and renders ``docs/large-n/README.md`` from it (:func:`render_readme`, also
registered in ``benchmarks/docs.py``); ``python -m benchmarks`` runs the same sections through
:data:`SUITES` / :func:`run` (one row per robustness cell and per dense-speed size, checked
against the issue's targets: median <= 2, p90 <= 5 degrees and no peer better; at least as
fast as every peer).

Data: clustered circles (``frac`` = 60 % of the points in three dwells ``width`` degrees wide,
120 degrees apart, the rest uniform; clean, or with isotropic noise), the situation of the
ATP-synthase rotor. Each method is run at its defaults on the same points; the score is
:func:`conformap.evaluate.circle_recovery` (median / 90th percentile angular error, degrees).

The peers run in their own virtual environments (datafold pins old numpy/scipy), exchanging
arrays through ``.npy`` files: set ``CONFORMAP_PYDIFFMAP_PYTHON`` / ``CONFORMAP_DATAFOLD_PYTHON``
to their interpreters (default ``../venv-pydiffmap/bin/python`` and
``../venv-datafold/bin/python``); a missing one is reported as skipped. Peer times are measured
inside the peer process (fit only, after import), conformap's in this process after a warm-up.

Sections:

* ``robustness``: median / p90 error per data set, n and method.
* ``dense_speed``: seconds of the dense diffusion map (all pairs, 2 coordinates) at
  n = 1000-3000 for conformap (``method="dense"``), pyDiffMap and datafold, and the ratios.
* ``small_n``: "auto" against fixed "connect", "wide" and "adaptive" at n = 25-1000 (dense,
  seeds 0-2), the measurement behind ``conformap.graph.ADAPTIVE_MIN_ITEMS``.
* ``noise_floor``: the paper's real map with noise (when ``../shared`` exists): "auto"
  against the adaptive kernel, the measurement behind ``ADAPTIVE_MAX_DIMENSION``.
* ``truncation``: at n = 2000, the eigenvalues of conformap's kNN operator against a dense
  ``eigh`` of the complete kernel with the same scales, and the measured dropped kernel mass.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PYDIFFMAP_CODE = r"""
import sys, time, numpy as np
from pydiffmap import diffusion_map as dm
X = np.load(sys.argv[1])
t = time.perf_counter()
m = dm.DiffusionMap.from_sklearn(n_evecs=2)
e = m.fit_transform(X)
np.save(sys.argv[2], np.asarray(e)[:, :2]); print(time.perf_counter() - t)
"""

DATAFOLD_CODE = r"""
import sys, time, numpy as np
import datafold.dynfold as dfold
X = np.load(sys.argv[1])
t = time.perf_counter()
m = dfold.DiffusionMaps(n_eigenpairs=3).fit(X)
e = m.eigenvectors_[:, 1:3]
np.save(sys.argv[2], np.asarray(e)); print(time.perf_counter() - t)
"""


def clustered_circle(n, *, width, noise, frac=0.6, seed=0):
    """:func:`conformap.datasets.make_clustered_circle` with this module's seed keyword."""
    from conformap.datasets import make_clustered_circle

    return make_clustered_circle(n, width=width, frac=frac, noise=noise, rng=seed)


def _peer_python(name):
    env = os.environ.get(f"CONFORMAP_{name.upper()}_PYTHON")
    default = Path(__file__).resolve().parents[2] / f"venv-{name}" / "bin" / "python"
    p = Path(env) if env else default
    return str(p) if p.exists() else None


#: Address-space limit of a peer process (bytes): the session's memory budget per experiment.
PEER_MEMORY_LIMIT = 4 * 2**30


def _limit_memory():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PEER_MEMORY_LIMIT, PEER_MEMORY_LIMIT))


def run_peer(name, X, timeout):
    py = _peer_python(name)
    if py is None:
        return None, "skipped (no interpreter)"
    code = PYDIFFMAP_CODE if name == "pydiffmap" else DATAFOLD_CODE
    with tempfile.TemporaryDirectory() as tmp:
        xin, out = Path(tmp) / "x.npy", Path(tmp) / "e.npy"
        np.save(xin, X)
        try:
            res = subprocess.run([py, "-c", code, str(xin), str(out)], capture_output=True,
                                 text=True, timeout=timeout, preexec_fn=_limit_memory)
        except subprocess.TimeoutExpired:
            return None, f"timeout ({timeout} s)"
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
            return None, "failed: " + last[:200]
        return (np.load(out), float(res.stdout.strip().splitlines()[-1])), "ok"


def run_conformap(X, **kw):
    from conformap import DiffusionMap

    t = time.perf_counter()
    dm = DiffusionMap(metric="euclidean", random_state=0, **kw).fit(X)
    return dm, time.perf_counter() - t


#: Above this many items the score is taken on a fixed random subset of this size:
#: ``circle_recovery`` also computes an all-pairs geometry correlation (37 GiB at n = 100,000).
#: Same rule as ``benchmarks/bench_largen.py``; the rotation / reflection is still fitted.
SCORE_MAX_ITEMS = 5000


def score(emb, th):
    """Median / p90 angular error of the first two coordinates (best rotation and reflection,
    :func:`conformap.evaluate.circle_recovery`); a fixed subset of :data:`SCORE_MAX_ITEMS`
    items above that size."""
    from conformap.evaluate import circle_recovery

    emb, th = np.asarray(emb)[:, :2], np.asarray(th)
    if th.size > SCORE_MAX_ITEMS:
        sub = np.sort(np.random.default_rng(0).choice(th.size, SCORE_MAX_ITEMS, replace=False))
        emb, th = emb[sub], th[sub]
    r = circle_recovery(emb, th)
    return {"median": round(float(r.median_error), 3), "p90": round(float(r.p90_error), 3)}


#: Status of a peer cell left out with ``--peers`` (what :func:`carry_peers` fills in).
NOT_RUN_PEERS = "not run (--peers)"
#: The peers of the robustness and dense-speed sections.
PEERS = ("pydiffmap", "datafold")


def robustness(ns, sets, peer_max, timeout, seed=0, peers=("pydiffmap", "datafold")):
    rows = []
    for name, width, noise in sets:
        gave_up = {}  # peer -> why it is not run at larger n (timed out / out of memory)
        for n in ns:
            X, th = clustered_circle(n, width=width, noise=noise, seed=1000 * seed + n)
            dm, secs = run_conformap(X)
            row = {"data": name, "n": n, "conformap": {**score(dm.embedding_, th),
                                                       "seconds": round(secs, 2),
                                                       "graph": dm.graph_summary_}}
            for peer in ("pydiffmap", "datafold"):
                if n > peer_max[peer]:
                    row[peer] = {"status": f"not run (n > {peer_max[peer]})"}
                    continue
                if peer not in peers:
                    row[peer] = {"status": NOT_RUN_PEERS}
                    continue
                if peer in gave_up:
                    row[peer] = {"status": f"not run ({gave_up[peer]})"}
                    continue
                got, status = run_peer(peer, X, timeout)
                if got is None and ("timeout" in status or "MemoryError" in status):
                    why = "timed out" if "timeout" in status else "out of memory"
                    gave_up[peer] = f"{why} at n = {n}"
                row[peer] = ({**score(got[0], th), "seconds": round(got[1], 2)} if got
                             else {"status": status})
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def dense_speed(ns, timeout):
    """Dense fit time on a clustered circle (3-degree dwells) and a uniform one (where
    pyDiffMap's defaults converge)."""
    rows = []
    run_conformap(clustered_circle(200, width=3, noise=0)[0], method="dense")  # warm-up
    for n, data in [(n, d) for n in ns for d in ("dwell 3 deg, clean", "uniform")]:
        X, _ = clustered_circle(n, width=3.0, noise=0.0, seed=n,
                                 frac=0.6 if data != "uniform" else 0.0)
        best = min(run_conformap(X, method="dense")[1] for _ in range(3))
        row = {"data": data, "n": n, "conformap_s": round(best, 3)}
        for peer in ("pydiffmap", "datafold"):
            times = []
            for _ in range(3):
                got, status = run_peer(peer, X, timeout)
                if got is None:
                    break
                times.append(got[1])
            if times:
                row[f"{peer}_s"] = round(min(times), 3)
                row[f"{peer}_over_conformap"] = round(min(times) / best, 2)
            else:
                row[f"{peer}_s"] = status
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def truncation(n=2000):
    import scipy.linalg

    from conformap import pairwise_distances
    from conformap.diffusion import diffusion_eigenpairs, normalized_operator
    from conformap.graph import build_graph, graph_from_distances

    X, _ = clustered_circle(n, width=3.0, noise=0.0, seed=7)
    sparse, _ = build_graph(X, metric="euclidean", method="knn", rng=0)
    dense = graph_from_distances(pairwise_distances(X, metric="l2"),
                                 n_neighbors=sparse.n_neighbors)
    lam_s, _, _ = diffusion_eigenpairs(sparse, 11, rng=0)
    w, _, _, deg, mass = normalized_operator(dense)
    # the dense path may store a mostly-zero kernel sparse (scales.SPARSE_KERNEL_DENSITY); the
    # reference is a dense LAPACK eigh (a sparse w would turn '*' into a matrix product)
    w = w.toarray() if hasattr(w, "toarray") else np.asarray(w)
    s = mass**-0.5
    lam_d = scipy.linalg.eigh((np.diag(deg) - w) * s[:, None] * s[None, :], eigvals_only=True,
                              subset_by_index=[0, 10])
    rel = np.abs(lam_s[1:] - lam_d[1:]) / lam_d[1:]
    return {"n": n, "n_neighbors": sparse.n_neighbors, "dropped_mass_mean": sparse.dropped_mass,
            "dropped_mass_max": sparse.dropped_mass_max,
            "max_dropped_affinity": sparse.max_dropped_affinity,
            "eigenvalue_rel_diff_median": float(np.median(rel)),
            "eigenvalue_rel_diff_max": float(rel.max()),
            "laplacian_eigenvalues_dense": (2 * lam_d[1:]).round(4).tolist(),
            "laplacian_eigenvalues_knn": (2 * lam_s[1:]).round(4).tolist()}


#: Scale factors of the oracle sweep (times the "connect" sigma) and the adaptive scale
#: neighbours it also tries.
ORACLE_FACTORS = (0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)
ORACLE_SCALE_NEIGHBORS = (2, 3, 5, 8, 10, 16)


def _small_data(kind, n, seed):
    from conformap.datasets import sample_rotor_angles

    if kind == "rotor angles":
        deg = sample_rotor_angles(n, rng=seed)
        return np.c_[np.cos(np.radians(deg)), np.sin(np.radians(deg))], deg
    _, width, noise = next(t for t in SETS if t[0] == kind)
    return clustered_circle(n, width=width, noise=noise, seed=seed)


def _target_ratio(c):
    """How far a cell is from the target (<= 1: met): max(median / 2, p90 / 5)."""
    return max(c["median"] / TARGET[0], c["p90"] / TARGET[1])


def oracle(X, deg):
    """The best cell any fixed sigma (``ORACLE_FACTORS`` x "connect") or adaptive scale
    neighbour (``ORACLE_SCALE_NEIGHBORS``) gives on these points, chosen *with* the truth:
    an achievable floor for the kernel family, not a method."""
    import conformap.graph as G
    from conformap import pairwise_distances, select_bandwidth

    s0 = select_bandwidth(pairwise_distances(X, metric="l2"), rule="connect")
    best = None
    cands = [("sigma", f) for f in ORACLE_FACTORS] + [("sn", j) for j in ORACLE_SCALE_NEIGHBORS
                                                       if j < X.shape[0] - 1]
    saved = G.scale_neighbor
    for kind, v in cands:
        try:
            if kind == "sigma":
                dm, _ = run_conformap(X, method="dense", bandwidth=float(v * s0))
            else:
                G.scale_neighbor = lambda n, k=None, j=v: int(min(j, n - 1, k or j))
                try:
                    dm, _ = run_conformap(X, method="dense", bandwidth="adaptive",
                                          n_neighbors=min(X.shape[0] - 1, max(3 * v, 10)))
                finally:
                    G.scale_neighbor = saved
        except ValueError:
            continue
        c = score(dm.embedding_, deg)
        if best is None or _target_ratio(c) < _target_ratio(best):
            best = {**c, "choice": f"sigma = {v} x connect" if kind == "sigma"
                    else f"adaptive, scale neighbour {v}"}
    return best


def small_n(ns, seeds, kinds=None, oracle_max=400):
    """Dense, several seeds: "auto" against the fixed rules "connect" and "wide" and the
    "adaptive" kernel, and (n <= ``oracle_max``) the oracle floor of :func:`oracle`.

    The measurement behind ``conformap.graph.ADAPTIVE_MIN_ITEMS`` (rotor angle mixture and
    clustered circles; median / p90 per seed). "auto" is one of the other three; that one is
    not fitted twice.
    """
    from conformap.graph import resolve_bandwidth

    kinds = kinds or ["rotor angles"] + [t[0] for t in SETS]
    rows = []
    for kind in kinds:
        for n in ns:
            row = {"data": kind, "n": n, "seeds": list(seeds)}
            for seed in seeds:
                X, deg = _small_data(kind, n, seed)
                dm, _ = run_conformap(X, method="dense")
                auto = score(dm.embedding_, deg)
                row.setdefault("auto", []).append(auto)
                chose = ("adaptive" if "adaptive kernel" in dm.graph_summary_ else
                         "wide" if resolve_bandwidth("auto", n) == "wide" else "connect")
                for bw in ("connect", "wide", "adaptive"):
                    if bw == chose:
                        row.setdefault(bw, []).append(auto)
                        continue
                    try:
                        dm, _ = run_conformap(X, method="dense", bandwidth=bw)
                        row.setdefault(bw, []).append(score(dm.embedding_, deg))
                    except ValueError as exc:
                        row.setdefault(bw, []).append({"status": str(exc)[:80]})
                if n <= oracle_max:
                    row.setdefault("oracle", []).append(oracle(X, deg))
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def metric_floor(ns, seeds, kinds=None):
    """The score of the *true* circle (``cos``, ``sin`` of the true angles, rotated by 30
    degrees and reflected) at the small-n sizes: what the error measure itself reports for a
    perfect embedding. ``circle_recovery`` maps the least-squares ellipse of the coordinates
    to the unit circle, so this is 0 (before, each axis was scaled by its mid-range, which a
    few clustered samples do not span: 2.4 / 3.7 degrees at n = 25)."""
    kinds = kinds or ["rotor angles"] + [t[0] for t in SETS]
    c, s_ = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    rows = []
    for kind in kinds:
        for n in ns:
            cells = []
            for seed in seeds:
                _, deg = _small_data(kind, n, seed)
                xy = np.c_[np.cos(np.radians(deg)), np.sin(np.radians(deg))]
                cells.append(score(xy @ np.array([[c, -s_], [s_, c]]).T * [1.0, -1.0], deg))
            rows.append({"data": kind, "n": n, "seeds": list(seeds), "truth": cells})
    return rows


def dimension(ns=(1000, 3000), seeds=(0, 1)):
    """Why noisy clustered circles miss the target at n >= 1000: the dimension ``m`` of the
    adaptive normalisation. Levina-Bickel (what "auto" uses), the kernel-sum slope at the
    kernel's own scale (Berry & Harlim 2016: ``m = 2 d log S / d log eps`` at eps = 1 and
    over eps in [1, 4]), and the error with ``m`` forced to 1 and 2."""
    from dataclasses import replace

    from conformap import pairwise_distances
    from conformap.diffusion import diffusion_core
    from conformap.graph import graph_from_distances
    from conformap.scales import dense_neighbors, intrinsic_dimension

    def slope(d, rho, lo, hi):
        s2 = rho[:, None] * rho[None, :]
        logs = [np.log(np.exp(-(d * d) / (2 * e * s2)).sum() - d.shape[0]) for e in (lo, hi)]
        return 2 * (logs[1] - logs[0]) / np.log(hi / lo)

    rows = []
    for name, width, noise in SETS:
        for n in ns:
            for seed in seeds:
                X, deg = clustered_circle(n, width=width, noise=noise, seed=seed)
                d = pairwise_distances(X, metric="l2")
                g = graph_from_distances(d, bandwidth="adaptive", validate=False)
                _, nn = dense_neighbors(d, g.n_neighbors)
                row = {"data": name, "n": n, "seed": seed,
                       "levina_bickel": round(intrinsic_dimension(nn), 3),
                       "kernel_slope_1": round(float(slope(d, g.scales, 2**-0.25, 2**0.25)), 3),
                       "kernel_slope_1_4": round(float(slope(d, g.scales, 1.0, 4.0)), 3),
                       "auto_m": g.dimension}
                for m in (1, 2):
                    res = diffusion_core(replace(g, dimension=m), n_components=2, rng=0)
                    row[f"m{m}"] = score(res.embedding, deg)
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


#: The older rules for the normalisation dimension ``m`` that :func:`dimension_rules` refits
#: with: "pooled" (session 3: Levina-Bickel over every row of the graph's neighbours) and
#: "sparsest" (session 4: the sparsest quarter of the graph's own neighbours, no reference
#: subset). The current rule is the robustness section's row.
OLDER_DIMENSION_RULES = ("pooled", "sparsest")


def dimension_rules(ns=(30_000, 100_000), seed=0, rules=OLDER_DIMENSION_RULES):
    """The robustness cells above ``DIMENSION_REFERENCE_ITEMS`` refitted with the older rules
    for ``m`` (:data:`OLDER_DIMENSION_RULES`) on today's code, so that a change of the
    reference-subset rule is told apart from other changes (same points as
    :func:`robustness` at ``seed``: ``clustered_circle(seed=1000 * seed + n)``)."""
    import conformap.graph as G

    rows = []
    saved = G.DIMENSION_REFERENCE_ITEMS, G.DIMENSION_SPARSEST
    for name, width, noise in SETS:
        for n in ns:
            X, th = clustered_circle(n, width=width, noise=noise, seed=1000 * seed + n)
            for rule in rules:
                G.DIMENSION_REFERENCE_ITEMS = 10**12  # no reference subset
                G.DIMENSION_SPARSEST = 1.0 if rule == "pooled" else saved[1]
                try:
                    dm, secs = run_conformap(X)
                finally:
                    G.DIMENSION_REFERENCE_ITEMS, G.DIMENSION_SPARSEST = saved
                # (the dense path's m is unrounded: graph.UNROUNDED_DIMENSION)
                got = re.search(r"dimension (\d+(?:\.\d+)?)", dm.graph_summary_)
                m = float(got.group(1)) if got else None
                row = {"data": name, "n": n, "seed": seed, "rule": rule,
                       **score(dm.embedding_, th), "seconds": round(secs, 2),
                       "m": int(m) if m is not None and m.is_integer() else m}
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def noise_floor(sizes=(400, 800), seeds=(0, 1), noise=0.1):
    """The paper's real rotor map (when ../shared is present), noisy: "auto" against the
    adaptive kernel it chose before the noise-floor rule, and the fixed "connect"."""
    from conformap.diffusion import diffusion_map
    from conformap.reproduce.earthmover import distance_matrices, load_volume, simulate

    path = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / \
        "rotating_shaft_res6.mrc"
    if not path.exists():
        return {"status": f"skipped ({path.name} absent)"}
    vol = load_volume(path)
    rows = []
    for seed in seeds:
        maps, ang = simulate(vol, max(sizes), noise, seed)
        dw, dl, _ = distance_matrices(maps, 5)
        for metric, D in (("l2", dl), ("wemd", dw)):
            for n in sizes:
                row = {"metric": metric, "n": n, "seed": seed, "noise": noise}
                for bw in ("auto", "adaptive", "connect"):
                    res = diffusion_map(D[:n, :n], n_components=2, bandwidth=bw, rng=0)
                    row[bw] = score(res.embedding, ang[:n])
                    if bw == "auto":
                        row["auto_graph"] = res.graph["summary"]
                print(json.dumps(row), flush=True)
                rows.append(row)
    return {"map": "../shared/data/rotating_shaft_res6.mrc", "wemd_level": 5, "rows": rows}


#: quick: minutes; full: the issue's table (n up to 100,000; tens of minutes).
#: ``seeds_by_n``: the seeds run at that n (default ``seeds``): on the shared 2-core machine a
#: 100,000-point fit takes minutes, so the largest sizes run fewer seeds.
SUITES = {
    "quick": {"ns": [1000, 3000], "seeds": [0], "speed_ns": [1000, 3000],
              "small": [25, 100, 400, 1000], "small_seeds": [0, 1, 2], "oracle_max": 100,
              "real": True, "dimension_ns": [1000]},
    "full": {"ns": [1000, 3000, 10_000, 30_000, 100_000], "seeds": [0, 1, 2],
             "seeds_by_n": {10_000: [0], 30_000: [0], 100_000: [0]},
             "speed_ns": [1000], "small": [25, 100, 400, 1000], "small_seeds": [0, 1, 2],
             "oracle_max": 100, "real": True, "dimension_ns": [1000]},
}
#: Clustered circles: 60 % of the points in three dwells 1, 3 or 5 degrees wide, clean and
#: with isotropic noise 0.01 (the circle has radius 1).
SETS = [(f"dwell {w} deg, {'clean' if z == 0 else 'noise 0.01'}", float(w), z)
        for z in (0.0, 0.01) for w in (1, 3, 5)]
#: datafold's default graph is dense (n^2 memory); pyDiffMap's is kNN (k = 64)
PEER_MAX = {"pydiffmap": 30_000, "datafold": 10_000}
#: The issue's target (median / p90 degrees).
TARGET = (2.0, 5.0)


#: The sections of :func:`collect`, in order.
SECTIONS = ("truncation", "small_n", "metric_floor", "dimension", "dense_speed", "robustness",
            "noise_floor", "dimension_rules")
#: What a run without ``--sections`` (and ``python -m benchmarks``) runs: every section but the
#: one-off ``dimension_rules`` diagnosis (24 extra fits at n = 30,000-100,000 in ``--full``).
DEFAULT_SECTIONS = tuple(x for x in SECTIONS if x != "dimension_rules")


def collect(cfg, log=print, timeout=150, sections=DEFAULT_SECTIONS, ns=None, seeds=None,
            peers=("pydiffmap", "datafold")):
    """The ``sections`` for one configuration (a dict of :data:`SUITES`); ``ns`` overrides
    the robustness sizes, ``seeds`` its seeds and ``peers`` the peers it runs (to split a long
    run into parallel parts, see :func:`combine`)."""
    import platform

    out = {"machine": f"{platform.machine()} {os.cpu_count()} cores (shared, timings noisy)",
           "load_average_start": list(os.getloadavg()), "config": cfg}
    run = {
        "truncation": lambda: truncation(),
        "small_n": lambda: small_n(cfg["small"], cfg["small_seeds"],
                                   oracle_max=cfg.get("oracle_max", 400)),
        "metric_floor": lambda: metric_floor(cfg["small"], cfg["small_seeds"]),
        "dimension": lambda: dimension(cfg.get("dimension_ns", [1000])),
        "dense_speed": lambda: dense_speed(cfg["speed_ns"], timeout),
        "robustness": lambda: robustness_seeds(ns or cfg["ns"], seeds or cfg["seeds"], timeout,
                                               None if seeds else cfg.get("seeds_by_n"), peers),
        "noise_floor": lambda: noise_floor() if cfg.get("real") else {"status": "not run"},
        "dimension_rules": lambda: dimension_rules(
            [n for n in (ns or cfg["ns"]) if n > 20_000], (seeds or [0])[0]),
    }
    for name in sections:
        log(name)
        out[name] = run[name]()
    out["load_average_end"] = list(os.getloadavg())
    return out


#: Keys of a result that describe how it was made, not a measurement: :func:`combine` keeps
#: the first part's (a later part replaces measurements, not the page's provenance).
META_KEYS = ("command", "commands", "dimension_rule", "machine", "config")


def _row_key(r):
    return (r["data"], r["n"], r.get("seed"))


def combine(parts, names=None):
    """One result from parts (:func:`collect` with ``sections``/``ns``, or an earlier combined
    result such as ``docs/large-n/density.json``), merged in order: a later part **replaces**
    what an earlier one has, so ``--combine docs/large-n/density.json part.json`` refreshes
    only the rows and sections that ``part.json`` reran.

    * robustness rows: keyed by (data set, n, seed); a later row replaces the earlier row
      with the same key, the others are kept (sorted by data set, n and seed);
    * other sections: a later part's section replaces an earlier one;
    * ``notes`` concatenated, load averages the largest start and end, :data:`META_KEYS` from
      the first part that has them;
    * where something was replaced, a note says what and by which part (``names``: labels of
      the parts, e.g. their paths; default "part 1", "part 2", ...).
    """
    names = list(names) if names is not None else [f"part {i + 1}" for i in range(len(parts))]
    res, rows, owner = {}, {}, {}
    replaced_notes = []
    for name, part in zip(names, parts, strict=True):
        n_replaced = 0
        for key, val in part.items():
            if key == "robustness":
                for r in val:
                    n_replaced += _row_key(r) in rows
                    rows[_row_key(r)] = r
            elif key == "notes":
                res.setdefault(key, []).extend(val)
            elif key.startswith("load_average"):
                res[key] = max(res.get(key, val), val, key=lambda v: v[0])
            elif key in META_KEYS:
                res.setdefault(key, val)
            else:
                if key in res:
                    replaced_notes.append(f"the {key} section of {owner[key]} is replaced by "
                                          f"that of {name}")
                res[key], owner[key] = val, name
        if n_replaced:
            replaced_notes.append(f"{n_replaced} robustness rows (same data set, n and seed) "
                                  f"are replaced by those of {name}")
    order = {name: i for i, (name, _, _) in enumerate(SETS)}
    if rows:
        res["robustness"] = sorted(rows.values(),
                                   key=lambda r: (order.get(r["data"], 99), r["n"], r["seed"]))
    if replaced_notes:
        res["notes"] = res.get("notes", []) + replaced_notes
    return res


#: Marks a cell carried from an earlier result (:func:`carry_peers`) in the rendered tables.
CARRIED_MARK = "\u2020"


def load_carry(spec):
    """An earlier result to carry cells from, and a label that says where it came from.

    ``spec``: ``COMMIT:PATH`` (read with ``git show``: exactly that commit's file; label
    "PATH at COMMIT"), or a path (label "PATH at COMMIT" with the last commit of that file
    when the file is unmodified since, else "PATH (uncommitted)").
    """
    root = Path(__file__).resolve().parents[1]

    def git(*a):
        r = subprocess.run(["git", *a], cwd=root, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    if ":" in spec and not Path(spec).exists():
        commit, path = spec.split(":", 1)
        text, short = git("show", f"{commit}:{path}"), git("rev-parse", "--short", commit)
        if text is None or short is None:
            raise ValueError(f"carry source {spec!r}: git cannot show {path} at {commit}")
        return json.loads(text), f"{path} at {short}"
    p = Path(spec)
    if not p.exists():
        raise ValueError(f"carry source {spec!r}: no such file (or COMMIT:PATH)")
    res = json.loads(p.read_text())
    absolute = str(p.resolve())
    commit = git("log", "-1", "--format=%h", "--", absolute)
    dirty = git("status", "--porcelain", "--", absolute)
    return res, (f"{spec} at {commit}" if commit and dirty == "" else f"{spec} (uncommitted)")


def carry_peers(res, old, source):
    """Fill the peer cells of ``res``'s robustness rows that were not run (status
    :data:`NOT_RUN_PEERS`) from the row of ``old`` with the same data set, n and seed.

    The peers' runs do not depend on conformap's code, so their cells of an earlier run stay
    valid; each copied cell gets ``"carried": source`` (rendered with :data:`CARRIED_MARK`).
    Returns (cells copied, cells left unfilled: no such row or cell in ``old``).
    """
    by_key = {(r["data"], r["n"], r.get("seed")): r for r in old.get("robustness", [])}
    copied = missing = 0
    for r in res.get("robustness", []):
        src = by_key.get((r["data"], r["n"], r.get("seed")))
        for p in PEERS:
            if r.get(p, {}).get("status") != NOT_RUN_PEERS:
                continue
            if r["n"] > PEER_MAX[p]:  # a part that said --peers before the size limit
                r[p] = {"status": f"not run (n > {PEER_MAX[p]})"}
                continue
            cell = (src or {}).get(p)
            if cell is None or cell.get("status") == NOT_RUN_PEERS:
                missing += 1
                continue
            # a cell the old result had carried itself keeps its first source
            r[p] = {"carried": source, **cell}
            copied += 1
    return copied, missing


def carry_section(res, old, section, source):
    """Take ``section`` from the earlier result ``old`` (not rerun); a note says so."""
    if section not in SECTIONS:
        raise ValueError(f"--carry-section: unknown section {section!r}; choose from "
                         f"{', '.join(SECTIONS)}")
    if section in res:
        raise ValueError(f"--carry-section {section}: a part has that section already")
    if section not in old:
        raise ValueError(f"--carry-section {section}: {source} has no such section")
    res[section] = old[section]
    res.setdefault("notes", []).append(
        f"the {section} section is carried from {source} (not rerun; that run's load average "
        f"{_load(old.get('load_average_start'))} at its start)")


def _load(v):
    return "[" + ", ".join(f"{x:.1f}" for x in v) + "]" if v else "unknown"


def robustness_seeds(ns, seeds, timeout, seeds_by_n=None, peers=("pydiffmap", "datafold")):
    rows = []
    for seed in seeds:
        ns_s = [n for n in ns if seed in (seeds_by_n or {}).get(n, seeds)]
        for r in robustness(ns_s, SETS, PEER_MAX, timeout, seed=seed, peers=peers):
            rows.append({**r, "seed": seed})
    return rows


def run(cfg, log):
    """Records for ``python -m benchmarks`` (format of ``benchmarks/__init__.py``)."""
    from ._harness import check_result, measurement_record

    res = collect(cfg, log)
    recs = []
    for r in res["robustness"]:
        c = r["conformap"]
        peers = {p: r[p] for p in ("pydiffmap", "datafold") if "median" in r.get(p, {})}
        ok = c["median"] <= TARGET[0] and c["p90"] <= TARGET[1] and all(
            c["median"] <= v["median"] for v in peers.values())
        recs.append(measurement_record(
            "density robustness", {"data": r["data"], "n": r["n"], "seed": r["seed"]},
            {"time": c["seconds"]},
            check_result(ok, f"median <= {TARGET[0]} and p90 <= {TARGET[1]} degrees and median "
                         "<= every peer's", median=c["median"], p90=c["p90"],
                         **{f"{p}_median": v["median"] for p, v in peers.items()})))
    for r in res["dense_speed"]:
        ratios = {k: v for k, v in r.items() if k.endswith("_over_conformap")}
        recs.append(measurement_record(
            "dense diffusion map speed", {"n": r["n"], "data": r["data"]},
            {"time": r["conformap_s"]},
            check_result(all(v >= 1.0 for v in ratios.values()),
                         "peer time / conformap time >= 1 (conformap at least as fast)",
                         conformap_s=r["conformap_s"], **ratios)))
    return recs


# ------------------------------------------------------------------------------ rendering


def _cell(v):
    mark = f" {CARRIED_MARK}" if isinstance(v, dict) and v.get("carried") else ""
    if not isinstance(v, dict) or "median" not in v:
        return ((v or {}).get("status", "-") + mark) if isinstance(v, dict) else "-"
    sec = f" ({v['seconds']:.2f} s)" if "seconds" in v else ""
    return f"{v['median']:.2f} / {v['p90']:.2f}{sec}{mark}"


def _spread(cells):
    ok = [c for c in cells if "median" in c]
    if not ok:
        return "failed"
    med = [c["median"] for c in ok]
    p90 = [c["p90"] for c in ok]
    return (f"{np.median(med):.2f} / {np.median(p90):.2f} "
            f"[{min(med):.2f}-{max(med):.2f}]"
            + ("" if len(ok) == len(cells) else " (some failed)"))


def render_readme(res) -> str:
    """docs/large-n/README.md from the parsed ``docs/large-n/density.json`` (pure)."""
    L = []
    add = L.append
    add("# Large n: density robustness and dense speed (issue 10)\n")
    add("Every number below is rendered from `docs/large-n/density.json` by "
        "`benchmarks.bench_density:render_readme`; regenerate with (after `make install`, "
        "peers in their own virtual environments):\n")
    add("```bash\npython3.11 -m venv ../venv-pydiffmap && ../venv-pydiffmap/bin/pip install "
        "pydiffmap   # 0.2.0.1\npython3.11 -m venv ../venv-datafold && ../venv-datafold/bin/pip "
        "install datafold      # 2.0.2\n"
        + "".join(c + "\n" if c == "wait" else f".venv/bin/python {c}\n"
                  for c in res.get("commands", [res["command"]]))
        + "```\n")
    if res.get("commands"):
        add("(each part writes its JSON; the parts are independent and may run in parallel; "
            "then `--combine` merges them, with the cells and sections it carries from earlier "
            "runs, and renders this page.)\n")
    add(f"Machine: {res['machine']}; load average {_load(res['load_average_start'])} at the "
        f"start, {_load(res['load_average_end'])} at the end (the largest over the parts). "
        "Approximate neighbour search and the "
        "100,000-image run: `docs/large-n/NEIGHBORS.md`.\n")
    for note in res.get("notes", []):
        add(f"Note: {note}\n")
    add("## The graph (`conformap.graph`, `conformap.scales`, `conformap.diffusion`)\n")
    add("* **Variable-bandwidth kernel** (Berry & Harlim 2016, self-tuning scales of Zelnik-Manor "
        "& Perona 2004): `K_ij = exp(-d_ij^2 / (2 rho_i rho_j))`, `rho_i` the distance to the "
        "`scale_neighbor(n)`-th neighbour, `round(sqrt(n) / 2)` clipped to [10, 16]; "
        "`k = default_n_neighbors(n) = max(3 scale_neighbor(n), ceil(2 log2 n))` stored "
        "neighbours; normalisation `u_i = q_i^-alpha rho_i^(alpha m - (m+2)/2)` with `m` the "
        "Levina-Bickel dimension of the sparsest quarter of the rows "
        "(`conformap.graph.normalization_dimension`, `docs/large-n/DIMENSION.md`; rounded "
        "below `UNROUNDED_DIMENSION_MIN_ITEMS` = 1,090 items, the estimate itself from there, "
        "`docs/large-n/MID_N.md`), above "
        "`DIMENSION_REFERENCE_ITEMS` = 20,000 items on the neighbours of a random "
        "20,000-item subset (`reference_neighbor_distances`; the graph line then says \"at "
        "the scale of 20,000 items\"); generalized problem "
        "`(D - W) f = lambda D diag(rho^2) f`.")
    if res.get("dimension_rule") is None:
        add("* **This page's error rows were measured with the earlier `m`** (Levina-Bickel "
            "pooled over every row, which rounds to 2 on the noisy clustered circles at "
            "n = 1,000-3,000): `docs/large-n/DIMENSION.md` has the same circles before and "
            "after the rule, per seed.")
    stale = [r for r in res.get("robustness", []) if r["n"] > 20_000
             and "adaptive kernel" in r["conformap"].get("graph", "")
             and "at the scale of" not in r["conformap"]["graph"]]
    if stale:
        add(f"* **{len(stale)} robustness rows above 20,000 items were measured before the "
            "reference-subset rule** (their graph line lacks \"at the scale of\").")
    small_rule = ("\"wide\" (4 x \"connect\")" if any("wide" in r for r in res["small_n"])
                  else "\"connect\"")
    from conformap.graph import ADAPTIVE_MIN_ITEMS, KNN_ADAPTIVE_MIN_ITEMS

    add("* **`bandwidth=\"auto\"`** = the adaptive kernel from `ADAPTIVE_MIN_ITEMS` = "
        f"{ADAPTIVE_MIN_ITEMS} items on (kNN input: `KNN_ADAPTIVE_MIN_ITEMS` = "
        f"{KNN_ADAPTIVE_MIN_ITEMS}), the fixed rule {small_rule} below on a dense graph "
        "(\"connect\" on a kNN graph), and \"connect\" also "
        "when the neighbour distances are noise-dominated (`ADAPTIVE_MAX_DIMENSION` = 32, see "
        "the real-map section); the graph line says which.")
    add("* **Dense path**: the kernel is built in place by row blocks and stored sparse when at "
        "most 10 % of its entries exceed 1e-16 (`conformap.scales.SPARSE_KERNEL_DENSITY`), "
        "then solved by shift-invert Lanczos (sparse LU, or dense Cholesky).")
    add("* **kNN path**: unstored affinities bounded (`max_dropped_affinity`) and the dropped "
        "kernel mass measured exactly on 256 rows (`dropped_mass_`, the CLI's `graph:` "
        "line); from `conformap.diffusion.MULTILEVEL_MIN_ITEMS` = 50,000 nodes the "
        "eigenpairs come from an aggregation hierarchy + LOBPCG (no factorisation).\n")
    t = res["truncation"]
    add("## Truncation against the dense spectrum\n")
    add(f"n = {t['n']} (3-degree dwells), k = {t['n_neighbors']}: dropped kernel mass "
        f"{t['dropped_mass_mean']:.2%} mean, {t['dropped_mass_max']:.2%} max; every unstored "
        f"affinity <= {t['max_dropped_affinity']:.3f}. First 10 eigenvalues of the kNN "
        f"operator against a dense `eigh` of the complete kernel: "
        f"{t['eigenvalue_rel_diff_median']:.2%} median, {t['eigenvalue_rel_diff_max']:.2%} max "
        "relative difference." + (f" ({t['note']})" if t.get("note") else "") + "\n")
    add("## Small n (dense; median / p90 degrees, median over seeds [range of medians])\n")
    has_oracle = any("oracle" in r for r in res["small_n"])
    wide = any("wide" in r for r in res["small_n"])  # measured since "auto" below 400 is "wide"
    if has_oracle:
        add("\"oracle\" is an achievable floor, not a method: per seed, the best cell (by "
            "max(median / 2, p90 / 5)) over fixed sigma = " + ", ".join(map(str, ORACLE_FACTORS))
            + " x \"connect\" and the adaptive kernel with scale neighbour "
            + ", ".join(map(str, ORACLE_SCALE_NEIGHBORS)) + ", chosen with the true angles. On a "
            "circle in the plane a sigma of the order of the median distance makes the kernel "
            "nearly quadratic in the coordinates (the diffusion map then tends to PCA, which "
            "recovers a planar circle's angle exactly): the floor's wide-sigma choices say what "
            "this test data allows, not what a curved manifold (the rotor maps) would.\n")
    floor = {(r["data"], r["n"]): r["truth"] for r in res.get("metric_floor", [])}
    if floor:
        # a run with the rule "wide" measured it with the ellipse-fitted circle_recovery
        add("\"true circle\" is the score of a perfect embedding (the true angles' cos / sin, "
            "rotated and reflected): the error measure's own floor. `circle_recovery` "
            + ("maps the least-squares ellipse of the two coordinates to the unit circle "
               "(before: each axis scaled by its mid-range, which 25 clustered samples need "
               "not span).\n" if wide else
               "centres and scales each axis by its mid-range, which 25 clustered samples "
               "need not span.\n"))
    add("| data | n | auto | fixed \"connect\" |" + (" fixed \"wide\" |" if wide else "")
        + " adaptive |" + (" true circle (metric floor) |" if floor else "")
        + (" oracle (floor) | oracle's "
                                                              "choice per seed |" if has_oracle
                                                              else ""))
    add("|---|---|---|---|---|" + ("---|" if wide else "") + ("---|" if floor else "")
        + ("---|---|" if has_oracle else ""))
    for r in res["small_n"]:
        extra = ""
        if has_oracle:
            orc = r.get("oracle")
            extra = (f" {_spread(orc)} | {'; '.join(c['choice'] for c in orc)} |" if orc
                     else " - | - |")
        fl = floor.get((r["data"], r["n"]))
        add(f"| {r['data']} | {r['n']} | {_spread(r['auto'])} | {_spread(r['connect'])} | "
            + (f"{_spread(r['wide'])} | " if wide else "") + f"{_spread(r['adaptive'])} |"
            + (f" {_spread(fl) if fl else '-'} |" if floor else "")
            + extra)
    add("")
    if res.get("dimension"):
        add("## The dimension of the adaptive normalisation (dense, n as given)\n")
        add("`m` enters the weights `rho_i^(m/2 - 1)` (alpha = 1). Estimates: Levina-Bickel on "
            "the stored neighbours (what \"auto\" uses, rounded), and the kernel-sum slope at "
            "the kernel's own scale (Berry & Harlim 2016: `m = 2 dlog S / dlog eps`, at eps = 1 "
            "and over eps in [1, 4]). Then the error with `m` forced to 1 and to 2 (median / "
            "p90 degrees):\n")
        add("| data | n | seed | Levina-Bickel | slope at eps = 1 | slope over [1, 4] | "
            "auto's m | m = 1 | m = 2 |")
        add("|---|---|---|---|---|---|---|---|---|")
        for r in res["dimension"]:
            add(f"| {r['data']} | {r['n']} | {r['seed']} | {r['levina_bickel']:.2f} | "
                f"{r['kernel_slope_1']:.2f} | {r['kernel_slope_1_4']:.2f} | {r['auto_m']} | "
                f"{_cell(r['m1'])} | {_cell(r['m2'])} |")
        add("")
    add("## Density robustness against the peers (their defaults, same points)\n")
    add("Summary: median / p90 degrees, median over the seeds run [range of the medians]; "
        "n <= 3,000 dense, above kNN (conformap's `method=\"auto\"`). Peers: pyDiffMap "
        "`DiffusionMap.from_sklearn(n_evecs=2)`, datafold `DiffusionMaps(n_eigenpairs=3)`, "
        f"each in its own process under a {PEER_MEMORY_LIMIT / 2**30:.0f} GiB address-space "
        "limit and the per-run timeout; a peer that timed out or ran out of memory on a data "
        "set and seed is not run again at larger n for it. Above "
        f"{SCORE_MAX_ITEMS:,} points the error is measured on a fixed random subset of "
        f"{SCORE_MAX_ITEMS:,}.\n")
    carried = sorted({r[p]["carried"] for r in res["robustness"] for p in PEERS
                      if r.get(p, {}).get("carried")})
    if carried:
        add(f"Peer cells marked {CARRIED_MARK} were not rerun: they are carried from "
            + ", ".join(f"`{c}`" for c in carried) + " (the row with the same data set, n and "
            "seed; the peers' runs do not depend on conformap's code), with that run's times "
            "and load.\n")
    add("| data | n | seeds | conformap (auto) | pyDiffMap defaults | datafold defaults |")
    add("|---|---|---|---|---|---|")
    groups = {}
    for r in res["robustness"]:
        groups.setdefault((r["data"], r["n"]), []).append(r)
    for (data, n), rs in groups.items():
        def peer(p, rs=rs):
            ok = [r[p] for r in rs if "median" in r[p]]
            mark = f" {CARRIED_MARK}" if any(r[p].get("carried") for r in rs) else ""
            if ok:
                return _spread([r[p] for r in rs]) + mark
            return "; ".join(sorted({r[p].get("status", "-") for r in rs})) + mark
        add(f"| {data} | {n} | {','.join(str(r['seed']) for r in rs)} | "
            f"{_spread([r['conformap'] for r in rs])} | {peer('pydiffmap')} | "
            f"{peer('datafold')} |")
    add("")
    add("Per seed, median / p90 angular error in degrees (fit seconds):\n")
    add("| data | n | seed | conformap (auto) | pyDiffMap defaults | datafold defaults |")
    add("|---|---|---|---|---|---|")
    for r in res["robustness"]:
        add(f"| {r['data']} | {r['n']} | {r.get('seed', '-')} | {_cell(r['conformap'])} | "
            f"{_cell(r['pydiffmap'])} | {_cell(r['datafold'])} |")
    add("")
    if res.get("dimension_rules"):
        add("### Above 20,000 items: the reference-subset `m` against the older rules\n")
        add("The same points and code as the rows above, refitted with `m` by the older rules "
            "(section `dimension_rules`): \"pooled\" = Levina-Bickel over every row of the "
            "graph's neighbours (session 3, the rule of the earlier page), \"sparsest quarter\" "
            "= the sparsest quarter of the graph's own neighbours (session 4). Median / p90 "
            "degrees and the `m` used:\n")
        add("| data | n | seed | reference subset (now) | pooled | sparsest quarter |")
        add("|---|---|---|---|---|---|")
        now = {(r["data"], r["n"], r.get("seed")): r["conformap"] for r in res["robustness"]}
        by = {}
        for r in res["dimension_rules"]:
            by.setdefault((r["data"], r["n"], r["seed"]), {})[r["rule"]] = r

        def with_m(c, m):
            return f"{_cell({k: c[k] for k in ('median', 'p90') if k in c})} (m = {m})"

        for key, rules in by.items():
            c = now.get(key, {})
            got = re.search(r"dimension (\d+)", c.get("graph", ""))
            cells = [with_m(c, got.group(1) if got else "-") if c else "-"] + [
                with_m(rules[x], rules[x]["m"]) if x in rules else "-"
                for x in OLDER_DIMENSION_RULES]
            add(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
        add("")
    add("## Dense speed (all pairs, 2 coordinates; best of 3, seconds; ratio > 1: conformap "
        "faster)\n")
    add("| data | n | conformap | pyDiffMap | datafold | pyDiffMap / conformap | "
        "datafold / conformap |")
    add("|---|---|---|---|---|---|---|")
    for r in res["dense_speed"]:
        def f(key, r=r):
            v = r.get(key, "-")
            return f"{v:.3f}" if isinstance(v, float) else str(v)[:60]
        add(f"| {r['data']} | {r['n']} | {f('conformap_s')} | {f('pydiffmap_s')} | "
            f"{f('datafold_s')} | {f('pydiffmap_over_conformap')} | "
            f"{f('datafold_over_conformap')} |")
    add("")
    nf = res.get("noise_floor", {})
    add("## Noise floor: the real rotor map, noisy (0.1)\n")
    if "rows" not in nf:
        add(nf.get("status", "not run") + "\n")
    else:
        add(f"Map `{nf['map']}`, WEMD level {nf['wemd_level']}. \"adaptive\" is what "
            "\"auto\" chose here before the noise-floor rule. The rule's threshold "
            "(`ADAPTIVE_MAX_DIMENSION`) was chosen on this same data family (dimension "
            "estimates: noisy L2 far above it, noisy WEMD and clean maps below). "
            "median / p90 degrees:\n")
        add("| metric | n | seed | auto | adaptive (before) | connect | auto's graph |")
        add("|---|---|---|---|---|---|---|")
        for r in nf["rows"]:
            add(f"| {r['metric']} | {r['n']} | {r['seed']} | {_cell(r['auto'])} | "
                f"{_cell(r['adaptive'])} | {_cell(r['connect'])} | {r['auto_graph']} |")
        add("")
    add("## Not met / caveats\n")
    misses = [f"{r['data']}, n = {r['n']}, seed {r['seed']}: {_cell(r['conformap'])}"
              for r in res["robustness"] if "median" in r["conformap"] and (
                  r["conformap"]["median"] > TARGET[0] or r["conformap"]["p90"] > TARGET[1])]
    misses += [f"{r['data']}, n = {r['n']} (dense, \"auto\", seed {seed}): {_cell(c)}"
               for r in res["small_n"] for seed, c in zip(r["seeds"], r["auto"], strict=True)
               if "median" in c and (c["median"] > TARGET[0] or c["p90"] > TARGET[1])]
    slow = [f"{r['data']}, n = {r['n']}: {k.split('_')[0]} / conformap = {v}"
            for r in res["dense_speed"] for k, v in r.items()
            if k.endswith("_over_conformap") and v < 1.0]
    add(f"Cells above the issue's target (median <= {TARGET[0]}, p90 <= {TARGET[1]} degrees), "
        f"{len(misses)} in this run:\n")
    add("\n".join(f"* {m}" for m in misses) or "* none")
    add("")
    add(f"Dense-speed rows where a peer was faster: {len(slow)}.\n")
    add("\n".join(f"* {m}" for m in slow) or "* none")
    add("")
    add("Tried and rejected (measured in the session notes, not in this JSON): Berry-Harlim's "
        "automatic epsilon (kernel-sum slope) on the real maps (worse or disconnected at every "
        "noisy cell) and subtracting the nearest-neighbour distance as a noise offset. "
        "Session 3 (helper B, `/tmp` experiments, 3 seeds, dense): as the dimension of the "
        "normalisation, the kernel-sum slope at the kernel's own scale (1.4-1.7 on noisy "
        "clustered circles, like Levina-Bickel's 1.4-1.7, so it rounds to 2 as often), the "
        "slope over eps in [1, 16] (1.1-1.4 on noisy circles, but 1.1-1.7 on uniform squares and "
        "1.7-2.3 on uniform cubes at n = 100-1000, so it would give a cube m = 2), a "
        "volume-weighted Levina-Bickel (weights rho^m; 2 on clean circles at n = 400, worse "
        "everywhere), the unrounded estimate (worse than rounded at most cells); scale "
        "neighbours 10, 16, 24, 32 at n = 400-1000 (no one better in every cell); the adaptive "
        "kernel with scale neighbour round(sqrt(n) / 2) below 400 items (7-24 degrees median "
        "at n = 25-100); and sigma = the median distance for \"auto\" below 400 (better on "
        "planar circles, the same as \"connect\" on the rotor maps up to n = 200, where "
        "\"connect\" already is the median).\n")
    return "\n".join(L)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="SUITES['quick'] (minutes)")
    ap.add_argument("--full", action="store_true", help="SUITES['full'] (n up to 100,000)")
    ap.add_argument("--out", default="docs/large-n/density.json", help="results JSON")
    ap.add_argument("--timeout", type=int, default=150,
                    help="seconds per peer run (pyDiffMap's ARPACK can spin for minutes before "
                    "it reports no convergence)")
    ap.add_argument("--sections", default=",".join(DEFAULT_SECTIONS),
                    help="comma-separated subset of " + ", ".join(SECTIONS) + " (a part: "
                    "written to --out without rendering; see --combine)")
    ap.add_argument("--ns", default=None, help="robustness sizes, comma-separated (a part)")
    ap.add_argument("--seeds", default=None, help="robustness seeds, comma-separated (a part)")
    ap.add_argument("--peers", default="pydiffmap,datafold",
                    help="peers the robustness runs, comma-separated, or 'none' (conformap "
                    "only; see --carry-peers)")
    ap.add_argument("--combine", nargs="+", default=None, metavar="PART",
                    help="merge these part JSONs into --out and render the README")
    ap.add_argument("--carry-peers", default=None, metavar="OLD",
                    help="with --combine: fill the peer cells the parts did not run (--peers) "
                    "from the rows of OLD (a density.json path, or COMMIT:PATH) with the same "
                    "data set, n and seed; the page marks them and names OLD's commit")
    ap.add_argument("--carry-section", nargs=2, action="append", default=[],
                    metavar=("SECTION", "OLD"),
                    help="with --combine: take SECTION from OLD (not rerun; the page says so)")
    ap.add_argument("--note", action="append", default=[],
                    help="with --combine: a note rendered under the machine line (repeatable)")
    args = ap.parse_args(argv)
    suite = "full" if args.full else "quick"
    path = Path(args.out)
    if not args.combine and (args.carry_peers or args.carry_section or args.note):
        ap.error("--carry-peers, --carry-section and --note go with --combine")
    if args.combine:
        parts = [json.loads(Path(p).read_text()) for p in args.combine]
        # an earlier combined result (density.json) contributes the commands it was made with
        cmds = [c for p in parts
                for c in (p.get("commands") or ([p["command"]] if p.get("command") else []))]
        res = combine(parts, names=args.combine)
        try:
            for section, spec in args.carry_section:
                old, source = load_carry(spec)
                carry_section(res, old, section, source)
            if args.carry_peers:
                old, source = load_carry(args.carry_peers)
                copied, missing = carry_peers(res, old, source)
                res.setdefault("notes", []).append(
                    f"{copied} peer cells of the robustness rows are carried from {source} "
                    f"(marked {CARRIED_MARK}; not rerun, that run's load average "
                    f"{_load(old.get('load_average_start'))} at its start, "
                    f"{_load(old.get('load_average_end'))} at its end)"
                    + (f"; {missing} had no row there and read '{NOT_RUN_PEERS}'"
                       if missing else ""))
        except ValueError as exc:
            ap.error(str(exc))
        res["notes"] = res.get("notes", []) + args.note
        opts = "".join(f" --carry-section {a} {b}" for a, b in args.carry_section) + (
            f" --carry-peers {args.carry_peers}" if args.carry_peers else "")
        notes = "".join(f" --note {json.dumps(x)}" for x in args.note)
        res = {**res, "command": "--combine",
               "commands": cmds + ["-m benchmarks.bench_density --combine "
                                   + " ".join(args.combine) + opts
                                   + ("" if str(path) == "docs/large-n/density.json"
                                      else f" --out {path}") + notes]}
    else:
        sections = tuple(x for x in args.sections.split(",") if x)
        bad = [x for x in sections if x not in SECTIONS]
        if bad:
            ap.error(f"--sections: unknown {bad}; choose from {', '.join(SECTIONS)}")
        ns = [int(x) for x in args.ns.split(",")] if args.ns else None
        seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else None
        peers = () if args.peers == "none" else tuple(x for x in args.peers.split(",") if x)
        if set(peers) - set(PEERS):
            ap.error(f"--peers: unknown {sorted(set(peers) - set(PEERS))}; choose from "
                     f"{', '.join(PEERS)} or 'none'")
        cmd = ("-m benchmarks.bench_density --" + suite
               + ("" if args.timeout == 150 else f" --timeout {args.timeout}")
               + ("" if sections == DEFAULT_SECTIONS else f" --sections {args.sections}")
               + (f" --ns {args.ns}" if ns else "")
               + (f" --seeds {args.seeds}" if seeds else "")
               + ("" if args.peers == "pydiffmap,datafold" else f" --peers {args.peers}")
               + ("" if str(path) == "docs/large-n/density.json" else f" --out {path}"))
        from conformap.graph import DIMENSION_SPARSEST

        res = {"command": cmd, "dimension_rule": {"sparsest": DIMENSION_SPARSEST},
               **collect(SUITES[suite], lambda m: print(m, file=sys.stderr),
                                         args.timeout, sections, ns, seeds, peers)}
        if sections != DEFAULT_SECTIONS or ns or seeds:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(res, indent=1) + "\n")
            print(f"wrote part {path}", file=sys.stderr)
            return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1) + "\n")
    md = path.with_name("README.md")
    md.write_text(render_readme(json.loads(path.read_text())))
    print(f"wrote {path} and {md}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
