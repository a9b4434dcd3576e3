"""``conformap simulate``: write a procedural data set as MRC files plus a ground-truth CSV."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ._common import nonneg_float, positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a data set (the ATP-synthase-like rotor) as MRC files",
        description="Simulate the earthmover paper's rotor data set: maps rotated by angles "
        "from 2/5 U[0,360] + 1/5 N(0,1) + 1/5 N(120,1) + 1/5 N(240,1), written as "
        "OUT/rotor_XXXX.mrc with OUT/ground_truth.csv (name, angle_deg).",
    )
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("-n", "--n", type=positive_int, default=100, help="number of maps (default 100)")
    p.add_argument("--noise", type=nonneg_float, default=0.0,
                   help="noise std as a fraction of the max voxel (paper's noisy set: 0.1)")
    p.add_argument("--map", default=None,
                   help="rotate this MRC map (e.g. rotating_shaft_res6.mrc) instead of the "
                   "procedural rotor, about array axes 0 and 2")
    p.add_argument("--shape", type=positive_int, nargs=3, default=None, metavar=("NZ", "NY", "NX"),
                   help="grid of the procedural rotor (default 40 72 40)")
    p.add_argument("--voxel-size", type=float, default=None, help="Å per voxel to record")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import datasets
    from ..io import read_stack, write_csv, write_mrc

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(f"--out {out}: directory exists and is not empty; use --overwrite")
    voxel = args.voxel_size
    if args.map:
        stack = read_stack(args.map)
        if stack.data.shape[0] != 1 or stack.data.ndim != 4:
            raise ValueError(f"--map {args.map}: expected a single 3-D map, got {stack.data.shape}")
        maps, angles = datasets.rotate_map(stack.data[0], args.n, noise=args.noise, rng=args.seed)
        voxel = voxel or (stack.voxel_size[0] if stack.voxel_size else 1.0)
    else:
        shape = tuple(args.shape) if args.shape else datasets.DEFAULT_ROTOR_SHAPE
        maps, angles = datasets.make_rotor(args.n, noise=args.noise, shape=shape, rng=args.seed)
    voxel = voxel or 1.0
    # Build everything in a sibling temp directory, then move it into place: no partial output.
    tmp = out.with_name(f".{out.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        names = []
        for i, m in enumerate(maps):
            name = f"rotor_{i:04d}.mrc"
            write_mrc(tmp / name, m, voxel_size=voxel)
            names.append(name)
        write_csv(tmp / "ground_truth.csv", ["name", "angle_deg"],
                  [(nm, f"{a:.6f}") for nm, a in zip(names, angles, strict=True)])
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {len(names)} maps and {out / 'ground_truth.csv'}", file=sys.stdout)
    return 0
