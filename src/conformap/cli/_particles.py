"""``conformap simulate-particles``: a small RELION particle set with ground truth."""

from __future__ import annotations

import sys

from ._common import (
    StepProgress,
    add_output_options,
    check_output_directory,
    nonneg_float,
    positive_int,
)


def register(sub) -> None:
    p = sub.add_parser(
        "simulate-particles",
        help="write rotor projection images as a RELION 3.1 particle set (STAR + .mrcs)",
        description="Project the procedural ATP-synthase-like rotor along its rotation axis "
        "(so each image is the rotor at one angle), add noise, and write OUT/particles.star "
        "(optics + particles blocks, rows in shuffled order) with the images in three "
        "OUT/Particles/stack_XX.mrcs stacks, plus OUT/ground_truth.csv (name, angle_deg).",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("-n", "--n", type=positive_int, default=100, help="particles (default 100)")
    p.add_argument("--noise", type=nonneg_float, default=0.05,
                   help="noise s.d. as a fraction of the image maximum (default 0.05)")
    p.add_argument("--pixel-size", type=float, default=3.0, help="Å per pixel (default 3)")
    p.add_argument("--relion", choices=["3.0", "3.1"], default="3.1",
                   help="STAR layout (default 3.1: optics block)")
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..datasets import make_rotor
    from ..io import write_csv
    from ..particles import particle_set_names, read_particle_table, write_particle_set

    out = check_output_directory(args)  # before any computation
    star = out / "particles.star"
    with StepProgress(args, "simulate-particles", ["simulate rotor", "project, add noise",
                                                   "write particle set"]) as bar:
        rng = np.random.default_rng(args.seed)
        maps, angles = make_rotor(args.n, rng=rng)
        bar.done()
        images = maps.sum(axis=2)  # along y (axis 2 of (n, z, y, x)), the rotation axis
        images += rng.normal(scale=args.noise * float(images.max()), size=images.shape)
        images = images.astype(np.float32)
        bar.done()
        out.mkdir(exist_ok=True)  # its parent was checked: never created here
        write_particle_set(images, out, pixel_size=args.pixel_size, relion=args.relion,
                           rng=rng)
        # ground truth in the STAR file's (shuffled) row order, keyed by rlnImageName
        order = {name: i for i, name in enumerate(particle_set_names(args.n))}
        rows = [[name, f"{angles[order[name]]:.4f}"] for name in read_particle_table(star).names]
        truth = write_csv(out / "ground_truth.csv", ["name", "angle_deg"], rows)
        bar.done()
    print(f"wrote {star} ({args.n} particles, 3 stacks) and {truth}", file=sys.stdout)
    return 0
