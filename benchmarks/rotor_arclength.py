"""The real rotor map's own floor: how far the WEMD arc-length angle is from the true angle.

Usage (from the repository root)::

    python -m benchmarks.rotor_arclength [--steps 720]

The Laplace-Beltrami eigenfunctions of a closed curve are ``cos, sin`` of its arc length, so
a diffusion map that is exactly right recovers the arc-length angle of the curve *in the
metric used*, not the rotation angle. Clean maps at ``steps`` evenly spaced angles; the WEMD
(coif3, level 5) between consecutive maps is the local speed; the cumulative sum, scaled to
360 degrees, is the arc-length angle; its :func:`conformap.evaluate.circle_recovery` score
against the true angle (on the paper's angle mixture, seeds 0-2, n = 400) is the error a
perfect Laplace-Beltrami embedding would have.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks.bench_small_n import MAP


def main(argv=None):
    from conformap.datasets import rotate_map, sample_rotor_angles
    from conformap.evaluate import circle_recovery
    from conformap.io import read_stack
    from conformap.wemd import wemd_embedding

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=720)
    a = ap.parse_args(argv)
    vol = read_stack(str(MAP)).data[0]
    grid = np.arange(a.steps) * 360.0 / a.steps
    maps, _ = rotate_map(vol, angles=grid)
    c = wemd_embedding(maps, level=5, negative="keep")
    speed = np.abs(np.diff(np.r_[c, c[:1]], axis=0)).sum(axis=1)
    arc = np.r_[0.0, np.cumsum(speed)]
    out = {"steps": a.steps, "speed_max_over_min": float(speed.max() / speed.min()),
           "speed_cv": float(speed.std() / speed.mean()), "floor": []}
    for seed in range(3):
        deg = sample_rotor_angles(400, rng=seed)
        arc_deg = 360.0 * np.interp(deg, np.r_[grid, 360.0], arc) / arc[-1]
        emb = np.c_[np.cos(np.radians(arc_deg)), np.sin(np.radians(arc_deg))]
        r = circle_recovery(emb, deg)
        out["floor"].append({"seed": seed, "median": round(r.median_error, 3),
                             "p90": round(r.p90_error, 3)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
