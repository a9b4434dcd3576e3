"""Density robustness and dense-path speed: conformap against pyDiffMap and datafold, one run.

Usage (from the repository root)::

    python -m benchmarks.bench_density [--quick] [--out FILE.json]

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
* ``adaptive_threshold``: fixed "connect" against the adaptive kernel on the rotor's angle
  mixture (dense), the measurement behind ``conformap.graph.ADAPTIVE_MIN_ITEMS``.
* ``truncation``: at n = 2000, the eigenvalues of conformap's kNN operator against a dense
  ``eigh`` of the complete kernel with the same scales, and the measured dropped kernel mass.
"""

from __future__ import annotations

import argparse
import json
import os
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
    r = np.random.default_rng(seed)
    m = int(round(frac * n))
    th = np.r_[r.integers(0, 3, m) * 2 * np.pi / 3 + np.radians(width) * r.standard_normal(m),
               r.uniform(0, 2 * np.pi, n - m)]
    X = np.c_[np.cos(th), np.sin(th)] + noise * r.standard_normal((n, 2))
    return X, np.degrees(th)


def _peer_python(name):
    env = os.environ.get(f"CONFORMAP_{name.upper()}_PYTHON")
    default = Path(__file__).resolve().parents[2] / f"venv-{name}" / "bin" / "python"
    p = Path(env) if env else default
    return str(p) if p.exists() else None


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
                                 text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timeout ({timeout} s)"
        if res.returncode != 0:
            return None, "failed: " + res.stderr.strip().splitlines()[-1][:200]
        return (np.load(out), float(res.stdout.strip().splitlines()[-1])), "ok"


def run_conformap(X, **kw):
    from conformap import DiffusionMap

    t = time.perf_counter()
    dm = DiffusionMap(metric="euclidean", random_state=0, **kw).fit(X)
    return dm, time.perf_counter() - t


def score(emb, th):
    from conformap.evaluate import circle_recovery

    r = circle_recovery(emb, th)
    return {"median": round(float(r.median_error), 3), "p90": round(float(r.p90_error), 3)}


def robustness(ns, sets, peer_max, timeout):
    rows = []
    for name, width, noise in sets:
        for n in ns:
            X, th = clustered_circle(n, width=width, noise=noise, seed=n)
            dm, secs = run_conformap(X)
            row = {"data": name, "n": n, "conformap": {**score(dm.embedding_, th),
                                                       "seconds": round(secs, 2),
                                                       "graph": dm.graph_summary_}}
            for peer in ("pydiffmap", "datafold"):
                if n > peer_max[peer]:
                    row[peer] = {"status": f"not run (n > {peer_max[peer]})"}
                    continue
                got, status = run_peer(peer, X, timeout)
                row[peer] = ({**score(got[0], th), "seconds": round(got[1], 2)} if got
                             else {"status": status})
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def dense_speed(ns, timeout):
    rows = []
    run_conformap(clustered_circle(200, width=3, noise=0)[0], method="dense")  # warm-up
    for n in ns:
        X, th = clustered_circle(n, width=3.0, noise=0.0, seed=n)
        best = min(run_conformap(X, method="dense")[1] for _ in range(3))
        row = {"n": n, "conformap_s": round(best, 3)}
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


def threshold(ns, seeds=(0, 1)):
    """Fixed "connect" against adaptive kernel on the rotor angle mixture (dense, n small)."""
    from conformap.datasets import sample_rotor_angles

    rows = []
    for n in ns:
        for seed in seeds:
            deg = sample_rotor_angles(n, rng=seed)
            th = np.radians(deg)
            X = np.c_[np.cos(th), np.sin(th)]
            row = {"n": n, "seed": seed}
            for bw in ("connect", "adaptive"):
                dm, _ = run_conformap(X, method="dense", bandwidth=bw)
                row[bw] = score(dm.embedding_, deg)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 1000, 3000 only (minutes)")
    ap.add_argument("--out", default=None, help="JSON file (default docs/large-n/results-"
                    "{quick,full}.json)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per peer run")
    args = ap.parse_args(argv)
    if args.quick:
        ns, speed_ns, small = [1000, 3000], [1000, 3000], [100, 400, 1000]
    else:
        ns, speed_ns = [1000, 3000, 10_000, 30_000, 100_000], [1000, 2000, 3000]
        small = [25, 50, 100, 250, 400, 1000, 3000]
    sets = [("dwell 1 deg, clean", 1.0, 0.0), ("dwell 5 deg, clean", 5.0, 0.0),
            ("dwell 3 deg, noise 0.01", 3.0, 0.01)]
    # datafold's default graph is dense (n^2 memory); pyDiffMap's is kNN (k = 64)
    peer_max = {"pydiffmap": 100_000, "datafold": 10_000}
    import platform

    out = {"command": "python -m benchmarks.bench_density" + (" --quick" if args.quick else ""),
           "machine": f"{platform.machine()} {os.cpu_count()} cores (shared, timings noisy)",
           "truncation": truncation(),
           "adaptive_threshold": threshold(small),
           "dense_speed": dense_speed(speed_ns, args.timeout),
           "robustness": robustness(ns, sets, peer_max, args.timeout)}
    path = Path(args.out or Path("docs/large-n") / f"results-{'quick' if args.quick else 'full'}"
                ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
