"""Memory and time of an all-pairs computation, estimated before doing it.

:func:`estimate_all_pairs` adds up the arrays the pipeline holds at its peak (feature vectors,
distances, kernel and eigensolver work arrays) and divides the work by a measured throughput;
:func:`plan_all_pairs` compares that with the memory available and picks the dense all-pairs
path, the blocked k-nearest-neighbour path, or stops with a :class:`ResourceError` whose message
says which option to use.

The default throughputs were measured on a shared 2-core machine with the register-tiled
kernels of commit 34698ef: :func:`conformap.pairwise_distances` on random float32 rows ran at
4.2e9 (64 x 200,000), 5.7e9 (128 x 200,000), 5.8e9 (256 x 100,000) and 6.8e9 (512 x 20,000)
coordinate pairs per second, and at 9.5e9 on the WEMD coefficients of 300 noisy rotor maps
(D = 551,789; the kernel skips constant columns, which zero padding creates);
:func:`conformap.wemd_embedding` transformed 40 x 72 x 40 maps at 1e7 (120 maps) to 1.5e7
(300 maps) voxels per second. The defaults (5e9 and 1e7) are at the low end, so estimates err
towards "longer". Throughput scales roughly with the number of cores; pass ``throughput`` to
use your own numbers, or :func:`measure_throughput` to measure them on the current machine.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_choice, check_int

__all__ = [
    "Estimate",
    "Remedy",
    "ResourceError",
    "api_spelling",
    "available_memory",
    "estimate_all_pairs",
    "format_bytes",
    "measure_throughput",
    "parse_bytes",
    "plan_all_pairs",
]

#: Coordinate pairs per second of the L1 / squared-L2 kernel (2 shared cores, float32).
PAIRWISE_THROUGHPUT = 5.0e9
#: Voxels per second of the batched wavelet transform (2 shared cores).
WAVELET_THROUGHPUT = 1.0e7
#: Dense path: n x n float64 arrays alive at the peak of the diffusion map (distances, kernel,
#: normalised kernel, symmetric matrix, eigh work copy).
DENSE_NN_ARRAYS = 5
#: Fraction of the available memory a plan may use.
MEMORY_FRACTION = 0.8
#: Resident memory of Python with conformap, numba, scikit-learn and matplotlib loaded
#: (measured: 292 MiB).
BASELINE_BYTES = 300 * 2**20
#: Seconds of one exact-EMD linear program between two dense 32 x 32 densities (POT network
#: simplex, measured: 0.43 s; 256 voxels: 0.019 s, 2304 voxels: 5.4 s), and the exponent of
#: its growth with the number of voxels (fitted to those: ~2.7).
EMD_PAIR_SECONDS_1024 = 0.43
EMD_EXPONENT = 2.7
#: Rows per block of the kNN search (as in conformap.distances).
KNN_BLOCK = 256


@dataclass(frozen=True)
class Remedy:
    """One way out of a :class:`ResourceError`, as data: the caller phrases it.

    Attributes
    ----------
    verb : str
        "use" or "raise".
    option : str or None
        The parameter, in the Python API's name: ``"method"``, ``"memory_limit"``,
        ``"cache_dir"``; None for advice that is not an option (``text`` says it all).
    value : str or None
        The option's value (``"knn"``), if any.
    note : str
        What it costs or does, e.g. ``"(memory ~1.2 GiB)"``.
    """

    verb: str = "use"
    option: str | None = None
    value: str | None = None
    note: str = ""


def api_spelling(option: str, value: str | None) -> str:
    """How the Python API spells an option: ``method='knn'``, ``memory_limit``."""
    return option if value is None else f"{option}={value!r}"


class ResourceError(MemoryError, ValueError):
    """The computation would not fit; the message names the options that make it fit.

    Parameters
    ----------
    problem : str
        What does not fit and by how much.
    remedies : sequence of Remedy
        Ways out, in order of preference.
    spell : callable (option, value) -> str, optional
        How to name an option; default :func:`api_spelling`. The command line passes its
        own flag names, so this module never phrases command-line flags.
    """

    def __init__(self, problem: str, remedies=(), *, spell=api_spelling):
        self.problem = problem
        self.remedies = tuple(remedies)
        parts = [" ".join(x for x in (r.verb if r.option else "",
                                      spell(r.option, r.value) if r.option else "",
                                      r.note) if x)
                 for r in self.remedies]
        advice = parts[0] if len(parts) < 2 else ", ".join(parts[:-1]) + ", or " + parts[-1]
        super().__init__(f"{problem}; {advice}" if advice else problem)

    def respell(self, spell) -> ResourceError:
        """The same error, its options named by ``spell`` (e.g. as command-line flags)."""
        return ResourceError(self.problem, self.remedies, spell=spell)


@dataclass(frozen=True)
class Estimate:
    """Resources of one way of computing a diffusion map of ``n`` items with ``D`` features.

    Attributes
    ----------
    method : {"dense", "knn"}
    n, n_features : int
    memory : dict of str to int
        Bytes by component (``baseline``, ``features``, ``densities``, ``transform``,
        ``distances``, ``diffusion``).
    peak_bytes : int
        Sum of ``memory``.
    seconds : dict of str to float
        Estimated wall time by stage (``transform``, ``distances``, ``eigensolver``).
    total_seconds : float
    """

    method: str
    n: int
    n_features: int
    memory: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    @property
    def peak_bytes(self) -> int:
        return int(sum(self.memory.values()))

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds.values()))

    def summary(self) -> str:
        """One line for logs: method, peak memory, time."""
        parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in self.memory.items() if v)
        trunc = ""
        if self.method == "knn":
            # stated before computing; the measured value follows on the "graph:" line
            trunc = (", kernel truncated at the k-th neighbour (dropped mass measured after "
                     "the fit)")
        return (
            f"{self.method} path for n={self.n}, D={self.n_features:,}: peak memory ~"
            f"{format_bytes(self.peak_bytes)} ({parts}), "
            f"time ~{_format_seconds(self.total_seconds)}{trunc}"
        )


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _format_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
    """``'2G'``, ``'500M'``, ``'1.5GiB'``, ``'1024'`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", str(text).upper())
    if not m:
        raise ValueError(f"memory size {text!r}: use a number with an optional unit, e.g. 2G, 500M")
    value = float(m.group(1)) * _UNITS[m.group(2)]
    if value <= 0:
        raise ValueError(f"memory size {text!r}: must be > 0")
    return int(value)


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable, capped by a cgroup limit."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            avail = 4 * 2**30
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            with open(limit_file) as fh:
                text = fh.read().strip()
            if text == "max":
                continue
            with open(usage_file) as fh:
                used = int(fh.read().strip())
            limit = int(text)
            if limit < 2**60:
                avail = min(avail, max(0, limit - used))
        except (OSError, ValueError):
            continue
    return int(avail)


def estimate_all_pairs(
    n: int,
    n_features: int,
    *,
    dtype=np.float32,
    method: str = "dense",
    n_neighbors: int | None = None,
    n_voxels: int | None = None,
    features_in_memory: bool = True,
    throughput: float = PAIRWISE_THROUGHPUT,
    transform_throughput: float = WAVELET_THROUGHPUT,
    baseline: int = BASELINE_BYTES,
    exact_emd: bool = False,
) -> Estimate:
    """Estimate peak memory and time of a diffusion map over all pairs of ``n`` items.

    Parameters
    ----------
    n : int
        Items.
    n_features : int
        ``D``, coordinates per item (``wemd_size(shape)`` for WEMD, voxels for Euclidean). For
        WEMD this is an upper bound: only the coefficients that can change a distance are
        stored (``columns="resolved"``, a third to two thirds of D for boxed maps).
    dtype : numpy dtype
        Of the feature vectors.
    method : {"dense", "knn"}
        "dense": an (n, n) distance matrix and a dense eigensolver; "knn": ``n_neighbors``
        per row in 256-row blocks and a sparse eigensolver; its search is exact or
        approximate as :func:`conformap.neighbors.choose_method` decides (the approximate
        search is timed by the exact re-ranking of ``APPROX_CANDIDATES * k`` candidates per
        row).
    n_neighbors : int, optional
        For "knn"; default as :class:`conformap.DiffusionMap`.
    n_voxels : int, optional
        Voxels per item: adds the input densities to the memory and the wavelet transform
        (WEMD) to the time and memory.
    features_in_memory : bool, default True
        False when the features are memory-mapped from a cache (they then do not count).
    throughput, transform_throughput : float
        Coordinate pairs per second, voxels per second.
    baseline : int
        Bytes of the interpreter and libraries (default :data:`BASELINE_BYTES`).
    exact_emd : bool, default False
        Distances are exact EMDs (``metric="emd"``; ``n_features`` = voxels): one linear
        program per pair, :data:`EMD_PAIR_SECONDS_1024` x (voxels / 1024) ^
        :data:`EMD_EXPONENT` seconds each (dense supports; sparse ones are faster), and a
        voxels x voxels ground-cost matrix.

    Returns
    -------
    Estimate
    """
    n = check_int(n, "n", low=1)
    d = check_int(n_features, "n_features", low=1)
    method = check_choice(method, "method", ["dense", "knn"])
    item = np.dtype(dtype).itemsize
    mem = {"baseline": int(baseline), "features": n * d * item if features_in_memory else 0}
    secs = {}
    if n_voxels:
        mem["densities"] = n * n_voxels * item
        secs["transform"] = n * n_voxels / transform_throughput
        # pywt temporaries of one chunk (conformap.wemd keeps them near 128 MiB).
        mem["transform"] = min(n * 4 * d * item, 128 * 2**20)
    if method == "dense":
        mem["distances"] = 8 * n * n
        mem["diffusion"] = 8 * n * n * (DENSE_NN_ARRAYS - 1)
        secs["distances"] = n * (n - 1) / 2 * d / throughput
        secs["eigensolver"] = n**3 / 1e9  # LAPACK syevr on a few GFLOP/s: ~n^3 flops
        if exact_emd:
            mem["emd_cost"] = 8 * d * d
            secs["distances"] = (n * (n - 1) / 2 * EMD_PAIR_SECONDS_1024
                                 * (d / 1024) ** EMD_EXPONENT)
    elif exact_emd:
        raise ValueError("method: exact EMD is computed for all pairs only; use method='dense'")
    else:
        from .graph import check_n_neighbors

        k = check_n_neighbors(n_neighbors, n) if n > 1 else 1
        mem["distances"] = KNN_BLOCK * n * 8 + n * k * 16
        # union-symmetrised sparse kernel and its normalised copies (~2k entries per row).
        mem["diffusion"] = 4 * n * 2 * k * 16
        from .neighbors import APPROX_CANDIDATES, choose_method

        if choose_method(n, d) == "exact":
            secs["distances"] = n * n * d / throughput  # blocks do not use symmetry
        else:  # the search's cost is the exact re-ranking of its candidates
            secs["distances"] = n * min(n - 1, APPROX_CANDIDATES * k) * d / throughput
        secs["eigensolver"] = 200 * n * 2 * k * 10 / 1e9  # Lanczos: ~hundreds of sparse matvecs
    return Estimate(method=method, n=n, n_features=d, memory=mem, seconds=secs)


def plan_all_pairs(
    n: int,
    n_features: int,
    *,
    dtype=np.float32,
    method: str = "auto",
    n_neighbors: int | None = None,
    n_voxels: int | None = None,
    memory_limit: int | None = None,
    features_in_memory: bool = True,
    dense_max_items: int | None = None,
    exact_emd: bool = False,
) -> Estimate:
    """Choose dense or kNN for ``n`` items, or stop if nothing fits.

    Parameters
    ----------
    n, n_features, dtype, n_neighbors, n_voxels, features_in_memory, exact_emd
        As in :func:`estimate_all_pairs` (``exact_emd`` allows only the dense path).
    method : {"auto", "dense", "knn"}
        "auto" takes "dense" when ``n <= dense_max_items`` and it fits in memory, else "knn";
        an explicit method is checked and kept.
    dense_max_items : int, optional
        Default :data:`conformap.graph.DENSE_MAX_ITEMS` (3000), the estimator's own limit.
    memory_limit : int, optional
        Bytes; default :data:`MEMORY_FRACTION` of :func:`available_memory`.

    Returns
    -------
    Estimate
        Of the chosen method.

    Raises
    ------
    ResourceError
        (a MemoryError and a ValueError) if the chosen or requested path would exceed
        ``memory_limit``; the message gives the estimate and the options to use instead, and
        its ``remedies`` hold them as data (:class:`Remedy`, Python API names) for callers
        that phrase them otherwise (:meth:`ResourceError.respell`).
    """
    method = check_choice(method, "method", ["auto", "dense", "knn"])
    if dense_max_items is None:
        from .graph import DENSE_MAX_ITEMS as dense_max_items
    limit = int(MEMORY_FRACTION * available_memory()) if memory_limit is None else int(memory_limit)
    kw = dict(dtype=dtype, n_neighbors=n_neighbors, n_voxels=n_voxels,
              features_in_memory=features_in_memory)
    if exact_emd:
        if method == "knn":
            raise ValueError("method='knn': not available for exact EMD; use the dense path")
        est = estimate_all_pairs(n, n_features, method="dense", exact_emd=True, **kw)
        if est.peak_bytes > limit:
            raise ResourceError(
                f"exact EMD for {n} items of {n_features:,} voxels needs "
                f"~{format_bytes(est.peak_bytes)} but the limit is {format_bytes(limit)}",
                [Remedy(note="use the WEMD approximation"), Remedy(note="downsample the maps"),
                 _RAISE_LIMIT],
            )
        return est
    dense = estimate_all_pairs(n, n_features, method="dense", **kw)
    knn = estimate_all_pairs(n, n_features, method="knn", **kw)
    if method == "auto":
        if n <= dense_max_items and dense.peak_bytes <= limit:
            return dense
        if knn.peak_bytes <= limit:
            return knn
    elif method == "dense":
        if dense.peak_bytes <= limit:
            return dense
        if knn.peak_bytes <= limit:
            hint = [Remedy("use", "method", "knn", f"(memory ~{format_bytes(knn.peak_bytes)})")]
        else:
            hint = _feature_hint(knn)
        raise ResourceError(
            f"the dense all-pairs path for {n} items needs ~{format_bytes(dense.peak_bytes)} "
            f"but the limit is {format_bytes(limit)}", [*hint, _RAISE_LIMIT],
        )
    elif knn.peak_bytes <= limit:
        return knn
    raise ResourceError(
        f"even the k-nearest-neighbour path for {n} items x {n_features:,} features needs "
        f"~{format_bytes(knn.peak_bytes)} but the limit is {format_bytes(limit)}",
        [*_feature_hint(knn), _RAISE_LIMIT],
    )


_RAISE_LIMIT = Remedy("raise", "memory_limit")


def _feature_hint(est: Estimate) -> list[Remedy]:
    if est.memory.get("features", 0) > est.peak_bytes / 2:
        return [Remedy("use", "cache_dir", None,
                       f"to keep the feature vectors (alone "
                       f"{format_bytes(est.memory['features'])}) on disk, memory-mapped"),
                Remedy(note="downsample the maps or use fewer items")]
    return [Remedy(note="use fewer items or fewer neighbours")]


def measure_throughput(n_rows: int = 32, n_features: int = 100_000, dtype=np.float32) -> float:
    """Measure coordinate pairs per second of the pairwise L1 kernel on this machine (~0.1 s)."""
    import time

    from .distances import pairwise_distances

    rng = np.random.default_rng(0)
    x = rng.random((n_rows, n_features)).astype(dtype)
    pairwise_distances(x[:2])  # compile / warm up
    t0 = time.perf_counter()
    pairwise_distances(x)
    dt = max(time.perf_counter() - t0, 1e-9)
    return n_rows * (n_rows - 1) / 2 * n_features / dt
