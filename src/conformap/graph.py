r"""The one affinity-graph builder: features or distances in, Gaussian kernel graph out.

Every choice that shapes the graph is made here and nowhere else (which WEMD columns are used
and whether items are denoised: :func:`conformap.features.prepare_features`): dense or
k-nearest-neighbour (:func:`resolve_method`, :data:`DENSE_MAX_ITEMS`), the default ``k``
(:func:`default_n_neighbors`), the bandwidth (a fixed :math:`\sigma` from a rule of
:func:`conformap.select_bandwidth`, or the adaptive local scales :func:`local_scales`), and how
pieces that the kNN graph falls into are joined (:func:`conformap.distances.connect_components`).
:class:`conformap.DiffusionMap`, :func:`conformap.diffusion_map`, the on-disk cache (a storage
backend passed as ``store``) and the resource planner all call these functions.

Kernel
------
With local scales :math:`\rho_i` the affinity is

.. math:: K_{ij} = \exp\!\Big(-\frac{d_{ij}^2}{2\rho_i\rho_j}\Big),

the variable-bandwidth kernel of Berry & Harlim (2016) with the self-tuning scales of
Zelnik-Manor & Perona (2004): :math:`\rho_i` is the distance from item ``i`` to its
:func:`scale_neighbor`-th nearest neighbour (``bandwidth="auto"`` from
:data:`ADAPTIVE_MIN_ITEMS` items on, dense). A fixed bandwidth is the special case
:math:`\rho_i \equiv \sigma` (a number, or a rule name; ``"auto"`` below
:data:`ADAPTIVE_MIN_ITEMS` items uses the rule ``"wide"`` on a dense graph and ``"connect"`` on
a kNN graph). The diffusion core
(:mod:`conformap.diffusion`) turns either into an estimate of the Laplace-Beltrami operator;
why the adaptive kernel is the default is measured in ``docs/large-n/README.md``; where its
first coordinates localise on items of large scale, the diffusion core replaces the one
"auto" chose by a fixed kernel (:mod:`conformap.localisation`). Its
normalisation needs the dimension :math:`m` (:func:`normalization_dimension`), measured on the
graph's neighbours up to :data:`DIMENSION_REFERENCE_ITEMS` items and above that on the
neighbours of a random subset of that size (:func:`reference_neighbor_distances`), so that
it does not drift into the noise as ``n`` grows with ``k`` fixed.

Truncation
----------
A kNN graph stores, for every item, its ``k`` nearest neighbours (union-symmetrised). An
unstored pair has :math:`d_{ij} \ge \max(r_k(i), r_k(j))`, so its affinity is at most
:math:`\exp(-\max(r_k(i), r_k(j))^2 / (2\rho_i\rho_j))`; the graph reports the largest such
bound over items (``max_dropped_affinity``) and, when the features are at hand, the fraction of
each row's kernel mass that was dropped, measured exactly on a random sample of rows
(``dropped_mass``, ``dropped_mass_max``). On denoised items whose complete kernel has most of
its mass beyond the k neighbours, "auto" keeps the kNN graph below the dense limit too
(:mod:`conformap.truncation`).

Two passes
----------
Where the items were denoised and compared by WEMD, the graph is built twice: the second time
on the items whose PCA scores were averaged by
:func:`conformap.averaging.averaging_steps` steps of the first graph's Markov operator
(:mod:`conformap.averaging`).

Chunks
------
:func:`conformap.neighbor_graph.knn_block` and :func:`dropped_mass_block` are pure functions
of one block of rows (the shape of a future Dask task); the neighbour search, the bridging
of pieces and the sparse kNN distance format are in :mod:`conformap.neighbor_graph`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (makes sp.csgraph available)

from ._validation import check_choice, check_int, check_positive, check_rng
from .affinity import DROPPED_MASS_LOCAL, AffinityGraph
from .averaging import averaged_feature_set, averaging_steps
from .bandwidth import BANDWIDTH_RULES, select_bandwidth
from .features import FeatureSet, prepare_features
from .neighbor_graph import (
    bridge_edges,
    knn_block,
    knn_distance_matrix,
    neighbor_search,
    split_knn_distances,
)
from .scales import (
    dense_kernel,
    dense_neighbors,
    dropped_mass_block,
    gaussian_affinity,
    intrinsic_dimension,
    knn_kernel,
    local_scales,
)
from .truncation import (
    DENOISED_TRUNCATION_MASS,
    DROPPED_MASS_SAMPLE,
    measure_dropped_mass,
    truncate_on_noise_floor,
)

__all__ = [
    "ADAPTIVE_MAX_DIMENSION",
    "ADAPTIVE_MIN_ITEMS",
    "DENOISED_TRUNCATION_MASS",
    "DENSE_MAX_ITEMS",
    "DIMENSION_MIN_RATIO",
    "DIMENSION_REFERENCE_ITEMS",
    "DIMENSION_SAMPLE_ROWS",
    "DIMENSION_SPARSEST",
    "DROPPED_MASS_LOCAL",
    "DROPPED_MASS_SAMPLE",
    "KNN_ADAPTIVE_MIN_ITEMS",
    "SCALE_NEIGHBOR_MAX",
    "SCALE_NEIGHBOR_MIN",
    "UNROUNDED_DIMENSION",
    "UNROUNDED_DIMENSION_MIN_ITEMS",
    "AffinityGraph",
    "FeatureSet",
    "adaptive_applies",
    "build_graph",
    "check_n_neighbors",
    "default_n_neighbors",
    "dimension_rule",
    "distances_as_built",
    "distances_for",
    "dropped_mass_block",
    "graph_from_distances",
    "intrinsic_dimension",
    "knn_block",
    "local_scales",
    "measure_dropped_mass",
    "neighbor_search",
    "normalization_dimension",
    "prepare_features",
    "reference_neighbor_distances",
    "resolve_bandwidth",
    "resolve_method",
    "rounds_dimension",
    "scale_neighbor",
    "truncate_on_noise_floor",
]

#: Above this many items, method="auto" uses the sparse k-nearest-neighbour path.
DENSE_MAX_ITEMS = 3000
#: From this many items on, bandwidth="auto" on dense distances is the adaptive (variable)
#: kernel; below, the fixed rule "wide" (was 400). Measured (docs/large-n/SMALL_N.md,
#: section 4; dense): cells within 2 / 5 degrees of 36 per n (7 planar clustered circles,
#: 3 saddle curves, the real rotor maps clean and noise 0.1, 3 seeds), "wide" against the
#: adaptive kernel, chosen on seeds 0-2: 27 / 4 at n = 400, 27 / 11 at 500 and 600, 19 / 18
#: at 700, 13 / 24 at 775, 12 / 16 at 850; held out (seeds 3-5): 26 / 2, 26 / 7, 27 / 9,
#: 21 / 15 at 700, 11 / 23 at 850. The saddle pays (no "wide" cell at any n; adaptive 0, 3, 3
#: of 9 at 400-600); the real maps gain ("wide" 6 of 6 up to 850, adaptive 2-4).
ADAPTIVE_MIN_ITEMS = 700
#: ... on a sparse kNN input (below: "connect"); not re-measured with
#: the dense switch above: the kNN path at n = 400-700 keeps the adaptive kernel it had.
KNN_ADAPTIVE_MIN_ITEMS = 400
#: bandwidth="auto" falls back to the fixed "connect" rule when the Levina-Bickel dimension of
#: the neighbour distances exceeds this: the k nearest neighbours are then all at nearly the
#: same distance (mean log(r_k / r_j) < 1/32, a noise floor: high-dimensional noise adds about
#: the same to every distance), so local scales measure the noise, not the sampling density.
#: Measured on the rotor maps (docs/large-n/README.md): clean 1.1-1.5, noisy WEMD 15-20,
#: noisy L2 57-91, where the adaptive kernel gave 67-114 degrees median error.
ADAPTIVE_MAX_DIMENSION = 32
#: The adaptive local scale of an item is the distance to its ``scale_neighbor(n)``-th nearest
#: neighbour, ``round(sqrt(n) / 2)`` clipped to these bounds (measured, docs/large-n/README.md:
#: at n = 1,000 on noisy clustered circles the 10th neighbour gave 9.3 / 20.7 degrees, the 16th
#: 1.7 / 3.9, clean circles unchanged; the upper bound keeps k = 3 x 16 = 48 at large n).
SCALE_NEIGHBOR_MIN, SCALE_NEIGHBOR_MAX = 10, 16
#: From :data:`UNROUNDED_DIMENSION_MIN_ITEMS` items on (dense and kNN), ``m`` is the estimate
#: of :func:`normalization_dimension` unrounded. There the scale neighbour is held at
#: :data:`SCALE_NEIGHBOR_MAX` and the scale sinks into the noise of the densest parts first:
#: the dwells of a noisy circle are sampled inside the noise while the rest is not, rho scales
#: with the density between the way it does on a curve (m = 1) and on a strip (m = 2), and
#: rounding (to 1, or at n = 10,000 to 2) misweights the dwells. Measured (docs/large-n/MID_N.md;
#: clustered circles, dwells 1-5 deg, noise 0.01; chosen on dense seeds 0-2 at n = 2,000-3,000,
#: checked on seeds 3-5 and on the kNN path): dense n = 2,000-3,000 from 0.89-3.22 /
#: 2.33-7.05 (19 of 36 runs within 2 / 5 degrees) to 0.62-1.95 / 1.65-4.34 (36 of 36), m
#: 1.09-1.17; kNN n = 5,000 from 1 to 9 of 9 (m 1.23-1.26), n = 10,000 from 6 to 8 of 9 (m
#: 1.50-1.52); clean circles and rotor angles m 0.99-1.04, all still within the target (dense
#: median -0.16 to +0.56, p90 -0.07 to +0.74 degrees); clean 47 x 47 projections of the real
#: rotor map (WEMD, dense, 5 runs) pay for it: m 1.04-1.07, p90 +0.18 to +1.14, 3 -> 2 of 5
#: within the target. kNN on the same points, an exact eigensolver or m forced to 2 did not
#: remove it; a wider scale neighbour did, at a larger cost on clean circles and rotor images.
UNROUNDED_DIMENSION = True
#: ... from this many items on: the first n whose ``round(sqrt(n) / 2)`` exceeds
#: :data:`SCALE_NEIGHBOR_MAX` (the scale neighbour is held from there). Chosen after the
#: measurement: at n = 1,000 (seeds 0-5) the unrounded m (1.06-1.12) was mixed, better on
#: 3- and 5-degree dwells (8 of 12 runs by the median) and worse on 1-degree ones (5 of 6:
#: 0.98-2.20 / 2.18-4.47 to 0.87-3.09 / 3.32-5.17), so below this n nothing changes.
UNROUNDED_DIMENSION_MIN_ITEMS = (2 * SCALE_NEIGHBOR_MAX + 1) ** 2 + 1  # 1,090
#: The dimension ``m`` of the adaptive normalisation is the Levina-Bickel estimate on this
#: share of the items, those with the largest distance to their k-th neighbour
#: (:func:`normalization_dimension`): their neighbourhoods reach furthest above a noise of
#: fixed width, where the estimate pooled over every item sees the noise. Measured
#: (docs/large-n/DIMENSION.md, n = 400-3,000, 3 seeds): noisy clustered circles 1.05-1.19
#: (pooled 1.34-1.69, rounded to 2 at n >= 1,000), clean circles 0.99-1.16, squares, tori and
#: the rectangle 1.83-2.62 (pooled 2.01-2.56), cubes 2.50-2.68; circle runs within the target
#: 45 of 90 before, 60 of 90 after, none worse.
DIMENSION_SPARSEST = 0.25
#: ... unless that estimate is below this fraction of the pooled one: then the sparsest rows
#: are not a sparser sample of the same manifold. Measured: on the paper's noisy rotor maps
#: (WEMD, noise 0.1, n = 400-800, no denoising: distances concentrated by the noise) the
#: sparsest quarter reads 4.9-5.7 against 14.6-17.9 pooled (ratio 0.30-0.34), and there the
#: pooled m is right (m = 5: 5.4-8.1 degrees median, m = 16: 1.3-3.7); on every set where
#: the sparsest quarter is right the ratio is 0.62 or more (noisy clustered circles
#: 0.66-0.87, denoised 64 x 64 particle images at n = 6,000 0.62-0.71, clean circles,
#: surfaces and cubes 0.88-1.06; docs/large-n/DIMENSION.md).
DIMENSION_MIN_RATIO = 0.5
#: Above this many items, ``m`` is measured at the neighbour scale of this many: on the
#: distances from :data:`DIMENSION_SAMPLE_ROWS` rows of a random subset of this size to their
#: ``k`` nearest others in that subset (:func:`reference_neighbor_distances`), not on the
#: graph's own neighbours. With ``k`` fixed, the k-th neighbour of a larger set lies closer,
#: deeper in the noise, so the estimate on the graph's neighbours climbs with n towards the
#: noise's dimension while the ``m`` that embeds best does not. Measured on 64 x 64 particle
#: images, SNR 0.5, denoised, one graph per n with only ``m`` varied (docs/large-n/LARGE_N.md,
#: "The dimension at a fixed scale"): the sparsest-quarter estimate on the graph's 48
#: neighbours is 7.23 at n = 20,000, 8.74 at 50,000 and rounds to 10 at 100,000; the best
#: ``m`` is 7 at both measured sizes (median / p90 degrees for m = 6, 7, 8, 9: 1.81 / 4.33,
#: 1.60 / 4.16, 2.35 / 5.42, 3.49 / 7.67 at n = 20,000; 2.36 / 5.41, 1.68 / 4.02,
#: 1.78 / 4.46, 2.70 / 6.06 at 50,000). On the 20,000-item subset the 50,000 read 7.40
#: (m = 7), and ``conformap embed`` at n = 100,000 went from m = 10, 2.39 / 5.36 to m = 7,
#: 1.41 / 4.63 degrees (seed 1: m = 8, 1.32 / 3.72). At most this many items nothing changes
#: (every set of docs/large-n/DIMENSION.md and README.md, the n = 20,000 sweeps).
DIMENSION_REFERENCE_ITEMS = 20_000
#: Rows of the reference subset whose neighbours are searched exactly: the sparsest-quarter
#: estimate's spread over draws of this many rows of the n = 20,000 images was 0.08 (0.18 at
#: 256 rows); the search, 1,024 x 20,000 distances, took 10.1 s on one core at n = 50,000
#: (8,566 WEMD coefficients).
DIMENSION_SAMPLE_ROWS = 1024
#: Rows per block of the neighbour search and of the dropped-mass measurement.
BLOCK_ROWS = 256


# -- rules ---------------------------------------------------------------------------------------


def scale_neighbor(n: int, n_neighbors: int | None = None) -> int:
    """Which neighbour's distance is the adaptive scale: ``round(sqrt(n) / 2)`` in [10, 16].

    Never more than ``n_neighbors`` (the stored neighbours) nor ``n - 1``.
    """
    n = int(n)
    j = int(min(SCALE_NEIGHBOR_MAX, max(SCALE_NEIGHBOR_MIN, round(math.sqrt(n) / 2))))
    return int(max(1, min(j, n - 1, n_neighbors if n_neighbors else j)))


def default_n_neighbors(n: int) -> int:
    """Default ``k`` of the kNN graph and of the adaptive scales.

    ``max(3 scale_neighbor(n), ceil(2 log2 n))``, capped at ``n - 1``: 30 up to 441 items,
    48 from 961 on. Three times the scale neighbour keeps the kernel truncation of the
    adaptive kernel below about 1 % of a row's mass on one-dimensional manifolds
    (``exp(-3^2 / 2)``).
    """
    n = int(n)
    k = max(3 * scale_neighbor(n), math.ceil(2 * math.log2(max(n, 2))))
    return int(min(max(1, n - 1), k))


def check_n_neighbors(n_neighbors, n: int) -> int:
    """``n_neighbors`` (None = :func:`default_n_neighbors`) validated for ``n`` items."""
    if n_neighbors is None:
        return default_n_neighbors(n)
    if n < 2:
        raise ValueError(f"X: needs at least 2 items for a neighbour graph, got {n}")
    return check_int(n_neighbors, "n_neighbors", low=1, high=n - 1)


def resolve_method(method: str, n: int, *, metric: str | None = None) -> str:
    """"auto" -> "dense" up to :data:`DENSE_MAX_ITEMS` items (and always for exact EMD)."""
    method = check_choice(method, "method", ["auto", "dense", "knn"])
    if metric == "emd":
        if method == "knn":
            raise ValueError("method: 'knn' is not available for metric='emd'; use 'dense'")
        return "dense"
    if method == "auto":
        return "knn" if n > DENSE_MAX_ITEMS else "dense"
    return method


def resolve_bandwidth(bandwidth, n: int, method: str = "dense"):
    """``bandwidth`` -> ``"adaptive"``, a fixed rule name, or a float sigma.

    "auto" means the adaptive kernel from :data:`ADAPTIVE_MIN_ITEMS` items on a dense graph
    (:data:`KNN_ADAPTIVE_MIN_ITEMS` on a kNN graph, ``method="knn"``) and below that the
    fixed rule "wide" on a dense graph (too few items for stable local scales;
    :data:`conformap.bandwidth.WIDE_FACTOR` times "connect") or "connect" on a kNN graph (a
    kernel four times wider would be cut at the stored neighbours); the graph builder falls
    back to "connect" when the neighbour distances show a noise floor
    (:data:`ADAPTIVE_MAX_DIMENSION`, :func:`adaptive_applies`).
    """
    method = check_choice(method, "method", ["dense", "knn"])
    if isinstance(bandwidth, str):
        bw = check_choice(bandwidth, "bandwidth", BANDWIDTH_RULES)
        if bw == "auto":
            least = KNN_ADAPTIVE_MIN_ITEMS if method == "knn" else ADAPTIVE_MIN_ITEMS
            if n >= least:
                return "adaptive"
            return "wide" if method == "dense" else "connect"
        return bw
    return check_positive(bandwidth, "bandwidth")


def normalization_dimension(neighbor_distances, pooled: float | None = None, *,
                            rounded: bool = True) -> float:
    """``m`` of the adaptive normalisation, rounded (at least 1; ``rounded=False``: the
    estimate itself, at least 1, as the dense path uses it from
    :data:`UNROUNDED_DIMENSION_MIN_ITEMS` items on, :data:`UNROUNDED_DIMENSION`).

    The Levina-Bickel estimate on the :data:`DIMENSION_SPARSEST` share of the rows with the
    largest ``r_k``, unless it is below :data:`DIMENSION_MIN_RATIO` times the estimate pooled
    over every row: then the pooled one. ``neighbor_distances``: (n, k) ascending
    (:func:`conformap.scales.intrinsic_dimension`); ``pooled``: that pooled estimate, if the
    caller has it already. Above :data:`DIMENSION_REFERENCE_ITEMS` items the graph builder
    passes the distances of :func:`reference_neighbor_distances` instead of the graph's.
    """
    if pooled is None:
        pooled = intrinsic_dimension(neighbor_distances)
    sparse = intrinsic_dimension(neighbor_distances, sparsest=DIMENSION_SPARSEST)
    m = sparse if sparse >= DIMENSION_MIN_RATIO * pooled else pooled
    return max(1, round(m)) if rounded else max(1.0, float(m))


def rounds_dimension(n: int) -> bool:
    """Whether the graph of ``n`` items rounds ``m`` (:data:`UNROUNDED_DIMENSION`), both paths."""
    return not (UNROUNDED_DIMENSION and n >= UNROUNDED_DIMENSION_MIN_ITEMS)


def reference_neighbor_distances(features, lp: str, k: int, rng=None):
    """Neighbour distances at the scale of :data:`DIMENSION_REFERENCE_ITEMS` items, or None.

    For ``n > DIMENSION_REFERENCE_ITEMS`` rows of ``features``: a random subset of that many
    rows, and for :data:`DIMENSION_SAMPLE_ROWS` of them their ``k`` nearest other rows of the
    subset (exact, in the ``lp`` metric), as (rows, k) ascending distances, the input of
    :func:`normalization_dimension`. None for smaller ``n`` (the graph's own neighbours are
    at that scale already). ``features``: an (n, D) array, or a pair ``(n, take)`` where
    ``take(rows)`` returns those rows (an on-disk store read by rows). ``rng`` (seed or
    Generator; None: seed 0, so that the same data give the same ``m``) draws the subset.
    """
    from ._kernels import pairwise_block

    if isinstance(features, tuple):
        n, take = int(features[0]), features[1]
    else:
        n, take = features.shape[0], features.__getitem__
    if n <= DIMENSION_REFERENCE_ITEMS:
        return None
    gen = check_rng(0 if rng is None else rng)
    ref = gen.choice(n, size=DIMENSION_REFERENCE_ITEMS, replace=False)
    q = np.sort(ref[:DIMENSION_SAMPLE_ROWS])
    ref = np.sort(ref)
    k = int(min(k, ref.size - 1))
    Xq = np.ascontiguousarray(take(q))
    best = np.full((q.size, k), np.inf)
    # blocks of consecutive row ranges holding ~512 subset rows each: a few MB of copies at a
    # time, and a store read by rows reads each of its chunks about once
    step = max(1, (512 * n) // ref.size)
    for a in range(0, n, step):
        cols = ref[np.searchsorted(ref, a):np.searchsorted(ref, a + step)]
        if cols.size == 0:
            continue
        blk = pairwise_block(Xq, np.ascontiguousarray(take(cols), dtype=Xq.dtype),
                             squared=lp == "l2")
        blk[q[:, None] == cols[None, :]] = np.inf  # the row itself
        both = np.concatenate([best, blk], axis=1)
        best = np.partition(both, k - 1, axis=1)[:, :k]
    best.sort(axis=1)
    return np.sqrt(best) if lp == "l2" else best


def adaptive_applies(dimension: float) -> bool:
    """Whether bandwidth="auto" keeps the adaptive kernel at this estimated dimension.

    False above :data:`ADAPTIVE_MAX_DIMENSION` (noise-dominated neighbour distances).
    """
    return bool(dimension <= ADAPTIVE_MAX_DIMENSION)


# -- the graph -----------------------------------------------------------------------------------


def build_graph(
    X=None,
    *,
    distances=None,
    metric: str = "euclidean",
    metric_params: dict | None = None,
    method: str = "auto",
    n_neighbors: int | None = None,
    bandwidth="auto",
    n_jobs: int | None = None,
    progress: bool = False,
    store=None,
    rng=None,
    features: FeatureSet | None = None,
    denoise="auto",
    dimension_distances=None,
) -> tuple[AffinityGraph, FeatureSet | None]:
    """Build the affinity graph of ``X`` (or of precomputed ``distances``).

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Items: densities (``metric="wemd"`` or "emd") or arrays ("euclidean"). Exactly one of
        ``X``, ``distances`` and ``features`` is given.
    distances : ndarray (n, n) or sparse (n, n)
        Precomputed distances (dense) or kNN distances (sparse, each row its neighbours).
    metric : {"wemd", "euclidean", "emd"}
    metric_params : dict, optional
        For "wemd" (see :func:`prepare_features`).
    method : {"auto", "dense", "knn"}
    n_neighbors : int, optional
        Default :func:`default_n_neighbors`.
    bandwidth : "auto", "adaptive", a rule of :func:`conformap.select_bandwidth`, or float
    n_jobs, progress
        Threads and progress bars of the distance computations.
    store : DiskCache, optional
        Compute and keep coefficients and distances on disk (resumable).
    rng : int or Generator, optional
        Chooses the rows on which the dropped kernel mass is measured.
    features : FeatureSet, optional
        Already prepared features (skips :func:`prepare_features`).
    denoise : "auto", "pca", "off" or int, default "auto"
        PCA denoising of the items before the features (:func:`prepare_features`,
        :mod:`conformap.denoise`).
    dimension_distances : ndarray (rows, k) or callable, optional
        With ``distances``: the :func:`reference_neighbor_distances` of the items (computed
        here when the features are at hand), for the dimension ``m`` of the adaptive kernel;
        a callable is called only when the adaptive kernel is used.

    Returns
    -------
    graph : AffinityGraph
    features : FeatureSet or None
        The features the graph was built from (None for ``distances``).
    """
    if distances is not None:
        return graph_from_distances(distances, bandwidth=bandwidth, n_neighbors=n_neighbors,
                                    dimension_distances=dimension_distances), None
    fs = features if features is not None else prepare_features(
        X, metric, metric_params, store=store, denoise=denoise)
    steps = averaging_steps(fs.denoiser, metric) if features is None else 0
    if steps:  # the two-pass graph (conformap.averaging)
        kw = {"method": method, "n_neighbors": n_neighbors, "bandwidth": bandwidth,
              "n_jobs": n_jobs, "progress": progress, "rng": rng, "metric": metric,
              "store": store}
        graph, fs = build_graph(features=fs, **kw)
        den = fs.denoiser
        del fs  # its coefficients are not held while the averaged ones are computed
        graph, fs = build_graph(features=averaged_feature_set(
            graph, den, X, metric_params, steps=steps, store=store), **kw)
        return replace(graph, averaging_steps=steps), fs
    n = fs.features.shape[0]
    meth = resolve_method(method, n, metric=metric)
    resolve_bandwidth(bandwidth, n, meth)  # validated before any distance is computed
    if meth == "dense":
        dist = distances_for(fs, "dense", n_jobs=n_jobs, progress=progress, store=store)
        graph = graph_from_distances(dist, bandwidth=bandwidth, n_neighbors=n_neighbors,
                                     validate=False)
        if method == "auto" and fs.denoiser is not None and graph.adaptive:
            graph = truncate_on_noise_floor(graph, dist, fs, bandwidth=bandwidth,
                                            n_jobs=n_jobs)
        return graph, fs
    dist = distances_for(fs, "knn", n_neighbors=n_neighbors, n_jobs=n_jobs, progress=progress,
                         store=store, random_state=rng)
    graph = graph_from_distances(dist, bandwidth=bandwidth,
                                 dimension_distances=dimension_rule(fs, n_neighbors, rng))
    return measure_dropped_mass(graph, fs, rng=rng), fs


def dimension_rule(fs: FeatureSet, n_neighbors=None, rng=None):
    """The :func:`reference_neighbor_distances` of ``fs``'s rows as a callable, for the
    adaptive kNN kernel's dimension ``m``: called only when that kernel is kept (not for a
    fixed rule, nor when "auto" falls back to "connect" at a noise floor; ~10 s at
    n = 100,000)."""
    n = fs.features.shape[0]
    return lambda: reference_neighbor_distances(fs.features, fs.lp,
                                                check_n_neighbors(n_neighbors, n), rng=rng)


def distances_as_built(fs: FeatureSet, *, method="auto", n_neighbors=None, n_jobs=None,
                       progress=False, bandwidth="auto", rng=None, store=None):
    """The distances of ``fs``'s rows that :func:`build_graph` builds its graph from, for
    callers that keep distances rather than a graph (:func:`conformap.cache.cached_distances`):
    dense or kNN (:func:`resolve_method`; :func:`distances_for`), and where "auto" chose the
    dense path on denoised items, :func:`conformap.truncation.noise_floor_distances`.
    ``graph_from_distances`` of them (with :func:`dimension_rule`) is :func:`build_graph`'s
    graph."""
    from .truncation import noise_floor_distances

    n = fs.features.shape[0]
    meth = resolve_method(method, n, metric="emd" if fs.lp is None else None)
    dist = distances_for(fs, meth, n_neighbors=n_neighbors, n_jobs=n_jobs, progress=progress,
                         store=store, random_state=rng)
    if method == "auto" and meth == "dense":
        dist = noise_floor_distances(dist, fs, bandwidth=bandwidth, n_neighbors=n_neighbors,
                                     n_jobs=n_jobs)
    return dist


def _finish_knn(n, idx, dist, scales, b_rows, b_cols, b_d, adaptive, dim, k):
    scales = scales.copy()
    rk = dist[:, -1]
    real = b_d > np.maximum(rk[b_rows], rk[b_cols]) if b_rows.size else np.zeros(0, bool)
    if b_rows.size and adaptive:
        # A bridge (an entry neither endpoint has among its k nearest, added to join two
        # pieces) keeps an affinity of at least exp(-1/2): its endpoints' scales are raised to
        # its length. Entries that only symmetrise the kNN relation are left alone.
        np.maximum.at(scales, b_rows[real], b_d[real])
        np.maximum.at(scales, b_cols[real], b_d[real])
    kern = knn_kernel(n, idx, dist, scales)
    if b_rows.size:
        bv = gaussian_affinity(b_d, scales[b_rows] * scales[b_cols])
        extra = sp.csr_matrix((bv, (b_rows, b_cols)), shape=(n, n))
        kern = kern.maximum(extra.maximum(extra.T))
    # unstored pair (i, j): d_ij >= max(r_k(i), r_k(j)) >= sqrt(r_k(i) r_k(j))
    bound = float(np.max(np.exp(-(rk * rk) / (2.0 * scales * scales)))) if adaptive else \
        float(np.exp(-(np.min(rk) ** 2) / (2.0 * scales[0] ** 2)))
    return AffinityGraph(
        kernel=sp.csr_matrix(kern), scales=scales, bandwidth=float(np.median(scales)),
        adaptive=adaptive, dimension=dim, method="knn", n_neighbors=int(k),
        scale_neighbor=scale_neighbor(n, k) if adaptive else None, max_dropped_affinity=bound,
        dropped_mass=None, dropped_mass_max=None, n_bridges=int(real.sum() // 2))


def graph_from_distances(distances, *, bandwidth="auto", n_neighbors=None,
                         validate: bool = True, dimension_distances=None) -> AffinityGraph:
    """Affinity graph of precomputed distances: dense (n, n) or sparse kNN (n, n).

    Sparse input: each row holds that item's stored neighbours (as from
    :func:`conformap.kneighbors_distances`, possibly with bridging edges); the number of
    neighbours is the smallest row count. ``validate=False`` skips
    :func:`conformap.diffusion.check_distances` for distances this package computed itself
    (symmetric and finite by construction; the check costs as much as the kernel).
    ``dimension_distances``: (rows, k) ascending neighbour distances on which the adaptive
    kernel's dimension ``m`` is estimated instead of the graph's own (sparse input only;
    :func:`reference_neighbor_distances`), or a function of no arguments returning them (or
    None), called only when the adaptive kernel is used.
    """
    from .diffusion import check_distances

    d = check_distances(distances) if validate else distances
    n = d.shape[0]
    bw = resolve_bandwidth(bandwidth, n, "knn" if sp.issparse(d) else "dense")
    auto = isinstance(bandwidth, str) and bandwidth == "auto"
    if sp.issparse(d):
        idx, dist, b_rows, b_cols, b_d = split_knn_distances(d)
        k = idx.shape[1]
        bw, note, pooled = _kernel_choice(bw, auto, dist)
        if bw == "adaptive":
            scales = local_scales(dist, scale_neighbor(n, k))
            if callable(dimension_distances):
                dimension_distances = dimension_distances()
            rounded = rounds_dimension(n)
            dim = (normalization_dimension(dist, pooled, rounded=rounded)
                   if dimension_distances is None else
                   normalization_dimension(dimension_distances, rounded=rounded))
        else:
            sym = d.maximum(d.T)
            sigma = bw if not isinstance(bw, str) else select_bandwidth(sym, rule=bw)
            scales, dim = np.full(n, float(sigma)), 1
        graph = _finish_knn(n, idx, dist, scales, b_rows, b_cols, b_d, bw == "adaptive", dim, k)
        if bw == "adaptive" and dimension_distances is not None:
            graph = replace(graph, dimension_items=DIMENSION_REFERENCE_ITEMS)
        if bw == "adaptive" and auto:  # the localisation guard (conformap.localisation)
            graph = replace(graph, fallback_distances=d)
        return replace(graph, note=note) if note else graph
    note = ""
    if bw == "adaptive":
        k = check_n_neighbors(n_neighbors, n)
        nn_idx, nn = dense_neighbors(d, k)
        bw, note, pooled = _kernel_choice(bw, auto, nn)
    if bw == "adaptive":
        scales = local_scales(nn, scale_neighbor(n, k))
        dim = normalization_dimension(nn, pooled, rounded=rounds_dimension(n))
        # pieces of the kNN relation are joined as on the sparse path: shortest edge from the
        # smallest piece to the rest, endpoints' scales raised to its length
        g = sp.csr_matrix((np.ones(n * k), nn_idx.ravel(), np.arange(0, n * k + 1, k)),
                          shape=(n, n)).tolil()
        n_bridges = 0
        while True:
            n_comp, labels = sp.csgraph.connected_components(g.tocsr(), directed=False)
            if n_comp == 1:
                break
            piece = np.flatnonzero(labels == int(np.argmin(np.bincount(labels))))
            outside = np.flatnonzero(labels != labels[piece[0]])
            blk = d[np.ix_(piece, outside)]
            a, b = np.unravel_index(int(np.argmin(blk)), blk.shape)
            i, j = piece[a], outside[b]
            g[i, j] = g[j, i] = 1.0
            scales[i] = max(scales[i], d[i, j])
            scales[j] = max(scales[j], d[i, j])
            n_bridges += 1
        kern = dense_kernel(d, scales)
        adaptive, sn = True, scale_neighbor(n, k)
    else:
        sigma = bw if not isinstance(bw, str) else select_bandwidth(d, rule=bw)
        scales, dim, k, adaptive, sn = np.full(n, float(sigma)), 1, None, False, None
        n_bridges = 0
        kern = dense_kernel(d, scales)
    return AffinityGraph(kernel=kern, scales=scales, bandwidth=float(np.median(scales)),
                         adaptive=adaptive, dimension=dim, method="dense", n_neighbors=k,
                         scale_neighbor=sn, max_dropped_affinity=0.0, dropped_mass=0.0,
                         dropped_mass_max=0.0, n_bridges=n_bridges, note=note,
                         fallback_distances=d if adaptive and auto else None)


def _kernel_choice(bw, auto: bool, neighbor_distances):
    """``(bandwidth, note, dimension estimate)``: the noise-floor fallback of "auto", once.

    Only an "adaptive" choice is examined; an explicit ``bandwidth="adaptive"`` (``auto``
    False) is honoured whatever the estimate.
    """
    if bw != "adaptive":
        return bw, "", None
    dim_hat = intrinsic_dimension(neighbor_distances)
    if auto and not adaptive_applies(dim_hat):
        return "connect", (f"neighbour distances noise-dominated: dimension estimate "
                           f"{dim_hat:.0f} > {ADAPTIVE_MAX_DIMENSION}, so 'auto' uses the "
                           f"fixed rule 'connect'"), dim_hat
    return bw, "", dim_hat


def distances_for(fs: FeatureSet, method: str, *, n_neighbors=None, n_jobs=None,
                  progress=False, store=None, random_state=None):
    """Distances of prepared features, as :func:`build_graph` uses them.

    "dense": (n, n) all pairs; "knn": sparse, each row its ``n_neighbors`` nearest plus the
    bridges joining the pieces (the input :func:`graph_from_distances` expects).
    """
    X = fs.features
    if method == "dense":
        if fs.lp is None:
            from .distances import emd_distances

            return emd_distances(X, progress=progress)
        if store is not None:
            return store.pairwise_distances(X, key=fs.key, metric=fs.lp, n_jobs=n_jobs,
                                            progress=progress)
        from .distances import pairwise_distances

        return pairwise_distances(X, metric=fs.lp, n_jobs=n_jobs, progress=progress)
    n = X.shape[0]
    k = check_n_neighbors(n_neighbors, n)
    idx, dist = neighbor_search(X, k, fs.lp, n_jobs=n_jobs, progress=progress, store=store,
                                key=fs.key, random_state=random_state)
    return knn_distance_matrix(idx, dist, *bridge_edges(X, fs.lp, idx, dist, n_jobs))
