"""Reading stacks of maps and images; writing results atomically.

Inputs a user brings: a directory or glob of ``.mrc``/``.map`` volumes, an ``.mrcs`` image stack,
an ``.npy`` array of shape (n, ...), or an ``.npz`` holding one (key ``densities`` or the only
array). Every error names the file and what to do.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

__all__ = [
    "InputError",
    "OutputError",
    "Stack",
    "atomic_path",
    "check_item",
    "check_output_dir",
    "check_output_files",
    "expand_inputs",
    "join_names",
    "match_rows",
    "read_metadata_column",
    "read_metadata_table",
    "read_stack",
    "write_csv",
    "write_mrc",
    "write_npz",
]

MAP_SUFFIXES = (".mrc", ".map")
STACK_SUFFIXES = (".mrcs",)
ARRAY_SUFFIXES = (".npy", ".npz")


class InputError(ValueError):
    """A user's input file or path cannot be used; the message says which and why."""


@dataclass
class Stack:
    """Densities read from files; converts to its ``data`` array (``np.asarray(stack)``).

    Attributes
    ----------
    data : ndarray, shape (n, *shape)
    names : list of str
        One name per item: the file name, or ``file.mrcs:index`` for stack slices.
    voxel_size : tuple of float or None
        Ångström per voxel along (z, y, x) (or the image axes), from the MRC header.
    origin : tuple of float or None
    """

    data: np.ndarray
    names: list[str]
    voxel_size: tuple[float, ...] | None = None
    origin: tuple[float, ...] | None = None

    def __len__(self) -> int:
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        """``data``, so a Stack goes wherever an array does (``DiffusionMap().fit(stack)``)."""
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)


def expand_inputs(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            known = MAP_SUFFIXES + STACK_SUFFIXES
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in known)
            if not found:
                raise InputError(f"{p}: directory holds no .mrc, .map or .mrcs files")
            paths.extend(found)
        elif p.exists():
            paths.append(p)
        elif any(ch in str(item) for ch in "*?["):
            found = sorted(Path(s) for s in glob.glob(str(item)))
            if not found:
                raise InputError(f"{item}: the pattern matches no file")
            paths.extend(found)
        else:
            raise InputError(f"{p}: no such file or directory")
    return paths


def _read_mrc(path: Path):
    import mrcfile

    try:
        with mrcfile.open(path, permissive=False, mode="r") as mrc:
            data = np.array(mrc.data, dtype=np.float32)
            vs = mrc.voxel_size
            voxel = (float(vs.z), float(vs.y), float(vs.x))
            org = mrc.header.origin
            origin = (float(org.z), float(org.y), float(org.x))
            # The suffix decides, as in RELION/cryoSPARC: many writers leave ispg = 0 (the
            # header's "image stack" flag) on single volumes, e.g. the earthmover paper's map.
            is_stack = path.suffix.lower() in STACK_SUFFIXES
    except Exception as exc:  # mrcfile raises ValueError/OSError/EOFError on bad files
        raise InputError(
            f"{path}: not a readable MRC file ({exc}); check that it is complete and not "
            "truncated, or re-export it"
        ) from exc
    if data.ndim not in (2, 3):
        raise InputError(f"{path}: expected a 2-D or 3-D MRC array, got shape {data.shape}")
    if data.ndim == 3 and data.shape[0] == 1 and not is_stack:
        data = data[0]  # a volume one section thick is an image
    if data.ndim == 2 or is_stack:  # images: keep the (y, x) voxel size and origin
        voxel, origin = voxel[1:], origin[1:]
    return data, voxel, origin, is_stack


