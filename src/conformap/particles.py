"""Particle sets as RELION and cryoSPARC keep them: STAR files and ``.cs`` tables.

A particle set is a table with one row per particle image; each row names the image by its
position in a stack file. conformap reads the images (one memory-mapped pass per stack file,
whatever the row order), names each item by its ``rlnImageName``, and writes the table back
with the embedding coordinates added (:mod:`conformap.export`).

RELION STAR files
    3.1 and later: an ``optics`` block (``rlnOpticsGroup``, ``rlnImagePixelSize``, ...) and a
    ``particles`` block whose ``rlnOpticsGroup`` column points into it. 3.0: one block without
    optics (pixel size from ``rlnDetectorPixelSize`` and ``rlnMagnification``, else from the
    stack's MRC header). ``rlnImageName`` is ``index@path`` with a **1-based** index (or a plain
    ``path`` for a single image).
cryoSPARC ``.cs`` files
    numpy structured arrays (``np.save`` format) with fields ``blob/path`` and ``blob/idx``
    (**0-based**), pixel size in ``blob/psize_A``. A leading ``>`` on a path (cryoSPARC's mark
    for imported files) is dropped. Item names are written in RELION's form,
    ``f"{idx + 1:06d}@{path}"``, the name ``csparc2star`` would give the same particle.

Where stack paths are looked up (the first existing file wins): with ``datadir``,
``datadir/path`` then ``datadir/<file name>``; without it, the path relative to the table's
folder, to its parent and grandparent (RELION and cryoSPARC write paths relative to the project
folder, and tables live in job folders one or two levels down), then to the current folder.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "PARTICLE_SUFFIXES",
    "ParticleTable",
    "cs_names",
    "is_particle_file",
    "particle_block_name",
    "particle_set_names",
    "read_cs",
    "read_particle_table",
    "read_particles",
    "read_star_blocks",
    "write_particle_set",
]

PARTICLE_SUFFIXES = (".star", ".cs")


def _error(msg: str):
    from .io import InputError

    return InputError(msg)


def is_particle_file(inputs) -> bool:
    """True if ``inputs`` is one ``.star`` or ``.cs`` path (or a one-element list of it)."""
    if isinstance(inputs, str | os.PathLike):
        items = [inputs]
    else:
        try:
            items = list(inputs)
        except TypeError:
            return False
    return len(items) == 1 and Path(items[0]).suffix.lower() in PARTICLE_SUFFIXES


@dataclass
class ParticleTable:
    """Where each particle's image is.

    Attributes
    ----------
    source : Path
        The STAR or ``.cs`` file.
    names : list of str
        One per row, in the table's order: ``rlnImageName`` (RELION's form for ``.cs``).
    files : list of Path
        The resolved stack file of each row.
    indices : ndarray of int, shape (n,)
        0-based image index into the row's stack; -1 for a single-image file.
    pixel_size : float or None
        Å per pixel from the table (optics block, RELION 3.0 columns or ``blob/psize_A``).
    """

    source: Path
    names: list[str]
    files: list[Path]
    indices: np.ndarray
    pixel_size: float | None


def read_star_blocks(path, *, as_strings: bool = False) -> dict:
    """All data blocks of a STAR file, in file order (``starfile.read(always_dict=True)``).

    ``as_strings`` keeps every value as the text in the file (loop columns and simple-block
    values), so that writing the blocks back reproduces each value exactly.
    """
    import starfile

    path = Path(path)
    if not path.is_file():
        raise _error(f"{path}: no such STAR file")
    try:
        blocks = starfile.read(path, always_dict=True, parse_as_string=["rlnImageName"])
        if as_strings:
            keys = set()
            for block in blocks.values():
                keys.update(block.columns if hasattr(block, "columns") else block.keys())
            blocks = starfile.read(path, always_dict=True, parse_as_string=sorted(keys))
    except Exception as exc:  # starfile/pandas raise many kinds on malformed files
        raise _error(f"{path}: not a readable STAR file ({exc})") from exc
    if not blocks:
        raise _error(f"{path}: the STAR file has no data blocks")
    return blocks


def particle_block_name(blocks: dict, path) -> str:
    """The block holding the particles: ``particles``, else the one loop with rlnImageName."""
    loops = {k: b for k, b in blocks.items() if hasattr(b, "columns")}
    if "particles" in loops and "rlnImageName" in loops["particles"].columns:
        return "particles"
    found = [k for k, b in loops.items() if "rlnImageName" in b.columns]
    if len(found) != 1:
        what = "no loop block has" if not found else f"blocks {found} all have"
        raise _error(
            f"{path}: {what} an rlnImageName column; expected a RELION particles block "
            "(data_particles in 3.1+, or the single data block of 3.0)"
        )
    return found[0]


def _star_pixel_size(blocks: dict, block: str, path: Path) -> float | None:
    df = blocks[block]
    optics = blocks.get("optics")
    if optics is not None and hasattr(optics, "columns"):
        col = next((c for c in ("rlnImagePixelSize", "rlnPixelSize") if c in optics.columns),
                   None)
        if col is None:
            return None
        sizes = dict(zip(optics["rlnOpticsGroup"], optics[col].astype(float), strict=True)) \
            if "rlnOpticsGroup" in optics.columns else {None: float(optics[col].iloc[0])}
        if "rlnOpticsGroup" in df.columns and None not in sizes:
            used = sorted(set(df["rlnOpticsGroup"].tolist()))
            unknown = [g for g in used if g not in sizes]
            if unknown:
                row = int(np.flatnonzero(df["rlnOpticsGroup"].isin(unknown).to_numpy())[0])
                raise _error(
                    f"{path}: particle row {row + 1} has rlnOpticsGroup {unknown[0]}, which the "
                    f"optics block does not define (groups {sorted(sizes)})"
                )
            values = {g: sizes[g] for g in used}
        else:
            values = sizes
        distinct = sorted(set(values.values()))
        if len(distinct) > 1 and not np.allclose(distinct, distinct[0], rtol=1e-3):
            raise _error(
                f"{path}: optics groups have different pixel sizes {values} Å; images must share "
                "one grid to be compared (rescale them to one pixel size first)"
            )
        return float(distinct[0])
    if "rlnDetectorPixelSize" in df.columns and "rlnMagnification" in df.columns:  # RELION 3.0
        px = df["rlnDetectorPixelSize"].astype(float) * 1e4 / df["rlnMagnification"].astype(float)
        if not np.allclose(px, px.iloc[0], rtol=1e-3):
            raise _error(f"{path}: rows have different pixel sizes ({px.min():.4g} to "
                         f"{px.max():.4g} Å); rescale them to one pixel size first")
        return float(px.iloc[0])
    return None


def _candidates(path_text: str, table: Path, datadir) -> list[Path]:
    p = Path(path_text)
    if p.is_absolute():
        return [p] if datadir is None else [p, Path(datadir) / p.name]
    if datadir is not None:
        return [Path(datadir) / p, Path(datadir) / p.name]
    folder = table.resolve().parent
    return [folder / p, folder.parent / p, folder.parent.parent / p, Path.cwd() / p]


def _resolve_files(paths: list[str], table: Path, datadir, names: list[str]) -> list[Path]:
    found: dict[str, Path] = {}
    first_row: dict[str, int] = {}
    for row, text in enumerate(paths):
        first_row.setdefault(text, row)
    for text, row in first_row.items():
        tried = _candidates(text, table, datadir)
        hit = next((c for c in tried if c.is_file()), None)
        if hit is None:
            where = ", ".join(str(c.parent) for c in dict.fromkeys(tried))
            hint = "check --datadir" if datadir is not None else "pass --datadir DIR"
            raise _error(
                f"{table}: particle row {row + 1} ({names[row]!r}): stack file {text!r} not "
                f"found (looked in {where}); {hint} (the folder that holds the stacks)"
            )
        found[text] = hit
    return [found[t] for t in paths]


def _parse_image_names(names: list[str], table: Path) -> tuple[list[str], np.ndarray]:
    paths, idx = [], np.empty(len(names), dtype=np.int64)
    for row, name in enumerate(names):
        head, sep, tail = name.partition("@")
        if not sep:
            paths.append(name)
            idx[row] = -1
            continue
        try:
            value = int(head)
        except ValueError:
            value = 0
        if value < 1 or not tail:
            raise _error(
                f"{table}: particle row {row + 1}: rlnImageName {name!r} is not 'index@stack' "
                "with a 1-based index"
            )
        paths.append(tail)
        idx[row] = value - 1
    return paths, idx


def read_particle_table(path, *, datadir=None) -> ParticleTable:
    """Parse a STAR or ``.cs`` file and locate each row's stack file (no images are read).

    Parameters
    ----------
    path : path
        ``.star`` (RELION 3.0 or 3.1+) or ``.cs`` (cryoSPARC).
    datadir : path, optional
        Folder the stack paths are relative to (see the module docstring for the default).

    Raises
    ------
    InputError
        Unreadable table, no particle block, malformed image names, stack files not found,
        conflicting pixel sizes; each names the file and the row.
    """
    path = Path(path)
    if datadir is not None and not Path(datadir).is_dir():
        raise _error(f"--datadir {datadir}: no such folder")
    if path.suffix.lower() == ".cs":
        arr = read_cs(path)
        raw = [p.decode() if isinstance(p, bytes) else str(p) for p in arr["blob/path"]]
        paths = [p[1:] if p.startswith(">") else p for p in raw]
        idx = np.asarray(arr["blob/idx"], dtype=np.int64)
        if (idx < 0).any():
            row = int(np.flatnonzero(idx < 0)[0])
            raise _error(f"{path}: row {row + 1}: blob/idx {idx[row]} is negative")
        names = cs_names(arr)
        pixel = None
        if "blob/psize_A" in arr.dtype.names:
            ps = np.asarray(arr["blob/psize_A"], dtype=float)
            if not np.allclose(ps, ps[0], rtol=1e-3):
                raise _error(f"{path}: rows have different pixel sizes ({ps.min():.4g} to "
                             f"{ps.max():.4g} Å); rescale them to one pixel size first")
            pixel = float(ps[0])
    else:
        blocks = read_star_blocks(path)
        block = particle_block_name(blocks, path)
        df = blocks[block]
        if len(df) == 0:
            raise _error(f"{path}: the particle block {block!r} has no rows")
        names = [str(v) for v in df["rlnImageName"]]
        paths, idx = _parse_image_names(names, path)
        pixel = _star_pixel_size(blocks, block, path)
    files = _resolve_files(paths, path, datadir, names)
    return ParticleTable(source=path, names=names, files=files, indices=idx, pixel_size=pixel)


def read_cs(path) -> np.ndarray:
    """A cryoSPARC ``.cs`` table (structured array), checked for the ``blob/*`` fields."""
    path = Path(path)
    if not path.is_file():
        raise _error(f"{path}: no such .cs file")
    try:
        with open(path, "rb") as fh:
            arr = np.load(fh, allow_pickle=False)
    except Exception as exc:
        raise _error(f"{path}: not a readable cryoSPARC .cs file ({exc})") from exc
    if arr.dtype.names is None or arr.ndim != 1:
        raise _error(f"{path}: expected a cryoSPARC particle table (a 1-D structured array)")
    missing = [f for f in ("blob/path", "blob/idx") if f not in arr.dtype.names]
    if missing:
        raise _error(f"{path}: the table has no {' or '.join(missing)} field; export the "
                     "particles (not passthrough-only metadata) from cryoSPARC")
    if len(arr) == 0:
        raise _error(f"{path}: the table has no rows")
    return arr


def cs_names(arr: np.ndarray) -> list[str]:
    """RELION-style item names ``{idx + 1:06d}@{path}`` of a ``.cs`` table's rows."""
    out = []
    for p, i in zip(arr["blob/path"], arr["blob/idx"], strict=True):
        text = p.decode() if isinstance(p, bytes) else str(p)
        out.append(f"{int(i) + 1:06d}@{text[1:] if text.startswith('>') else text}")
    return out


def read_particles(path, *, datadir=None, densities: bool = True, out=None):
    """Read the particle images of a STAR or ``.cs`` file into a :class:`conformap.io.Stack`.

    Each stack file is memory-mapped and read once, gathering the rows that point into it (any
    row order). Items keep the table's row order and are named by ``rlnImageName``.

    Parameters
    ----------
    path : path
    datadir : path, optional
        See :func:`read_particle_table`.
    densities : bool, default True
        Refuse images whose total mass is not positive (as :func:`conformap.io.read_stack`).
    out : callable, optional
        ``out(shape)`` returns the writable float32 array of that shape to fill (e.g. a
        ``numpy.memmap`` on disk, :func:`conformap.stream.open_stack`); default memory.

    Returns
    -------
    Stack
        ``data`` (n, ny, nx) float32; ``voxel_size`` (y, x) in Å from the table, else from the
        first stack's header; ``origin`` None.
    """
    import mrcfile

    from .io import Stack

    table = read_particle_table(path, datadir=datadir)
    n = len(table.names)
    rows_of: dict[Path, list[int]] = defaultdict(list)
    for row, f in enumerate(table.files):
        rows_of[f].append(row)
    data = None
    box = box_row = None
    header_pixel = None
    for f, rows in rows_of.items():
        rows_arr = np.asarray(rows)
        try:
            mrc = mrcfile.mmap(f, mode="r", permissive=False)
        except Exception as exc:
            raise _error(f"{table.source}: particle row {rows[0] + 1} ({table.names[rows[0]]!r}):"
                         f" {f} is not a readable MRC stack ({exc})") from exc
        with mrc:
            arr = mrc.data
            if arr.ndim == 2:
                arr = arr[None]
            if arr.ndim != 3:
                raise _error(f"{table.source}: particle row {rows[0] + 1}: {f} holds a "
                             f"{arr.ndim}-D array {arr.shape}; expected an image stack")
            idx = table.indices[rows_arr]
            single = idx < 0
            if single.any():
                if arr.shape[0] != 1:
                    row = int(rows_arr[np.flatnonzero(single)[0]])
                    raise _error(f"{table.source}: particle row {row + 1}: rlnImageName "
                                 f"{table.names[row]!r} has no index@ but {f} holds "
                                 f"{arr.shape[0]} images; write it as index@{f.name}")
                idx = np.where(single, 0, idx)
            bad = idx >= arr.shape[0]
            if bad.any():
                row = int(rows_arr[np.flatnonzero(bad)[0]])
                raise _error(
                    f"{table.source}: particle row {row + 1} ({table.names[row]!r}): image "
                    f"{int(table.indices[row]) + 1} does not exist; {f} holds {arr.shape[0]} "
                    "images (RELION indices start at 1, cryoSPARC blob/idx at 0)"
                )
            if box is None:
                box, box_row = arr.shape[1:], rows[0]
                data = (np.empty((n, *box), dtype=np.float32) if out is None
                        else out((n, *box)))
                vs = mrc.voxel_size
                header_pixel = float(vs.x) if float(vs.x) > 0 else None
            elif arr.shape[1:] != box:
                raise _error(
                    f"{table.source}: particle row {rows[0] + 1} ({table.names[rows[0]]!r}): "
                    f"images in {f} are {arr.shape[1]} x {arr.shape[2]} but row {box_row + 1} "
                    f"({table.names[box_row]!r}) is {box[0]} x {box[1]}; all particles must share "
                    "one box size (re-extract them with one box)"
                )
            order = np.argsort(idx, kind="stable")  # sequential reads through the map
            data[rows_arr[order]] = arr[idx[order]]
    _check_images(data, table, densities)
    pixel = table.pixel_size if table.pixel_size is not None else header_pixel
    voxel = None if pixel is None else (pixel, pixel)
    return Stack(data=data, names=list(table.names), voxel_size=voxel, origin=None)


def _check_images(data: np.ndarray, table: ParticleTable, densities: bool) -> None:
    """Vectorised item checks (the rules of :func:`conformap.io.read_stack`), naming the row;
    block by block, so that a memory-mapped stack is checked in bounded memory."""
    for i0 in range(0, len(data), 4096):
        _check_image_block(data[i0:i0 + 4096], i0, table, densities)


def _check_image_block(data, i0, table, densities):
    flat = data.reshape(len(data), -1)
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        row = i0 + int(np.flatnonzero(~finite)[0])
        raise _error(f"{table.source}: particle row {row + 1} ({table.names[row]!r}): the image "
                     "has NaN or infinite pixels; remove the particle or repair its stack")
    if not densities:
        return
    mass = flat.sum(axis=1, dtype=np.float64)
    bad = ~(mass > 0)
    if bad.any():
        row = i0 + int(np.flatnonzero(bad)[0])
        raise _error(
            f"{table.source}: particle row {row + 1} ({table.names[row]!r}): total intensity "
            f"{mass[row - i0]:.4g} is not positive, but WEMD compares densities of positive "
            "mass; use "
            "--metric euclidean for normalised (zero-mean) particle images, or remove the row"
        )


def particle_set_names(n: int, n_stacks: int = 3) -> list[str]:
    """The ``rlnImageName`` of each image (in image order) that :func:`write_particle_set` uses."""
    n_stacks = max(1, min(int(n_stacks), n))
    return [f"{i // n_stacks + 1:06d}@Particles/stack_{i % n_stacks + 1:02d}.mrcs"
            for i in range(n)]


def write_particle_set(
    images,
    folder,
    *,
    pixel_size: float = 1.0,
    n_stacks: int = 3,
    relion: str = "3.1",
    columns: dict | None = None,
    rng=None,
    star_name: str = "particles.star",
) -> Path:
    """Write images as a RELION particle set: ``.mrcs`` stacks plus a STAR file.

    For tests, examples and the ``simulate-particles`` command. Images go round-robin into
    ``n_stacks`` stacks under ``folder/Particles/``; the STAR rows are in a random order when
    ``rng`` is given (as after RELION's sorting or subset selection), so readers must follow
    ``rlnImageName``, not the row position.

    Parameters
    ----------
    images : array_like, shape (n, ny, nx)
    folder : path
    pixel_size : float
        Å per pixel (optics block for 3.1; ``rlnDetectorPixelSize`` / ``rlnMagnification`` for
        3.0).
    n_stacks : int
    relion : {"3.1", "3.0"}
        3.1: ``data_optics`` + ``data_particles``; 3.0: a single block, no optics.
    columns : dict of str -> array_like, optional
        Extra per-image columns (in image order), e.g. ``{"rlnAngleRot": angles}``.
    rng : int or Generator, optional
        Shuffles the row order.

    Returns
    -------
    Path
        The STAR file (``folder/star_name``), with stack paths relative to ``folder``.
    """
    import pandas as pd
    import starfile

    from ._validation import check_rng
    from .io import atomic_path, write_mrc

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(f"images: expected shape (n, ny, nx), got {images.shape}")
    if relion not in ("3.0", "3.1"):
        raise ValueError(f"relion: expected '3.0' or '3.1', got {relion!r}")
    folder = Path(folder)
    n = len(images)
    names = particle_set_names(n, n_stacks)
    n_stacks = max(1, min(int(n_stacks), n))
    for s in range(n_stacks):
        members = np.arange(s, n, n_stacks)
        write_mrc(folder / f"Particles/stack_{s + 1:02d}.mrcs", images[members],
                  voxel_size=pixel_size)
    df = pd.DataFrame({"rlnImageName": names})
    for key, values in (columns or {}).items():
        df[key] = np.asarray(values)
    if relion == "3.1":
        df["rlnOpticsGroup"] = 1
        optics = pd.DataFrame({
            "rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1],
            "rlnImagePixelSize": [float(pixel_size)], "rlnImageSize": [images.shape[-1]],
            "rlnImageDimensionality": [2], "rlnVoltage": [300.0],
        })
        blocks = {"optics": optics}
    else:
        df["rlnDetectorPixelSize"] = float(pixel_size)  # µm, with magnification 10^4: Å
        df["rlnMagnification"] = 10000.0
        blocks = {}
    if rng is not None:
        df = df.iloc[check_rng(rng).permutation(n)].reset_index(drop=True)
    blocks["particles" if relion == "3.1" else ""] = df
    star = folder / star_name
    with atomic_path(star) as tmp:
        starfile.write(blocks, tmp, float_format="%.6f")
    return star
