"""``conformap simulate``: write a procedural data set as MRC files plus a ground-truth CSV."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ._common import (
    StepProgress,
    add_output_options,
    check_output_directory,
    nonneg_float,
    positive_float,
    positive_int,
    progress_enabled,
)


def register(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate a data set (the ATP-synthase-like rotor, or maps of PDB/mmCIF models) "
        "as MRC files",
        description="Simulate the earthmover paper's rotor data set: maps rotated by angles "
        "from 2/5 U[0,360] + 1/5 N(0,1) + 1/5 N(120,1) + 1/5 N(240,1), written as "
        "OUT/rotor_XXXX.mrc with OUT/ground_truth.csv (name, angle_deg).",
    )
    p.add_argument("--out", required=True,
                   help="output directory: created if missing (its parent must exist); an "
                   "existing non-empty one is refused unless --overwrite, which replaces it")
    p.add_argument("-n", "--n", type=positive_int, default=100, help="number of maps (default 100)")
    p.add_argument("--noise", type=nonneg_float, default=0.0,
                   help="noise std as a fraction of the max voxel (paper's noisy set: 0.1)")
    p.add_argument("--map", default=None,
                   help="rotate this MRC map (e.g. rotating_shaft_res6.mrc) instead of the "
                   "procedural rotor, about array axes 0 and 2")
    p.add_argument("--shape", type=positive_int, nargs=3, default=None, metavar=("NZ", "NY", "NX"),
                   help="grid of the procedural rotor (default 40 72 40)")
    p.add_argument("--voxel-size", type=positive_float, default=None,
                   help="Å per voxel to record; with --from-pdb the grid spacing "
                   "(default resolution / 3, as Chimera's molmap)")
    g = p.add_argument_group(
        "atomic models",
        "Instead of the rotor, turn PDB/mmCIF models into density maps like Chimera's molmap "
        "(Gaussian atoms weighted by atomic number). Every model of every file becomes one map, "
        "all on one common grid; writes OUT/<file>[_model<NNNN>].mrc and OUT/models.csv "
        "(name, source, model, index, n_atoms).",
    )
    g.add_argument("--from-pdb", nargs="+", default=None, metavar="FILE",
                   help="PDB or mmCIF files (conformations of one molecule, superposed)")
    g.add_argument("--resolution", type=positive_float, default=6.0,
                   help="map resolution in Å (default 6, the earthmover paper's)")
    g.add_argument("--padding", type=nonneg_float, default=None,
                   help="Å of empty space around the atoms (default 3 x resolution)")
    g.add_argument("--remove-hydrogens", action="store_true",
                   help="drop hydrogens (when only some models have them)")
    g.add_argument("--chains", default=None, metavar="A,B,...",
                   help="keep only these chains (e.g. the moving part of a complex)")
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p)
    p.set_defaults(func=run)


def _progress(args, items, desc):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="map", leave=False, disable=not progress_enabled(args))


def run(args) -> int:
    from .. import datasets
    from ..io import read_stack, write_csv, write_mrc

    out = check_output_directory(args)  # before any computation
    if args.from_pdb:
        if args.map:
            raise ValueError("--map and --from-pdb: choose one input")
        return _run_from_pdb(args, out)
    voxel, origin = args.voxel_size, None
    with StepProgress(args, "simulate", ["simulate maps"]) as bar:
        if args.map:
            stack = read_stack(args.map)
            if stack.data.shape[0] != 1 or stack.data.ndim != 4:
                raise ValueError(
                    f"--map {args.map}: expected a single 3-D map, got {stack.data.shape}")
            maps, angles = datasets.rotate_map(stack.data[0], args.n, noise=args.noise,
                                               rng=args.seed)
            # The rotation is about the box centre, so the maps keep the input's frame: its
            # voxel size (unless --voxel-size) and its origin.
            voxel = voxel or (stack.voxel_size if stack.voxel_size else 1.0)
            origin = stack.origin
        else:
            shape = tuple(args.shape) if args.shape else datasets.DEFAULT_ROTOR_SHAPE
            maps, angles = datasets.make_rotor(args.n, noise=args.noise, shape=shape,
                                               rng=args.seed)
        bar.done()
    voxel = voxel or 1.0
    # Build everything in a sibling temp directory, then move it into place: no partial output.
    tmp = out.with_name(f".{out.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        names = []
        for i, m in enumerate(_progress(args, maps, "writing maps")):
            name = f"rotor_{i:04d}.mrc"
            write_mrc(tmp / name, m, voxel_size=voxel, origin=origin)
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


def _run_from_pdb(args, out: Path) -> int:
    import numpy as np

    from ..io import write_csv, write_mrc
    from ..structures import common_grid, molmap, read_models

    models = read_models(
        args.from_pdb, remove_hydrogens=args.remove_hydrogens,
        chains=None if args.chains is None else [c for c in args.chains.split(",") if c],
    )
    resolution = args.resolution
    grid = common_grid(models, resolution=resolution, voxel_size=args.voxel_size,
                       padding=args.padding)
    names = []
    for model in models:
        stem = Path(model.source).name
        for suffix in (".gz", ".pdb", ".ent", ".cif", ".mmcif", ".json"):
            stem = stem.removesuffix(suffix)
        num = f"{int(model.model):04d}" if model.model.isdigit() else model.model
        # zero-padded so that the sorted file names keep the model order
        names.append(f"{stem}_model{num}.mrc" if "#" in model.name else f"{stem}.mrc")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"--from-pdb: two inputs would both be written as {dup}; rename one")

    def density(model):
        return molmap(model.coords, model.weights, resolution=resolution, grid=grid)

    std = 0.0
    if args.noise:
        # The paper's noisy set: one std for the whole set, noise x the maximum voxel. Maps are
        # made one at a time (memory: one map), so the maximum takes a first pass.
        std = args.noise * max(float(density(m).max())
                                for m in _progress(args, models, "molmap (noise scale)"))
    rng = np.random.default_rng(args.seed)
    tmp = out.with_name(f".{out.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        rows = []
        pairs = _progress(args, list(zip(models, names, strict=True)), "molmap")
        for i, (model, name) in enumerate(pairs):
            m = density(model)
            if std:
                m += rng.normal(0.0, std, m.shape).astype(m.dtype)
            write_mrc(tmp / name, m, voxel_size=grid.voxel_size, origin=grid.origin)
            rows.append((name, model.source, model.model, i, len(model.coords)))
        write_csv(tmp / "models.csv", ["name", "source", "model", "index", "n_atoms"], rows)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    nz, ny, nx = grid.shape
    print(f"wrote {len(rows)} maps ({nx} x {ny} x {nz} voxels of {grid.voxel_size:.3g} Å, "
          f"resolution {args.resolution:g} Å) and {out / 'models.csv'}", file=sys.stdout)
    return 0
