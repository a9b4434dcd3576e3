r"""Chunked on-disk store of WEMD coefficient rows (zarr), written chunk by chunk and resumable.

1e6 images of 64 x 64 have about 46 GB of WEMD coefficients in float32 (D = 11,526 per image at
the default level), more than one machine's memory. A :class:`CoefficientStore` keeps them on
disk as a zarr array of shape ``(n, D)`` whose chunks are blocks of whole rows; the transform
writes one block at a time (only that block and its maps are in memory: :func:`plan_chunk_rows`
sizes it from a memory setting), and the neighbour search (:func:`conformap.engine.kneighbors`)
reads blocks back the same way.

Layout of a store directory::

    coefficients.zarr/     zarr v3 array (n, D), chunks (chunk_rows, <= 65536 columns)
    meta.json              n, D, dtype, chunk_rows, item shape, WEMD parameters, content key
    done/chunk-000123.npz  written (atomically) only after chunk 123's rows are in the array:
                           its BLAKE2b digest, column maxima and row L1 norms of |c|

A chunk counts as written only when its marker exists, so a run killed at any point (even by
SIGKILL, mid-write) recomputes exactly the chunks without a marker and nothing else; zarr itself
writes each chunk file to a temporary name and renames it. Every chunk is a pure function of its
rows of the input and the parameters (:func:`transform_chunk`), so a chunk computed twice (a
retried task, a resumed run, another worker) has the same bytes. The markers' statistics give
the ``columns="resolved"`` selection of :func:`conformap.wemd_embedding` without another pass
over the coefficients.

With ``--cache DIR`` the store lives in ``DIR/wemd-<key>/coefficients.zarr``, where ``key`` is
:meth:`conformap.cache.DiskCache.wemd_key` of the input (the key of the in-memory cache entry of
the same coefficients; :func:`open_wemd_store`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from ._kernels import row_abs_stats
from ._validation import check_choice, check_int
from .io import atomic_path

__all__ = [
    "DEFAULT_MEMORY",
    "STORE_FORMAT",
    "CoefficientStore",
    "open_wemd_store",
    "plan_chunk_rows",
    "transform_chunk",
]

#: Bump when the layout or the meaning of a store changes.
STORE_FORMAT = 1
#: Default memory for one chunk of the transform (its maps, float64 work copy and coefficients).
DEFAULT_MEMORY = 256 * 2**20
#: Columns per zarr chunk: reading a subset of columns (the resolved ones) skips whole chunks.
_COLUMN_CHUNK = 2**16
_WEMD_PARAMS = ("wavelet", "level", "mode", "negative")
#: Temporary names of interrupted writes: zarr's ``<name>.<uuid hex>.partial`` and
#: :func:`conformap.io.atomic_path`'s ``.<name>.<8 hex>.part<suffix>``.
_ZARR_PARTIAL = re.compile(r".+\.[0-9a-f]{32}\.partial")
_ATOMIC_PARTIAL = re.compile(r"\..+\.[0-9a-f]{8}\.part(\.\w+)?")
#: Temporary files older than this (seconds) at the start of a run are another run's leftovers.
STALE_PARTIAL_SECONDS = 600


def plan_chunk_rows(n_features: int, n_voxels: int, itemsize: int, memory: int,
                    n: int | None = None) -> int:
    """Rows per chunk so that one chunk of the transform needs at most ``memory`` bytes.

    A chunk holds its maps (``n_voxels`` values, converted to float64 for the arithmetic) and its
    coefficients (``n_features`` of ``itemsize`` bytes) per row; the transform's own per-thread
    workspace (about 36 MiB a thread, see :func:`conformap.wemd_embedding`) comes on top.
    """
    memory = check_int(memory, "memory", low=1)
    per_row = n_features * itemsize + 2 * n_voxels * 8
    rows = max(1, memory // per_row)
    return int(min(rows, n)) if n else int(rows)


def _digest(a: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return h.hexdigest()


class CoefficientStore:
    """An on-disk ``(n, D)`` array of coefficient rows, written and read in row chunks.

    Open an existing store with ``CoefficientStore(path)``; make one with :meth:`create` (or
    :func:`open_wemd_store`). Safe for several processes at once as long as each chunk is
    written by one of them at a time (the engine schedules one task per chunk); readers use only
    chunks with a completion marker.

    Parameters
    ----------
    path : path
        The store directory (holding ``meta.json``).

    Attributes
    ----------
    path : Path
    n, n_features : int
        Rows and columns (``D``).
    dtype : numpy.dtype
    chunk_rows : int
        Rows per chunk; chunk ``i`` holds rows ``[i * chunk_rows, min(n, (i + 1) * chunk_rows))``.
    item_shape : tuple of int
        Shape of one input density.
    params : dict
        WEMD parameters (wavelet, level, mode, negative) the rows were computed with.
    key : str
        Content key of the input and parameters (:meth:`conformap.cache.DiskCache.wemd_key`).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            raise ValueError(f"store {self.path}: no meta.json; not a coefficient store (make "
                             "one with CoefficientStore.create or open_wemd_store)") from None
        if meta.get("format") != STORE_FORMAT:
            raise ValueError(f"store {self.path}: format {meta.get('format')}, this conformap "
                             f"reads format {STORE_FORMAT}; delete the directory to recompute")
        self.meta = meta
        self.n = int(meta["n"])
        self.n_features = int(meta["n_features"])
        self.dtype = np.dtype(meta["dtype"])
        self.chunk_rows = int(meta["chunk_rows"])
        self.item_shape = tuple(meta["item_shape"])
        self.params = dict(meta["params"])
        self.key = str(meta["key"])
        self._array = None

    # -- creation ------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike, *, n: int, n_features: int, dtype, item_shape,
               params: dict, key: str, chunk_rows: int) -> CoefficientStore:
        """Make an empty store at ``path``, or open the one already there if it matches.

        An existing store of the same ``key``, shape and dtype is reopened as it is (its
        ``chunk_rows`` wins: the chunks already written stay valid); one that differs is an
        error rather than being overwritten.
        """
        import zarr

        path = Path(path)
        n = check_int(n, "n", low=1)
        chunk_rows = check_int(chunk_rows, "chunk_rows", low=1)
        dtype = np.dtype(dtype)
        want = {"format": STORE_FORMAT, "n": n, "n_features": int(n_features),
                "dtype": dtype.name, "item_shape": [int(s) for s in item_shape],
                "params": params, "key": key}
        if (path / "meta.json").exists():
            store = cls(path)
            have = {k: store.meta.get(k) for k in want}
            if json.dumps(have, sort_keys=True, default=str) != json.dumps(
                    want, sort_keys=True, default=str):
                raise ValueError(
                    f"store {path}: holds other coefficients ({have}); delete it or choose "
                    "another directory")
            return store
        path.mkdir(parents=True, exist_ok=True)
        (path / "done").mkdir(exist_ok=True)
        zarr.create_array(
            store=str(path / "coefficients.zarr"), shape=(n, int(n_features)),
            chunks=(min(chunk_rows, n), min(int(n_features), _COLUMN_CHUNK)), dtype=dtype,
            fill_value=0, compressors=None, overwrite=True, zarr_format=3,
        )
        with atomic_path(path / "meta.json") as tmp:
            tmp.write_text(json.dumps({**want, "chunk_rows": chunk_rows}, indent=1,
                                      default=str))
        return cls(path)

    # -- geometry and bookkeeping --------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.n_features)

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_rows)

    def chunk_bounds(self, i: int) -> tuple[int, int]:
        """Rows ``[i0, i1)`` of chunk ``i``."""
        i0 = i * self.chunk_rows
        return i0, min(self.n, i0 + self.chunk_rows)

    def _marker(self, i: int) -> Path:
        return self.path / "done" / f"chunk-{i:06d}.npz"

    def _read_marker(self, i: int):
        try:
            with np.load(self._marker(i), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except FileNotFoundError:
            return None
        except Exception:  # a marker that cannot be read: the chunk is redone
            return None

    def done_chunks(self) -> list[int]:
        """Chunks whose rows are written (their marker exists and reads)."""
        names = {p.name for p in (self.path / "done").glob("chunk-*.npz")}
        return [i for i in range(self.n_chunks) if f"chunk-{i:06d}.npz" in names
                and self._read_marker(i) is not None]

    def missing_chunks(self) -> list[int]:
        """Chunks still to compute, in order."""
        done = set(self.done_chunks())
        return [i for i in range(self.n_chunks) if i not in done]

    @property
    def complete(self) -> bool:
        return not self.missing_chunks()

    def _zarr(self, mode: str = "r"):
        import zarr

        if self._array is None or (mode != "r" and self._array.read_only):
            self._array = zarr.open_array(str(self.path / "coefficients.zarr"), mode=mode)
        return self._array

    # -- writing and reading -------------------------------------------------------------------

    def write_chunk(self, i: int, rows: np.ndarray, *, negatives: bool = False) -> str:
        """Write chunk ``i``'s rows, then its completion marker; returns the rows' digest.

        Idempotent: writing the same rows again leaves the same bytes.
        """
        i0, i1 = self.chunk_bounds(i)
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape != (i1 - i0, self.n_features):
            raise ValueError(f"rows: chunk {i} needs shape {(i1 - i0, self.n_features)}, got "
                             f"{rows.shape}")
        self._zarr("r+")[i0:i1, :] = rows
        # the kernel wemd_embedding(columns="resolved") uses, so the same columns are chosen
        colmax = np.zeros(self.n_features, dtype=self.dtype)
        l1 = np.empty(rows.shape[0])
        row_abs_stats(rows, colmax, l1)
        digest = _digest(rows)
        with atomic_path(self._marker(i)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, digest=np.array(digest), colmax=colmax, l1=l1,
                     negatives=np.array(bool(negatives)))
        return digest

    def read_rows(self, i0: int, i1: int, columns: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[i0, i1)`` (only ``columns`` if given), C-contiguous, from the written chunks.

        Reading a row of a chunk that is not written yet is an error, not zeros.
        """
        first, last = i0 // self.chunk_rows, (max(i1, i0 + 1) - 1) // self.chunk_rows
        missing = [i for i in range(first, last + 1) if not self._marker(i).exists()]
        if missing:
            raise ValueError(f"store {self.path}: chunk(s) {missing[:5]} of rows {i0}:{i1} are "
                             "not written yet; run the transform (it resumes) first")
        arr = self._zarr("r")
        if columns is not None:
            columns = np.asarray(columns, dtype=np.int64)
            if columns.size == self.n_features:
                columns = None
        width = self.n_features if columns is None else columns.size
        out = np.empty((i1 - i0, width), dtype=self.dtype)
        lo, hi = (0, self.n_features) if columns is None else (int(columns[0]),
                                                                int(columns[-1]) + 1)
        # one stored chunk at a time into the output: the only temporary is one chunk's rows
        a = i0
        while a < i1:
            b = min(i1, (a // self.chunk_rows + 1) * self.chunk_rows)
            if columns is None:
                out[a - i0 : b - i0] = arr[a:b, :]
            else:  # read the spanned column range, then gather (zarr's fancy indexing is slower)
                out[a - i0 : b - i0] = arr[a:b, lo:hi][:, columns - lo]
            a = b
        return out

    def take_rows(self, rows, columns: np.ndarray | None = None) -> np.ndarray:
        """Rows ``rows`` (any order, int) in that order, only ``columns`` if given.

        Each stored chunk that holds some of the rows is read once (zarr reads whole chunks),
        as the span of its requested rows; the temporary is that span.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise ValueError(f"rows: indices must lie in [0, {self.n}), got "
                             f"[{rows.min()}, {rows.max()}]")
        width = self.n_features if columns is None else int(np.asarray(columns).size)
        out = np.empty((rows.size, width), dtype=self.dtype)
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        chunk = srt // self.chunk_rows
        bounds = np.flatnonzero(np.diff(chunk)) + 1
        raw = self.raw_layout()
        for sel in np.split(np.arange(srt.size), bounds):
            if not sel.size:
                continue
            a, b = int(srt[sel[0]]), int(srt[sel[-1]]) + 1
            if raw is None:
                out[order[sel]] = self.read_rows(a, b, columns)[srt[sel] - a]
            else:
                out[order[sel]] = self._raw_rows(raw, int(chunk[sel[0]]), srt[sel], columns)
        return out

    def raw_layout(self):
        """``(chunk rows, chunk columns)`` when zarr stores the chunks as raw bytes (no
        compressor, native byte order: the zarr v3 ``bytes`` codec alone), else None. Such a
        chunk file is the C-order ``(chunk rows, chunk columns)`` array, edge chunks padded to
        the full shape (zarr v3 specification), so single rows can be read from it through
        a memory map, instead of decoding the whole chunk."""
        import sys

        arr = self._zarr("r")
        codecs = arr.metadata.codecs
        if len(codecs) != 1 or type(codecs[0]).__name__ != "BytesCodec":
            return None
        endian = getattr(codecs[0].endian, "value", None)
        if self.dtype.itemsize > 1 and endian != sys.byteorder:
            return None
        return tuple(int(c) for c in arr.chunks)

    def _raw_rows(self, layout, chunk: int, rows: np.ndarray, columns) -> np.ndarray:
        """Rows (sorted, all in ``chunk``) read from the chunk files through memory maps."""
        if not self._marker(chunk).exists():
            raise ValueError(f"store {self.path}: chunk {chunk} is not written yet; run the "
                             "transform (it resumes) first")
        cr, cc = layout
        local = rows - chunk * cr
        cols = np.arange(self.n_features) if columns is None else np.asarray(columns, np.int64)
        out = np.empty((rows.size, cols.size), dtype=self.dtype)
        meta = self._zarr("r").metadata
        for j in range(-(-self.n_features // cc)):
            pos = np.flatnonzero((cols >= j * cc) & (cols < (j + 1) * cc))
            if not pos.size:
                continue
            f = self.path / "coefficients.zarr" / meta.encode_chunk_key((chunk, j))
            if not f.exists():  # zarr does not write a chunk that is all fill value (0)
                out[:, pos] = 0
                continue
            mm = np.memmap(f, dtype=self.dtype, mode="r", shape=(cr, cc))
            block = mm[local]
            out[:, pos] = block if pos.size == cc else block[:, cols[pos] - j * cc]
            del mm
        return out

    def chunks_of(self, rows) -> int:
        """How many stored chunks hold some of ``rows`` (what :meth:`take_rows` reads)."""
        return int(np.unique(np.asarray(rows, dtype=np.int64) // self.chunk_rows).size)

    def to_numpy(self, columns: np.ndarray | None = None) -> np.ndarray:
        """The whole array in memory (small stores, tests)."""
        return self.read_rows(0, self.n, columns)

    def digests(self) -> list[str]:
        """The digest of every chunk, from the markers (all chunks must be written)."""
        out = []
        for i in range(self.n_chunks):
            m = self._read_marker(i)
            if m is None:
                raise ValueError(f"store {self.path}: chunk {i} is not written yet")
            out.append(str(m["digest"]))
        return out

    def digest(self) -> str:
        """One digest of the whole content: of the chunk digests, in order."""
        return hashlib.blake2b("|".join(self.digests()).encode(), digest_size=16).hexdigest()

    def verify(self) -> list[int]:
        """Chunks whose stored rows no longer match their marker's digest (reads everything)."""
        bad = []
        for i, want in enumerate(self.digests()):
            i0, i1 = self.chunk_bounds(i)
            if _digest(self.read_rows(i0, i1)) != want:
                bad.append(i)
        return bad

    def remove_partials(self, before: float | None = None, under=None) -> int:
        """Delete temporary files that interrupted writes left in the store; return how many.

        zarr writes a chunk to ``<chunk>.<hex>.partial`` and renames it, and the markers and
        saved search results are written through :func:`conformap.io.atomic_path`
        (``.<name>.<hex>.part<suffix>``): a process killed between the write and the rename
        leaves the temporary behind (the chunk itself is redone, as it has no marker). Only
        files last modified before ``before`` (a ``time.time()``; None: all) are removed, so
        that a run started later, still writing, keeps its own. ``under``: only in these
        subdirectories of the store (e.g. ``("coefficients.zarr", "done")``).
        """
        removed = 0
        roots = [self.path] if under is None else [self.path / u for u in under]
        for p in (q for r in roots if r.exists() for q in r.rglob("*")):
            name = p.name
            if not (_ZARR_PARTIAL.fullmatch(name) or _ATOMIC_PARTIAL.fullmatch(name)):
                continue
            try:
                if before is None or p.stat().st_mtime < before:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:  # renamed or removed meanwhile
                continue
        return removed

    def forget(self, chunks) -> None:
        """Drop the markers of ``chunks``: they are recomputed (e.g. after :meth:`verify`)."""
        for i in chunks:
            self._marker(int(i)).unlink(missing_ok=True)

    def statistics(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """Column maxima (float64, (D,)) and row sums (float64, (n,)) of ``|c|``, and whether
        any input had negative voxels (seen when ``negative`` was None); from the markers."""
        colmax = np.zeros(self.n_features, dtype=self.dtype)
        l1 = np.empty(self.n)
        negatives = False
        for i in range(self.n_chunks):
            m = self._read_marker(i)
            if m is None:
                raise ValueError(f"store {self.path}: chunk {i} is not written yet")
            np.maximum(colmax, m["colmax"], out=colmax)
            i0, i1 = self.chunk_bounds(i)
            l1[i0:i1] = m["l1"]
            negatives |= bool(m["negatives"])
        return colmax.astype(np.float64), l1, negatives

    def columns(self, which: str = "resolved") -> np.ndarray:
        """Column indices (increasing int64) that :func:`conformap.wemd_embedding` keeps for
        ``columns=which`` ("all", "support" or "resolved")."""
        from .wemd import resolved_from_stats

        which = check_choice(which, "columns", ["all", "support", "resolved"])
        if which == "all":
            return np.arange(self.n_features, dtype=np.int64)
        colmax, l1, _ = self.statistics()
        if which == "support":
            return np.flatnonzero(colmax > 0).astype(np.int64)
        return resolved_from_stats(colmax, l1, self.dtype).astype(np.int64)

    def __repr__(self) -> str:
        done = self.n_chunks - len(self.missing_chunks())
        return (f"CoefficientStore({str(self.path)!r}, shape={self.shape}, dtype={self.dtype}, "
                f"chunks {done}/{self.n_chunks} written)")


def _wemd_call_params(params: dict) -> dict:
    p = {k: params[k] for k in _WEMD_PARAMS if params.get(k) is not None}
    return p


def open_wemd_store(densities, directory: str | os.PathLike, *, cache: bool = True,
                    wavelet: str = "coif3", level: int | None = None, mode: str = "zero",
                    negative: str | None = None, dtype=None, memory: int | None = None,
                    key: str | None = None) -> CoefficientStore:
    """The coefficient store for ``densities``: opened if it exists (to resume), else created.

    Parameters
    ----------
    densities : array_like, shape (n, *shape)
        Any array that slices into numpy arrays (ndarray, ``numpy.memmap``, zarr, h5py): only its
        shape and dtype are looked at here, and (to compute ``key``) its bytes, streamed.
    directory : path
        With ``cache=True``, a cache directory (``--cache``): the store is
        ``directory/wemd-<key>/coefficients.zarr`` beside the in-memory cache's files of the same
        input. With ``cache=False``, the store directory itself.
    wavelet, level, mode, negative, dtype
        As in :func:`conformap.wemd_embedding`.
    memory : int, optional
        Bytes for one chunk of the transform (default :data:`DEFAULT_MEMORY`, 256 MiB); see
        :func:`plan_chunk_rows`. Used only when the store is created.
    key : str, optional
        :meth:`conformap.cache.DiskCache.wemd_key` of the input, if already known (hashing
        reads the whole input once, about 1 GB/s).

    Returns
    -------
    CoefficientStore
    """
    from .cache import DiskCache
    from .wemd import wemd_bands

    shape = tuple(int(s) for s in np.shape(densities))
    if len(shape) < 2 or shape[0] == 0:
        raise ValueError(f"densities: expected shape (n, *shape) with n >= 1, got {shape}")
    n, item = shape[0], shape[1:]
    in_dtype = np.dtype(getattr(densities, "dtype", np.float64))
    asked_dtype = dtype  # the cache key has the dtype only when one is asked for
    if dtype is None:
        dtype = in_dtype if in_dtype in (np.float32, np.float64) else np.dtype(np.float64)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: {dtype} is not supported; use numpy.float32 or numpy.float64")
    if negative is not None:
        check_choice(negative, "negative", ["keep", "clip", "error"])
    bands = wemd_bands(item, wavelet=wavelet, level=level, mode=mode)
    level = bands[0].level
    n_features = bands[-1].offset + bands[-1].size
    params = {"wavelet": wavelet, "level": level, "mode": mode, "negative": negative}
    if cache:
        cache_obj = DiskCache(directory)
        if key is None:
            key = cache_obj.wemd_key(densities, wavelet=wavelet, level=level, mode=mode,
                                     negative=negative, dtype=asked_dtype)
        path = cache_obj.directory / f"wemd-{key}" / "coefficients.zarr"
    else:
        path = Path(directory)
        if key is None:
            from .cache import array_digest

            blob = json.dumps({"input": array_digest(densities), "params": params,
                               "dtype": dtype.name}, sort_keys=True, default=str)
            key = hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()
    rows = plan_chunk_rows(n_features, math.prod(item), dtype.itemsize,
                           DEFAULT_MEMORY if memory is None else memory, n)
    return CoefficientStore.create(path, n=n, n_features=n_features, dtype=dtype,
                                   item_shape=item, params=params, key=key, chunk_rows=rows)


def transform_chunk(path: str | os.PathLike, i: int, densities_chunk) -> dict:
    """Compute chunk ``i`` of a store from its input rows and write it (a pure, idempotent task).

    Parameters
    ----------
    path : path
        The store directory (a process opens it itself: this runs on Dask workers too).
    i : int
        Chunk index.
    densities_chunk : array_like, shape (rows, *item_shape)
        Rows :meth:`CoefficientStore.chunk_bounds` ``(i)`` of the input.

    Returns
    -------
    dict
        ``{"chunk": i, "digest": ..., "negatives": bool, "bytes": written bytes}``.
    """
    from ._validation import check_densities
    from .wemd import wemd_embedding

    store = CoefficientStore(path)
    p = _wemd_call_params(store.params)
    negative = p.pop("negative", None)
    x = check_densities(densities_chunk, "densities", negative=negative or "keep",
                        dtype=store.dtype)
    i0, i1 = store.chunk_bounds(i)
    if x.shape != (i1 - i0, *store.item_shape):
        raise ValueError(f"densities: chunk {i} needs shape {(i1 - i0, *store.item_shape)}, "
                         f"got {x.shape}")
    negatives = negative is None and bool(x.min() < 0)
    coeffs = wemd_embedding(x, negative=negative or "keep", dtype=store.dtype, columns="all",
                            **p)
    digest = store.write_chunk(i, coeffs, negatives=negatives)
    return {"chunk": int(i), "digest": digest, "negatives": negatives,
            "bytes": int(coeffs.nbytes)}