def _read_array(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            for key in ("densities", "data", "X"):
                if key in z:
                    return z[key]
            if len(keys) == 1:
                return z[keys[0]]
            raise InputError(
                f"{path}: .npz holds {keys}; name the array 'densities' (or keep only one)"
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read the array ({exc})") from exc


def _fmt(values) -> str:
    return " x ".join(f"{v:.4g}" for v in values)


def check_item(item: np.ndarray, name: str, densities: bool) -> None:
    """Refuse an item that cannot be used (a density, if ``densities``), naming it."""
    if np.iscomplexobj(item):
        raise InputError(f"{name}: complex values are not densities; save the real part or abs()")
    finite = np.isfinite(item)
    if not finite.all():
        bad = int(item.size - np.count_nonzero(finite))
        raise InputError(
            f"{name}: {bad} voxel(s) are NaN or infinite; repair or remove this map"
        )
    if not densities:
        return
    if not item.any():
        raise InputError(f"{name}: the map is all zero; remove it (it has no mass to compare)")
    mass = float(item.sum(dtype=np.float64))
    if not mass > 0:
        raise InputError(
            f"{name}: total mass {mass:.4g} is not positive; a density must have positive total "
            "mass (check the map's sign or remove it)"
        )


def read_stack(inputs, *, densities: bool = True, datadir=None) -> Stack:
    """Read densities from files (see the module docstring for the accepted inputs).

    Parameters
    ----------
    inputs : path, glob or sequence of them
        Directories (their ``.mrc``/``.map``/``.mrcs`` files, sorted by name), glob patterns,
        or files.
    densities : bool, default True
        Items must be densities (positive total mass; required by WEMD and EMD). Pass False
        for feature vectors or point coordinates compared by Euclidean distance, which may be
        signed or zero.
    datadir : path, optional
        For a RELION ``.star`` or cryoSPARC ``.cs`` particle file: the folder its stack paths
        are relative to (see :mod:`conformap.particles`).

    Returns
    -------
    Stack
        ``data`` of shape (n, *shape) float32; ``voxel_size`` and ``origin`` in (z, y, x)
        order from the first MRC file (None for arrays).

    Raises
    ------
    InputError
        Missing, unreadable or truncated files, unsupported suffixes, items of different shapes
        or voxel sizes (naming both files), arrays that are not (n, ...) stacks of 1-3-D items,
        non-numeric arrays, and items with NaN/infinite voxels, all zeros or non-positive total
        mass (naming the item).
    """
    from . import particles  # one dispatch: STAR/.cs particle sets

    if particles.is_particle_file(inputs):
        return particles.read_particles(expand_inputs(inputs)[0], datadir=datadir,
                                        densities=densities)
    paths = expand_inputs(inputs)
    arrays, names = [], []
    # One volume per .mrc/.map file: fill a preallocated array instead of stacking a list at
    # the end, so reading takes the memory of the data once, not twice.
    buffer = None
    one_per_file = all(p.suffix.lower() in MAP_SUFFIXES for p in paths)
    voxel = origin = voxel_name = None
    first_shape = first_name = None
    for p in paths:
        suffix = p.suffix.lower()
        if suffix in MAP_SUFFIXES + STACK_SUFFIXES:
            data, vs, org, is_stack = _read_mrc(p)
            if voxel is None:
                voxel, origin, voxel_name = vs, org, p.name
            elif (len(vs) == len(voxel) and all(v > 0 for v in vs + voxel)
                  and not np.allclose(vs, voxel, rtol=1e-3)):
                raise InputError(
                    f"{p.name}: voxel size {_fmt(vs)} Å differs from {voxel_name}: {_fmt(voxel)} "
                    "Å; maps must share one grid to be compared (resample them first)"
                )
            if is_stack and data.ndim == 3:
                items = list(data)
                item_names = [f"{p.name}:{i}" for i in range(data.shape[0])]
            else:
                items, item_names = [data], [p.name]
        elif suffix in ARRAY_SUFFIXES:
            arr = _read_array(p)
            if not np.issubdtype(arr.dtype, np.number):
                raise InputError(f"{p}: array dtype {arr.dtype} is not numeric")
            if arr.ndim < 2 or arr.ndim > 4:
                raise InputError(
                    f"{p}: expected an array of shape (n, ...) with one 1-D, 2-D or 3-D item per "
                    f"row, got {arr.shape}; add a leading axis (x[None]) for a single map"
                )
            if arr.shape[0] == 0:
                raise InputError(f"{p}: the array holds no items (shape {arr.shape})")
            items = list(arr)
            item_names = [f"{p.name}:{i}" for i in range(arr.shape[0])]
        else:
            raise InputError(
                f"{p}: unsupported file type {suffix!r}; use .mrc/.map volumes, .mrcs stacks, "
                ".npy or .npz arrays"
            )
        for item, name in zip(items, item_names, strict=True):
            if first_shape is None:
                first_shape, first_name = item.shape, name
            elif item.shape != first_shape:
                raise InputError(
                    f"{name}: shape {item.shape} differs from {first_name}: shape {first_shape}; "
                    "all items must share one grid (resample them first)"
                )
            check_item(item, name, densities)
        if one_per_file:
            if buffer is None:
                buffer = np.empty((len(paths), *first_shape), dtype=np.float32)
            buffer[len(names)] = items[0]
        else:
            arrays.extend(items)
        names.extend(item_names)
        del items
    data = buffer if buffer is not None else np.stack(arrays).astype(np.float32, copy=False)
    return Stack(data=data, names=names, voxel_size=voxel, origin=origin)


class OutputError(ValueError):
    """An output location cannot be used.

    Attributes
    ----------
    path : Path
        The offending file or directory.
    reason : {"exists", "missing", "not_a_directory", "is_a_directory", "unwritable"}
    detail : str
        The operating system's words for "unwritable" (e.g. "Read-only file system").
    """

    MESSAGES: ClassVar[dict[str, str]] = {
        "exists": "{path} exists; pass overwrite=True to replace it, or choose another path",
        "missing": "directory {path} does not exist; create it first or choose another path",
        "not_a_directory": "{path} is a file, not a directory; choose another path",
        "is_a_directory": "{path} is a directory; choose another path",
        "unwritable": "cannot write in {path} ({detail}); choose another path",
    }

    def __init__(self, path, reason: str, detail: str = "", message: str | None = None):
        self.path, self.reason, self.detail = Path(path), reason, detail
        super().__init__(message or self.MESSAGES[reason].format(path=path, detail=detail))


def _create_temp(directory: Path, name: str, suffix: str) -> Path:
    """Create an empty temporary file in ``directory`` with mode ``0o666 & ~umask``.

    ``tempfile.mkstemp`` would make it 0600, and the final file keeps the temporary's mode,
    so collaborators could not read a shared run's outputs.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = directory / f".{name}.{secrets.token_hex(4)}.part{suffix}"
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{directory}: cannot create a temporary file for {name}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds.

    Readers never see a half-written file, and a failed run leaves no partial output. The file
    gets the permissions of an ordinary new file (``0o666`` less the process umask). Missing
    parent directories are created (library use); the command line checks its output
    locations first (:func:`check_output_files`) and never creates a missing parent silently.

    Raises
    ------
    OSError
        The location cannot be written; the message names ``path``, not the temporary file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _create_temp(path.parent, path.name, path.suffix)
    except OSError as exc:
        raise type(exc)(exc.errno, f"{path}: cannot write here ({exc.strerror or exc})") from exc
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise type(exc)(exc.errno, f"{path}: cannot write here ({exc.strerror or exc})"
                            ) from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _probe_writable(directory: Path) -> str | None:
    """None if a file can be created in ``directory`` (tried, then removed), else the reason."""
    try:
        tmp = _create_temp(directory, "conformap-write-test", "")
    except OSError as exc:
        return exc.strerror or str(exc)
    tmp.unlink()
    return None


def check_output_dir(directory, *, may_create: bool = False) -> Path:
    """Check that files can be written in ``directory`` before any work is done.

    Parameters
    ----------
    directory : path
    may_create : bool, default False
        ``directory`` is a command's own output directory: it may be missing (the caller
        creates it when it writes), provided that its parent exists and is writable. Any other
        missing directory is an error: a typo such as ``/nonexistent/emb`` must not create
        ``/nonexistent``.

    Raises
    ------
    OutputError
        With ``reason`` "missing", "not_a_directory" or "unwritable" (a read-only file system,
        no permission; tried by creating and removing a file) and the offending ``path``.
    """
    d = Path(directory)
    if d.exists():
        if not d.is_dir():
            raise OutputError(d, "not_a_directory")
    elif may_create:
        parent = d.parent
        if parent.exists() and not parent.is_dir():
            raise OutputError(parent, "not_a_directory")
        if not parent.exists():
            raise OutputError(parent, "missing")
        check_output_dir(parent)
        return d
    else:
        probe = d
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise OutputError(probe, "not_a_directory")
        raise OutputError(d, "missing")
    reason = _probe_writable(d)
    if reason is not None:
        raise OutputError(d, "unwritable", reason)
    return d


def check_output_files(paths: Sequence[str | os.PathLike], *, overwrite: bool = False
                       ) -> list[Path]:
    """Check before any work that ``paths`` can be written: parents writable, none existing.

    An existing file is refused unless ``overwrite``; an existing directory always is.

    Raises
    ------
    OutputError
        See :func:`check_output_dir`; also ``reason`` "exists" and "is_a_directory".
    """
    out = [Path(p) for p in paths]
    for parent in dict.fromkeys(p.parent for p in out):
        check_output_dir(parent)
    for p in out:
        if p.is_dir():
            raise OutputError(p, "is_a_directory")
        if p.exists() and not overwrite:
            raise OutputError(p, "exists")
    return out


def write_npz(path, **arrays) -> Path:
    """Write a compressed ``.npz`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def write_csv(path, header: Sequence[str], rows) -> Path:
    """Write a CSV atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_mrc(
    path,
    data,
    *,
    voxel_size: float | Sequence[float] = 1.0,
    origin: Sequence[float] | None = None,
) -> Path:
    """Write a 2-D/3-D array (or a 3-D image stack for ``.mrcs``) as MRC, atomically.

    Parameters
    ----------
    path : path
    data : array_like, shape (nz, ny, nx) or (ny, nx)
    voxel_size : float or (z, y, x) floats
        Å per voxel (the order of :attr:`Stack.voxel_size`); (y, x) for an image.
    origin : (z, y, x) floats, optional
        Å; written to the header's origin (the order of :attr:`Stack.origin`); (y, x) for an
        image.
    """
    import mrcfile

    path = Path(path)
    if not isinstance(voxel_size, int | float):
        vs = tuple(float(v) for v in voxel_size)
        if len(vs) == 2:  # an image's (y, x): the section thickness is taken as y
            vs = (vs[0], *vs)
        if len(vs) != 3:
            raise ValueError(f"voxel_size: expected a number or (z, y, x), got {voxel_size!r}")
        voxel_size = vs[::-1]  # mrcfile wants (x, y, z)
    if origin is not None:
        org = tuple(float(v) for v in origin)
        if len(org) == 2:
            org = (0.0, *org)
        if len(org) != 3:
            raise ValueError(f"origin: expected (z, y, x), got {origin!r}")
    with atomic_path(path) as tmp, mrcfile.new(tmp, overwrite=True) as mrc:
        mrc.set_data(np.asarray(data, dtype=np.float32))
        if path.suffix.lower() in STACK_SUFFIXES:
            mrc.set_image_stack()
        mrc.voxel_size = voxel_size
        if origin is not None:
            mrc.header.origin = org[::-1]
    return path


def read_metadata_table(path, names: Sequence[str],
                        column: str | None = None) -> dict[str, np.ndarray]:
    """Numeric columns of the CSV ``path`` for each item name, joined on its first column.

    The one reader of ``--color-by`` tables (``embed``, ``factorize`` and ``report``). Rows
    are matched by :func:`join_names`: the exact item name (``stack.mrcs:3``, an
    ``rlnImageName``), else the file name with or without directory, else the CSV's order
    when it has exactly one row per item. A column is numeric when every value parses as a
    float (a missing trailing field reads as NaN) and at least one is finite; other columns
    are left out, and so is the first (the key) unless it is ``column``. ``column``, when
    given, must exist and be numeric.

    Returns
    -------
    dict of str to ndarray, each shape (len(names),)
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such CSV file")
    with open(p, newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        raise InputError(f"{p}: the CSV has no data rows")
    header, body = rows[0], rows[1:]
    if column is not None and column not in header:
        raise InputError(f"{p}: no column {column!r}; columns are {header}")
    order = match_rows([r[0] if r else "" for r in body], names, p, key=header[0])
    out = {}
    # The first column is the join key; it is a value column only when asked for by name
    # (a table of labels joined by order, as ``factorize --labels`` reads).
    for j, col in enumerate(header):
        if j == 0 and col != column:
            continue
        try:
            vals = np.array([float(r[j]) if j < len(r) else np.nan for r in body])
        except ValueError:
            continue
        if np.isfinite(vals).any():
            out[col] = vals[order]
    if column is not None and column not in out:
        raise InputError(f"{p}: column {column!r} is not numeric")
    return out


def read_metadata_column(spec: str, names: Sequence[str]) -> np.ndarray:
    """Values of ``FILE.csv:COLUMN`` for each item name (:func:`read_metadata_table`)."""
    if ":" not in spec:
        raise InputError(f"--color-by {spec!r}: expected FILE.csv:COLUMN")
    file, column = spec.rsplit(":", 1)
    return read_metadata_table(file, names, column)[column]


def match_rows(keys: Sequence[str], names: Sequence[str], source, *, key: str = "the first "
               "column") -> np.ndarray:
    """:func:`join_names`, or an error naming ``source`` and up to three unmatched items."""
    order = join_names(keys, names)
    if order is None:
        known = {Path(k).name for k in keys}
        missing = [n for n in names if Path(n).name not in known][:3]
        where = key if key.startswith("the ") else repr(key)
        raise InputError(f"{source}: no row for items {missing} (matched on {where})")
    return order


def join_names(keys: Sequence[str], names: Sequence[str]) -> np.ndarray | None:
    """Row of ``keys`` (a table's first column) for each item name, or None if none fits.

    The rule ``--color-by`` tables and the report's metadata follow: the exact name first (a
    RELION ``rlnImageName`` such as ``000003@Particles/stack_01.mrcs``, whose file name other
    items share), then the file name without folders when those are unique in the table, then
    the table's order when it has exactly one row per item.
    """
    pos: dict[str, int] = {}
    for i, k in enumerate(keys):
        pos.setdefault(k, i)
    if all(n in pos for n in names):
        return np.array([pos[n] for n in names], dtype=np.int64)
    base: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        base.setdefault(Path(k).name, []).append(i)
    if all(len(base.get(Path(n).name, ())) == 1 for n in names):
        return np.array([base[Path(n).name][0] for n in names], dtype=np.int64)
    if len(keys) == len(names):
        return np.arange(len(names), dtype=np.int64)
    return None
