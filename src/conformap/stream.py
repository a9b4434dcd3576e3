"""Open an input stack without reading it into memory: memory-mapped, checked block by block.

:func:`conformap.io.read_stack` returns the items as one in-memory array. For inputs larger than
memory (1e5-1e6 particle images), :func:`open_stack` returns the same :class:`conformap.io.Stack`
with ``data`` a read-only ``numpy.memmap`` instead, so that the out-of-core pipeline (the
coefficient store, :mod:`conformap.engine`) reads it chunk by chunk:

* one ``.npy`` array of float32 items: the file itself, memory-mapped (``np.load(mmap_mode="r")``);
* one ``.mrcs`` stack (or ``.mrc`` image stack) of float32 images: the file's data block,
  memory-mapped at the offset ``mrcfile`` reports;
* a RELION ``.star`` / cryoSPARC ``.cs`` particle file: each of its stacks is memory-mapped and
  its rows copied, stack by stack, into a float32 ``.npy`` spill file in ``spill_dir``
  (:func:`conformap.particles.read_particles` with ``out=``), which is then memory-mapped;
* anything else (lists of maps, ``.npz``, other dtypes): :func:`conformap.io.read_stack`, in
  memory (a list of volumes of 1e5+ items is not a layout cryo-EM software writes).

The item checks of :func:`conformap.io.read_stack` (finite values; positive total mass for
densities) run over blocks of :data:`CHECK_ROWS` items, so memory stays one block, and the error
names the item as ``read_stack`` does. The file pages the kernel caches while reading count
towards a process's RSS but not towards its anonymous memory, and are dropped under pressure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["CHECK_ROWS", "open_stack"]

#: Items per block of the streamed item checks.
CHECK_ROWS = 4096


def _check_blocks(data, name_of, densities: bool) -> None:
    from .io import check_item

    for i0 in range(0, data.shape[0], CHECK_ROWS):
        block = np.asarray(data[i0:i0 + CHECK_ROWS])
        flat = block.reshape(block.shape[0], -1)
        bad = ~np.isfinite(flat).all(axis=1)
        if densities:
            bad |= ~(flat.sum(axis=1, dtype=np.float64) > 0)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            check_item(block[j], name_of(i0 + j), densities)  # raises read_stack's message
            raise AssertionError("unreachable")  # pragma: no cover


def _npy(path: Path):
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    ok = (arr.dtype == np.float32 and arr.dtype.isnative and 3 <= arr.ndim + 1 <= 5
          and arr.flags.c_contiguous and arr.shape[0] > 0)
    return arr if ok else None


def _mrcs(path: Path):
    import mrcfile

    try:
        with mrcfile.mmap(path, mode="r", permissive=False) as mrc:
            data = mrc.data
            if data.dtype != np.float32 or not data.dtype.isnative or data.ndim != 3:
                return None
            offset = 1024 + int(mrc.header.nsymbt)
            vs, org = mrc.voxel_size, mrc.header.origin
            meta = ((float(vs.y), float(vs.x)), (float(org.y), float(org.x)))
            shape, dtype = data.shape, data.dtype
    except Exception:  # read_stack reports unreadable files with its own message
        return None
    return np.memmap(path, mode="r", dtype=dtype, offset=offset, shape=shape), meta


def open_stack(inputs, *, densities: bool = True, datadir=None, spill_dir=None):
    """:func:`conformap.io.read_stack`, with ``data`` memory-mapped where the input allows.

    Parameters
    ----------
    inputs, densities, datadir
        As in :func:`conformap.io.read_stack`.
    spill_dir : path, optional
        Directory for the float32 spill file of a STAR/.cs particle set (its size is the
        images' size); the caller removes it after the run. None: the particle set is read into
        memory (as ``read_stack``).

    Returns
    -------
    Stack
        ``data`` a read-only ``numpy.memmap`` of shape (n, *shape), float32, or an ndarray for
        inputs that are read into memory (see the module docstring).
    """
    from . import particles
    from .io import Stack, expand_inputs, read_stack

    if particles.is_particle_file(inputs):
        if spill_dir is None:
            return read_stack(inputs, densities=densities, datadir=datadir)
        spill = Path(spill_dir) / f"particles-{os.getpid()}.npy"
        held = {}

        def out(shape):
            held["mm"] = np.lib.format.open_memmap(spill, mode="w+", dtype=np.float32,
                                                   shape=shape)
            return held["mm"]

        st = particles.read_particles(expand_inputs(inputs)[0], datadir=datadir,
                                      densities=densities, out=out)
        held["mm"].flush()
        del held["mm"], st.data
        st.data = np.load(spill, mmap_mode="r")
        return st
    paths = expand_inputs(inputs)
    if len(paths) == 1:
        p = paths[0]
        suffix = p.suffix.lower()
        if suffix == ".npy":
            arr = _npy(p)
            if arr is not None:
                _check_blocks(arr, lambda i: f"{p.name}:{i}", densities)
                return Stack(data=arr, names=[f"{p.name}:{i}" for i in range(arr.shape[0])])
        elif suffix == ".mrcs":
            got = _mrcs(p)
            if got is not None:
                arr, (voxel, origin) = got
                _check_blocks(arr, lambda i: f"{p.name}:{i}", densities)
                return Stack(data=arr, names=[f"{p.name}:{i}" for i in range(arr.shape[0])],
                             voxel_size=voxel, origin=origin)
    return read_stack(inputs, densities=densities, datadir=datadir)
