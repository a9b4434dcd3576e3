r"""Atomic models (PDB / mmCIF) to density maps, like UCSF Chimera's ``molmap``.

Every atom becomes a normalised isotropic 3-D Gaussian carrying its atomic number (times its
occupancy, so alternative conformations are not counted twice):

.. math::

    \rho(\mathbf{u}) = \sum_a \frac{Z_a\, o_a}{(2\pi\sigma^2)^{3/2}}\,
        \exp\!\Bigl(-\frac{\lVert \mathbf{u} - \mathbf{r}_a \rVert^2}{2\sigma^2}\Bigr),
    \qquad \sigma = \frac{R}{\pi\sqrt{2}},

with the resolution :math:`R` in Å, as in Chimera's ``molmap`` (``sigmaFactor`` 0.225, and the
same normalisation, so values are in electrons per Å\ :sup:`3` and comparable with molmap's:
an isolated carbon peaks at 0.155 at 6 Å, the paper's 1QO1 map at 0.164). The
defaults follow ``molmap`` too: grid spacing :math:`R/3`, padding :math:`3R` around the atoms,
Gaussians cut off at :math:`5\sigma`. Models are read with :mod:`gemmi` (PDB, mmCIF, mmJSON,
plain or gzipped).

Several conformations (the models of a multi-model PDB file such as an NMR ensemble or a
molecular-dynamics trajectory, several files, or both) are placed on **one common grid** that
covers all their atoms, so their maps are voxel-by-voxel comparable and can be embedded
together. The grid is returned with the maps (:class:`Grid`: shape, voxel size, origin) and is
written into the MRC headers by ``conformap simulate --from-pdb``. Coordinates are not moved: to
compare conformations by their internal motion, superpose the models first (as the paper did by
keeping the F1 subunit fixed).

Arrays are indexed ``[z, y, x]`` (the MRC convention of :mod:`mrcfile`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validation import check_positive
from .io import InputError

__all__ = [
    "SIGMA_FACTOR",
    "AtomicModel",
    "Grid",
    "common_grid",
    "molmap",
    "read_models",
    "structures_to_maps",
]

#: Chimera ``molmap``'s default ``sigmaFactor``: sigma = SIGMA_FACTOR * resolution.
SIGMA_FACTOR = 1.0 / (math.pi * math.sqrt(2.0))
#: Gaussians are evaluated out to this many sigmas (``molmap``'s ``cutoffRange``).
CUTOFF_SIGMAS = 5.0
#: Refuse grids larger than this many voxels per map unless ``max_voxels`` is raised.
MAX_VOXELS = 512**3
#: Atoms splatted per batch (bounds the temporary index arrays to ~ batch * window^3).
_ATOM_BATCH = 4096


@dataclass(frozen=True)
class AtomicModel:
    """The atoms of one conformation.

    Attributes
    ----------
    name : str
        ``file.pdb`` for a single-model file, ``file.pdb#model<N>`` for model ``N`` of a
        multi-model file.
    source : str
        Path of the file it was read from.
    model : str
        Model number as written in the file.
    coords : ndarray of float64, shape (n_atoms, 3)
        Cartesian coordinates in Å, columns (x, y, z).
    weights : ndarray of float64, shape (n_atoms,)
        Atomic number times occupancy.
    """

    name: str
    source: str
    model: str
    coords: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class Grid:
    """A regular 3-D grid.

    Attributes
    ----------
    shape : tuple of int
        ``(nz, ny, nx)``.
    voxel_size : float
        Å per voxel (isotropic).
    origin : tuple of float
        Cartesian position in Å of the centre of voxel ``[0, 0, 0]``, in ``(z, y, x)`` order
        like the array axes and :attr:`conformap.io.Stack.origin` (the MRC header's origin).
    """

    shape: tuple[int, int, int]
    voxel_size: float
    origin: tuple[float, float, float]

    @property
    def n_voxels(self) -> int:
        return math.prod(self.shape)


def _read_one(
    path: Path, *, remove_waters: bool, remove_hydrogens: bool, chains: frozenset | None
) -> list[AtomicModel]:
    import gemmi

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        st = gemmi.read_structure(str(path))
    except Exception as exc:  # gemmi raises RuntimeError/ValueError with its own message
        raise InputError(
            f"{path}: cannot read an atomic model ({exc}); expected a PDB, mmCIF or mmJSON file"
        ) from exc
    if remove_waters:
        st.remove_waters()
    if remove_hydrogens:
        st.remove_hydrogens()
    if len(st) == 0:
        raise InputError(f"{path}: the file holds no models (no ATOM/HETATM records)")
    models = []
    multi = len(st) > 1
    for model in st:
        num = str(getattr(model, "num", getattr(model, "name", "")))
        if chains is not None:
            present = {ch.name for ch in model}
            missing = sorted(chains - present)
            if missing:
                raise InputError(
                    f"{path}: model {num} has no chain(s) {missing}; its chains are "
                    f"{sorted(present)}"
                )
        coords, weights = [], []
        unknown = None
        for cra in model.all():
            if chains is not None and cra.chain.name not in chains:
                continue
            a = cra.atom
            z = a.element.atomic_number
            if z == 0 and unknown is None:
                unknown = f"{cra.chain.name}/{cra.residue.name}{cra.residue.seqid.num}/{a.name}"
            coords.append((a.pos.x, a.pos.y, a.pos.z))
            weights.append(z * a.occ)
        label = f"{path.name}#model{num}" if multi else path.name
        if unknown is not None:
            raise InputError(
                f"{path}: model {num}: atom {unknown} has an unknown element; fix the element "
                "column (columns 77-78 of a PDB file, type_symbol in mmCIF)"
            )
        if not coords:
            raise InputError(f"{path}: model {num} has no atoms (after removing waters/hydrogens)")
        xyz = np.asarray(coords, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        if not np.isfinite(xyz).all():
            raise InputError(f"{path}: model {num} has non-finite coordinates")
        if not w.sum() > 0:
            raise InputError(
                f"{path}: model {num}: every atom has zero occupancy, so the map would be empty"
            )
        models.append(AtomicModel(label, str(path), num, xyz, w))
    return models


def read_models(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    remove_waters: bool = True,
    remove_hydrogens: bool = False,
    chains: Sequence[str] | None = None,
) -> list[AtomicModel]:
    """Read every model of every file (PDB, mmCIF, mmJSON; optionally gzipped) with gemmi.

    Parameters
    ----------
    paths : path or sequence of paths
        Files in the order their models should appear.
    remove_waters : bool, default True
        Drop water molecules (crystal waters are not part of the conformation).
    remove_hydrogens : bool, default False
        Drop hydrogens (useful when some models have them and others do not).
    chains : sequence of str, optional
        Keep only these chains (author chain names, e.g. the rotating F0 ring and axle of
        ATP synthase); every model must have all of them.

    Returns
    -------
    list of AtomicModel
        One per model, files in order, models in file order.

    Raises
    ------
    InputError
        A missing or unreadable file, a file without atoms, an atom with an unknown element or
        non-finite coordinates; the message names the file and model.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise InputError("no structure files given; pass at least one PDB or mmCIF file")
    keep = None if chains is None else frozenset(str(c) for c in chains)
    if keep is not None and not keep:
        raise ValueError("chains: got an empty selection; pass chain names or None for all")
    models: list[AtomicModel] = []
    for p in items:
        models.extend(_read_one(Path(p), remove_waters=remove_waters,
                                remove_hydrogens=remove_hydrogens, chains=keep))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{dup}: the same file name is given twice; rename one of the files")
    return models


def _molmap_defaults(resolution, voxel_size, padding):
    resolution = check_positive(resolution, "resolution")
    if voxel_size is None:
        voxel_size = resolution / 3.0
    voxel_size = check_positive(voxel_size, "voxel_size")
    if padding is None:
        padding = 3.0 * resolution
    padding = check_positive(padding, "padding", allow_zero=True)
    return resolution, voxel_size, padding


def common_grid(
    models: Sequence[AtomicModel],
    *,
    resolution: float,
    voxel_size: float | None = None,
    padding: float | None = None,
    max_voxels: int = MAX_VOXELS,
) -> Grid:
    """The smallest grid (with ``padding`` Å on every side) holding the atoms of all models.

    Parameters
    ----------
    models : sequence of AtomicModel
    resolution : float
        Å; sets the defaults of the other two.
    voxel_size : float, optional
        Å per voxel; default ``resolution / 3`` (``molmap``'s ``gridSpacing``).
    padding : float, optional
        Å of empty space around the atoms; default ``3 * resolution`` (``molmap``'s
        ``edgePadding``). Keep it at least ``2.5 * sigma`` so no atom's Gaussian is truncated
        by the box, and larger still for WEMD with ``mode="zero"`` boundary handling.
    max_voxels : int
        Refuse larger grids (a too-small voxel size or models far apart).

    Returns
    -------
    Grid
    """
    if not models:
        raise ValueError("models: got none; read some with read_models")
    _, voxel_size, padding = _molmap_defaults(resolution, voxel_size, padding)
    lo = np.min([m.coords.min(axis=0) for m in models], axis=0) - padding
    hi = np.max([m.coords.max(axis=0) for m in models], axis=0) + padding
    n_xyz = np.floor((hi - lo) / voxel_size).astype(int) + 1
    shape = (int(n_xyz[2]), int(n_xyz[1]), int(n_xyz[0]))
    n_vox = math.prod(shape)
    if n_vox > max_voxels:
        extent = ", ".join(f"{e:.0f}" for e in hi - lo)
        raise ValueError(
            f"grid: the models span ({extent}) Å, which at {voxel_size:.3g} Å/voxel needs a "
            f"{shape[2]} x {shape[1]} x {shape[0]} grid ({n_vox:,} voxels, limit "
            f"{max_voxels:,}); use a larger voxel size (or a lower resolution), or superpose "
            "the models so they overlap"
        )
    return Grid(shape=shape, voxel_size=float(voxel_size), origin=tuple(float(v) for v in lo[::-1]))


def molmap(
    coords,
    weights=None,
    *,
    resolution: float,
    grid: Grid,
    sigma_factor: float = SIGMA_FACTOR,
    cutoff: float = CUTOFF_SIGMAS,
    dtype=np.float32,
) -> np.ndarray:
    r"""Sum of atom-centred Gaussians sampled on ``grid`` (Chimera ``molmap``).

    Parameters
    ----------
    coords : array_like, shape (n_atoms, 3)
        Cartesian (x, y, z) in Å.
    weights : array_like, shape (n_atoms,), optional
        Mass of each Gaussian; default 1 (use atomic numbers for ``molmap``'s weighting).
    resolution : float
        Å; :math:`\sigma = \text{sigma\_factor} \times \text{resolution}`.
    grid : Grid
        Where to sample (see :func:`common_grid`).
    sigma_factor : float
        Default :math:`1/(\pi\sqrt{2})`, ``molmap``'s.
    cutoff : float
        Each Gaussian is evaluated within ``cutoff`` sigmas of its atom.
    dtype : numpy dtype
        Output dtype (accumulation is in float64).

    Returns
    -------
    ndarray, shape grid.shape
        Indexed ``[z, y, x]``; each atom is a Gaussian of integral ``weight`` (in Å^3 units,
        so ``out.sum() * voxel_size**3`` is close to ``weights.sum()``). Atoms outside the grid
        contribute only their part inside it.
    """
    xyz = np.asarray(coords, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or xyz.shape[0] == 0:
        raise ValueError(f"coords: expected shape (n_atoms, 3) with n_atoms >= 1, got {xyz.shape}")
    if not np.isfinite(xyz).all():
        raise ValueError("coords: contains NaN or infinite coordinates")
    w = np.ones(len(xyz)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(xyz),):
        raise ValueError(f"weights: expected shape ({len(xyz)},), got {w.shape}")
    sigma = check_positive(resolution, "resolution") * check_positive(sigma_factor, "sigma_factor")
    w = w * (2 * math.pi * sigma * sigma) ** -1.5  # molmap's normalisation
    cutoff = check_positive(cutoff, "cutoff")
    h = grid.voxel_size
    nz, ny, nx = grid.shape
    # Fractional voxel coordinates along (x, y, z) and a fixed window of half-width r voxels.
    frac = (xyz - np.asarray(grid.origin[::-1])) / h
    r = max(1, math.ceil(cutoff * sigma / h))
    offs = np.arange(-r, r + 1)
    out = np.zeros(grid.n_voxels, dtype=np.float64)
    dims = (nx, ny, nz)
    for a0 in range(0, len(xyz), _ATOM_BATCH):
        f = frac[a0 : a0 + _ATOM_BATCH]
        base = np.rint(f).astype(np.int64)
        g1, idx1 = [], []
        for ax in range(3):
            idx = base[:, ax, None] + offs[None, :]  # (b, 2r+1) voxel indices along this axis
            dist = (idx - f[:, ax, None]) * h
            g = np.exp(-(dist * dist) / (2 * sigma * sigma))
            g[np.abs(dist) > cutoff * sigma] = 0.0
            inside = (idx >= 0) & (idx < dims[ax])
            g[~inside] = 0.0
            g1.append(g)
            idx1.append(np.clip(idx, 0, dims[ax] - 1))
        gx, gy, gz = g1
        ix, iy, iz = idx1
        vals = (w[a0 : a0 + _ATOM_BATCH, None, None, None] * gz[:, :, None, None]
                * gy[:, None, :, None] * gx[:, None, None, :])
        flat = (iz[:, :, None, None] * ny + iy[:, None, :, None]) * nx + ix[:, None, None, :]
        out += np.bincount(flat.ravel(), weights=vals.ravel(), minlength=out.size)
    return out.reshape(grid.shape).astype(dtype, copy=False)


def structures_to_maps(
    paths,
    *,
    resolution: float = 6.0,
    voxel_size: float | None = None,
    padding: float | None = None,
    grid: Grid | None = None,
    remove_waters: bool = True,
    remove_hydrogens: bool = False,
    chains: Sequence[str] | None = None,
    max_voxels: int = MAX_VOXELS,
    dtype=np.float32,
) -> tuple[np.ndarray, list[AtomicModel], Grid]:
    """Density maps of every model of every file, on one common grid.

    Parameters
    ----------
    paths : path or sequence of paths
        PDB / mmCIF files; every model of a multi-model file becomes one map.
    resolution : float, default 6.0
        Å (the earthmover paper used 6 Å maps of PDB 1QO1).
    voxel_size, padding
        See :func:`common_grid`; defaults ``resolution / 3`` and ``3 * resolution``.
    grid : Grid, optional
        Sample on this grid instead (e.g. to add conformations to an earlier set); atoms outside
        it are an error.
    remove_waters, remove_hydrogens, chains
        See :func:`read_models`.
    max_voxels : int
        Largest grid accepted.
    dtype : numpy dtype, default float32

    Returns
    -------
    maps : ndarray, shape (n_models, nz, ny, nx)
    models : list of AtomicModel
        ``models[i].name`` names ``maps[i]``.
    grid : Grid
    """
    models = read_models(paths, remove_waters=remove_waters, remove_hydrogens=remove_hydrogens,
                         chains=chains)
    resolution, _, _ = _molmap_defaults(resolution, voxel_size, padding)
    if grid is None:
        grid = common_grid(models, resolution=resolution, voxel_size=voxel_size, padding=padding,
                           max_voxels=max_voxels)
    else:
        lo = np.asarray(grid.origin[::-1])
        hi = lo + grid.voxel_size * (np.asarray(grid.shape[::-1]) - 1)
        for m in models:
            if (m.coords < lo).any() or (m.coords > hi).any():
                raise InputError(
                    f"{m.name}: atoms lie outside the given grid (origin {grid.origin}, "
                    f"shape {grid.shape}); use a larger grid or let it be computed"
                )
    maps = np.empty((len(models), *grid.shape), dtype=dtype)
    for i, m in enumerate(models):
        maps[i] = molmap(m.coords, m.weights, resolution=resolution, grid=grid, dtype=dtype)
    return maps, models, grid
