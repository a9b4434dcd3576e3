"""Particle-set reading and the report's size, side by side with the per-particle baseline.

``python -m benchmarks.bench_particles [--n 20000] [--box 64] [--stacks 10]``

* read: :func:`conformap.io.read_stack` on a shuffled RELION 3.1 STAR file (each stack
  memory-mapped once, rows gathered) against the per-particle loop many scripts use (open the
  row's stack, take one image, close), on the same files in the same run; the ratio is printed.
* report: ``conformap report`` page size and build time for n items (the thumbnails and the
  plotted points are capped, so the page grows with n only through the coordinates).

Timings on a shared 2-core machine are noisy: read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _per_particle(star) -> np.ndarray:
    import mrcfile

    from conformap.particles import read_particle_table

    t = read_particle_table(star)
    out = []
    for f, i in zip(t.files, t.indices, strict=True):
        with mrcfile.mmap(f, mode="r") as m:
            out.append(np.array(m.data[i], dtype=np.float32))
    return np.stack(out)


def bench_read(n: int, box: int, stacks: int, folder: Path) -> dict:
    from conformap.io import read_stack
    from conformap.particles import write_particle_set

    rng = np.random.default_rng(0)
    images = (rng.random((n, box, box), dtype=np.float32) + 0.1)
    star = write_particle_set(images, folder, n_stacks=stacks, rng=1)
    del images
    t0 = time.perf_counter()
    ours = read_stack(star).data
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = _per_particle(star)
    t_base = time.perf_counter() - t0
    assert np.array_equal(ours, base)
    return {"n": n, "box": box, "stacks": stacks, "conformap_s": round(t_ours, 3),
            "per_particle_s": round(t_base, 3), "speedup": round(t_base / t_ours, 1)}


def bench_report(n: int, folder: Path) -> dict:
    from conformap.cli import main

    rng = np.random.default_rng(0)
    ang = rng.uniform(0, 2 * np.pi, n)
    emb = np.c_[np.cos(ang), np.sin(ang)] + 0.05 * rng.normal(size=(n, 2))
    names = np.array([f"{i % 500 + 1:06d}@Particles/stack_{i // 500:04d}.mrcs" for i in range(n)])
    thumbs = (rng.random((1000, 64, 64)) * 255).astype(np.uint8)
    npz = folder / f"emb{n}.npz"
    np.savez(npz, embedding=emb, names=names, eigenvalues=np.array([1, 0.9, 0.8]),
             bandwidth=np.float64(1.0), metric=np.array("wemd"), params=np.array("{}"),
             thumbnails=thumbs, thumbnail_index=np.sort(rng.choice(n, 1000, replace=False)),
             kernel_degrees=rng.random(n))
    out = folder / f"report{n}.html"
    t0 = time.perf_counter()
    assert main(["report", str(npz), "--out", str(out)]) == 0
    return {"n": n, "seconds": round(time.perf_counter() - t0, 2),
            "MiB": round(out.stat().st_size / 2**20, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--box", type=int, default=64)
    p.add_argument("--stacks", type=int, default=10)
    p.add_argument("--report-n", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps({"read": bench_read(a.n, a.box, a.stacks, Path(d))}))
        for n in a.report_n:
            print(json.dumps({"report": bench_report(n, Path(d))}))


if __name__ == "__main__":
    main()
