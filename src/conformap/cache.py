"""On-disk cache of WEMD coefficients and distances, so long runs resume instead of restarting.

Each cached result lives in its own directory ``CACHE/<kind>-<key>/``, where ``key`` is a hash of
the input contents (array bytes, shape and dtype), the parameters, the conformap and PyWavelets
versions and the cache format. Work is done in chunks of rows; every chunk is saved atomically
(written to a temporary file, then renamed) as soon as it is computed, so a run that is
interrupted (Ctrl-C, a killed job, a full disk) recomputes only the chunks it had not saved. When
all chunks exist they are assembled into ``result.npy`` (``result.npz`` for sparse
k-nearest-neighbour distances) and the chunks are deleted. Every saved file has a checksum of
its bytes next to it (``<file>.blake2b``, BLAKE2b-128); a chunk or result that cannot be read,
has the wrong shape, or whose bytes do not match the checksum is reported (a logged warning),
deleted and recomputed, never used. Cached numbers are bitwise identical to uncached ones
(chunking is over rows and every row is computed independently).

>>> from conformap.cache import DiskCache
>>> cache = DiskCache("cache/")                                     # doctest: +SKIP
>>> key = cache.wemd_key(maps, wavelet="coif3")                     # doctest: +SKIP
>>> coeffs = cache.wemd_embedding(maps, key=key, wavelet="coif3")   # doctest: +SKIP
>>> dist = cache.pairwise_distances(coeffs, key=key, metric="l1")   # doctest: +SKIP

Passing ``key`` chains the stages without hashing the (large) coefficient array; without it, the
input array is hashed (~1 GB/s). :func:`cached_distances` does the whole chain in one call:

>>> from conformap import DiffusionMap
>>> from conformap.cache import cached_distances
>>> dist = cached_distances(maps, "cache/", metric="wemd")              # doctest: +SKIP
>>> dm = DiffusionMap(2, metric="precomputed").fit(dist)                # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._kernels import restores_threads
from ._validation import check_choice, check_densities, check_int
from .distances import check_features
from .io import atomic_path

__all__ = [
    "CACHE_FORMAT",
    "DiskCache",
    "array_digest",
    "cached_distances",
    "cached_kneighbors_distances",
    "cached_pairwise_distances",
    "cached_wemd_embedding",
]

logger = logging.getLogger(__name__)

#: Bump when the layout or the meaning of cached files changes.
CACHE_FORMAT = 2  # 2: every file has a .blake2b checksum of its bytes
#: Target size of one saved chunk of WEMD coefficients.
_CHUNK_BYTES = 64 * 2**20
#: Number of row blocks a dense distance matrix is saved in (at least 32 rows each).
_DISTANCE_BLOCKS = 16
#: Rows per block of the k-nearest-neighbour search.
_KNN_BLOCK = 256


def array_digest(a) -> str:
    """Hex digest of an array's dtype, shape and bytes (BLAKE2b, 128 bits)."""
    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    flat = a.reshape(-1).view(np.uint8)
    step = 64 * 2**20
    for i in range(0, flat.size, step):
        h.update(flat[i : i + step])
    return h.hexdigest()


def _versions() -> dict:
    import pywt

    from . import __version__

    return {"conformap": __version__, "pywt": pywt.__version__, "format": CACHE_FORMAT}


