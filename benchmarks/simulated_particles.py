"""The built-in particle set through ``conformap embed``: angular error against its ground truth.

Usage (from the repository root)::

    python -m benchmarks.simulated_particles --n 2000 --seeds 3,4,5 --out F.jsonl

``conformap simulate-particles`` writes procedural rotor images (``make_rotor`` maps summed
along the rotation axis, 40 x 40, Gaussian noise of ``--noise`` = 0.05 times the image
maximum, the paper's angle mixture: 60 % of the angles in three 1-degree dwells) with their
true angles. Three kinds of rows, each scored by ``bench_density.score`` (median / p90
degrees of ``circle_recovery`` on the first two coordinates):

* ``cli``: ``conformap simulate-particles`` then ``conformap embed STAR`` at its defaults,
  scored from the CSV it writes against ``ground_truth.csv`` (what a user gets);
* ``api``: the same images generated in-process (the same generator calls), and the same
  procedure with uniform angles instead of the mixture, clean and at noise 0.05, through
  ``DiffusionMap(metric=M, random_state=0)`` for M = wemd, euclidean: the mixture against
  uniform angles separates the sampling density from the rest;
* ``floor``: the metric's own floor, the arc-length angle of the clean images in that metric
  (720 evenly spaced angles, the distance between consecutive images summed and scaled to 360
  degrees, as ``benchmarks.rotor_arclength`` does for the real map), scored on the rows'
  angles: the error of an embedding that recovers the Laplace-Beltrami eigenfunctions exactly.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks._harness import emit_row
from benchmarks.bench_density import score

#: ``conformap simulate-particles``' default noise (fraction of the image maximum).
NOISE = 0.05


def images(n: int, seed: int, noise: float, angles=None):
    """The images of ``simulate-particles --n n --seed seed --noise noise`` (same calls)."""
    from conformap.datasets import make_rotor

    rng = np.random.default_rng(seed)
    maps, th = make_rotor(n, angles=angles, rng=rng)
    img = maps.sum(axis=2)
    img += rng.normal(scale=noise * float(img.max()), size=img.shape)
    return img.astype(np.float32), th


def cli_row(n: int, seed: int, tmp: Path) -> dict:
    """simulate-particles + embed at the defaults, scored against the ground truth."""
    exe = [str(Path(sys.executable).parent / "conformap")]  # the console script of this environment
    d = tmp / f"p{seed}"
    subprocess.run(exe + ["simulate-particles", "--n", str(n), "--seed", str(seed), "--out",
                          str(d), "--quiet"], check=True, capture_output=True)
    t0 = time.perf_counter()
    run = subprocess.run(exe + ["embed", str(d / "particles.star"), "--out", str(tmp / f"e{seed}"),
                                "--quiet"], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    with open(d / "ground_truth.csv") as fh:
        truth = {r["name"]: float(r["angle_deg"]) for r in csv.DictReader(fh)}
    with open(tmp / f"e{seed}.csv") as fh:
        rows = list(csv.DictReader(fh))
    emb = np.array([[float(r["psi1"]), float(r["psi2"])] for r in rows])
    th = np.array([truth[r["name"]] for r in rows])
    return {"kind": "cli", "n": n, "seed": seed, "angles": "mixture", "noise": NOISE,
            "metric": "wemd", **score(emb, th), "seconds": round(wall, 1),
            "stderr": run.stderr.strip()[-300:]}


def arclength_angle(metric: str, steps: int = 720):
    """(angles, arc-length angle) of clean images at ``steps`` evenly spaced angles."""
    from conformap.wemd import wemd_embedding

    grid = np.arange(steps) * 360.0 / steps
    img, _ = images(steps, 0, 0.0, angles=grid)
    f = (wemd_embedding(img, negative="keep") if metric == "wemd"
         else img.reshape(steps, -1).astype(float))
    lp = 1 if metric == "wemd" else 2
    step = np.linalg.norm(f - np.roll(f, -1, axis=0), ord=lp, axis=1)
    arc = np.r_[0.0, np.cumsum(step)[:-1]] * 360.0 / step.sum()
    return grid, arc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seeds", default="3,4,5")
    p.add_argument("--kinds", default="cli,api,floor")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    from conformap import DiffusionMap

    seeds = [int(s) for s in a.seeds.split(",")]
    kinds = a.kinds.split(",")
    with open(a.out, "a") as fh, tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            if "cli" in kinds:
                emit_row(cli_row(a.n, seed, Path(tmp)), fh)
            if "api" not in kinds:
                continue
            uniform = np.random.default_rng(seed + 1000).uniform(0, 360, a.n)
            for label, ang in (("mixture", None), ("uniform", uniform)):
                for noise in (0.0, NOISE):
                    X, th = images(a.n, seed, noise, angles=ang)
                    for metric in ("wemd", "euclidean"):
                        t0 = time.perf_counter()
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            dm = DiffusionMap(metric=metric, random_state=0).fit(X)
                        emit_row({"kind": "api", "n": a.n, "seed": seed, "angles": label,
                                  "noise": noise, "metric": metric,
                                  **score(dm.embedding_, th),
                                  "seconds": round(time.perf_counter() - t0, 1),
                                  "graph": dm.graph_summary_}, fh)
        if "floor" in kinds:
            for metric in ("wemd", "euclidean"):
                grid, arc = arclength_angle(metric)
                for seed in seeds:
                    _, th = images(a.n, seed, 0.0)
                    est = np.interp(th % 360.0, np.r_[grid, 360.0], np.r_[arc, 360.0])
                    emb = np.c_[np.cos(np.radians(est)), np.sin(np.radians(est))]
                    emit_row({"kind": "floor", "n": a.n, "seed": seed, "angles": "mixture",
                              "noise": 0.0, "metric": metric, **score(emb, th)}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