def _derive_key(kind: str, inputs: str, params: dict) -> str:
    blob = json.dumps({"kind": kind, "inputs": inputs, "params": params, **_versions()},
                      sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


def _row_chunks(n: int, rows: int) -> list[tuple[int, int]]:
    return [(i0, min(n, i0 + rows)) for i0 in range(0, n, rows)]


class DiskCache:
    """A directory of cached coefficient and distance arrays.

    Parameters
    ----------
    directory : path
        Created if missing. Safe to share between runs; delete it to free the space.

    Attributes
    ----------
    stats : dict of str to dict
        Per stage (``"wemd"``, ``"pairwise"``, ``"knn"``): ``{"reused": chunks loaded,
        "computed": chunks computed}`` during this object's life.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"cache_dir {self.directory}: exists and is not a directory")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stats: dict[str, dict[str, int]] = {}

    # -- keys ----------------------------------------------------------------------------------

    @staticmethod
    def derive_key(kind: str, inputs: str, params: dict) -> str:
        """Key of a result derived from ``inputs`` (another key or a digest) by ``params``."""
        return _derive_key(kind, inputs, params)

    def array_key(self, X) -> str:
        """Digest of feature rows ``X`` (as validated for the distance stages)."""
        return array_digest(self._features(X))

    # -- bookkeeping ---------------------------------------------------------------------------

    def _entry(self, kind: str, key: str, meta: dict) -> Path:
        d = self.directory / f"{kind}-{key}"
        d.mkdir(exist_ok=True)
        meta_path = d / "meta.json"
        if not meta_path.exists():
            with atomic_path(meta_path) as tmp:
                tmp.write_text(json.dumps({"kind": kind, **meta, **_versions()}, indent=1,
                                          default=str))
        return d

    def _count(self, kind: str, what: str, k: int = 1) -> None:
        s = self.stats.setdefault(kind, {"reused": 0, "computed": 0})
        s[what] += k

    @staticmethod
    def _checksum_path(path: Path) -> Path:
        return path.with_name(path.name + ".blake2b")

    @staticmethod
    def _file_digest(path: Path) -> str:
        h = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as fh:
            while block := fh.read(16 * 2**20):
                h.update(block)
        return h.hexdigest()

    @classmethod
    def _seal(cls, path: Path) -> None:
        """Record the checksum of ``path``'s bytes (after the file itself is in place)."""
        with atomic_path(cls._checksum_path(path)) as tmp:
            tmp.write_text(cls._file_digest(path) + "\n")

    @classmethod
    def _discard(cls, path: Path) -> None:
        path.unlink(missing_ok=True)
        cls._checksum_path(path).unlink(missing_ok=True)

    @classmethod
    def _verified(cls, path: Path) -> bool:
        """True if ``path`` exists and its bytes match the recorded checksum.

        A file whose bytes changed (a flipped bit, an overwritten block, a foreign file of the
        right size) or that has no checksum (a run killed between the two writes) is reported,
        deleted and recomputed: the cache never uses bytes it did not write.
        """
        if not path.exists():
            return False
        try:
            want = cls._checksum_path(path).read_text().strip()
        except OSError:
            want = None
        if want is None:
            logger.warning("cache: %s has no checksum (an interrupted write?); discarding and "
                           "recomputing it", path)
        elif cls._file_digest(path) != want:
            logger.warning("cache: %s does not match its checksum (the file is corrupted); "
                           "discarding and recomputing it", path)
        else:
            return True
        cls._discard(path)
        return False

    @classmethod
    def _load(cls, path: Path, shape: tuple, dtype, *, mmap: bool = False):
        """The array at ``path`` if its checksum, shape and dtype are right, else None."""
        if not cls._verified(path):
            return None
        try:
            arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except Exception as exc:  # truncated or foreign file: recompute it
            logger.warning("cache: %s is unreadable (%s); recomputing it", path, exc)
            cls._discard(path)
            return None
        if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            logger.warning("cache: %s has shape %s %s, expected %s %s; recomputing it",
                           path, arr.shape, arr.dtype, shape, np.dtype(dtype))
            del arr
            cls._discard(path)
            return None
        return arr

    @classmethod
    def _save(cls, path: Path, arr) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        cls._seal(path)

    @staticmethod
    def _clean_parts(d: Path) -> None:
        # Saved chunks, and temporaries a killed run (SIGKILL) could not remove.
        for p in [*d.glob("part-*.np*"), *d.glob(".*.part*")]:
            p.unlink(missing_ok=True)

    # -- WEMD coefficients ----------------------------------------------------------------------

    @staticmethod
    def _wemd_params(shape, params: dict) -> dict:
        from .wemd import wemd_bands

        allowed = {"wavelet", "level", "mode", "negative", "dtype"}
        extra = set(params) - allowed - {"chunk_size", "progress"}
        if extra:
            raise TypeError(
                f"wemd parameters: unexpected {sorted(extra)}; allowed {sorted(allowed)}"
            )
        p = {k: params[k] for k in allowed if k in params and params[k] is not None}
        p.setdefault("wavelet", "coif3")
        p.setdefault("mode", "zero")
        bands = wemd_bands(shape, wavelet=p["wavelet"], level=p.get("level"), mode=p["mode"])
        p["level"] = bands[0].level
        if "dtype" in p:
            p["dtype"] = np.dtype(p["dtype"]).name
        return p

    def wemd_key(self, densities, **params) -> str:
        """Cache key of ``wemd_embedding(densities, **params)`` (hashes ``densities``)."""
        x = np.asarray(densities)
        if x.ndim < 2:
            raise ValueError(f"densities: expected shape (n, *shape), got {x.shape}")
        return _derive_key("wemd", array_digest(x), self._wemd_params(x.shape[1:], params))

    def wemd_embedding(
        self, densities, *, key: str | None = None, mmap: bool = False, progress: bool = False,
        **params,
    ) -> np.ndarray:
        """:func:`conformap.wemd_embedding`, resumable and cached.

        Parameters
        ----------
        densities : array_like, shape (n, *shape)
        key : str, optional
            From :meth:`wemd_key` (computed if omitted).
        mmap : bool, default False
            Return a read-only memory map of the cached result instead of loading it (the
            coefficients of a large run then need not fit in memory).
        progress : bool
            Progress bar over chunks.
        **params
            ``wavelet``, ``level``, ``mode``, ``negative``, ``dtype``, as in
            :func:`conformap.wemd_embedding`.

        Returns
        -------
        ndarray, shape (n, D)
            Identical to ``wemd_embedding(densities, **params)``.
        """
        from . import wemd as _wemd

        negative = params.get("negative")
        if negative is not None:
            check_choice(negative, "negative", ["keep", "clip", "error"])
        dtype = params.get("dtype")
        # Validate (and warn about negative voxels) once, for the whole set.
        x = check_densities(densities, "densities", negative=negative, dtype=dtype)
        n, shape = x.shape[0], x.shape[1:]
        p = self._wemd_params(shape, params)
        key = key or _derive_key("wemd", array_digest(x), p)
        size = _wemd.wemd_size(shape, wavelet=p["wavelet"], level=p["level"], mode=p["mode"])
        out_dtype = x.dtype
        d = self._entry("wemd", key, {"params": p, "n": n, "shape": list(shape), "D": size})
        result = d / "result.npy"
        cached = self._load(result, (n, size), out_dtype, mmap=mmap)
        if cached is not None:
            self._count("wemd", "reused")
            return cached
        rows = max(1, min(n, _CHUNK_BYTES // (size * out_dtype.itemsize)))
        chunks = _row_chunks(n, rows)
        call = {**p, "negative": "keep" if negative is None else negative,
                "dtype": out_dtype}
        # With mmap=True only one chunk is held in memory at a time: chunks are saved, then
        # copied one by one into a memory-mapped result file.
        out = None if mmap else np.empty((n, size), dtype=out_dtype)
        it = chunks
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(chunks, desc="wavelet transform (cached)", unit="chunk", leave=False)
        for i0, i1 in it:
            part = d / f"part-{i0:09d}-{i1:09d}.npy"
            got = self._load(part, (i1 - i0, size), out_dtype, mmap=mmap)
            if got is not None:
                self._count("wemd", "reused")
            else:
                got = _wemd.wemd_embedding(x[i0:i1], **call)
                self._save(part, got)
                self._count("wemd", "computed")
            if out is not None:
                out[i0:i1] = got
            del got
        if out is not None:
            self._save(result, out)
        else:
            with atomic_path(result) as tmp:
                mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=out_dtype, shape=(n, size))
                for i0, i1 in chunks:
                    mm[i0:i1] = np.load(d / f"part-{i0:09d}-{i1:09d}.npy", mmap_mode="r")
                mm.flush()
                del mm
            self._seal(result)
        self._clean_parts(d)
        if mmap:
            return np.load(result, mmap_mode="r")
        return out

    # -- dense distances ------------------------------------------------------------------------

    @staticmethod
    def _features(X) -> np.ndarray:
        return check_features(X, "X")

    @restores_threads
    def pairwise_distances(
        self, X, *, key: str | None = None, metric: str = "l1", n_jobs: int | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """:func:`conformap.pairwise_distances` (``Y=None``), resumable and cached.

        The upper triangle is computed in about 16 row blocks, each saved when done.

        Parameters
        ----------
        X : array_like, shape (n, ...)
        key : str, optional
            Key of ``X`` (e.g. from :meth:`wemd_key`); default hashes ``X``.
        metric : {"l1", "l2"}
        n_jobs, progress
            As in :func:`conformap.pairwise_distances`.

        Returns
        -------
        ndarray of float64, shape (n, n)
        """
        from ._kernels import pairwise_block, set_threads

        metric = check_choice(metric, "metric", ["l1", "l2"])
        X = self._features(X)
        n = X.shape[0]
        key = _derive_key("pairwise", key or array_digest(X), {"metric": metric})
        d = self._entry("pairwise", key, {"metric": metric, "n": n})
        result = d / "result.npy"
        cached = self._load(result, (n, n), np.float64)
        if cached is not None:
            self._count("pairwise", "reused")
            return cached
        set_threads(n_jobs)
        rows = max(32, 16 * math.ceil(n / _DISTANCE_BLOCKS / 16))
        out = np.zeros((n, n))
        it = _row_chunks(n, rows)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"{metric} distances (cached)", unit="block", leave=False)
        for i0, i1 in it:
            part = d / f"part-{i0:09d}-{i1:09d}.npy"
            block = self._load(part, (i1 - i0, n - i0), np.float64)
            if block is None:
                block = pairwise_block(X[i0:i1], X[i0:], squared=metric == "l2")
                if metric == "l2":
                    np.sqrt(block, out=block)
                self._save(part, block)
                self._count("pairwise", "computed")
            else:
                self._count("pairwise", "reused")
            out[i0:i1, i0:] = block
        # Keep the upper triangle (row blocks against later columns) and mirror it.
        out = np.triu(out, 1)
        out += out.T
        self._save(result, out)
        self._clean_parts(d)
        return out

    # -- k-nearest-neighbour distances ----------------------------------------------------------

    @restores_threads
    def kneighbors_distances(
        self, X, n_neighbors: int, *, key: str | None = None, metric: str = "l1",
        n_jobs: int | None = None, progress: bool = False,
    ) -> sp.csr_matrix:
        """:func:`conformap.kneighbors_distances`, resumable and cached (256-row blocks).

        Returns
        -------
        scipy.sparse.csr_matrix, shape (n, n)
            Identical to ``kneighbors_distances(X, n_neighbors, metric=metric)``.
        """
        from ._kernels import pairwise_block, set_threads

        metric = check_choice(metric, "metric", ["l1", "l2"])
        X = self._features(X)
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"X: needs at least 2 rows for nearest neighbours, got {n}")
        k = check_int(n_neighbors, "n_neighbors", low=1, high=n - 1)
        key = _derive_key("knn", key or array_digest(X), {"metric": metric, "k": k})
        d = self._entry("knn", key, {"metric": metric, "n": n, "k": k})
        result = d / "result.npz"
        indices = values = None
        if self._verified(result):
            try:
                with np.load(result, allow_pickle=False) as z:
                    indices, values = z["indices"], z["values"]
                if indices.shape != (n, k) or values.shape != (n, k):
                    indices = values = None
            except Exception as exc:
                logger.warning("cache: %s is unreadable (%s); recomputing it", result, exc)
                indices = values = None
        if indices is not None:
            self._count("knn", "reused")
        else:
            set_threads(n_jobs)
            indices = np.empty((n, k), dtype=np.int64)
            values = np.empty((n, k), dtype=np.float64)
            it = _row_chunks(n, _KNN_BLOCK)
            if progress:
                from tqdm.auto import tqdm

                it = tqdm(it, desc="nearest neighbours (cached)", unit="block", leave=False)
            for i0, i1 in it:
                pi = d / f"part-{i0:09d}-{i1:09d}-idx.npy"
                pv = d / f"part-{i0:09d}-{i1:09d}-val.npy"
                gi = self._load(pi, (i1 - i0, k), np.int64)
                gv = self._load(pv, (i1 - i0, k), np.float64) if gi is not None else None
                if gi is not None and gv is not None:
                    indices[i0:i1], values[i0:i1] = gi, gv
                    self._count("knn", "reused")
                    continue
                block = pairwise_block(X[i0:i1], X, squared=metric == "l2")
                r = np.arange(i1 - i0)
                block[r, r + i0] = np.inf  # exclude self
                part = np.argpartition(block, k - 1, axis=1)[:, :k]
                vals = np.take_along_axis(block, part, axis=1)
                order = np.argsort(vals, axis=1, kind="stable")
                indices[i0:i1] = np.take_along_axis(part, order, axis=1)
                values[i0:i1] = np.take_along_axis(vals, order, axis=1)
                if metric == "l2":
                    np.sqrt(values[i0:i1], out=values[i0:i1])
                self._save(pi, indices[i0:i1])
                self._save(pv, values[i0:i1])
                self._count("knn", "computed")
            with atomic_path(result) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, indices=indices, values=values)
            self._seal(result)
            self._clean_parts(d)
        indptr = np.arange(0, n * k + 1, k)
        return sp.csr_matrix((values.ravel(), indices.ravel(), indptr), shape=(n, n))

    # -- maintenance ----------------------------------------------------------------------------

    def entries(self) -> list[Path]:
        """Directories of the cached results (complete or partial)."""
        pat = re.compile(r"^(wemd|pairwise|knn)-[0-9a-f]{32}$")
        return sorted(p for p in self.directory.iterdir() if p.is_dir() and pat.match(p.name))

    def clear(self) -> None:
        """Delete every cached result in the directory (other files are left alone)."""
        for p in self.entries():
            shutil.rmtree(p, ignore_errors=True)


def cached_wemd_embedding(densities, cache_dir, **kwargs) -> np.ndarray:
    """``DiskCache(cache_dir).wemd_embedding(densities, **kwargs)``."""
    return DiskCache(cache_dir).wemd_embedding(densities, **kwargs)


def cached_pairwise_distances(X, cache_dir, **kwargs) -> np.ndarray:
    """``DiskCache(cache_dir).pairwise_distances(X, **kwargs)``."""
    return DiskCache(cache_dir).pairwise_distances(X, **kwargs)


def cached_kneighbors_distances(X, n_neighbors, cache_dir, **kwargs) -> sp.csr_matrix:
    """``DiskCache(cache_dir).kneighbors_distances(X, n_neighbors, **kwargs)``."""
    return DiskCache(cache_dir).kneighbors_distances(X, n_neighbors, **kwargs)


def cached_distances(
    X,
    cache_dir,
    *,
    metric: str = "wemd",
    method: str = "dense",
    n_neighbors: int | None = None,
    metric_params: dict | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
    stats: dict | None = None,
    denoise="auto",
    bandwidth="auto",
    rng=None,
):
    """WEMD or Euclidean distances of ``X`` through the cache, ready for ``metric="precomputed"``.

    Parameters
    ----------
    X : array_like, shape (n, *shape)
        Densities (``metric="wemd"``) or any arrays (``metric="euclidean"``).
    cache_dir : path
    metric : {"wemd", "euclidean"}
    method : {"dense", "knn", "auto"}
        All pairs (ndarray (n, n)) or each item's ``n_neighbors`` nearest (sparse (n, n)), as in
        :class:`conformap.DiffusionMap`; "auto" chooses as it does
        (:func:`conformap.graph.resolve_method`) and, on denoised items, applies its noise-floor
        rule to dense distances (:func:`conformap.truncation.noise_floor_distances`).
    n_neighbors : int, optional
        Default :func:`conformap.graph.default_n_neighbors`, as :class:`conformap.DiffusionMap`.
    metric_params : dict, optional
        For "wemd": ``wavelet``, ``level``, ``mode``, ``negative``, ``dtype``, ``columns``
        (default "resolved", as :class:`conformap.DiffusionMap`).
    n_jobs, progress
        As in :func:`conformap.pairwise_distances`.
    stats : dict, optional
        Filled with :attr:`DiskCache.stats` (chunks reused / computed per stage) and, where
        the items were denoised, ``"denoiser"`` (the :class:`conformap.denoise.PCADenoiser`),
        ``"features"`` (the denoised :class:`conformap.features.FeatureSet` the returned
        distances are of) and ``"averaging_steps"``
        (:func:`conformap.averaging.averaging_steps`: the steps by which the denoised items
        were averaged along a first graph, 0 for none).
    denoise : "auto", "pca", "off" or int, default "auto"
        As in :class:`conformap.DiffusionMap` (:func:`conformap.graph.prepare_features`); the
        cache keys are those of the denoised items.
    bandwidth : "auto", "adaptive", a rule of :func:`conformap.select_bandwidth`, or float
        The bandwidth of the first graph where the denoised items are averaged along it before
        their distances are computed again (:mod:`conformap.averaging`); pass the one the
        distances will be fitted with. Unused elsewhere.
    rng : int or Generator, optional
        As ``random_state`` of :class:`conformap.DiffusionMap`, for that first graph.

    Returns
    -------
    ndarray of shape (n, n) or scipy.sparse.csr_matrix of shape (n, n)
        Equal to what ``DiffusionMap(metric=metric, method=method)`` computes internally (for
        "knn" including :func:`conformap.distances.connect_components`), so
        ``DiffusionMap(metric="precomputed").fit(result)`` gives the same embedding.
    """
    from .averaging import averaged_feature_set, averaging_steps
    from .graph import (
        dimension_rule,
        distances_as_built,
        graph_from_distances,
        prepare_features,
        resolve_bandwidth,
        resolve_method,
    )

    metric = check_choice(metric, "metric", ["wemd", "euclidean"])
    method = check_choice(method, "method", ["dense", "knn", "auto"])
    cache = DiskCache(cache_dir)
    # conformap.graph makes every choice (columns, k, bridges); this cache only stores.
    fs = prepare_features(X, metric, metric_params, store=cache, denoise=denoise)
    n = fs.features.shape[0]
    resolve_bandwidth(bandwidth, n, "dense")  # validated before any distance is computed
    kw = {"method": method, "n_neighbors": n_neighbors, "n_jobs": n_jobs, "progress": progress,
          "bandwidth": bandwidth, "rng": rng}
    dist = distances_as_built(fs, store=cache, **kw)
    steps = averaging_steps(fs.denoiser, metric)
    if steps:  # the two-pass graph, as conformap.graph.build_graph builds it in memory
        # the builder's first graph: on its kNN path with the reference dimension rule, on
        # the dense path (and the kNN graph its noise floor keeps) from the graph itself
        dims = (dimension_rule(fs, n_neighbors, rng)
                if resolve_method(method, n, metric=metric) == "knn" else None)
        first = graph_from_distances(dist, bandwidth=bandwidth, n_neighbors=n_neighbors,
                                     validate=False, dimension_distances=dims)
        del dist
        fs = averaged_feature_set(first, fs.denoiser, X, metric_params, steps=steps,
                                  store=cache)
        dist = distances_as_built(fs, store=cache, **kw)
    if stats is not None:
        stats.update(cache.stats)
        if fs.denoiser is not None:
            stats["averaging_steps"] = steps
            stats["denoiser"] = fs.denoiser
            stats["features"] = fs  # for conformap.truncation.noise_floor_distances
    return dist

