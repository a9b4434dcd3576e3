"""scikit-learn adapter for diffusion maps over WEMD, Euclidean, exact-EMD or given distances."""

from __future__ import annotations

import contextlib
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._validation import check_choice, validate_items
from .denoise import (
    apply_denoiser,
    check_denoise,
    denoised_file,
    reconstruction_negative,
    reconstruction_policy,
)
from .diffusion import diffusion_core, nystrom_extension
from .distances import emd_distances, pairwise_distances
from .graph import DENSE_MAX_ITEMS, build_graph
from .wemd import wemd_embedding

__all__ = ["DENSE_MAX_ITEMS", "METRICS", "DiffusionMap", "expected_failed_checks",
           "features_for_metric"]

METRICS = ("wemd", "euclidean", "emd", "precomputed")


def features_for_metric(X, metric: str, metric_params: dict | None = None) -> np.ndarray:
    """Feature vectors whose L1 (wemd) or L2 (euclidean) distances are the metric.

    For "wemd" these are the full coefficient vectors unless ``metric_params`` names
    ``columns`` (see :func:`conformap.wemd_embedding`).
    """
    params = dict(metric_params or {})
    if metric == "wemd":
        return wemd_embedding(X, **params)
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"X: expected shape (n, ...) with one item per row, got {X.shape}")
    if params:
        raise ValueError(f"metric_params: metric={metric!r} takes no parameters, got {params}")
    return X.reshape(X.shape[0], -1)


class DiffusionMap(TransformerMixin, BaseEstimator):
    """Diffusion map embedding (Coifman-Lafon) with a choice of distance.

    Parameters
    ----------
    n_components : int, default 2
        Non-trivial diffusion coordinates to keep.
    metric : {"wemd", "euclidean", "emd", "precomputed"}, default "wemd"
        "wemd": wavelet Earthmover's distance between densities (``metric_params`` go to
        :func:`conformap.wemd_embedding`, e.g. ``{"wavelet": "coif3", "level": 5}``);
        "euclidean": L2 between the raw arrays; "emd": exact EMD (small 1-D/2-D densities);
        "precomputed": ``X`` is an (n, n) distance matrix (dense or sparse kNN) and
        ``transform`` takes (m, n) distances to the training items.
    metric_params : dict, optional
    alpha : float in [0, 1], default 1.0
        Coifman-Lafon density normalisation (1 = Laplace-Beltrami, the paper's choice).
    t : float, default 0
        Diffusion time (0 = Laplacian eigenmaps, the paper's choice).
    bandwidth : float or str, default "auto"
        "auto": the adaptive (variable-bandwidth) kernel from
        :data:`conformap.graph.ADAPTIVE_MIN_ITEMS` items on (kNN:
        :data:`conformap.graph.KNN_ADAPTIVE_MIN_ITEMS`), the fixed rule "wide" below
        ("connect" on a kNN graph); "adaptive"; a fixed Gaussian sigma; or a rule of
        :func:`conformap.select_bandwidth` (see :mod:`conformap.graph`).
    method : {"auto", "dense", "knn"}, default "auto"
        "dense": all pairwise distances; "knn": sparse graph of each item's ``n_neighbors``
        nearest neighbours (its dropped kernel mass is measured: ``dropped_mass_``); "auto":
        dense up to 3000 items.
    n_neighbors : int, optional
        Stored neighbours (knn) and the neighbourhood of the adaptive scales; default
        :func:`conformap.graph.default_n_neighbors`.
    n_jobs : int, optional
        Threads for the distance computations (None: all cores).
    random_state : int or Generator, optional
        Seeds the sparse eigensolver's start vector and the approximate neighbour search.
    progress : bool, default False
        Progress bars on the long steps.
    scheduler : str or distributed.Client, optional
        Build the WEMD kNN graph as Dask tasks (:func:`conformap.engine.knn_graph`):
        ``"tcp://host:port"`` of a running scheduler, a ``distributed.Client``, or ``"local:N"``
        for N worker processes here; the coefficients go to an on-disk store chunk by chunk and
        the neighbour search (exact up to 5,000 items, approximate above, as in memory:
        :mod:`conformap.engine_approx`) reads it in blocks, so task memory is bounded by the
        chunk and task sizes, not by n. The eigenproblem runs here. With the same
        ``random_state`` and ``n_jobs`` the graph is bitwise the one of ``method="knn"``; the
        dropped kernel mass is measured from the store on the same sampled rows
        (``dropped_mass_``); :meth:`transform` needs ``cache_dir`` (it searches the store).
    cache_dir : path, optional
        Directory of the coefficient store with ``scheduler`` (required for a remote scheduler:
        on a filesystem every worker sees; default a temporary directory). Reused and resumed
        by a later fit on the same data and parameters. With ``method="knn"``, metric "wemd"
        and no ``scheduler``, the same out-of-core pipeline runs in this process (the tasks one
        after the other): memory bounded by the chunk and task sizes, not by n.
    denoise : "auto", "pca", "off" or int, default "auto"
        Project the items on their leading principal components before the distances
        (:mod:`conformap.denoise`): "pca" keeps the components above the Marchenko-Pastur
        edge of the estimated white noise; an int keeps that many; "off" never projects;
        "auto" is "pca" where the estimated noise is at least 10 % of the variance, there
        are at least 400 items, and each has at least 100 and at most 11 times as many values
        as there are items (many noisy images; clean data and small sets are left as they
        are; see :mod:`conformap.denoise` for the measurements). Not for metric="emd" or
        "precomputed".

    Attributes
    ----------
    embedding_ : ndarray, shape (n, n_components)
    eigenvalues_ : ndarray, shape (n_components + 1,)
        Markov eigenvalues, the trivial 1 first.
    eigenvectors_ : ndarray, shape (n, n_components + 1)
    bandwidth_ : float
    n_neighbors_ : int or None
        Neighbours used (knn path), else None.
    n_features_in_ : int
        Values per training item (voxels of a map, coordinates of a vector); for
        metric="precomputed", the number of training items.
    item_shape_ : tuple of int
        Shape of one training item (e.g. (nz, ny, nx)); ``transform`` requires the same.
    dropped_mass_ : float or None
        Mean fraction of a row's kernel mass the sparse graph does not store (measured on
        sampled rows, also from the store on the out-of-core path; 0 for dense, None for
        precomputed sparse distances).
    graph_summary_ : str
        One line describing the graph (kernel, neighbours, truncation).
    denoiser_ : conformap.denoise.PCADenoiser or None
        The fitted projection (None where none was applied); ``transform`` applies it.
    denoise_rank_ : int or None
        Principal components kept (None: not denoised).
    noise_variance_ : float or None
        Estimated white-noise variance per value of the items (None: not denoised).
    scheduler_stats_ : dict
        Only with ``scheduler``: transform chunks computed/reused and the search plan and tasks
        (:func:`conformap.engine.knn_graph`).
    result_ : DiffusionMapResult

    Notes
    -----
    Input is validated once, at the top of ``fit`` and ``transform``, by scikit-learn's
    ``validate_data``: read-only and memory-mapped arrays are used as they are; sparse items,
    complex or non-numeric arrays, NaN/inf (naming the item), empty arrays and too few items
    are clear errors. ``__sklearn_tags__`` declares what each metric accepts;
    :func:`expected_failed_checks` lists the scikit-learn checks WEMD fails by design.
    """

    def __init__(
        self,
        n_components=2,
        *,
        metric="wemd",
        metric_params=None,
        alpha=1.0,
        t=0.0,
        bandwidth="auto",
        method="auto",
        n_neighbors=None,
        n_jobs=None,
        random_state=None,
        progress=False,
        scheduler=None,
        cache_dir=None,
        denoise="auto",
    ):
        self.n_components = n_components
        self.metric = metric
        self.metric_params = metric_params
        self.alpha = alpha
        self.t = t
        self.bandwidth = bandwidth
        self.method = method
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress
        self.scheduler = scheduler
        self.cache_dir = cache_dir
        self.denoise = denoise

    def __sklearn_tags__(self):
        """Input requirements by metric: what scikit-learn's checks (and pipelines) may pass."""
        tags = super().__sklearn_tags__()
        metric = self.metric
        tags.input_tags.allow_nan = False
        # (n, n) distances may be a sparse k-nearest-neighbour graph; items never are.
        tags.input_tags.sparse = metric == "precomputed"
        tags.input_tags.pairwise = metric == "precomputed"
        # WEMD and EMD compare densities: non-negative values with positive mass (WEMD also
        # accepts signed maps, with a NegativeDensityWarning).
        tags.input_tags.positive_only = metric in ("wemd", "emd")
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def _validate_input(self, X, *, reset: bool):
        """Validate ``X`` at the boundary of fit (``reset``) and transform (scikit-learn's
        ``validate_data``); see :func:`conformap._validation.validate_items`."""
        n_min = self._min_samples() if reset else 1
        return validate_items(self, X, reset=reset, min_samples=n_min,
                              needs=f"n_components: {self.n_components}" if n_min > 1 else None,
                              precomputed=self.metric == "precomputed",
                              min_features=2 if self.metric in ("wemd", "emd") else 1)

    def _min_samples(self) -> int:
        """Items needed: the constant eigenvector plus ``n_components`` (and one to spare)."""
        n_comp = self.n_components
        if isinstance(n_comp, numbers.Integral) and not isinstance(n_comp, bool) and n_comp > 0:
            return int(n_comp) + 2
        return 1  # a bad n_components is reported by diffusion_map, naming it

    def _distances(self, A, B=None):
        """Distances between feature rows (or densities for emd); B=None means A vs A."""
        if self.metric == "emd":
            return emd_distances(A, B, progress=self.progress)
        lp = "l1" if self.metric == "wemd" else "l2"
        return pairwise_distances(A, B, metric=lp, n_jobs=self.n_jobs, progress=self.progress)

    def fit(self, X, y=None):
        """Fit on ``X``: densities (n, *shape), feature vectors (n, D) or distances (n, n)."""
        metric = check_choice(self.metric, "metric", METRICS)
        check_choice(self.method, "method", ["auto", "dense", "knn"])
        denoise = check_denoise(self.denoise)
        if metric in ("emd", "precomputed") and denoise not in ("auto", "off"):
            raise ValueError(f"denoise: {denoise!r} is not available for metric={metric!r}; "
                             "use denoise='off'")
        X = self._validate_input(X, reset=True)
        den = None
        # The graph (columns, k, bandwidth, bridges) is built by conformap.graph alone.
        if metric == "precomputed":
            dist = X
            graph, fs = build_graph(distances=dist, bandwidth=self.bandwidth,
                                    n_neighbors=self.n_neighbors)
            n = dist.shape[0]
        elif self.scheduler is not None or self._out_of_core(metric):
            import tempfile

            with contextlib.ExitStack() as scope:  # a temporary store lives until it is measured
                from .distributed import parse_scheduler

                cache_dir = self.cache_dir
                if cache_dir is None and parse_scheduler(self.scheduler)[0] not in (
                        "address", "client"):  # remote workers need a shared cache_dir
                    cache_dir = scope.enter_context(
                        tempfile.TemporaryDirectory(prefix="conformap-"))
                graph, den = self._distributed_graph(X, metric, cache_dir)
                fs = None
            n = graph.kernel.shape[0]
        else:
            graph, fs = build_graph(
                X, metric=metric, metric_params=self.metric_params, method=self.method,
                n_neighbors=self.n_neighbors, bandwidth=self.bandwidth, n_jobs=self.n_jobs,
                progress=self.progress, rng=self.random_state, denoise=denoise)
            n = fs.features.shape[0]
            den = fs.denoiser
        self.denoiser_ = den
        self.denoise_rank_ = None if den is None else den.rank
        self.noise_variance_ = None if den is None else den.noise_variance
        self._fit_features = None if fs is None else fs.features
        self._fit_columns = None if fs is None else fs.columns
        self._fit_size = None if fs is None else fs.full_size
        self.n_neighbors_ = graph.n_neighbors if graph.method == "knn" else None
        remeasure = None  # a store may be gone by now; its fallback says "not re-measured"
        if fs is not None:  # a kNN kernel that replaces a localising one is measured too
            from .truncation import measure_dropped_mass

            def remeasure(g):
                return measure_dropped_mass(g, fs, rng=self.random_state)
        self.result_ = diffusion_core(
            graph,
            n_components=self.n_components,
            alpha=self.alpha,
            t=self.t,
            rng=self.random_state,
            remeasure=remeasure,
        )
        del graph
        # the graph the core used (with bandwidth="auto" possibly the fixed kernel that
        # replaced a localising adaptive one, conformap.localisation)
        used = self.result_.graph
        self.graph_summary_ = used["summary"] if den is None else \
            f"{den.summary()}; {used['summary']}"
        self.dropped_mass_ = used["dropped_mass"]
        self.embedding_ = self.result_.embedding
        self.eigenvalues_ = self.result_.eigenvalues
        self.eigenvectors_ = self.result_.eigenvectors
        self.bandwidth_ = self.result_.bandwidth
        self.n_samples_fit_ = n
        return self

    def _out_of_core(self, metric) -> bool:
        """``cache_dir`` without a scheduler: the store pipeline in this process (knn only)."""
        return self.cache_dir is not None and metric == "wemd" and self.method == "knn"

    def _store_reference(self, dist):
        """:func:`conformap.graph.reference_neighbor_distances` of the store's rows (the rule
        of the in-memory :func:`conformap.graph.build_graph`), None where it does not apply."""
        from .graph import check_n_neighbors, reference_neighbor_distances, resolve_bandwidth
        from .store import CoefficientStore

        n = dist.shape[0]
        if resolve_bandwidth(self.bandwidth, n, "knn") != "adaptive":
            return None
        st = self.scheduler_stats_
        store = CoefficientStore(st["store"])
        cols = st["columns"]
        cols = store.columns(cols) if isinstance(cols, str) else np.asarray(cols, np.int64)
        return reference_neighbor_distances((n, lambda rows: store.take_rows(rows, cols)), "l1",
                                            check_n_neighbors(self.n_neighbors, n),
                                            rng=self.random_state)

    def _store_dropped_mass(self, graph):
        """``graph`` with its dropped kernel mass measured from the store on sampled rows (the
        rows and the rule of the in-memory :func:`conformap.graph.build_graph`)."""
        from dataclasses import replace

        from .store import CoefficientStore
        from .store_queries import store_dropped_mass
        from .truncation import dropped_mass_rows

        st = self.scheduler_stats_
        rows = dropped_mass_rows(graph.kernel.shape[0], self.random_state)
        fr = store_dropped_mass(CoefficientStore(st["store"]), graph.kernel, graph.scales, rows,
                                columns=st["columns"], n_jobs=self.n_jobs)
        return replace(graph, dropped_mass=float(fr.mean()), dropped_mass_max=float(fr.max()))

    def _store_graph(self, dist):
        """The graph of the store's kNN distances ``dist``, with the in-memory builder's rules
        for the dimension ``m`` and the dropped kernel mass."""
        graph, _ = build_graph(distances=dist, bandwidth=self.bandwidth,
                               n_neighbors=self.n_neighbors,
                               dimension_distances=lambda: self._store_reference(dist))
        return self._store_dropped_mass(graph)

    def _distributed_graph(self, X, metric, cache_dir):
        """``(graph, denoiser)``: the WEMD kNN graph from Dask tasks over a store; on denoised
        items built twice, the second time on the items averaged along the first graph
        (:mod:`conformap.averaging`, the rule of the in-memory builder)."""
        from dataclasses import replace

        from .averaging import averaged_item_scores, averaging_steps

        dist, den = self._distributed_distances(X, metric, cache_dir)
        graph = self._store_graph(dist)
        steps = averaging_steps(den, metric)
        if steps:
            del dist
            scores = averaged_item_scores(graph, den, X, steps)
            dist, _ = self._distributed_distances(X, metric, cache_dir, model=den,
                                                  scores=scores)
            graph = replace(self._store_graph(dist), averaging_steps=steps)
        return graph, den

    def _distributed_distances(self, X, metric, cache_dir, *, model=None, scores=None):
        """The exact WEMD kNN distance graph (with bridges) from Dask tasks over a store.

        ``model`` and ``scores``: the second pass of :meth:`_distributed_graph` (the fitted
        denoiser; the averaged scores reconstructed instead of the items' own)."""
        from .distributed import connect, parse_scheduler
        from .engine import knn_graph
        from .graph import check_n_neighbors

        if metric != "wemd":
            raise ValueError(f"scheduler: runs the WEMD pipeline (metric='wemd'), not "
                             f"metric={metric!r}; drop scheduler or use metric='wemd'")
        if self.method == "dense":
            raise ValueError("method: 'dense' does not run on a scheduler, which builds the "
                             "sparse kNN graph; use method='knn' or 'auto'")
        params = dict(self.metric_params or {})
        columns = params.pop("columns", "resolved")
        params.pop("progress", None)
        k = check_n_neighbors(self.n_neighbors, int(np.shape(X)[0]))
        self.scheduler_stats_ = {}
        # an address is connected to before the denoising (seconds to minutes on the client)
        # and before anything is written: an unreachable one fails here, within the timeout;
        # the client is then the one the tasks run on (local:N is started by knn_graph)
        reach = (connect(self.scheduler) if parse_scheduler(self.scheduler)[0] == "address"
                 else contextlib.nullcontext(self.scheduler))
        with reach as scheduler, denoised_file(X, self.denoise, cache_dir, model=model,
                                               scores=scores) as (items, den):
            # the same reconstruction (block by block, same arithmetic) as the in-memory path;
            # negative voxels are counted on the user's items (once), not on the
            # reconstructions
            if den is not None:
                neg = params.get("negative")
                params["negative"] = (reconstruction_negative(X, neg) if scores is None
                                      else reconstruction_policy(neg))
            return knn_graph(items, k, cache_dir=cache_dir, scheduler=scheduler,
                             columns=columns, n_jobs=self.n_jobs, progress=self.progress,
                             random_state=self.random_state, stats=self.scheduler_stats_,
                             **params), den

    def fit_transform(self, X, y=None):
        """Fit and return ``embedding_``."""
        return self.fit(X).embedding_

    def transform(self, X):
        """Embed new items by the Nystrom extension.

        ``X`` is like the training input (densities of the same shape, or feature vectors);
        for metric="precomputed", an (m, n_train) matrix of distances to the training items.
        """
        check_is_fitted(self, "result_")
        if self.metric != "precomputed" and self._fit_features is None:
            return self._transform_from_store(X)
        X = self._validate_input(X, reset=False)
        if self.metric == "precomputed":
            dist = X
        else:
            if self.metric == "emd":
                feats = np.asarray(X)
                dist = emd_distances(feats, self._fit_features, progress=self.progress)
            else:
                params = dict(self.metric_params or {})
                if self.metric == "wemd":
                    params.setdefault("negative", "keep")
                    params["columns"] = "all"
                den = getattr(self, "denoiser_", None)
                if den is not None:  # the fitted projection, as on the training items
                    X, _ = apply_denoiser(den, X, scores=self.metric == "euclidean")
                feats = features_for_metric(X, self.metric, params)
                expect = (self._fit_size if self._fit_columns is not None
                          else self._fit_features.shape[1])
                if feats.shape[1] != expect:
                    raise ValueError(
                        f"X: items have {feats.shape[1]} features but the training items had "
                        f"{expect}; pass data of the training shape"
                    )
                rest = 0.0
                if self._fit_columns is not None:
                    # the training items are zero (or below rounding) outside their columns:
                    # there the L1 distance is the new item's own |coefficients|
                    total = np.abs(feats).sum(axis=1, dtype=np.float64)
                    feats = np.ascontiguousarray(feats[:, self._fit_columns])
                    rest = (total - np.abs(feats).sum(axis=1, dtype=np.float64))[:, None]
                dist = self._distances(feats, self._fit_features) + rest
            if self.n_neighbors_ is not None:
                dist = _keep_nearest(dist, self.n_neighbors_ + 1)
        return nystrom_extension(dist, self.result_)


    def _transform_from_store(self, X):
        """Nystrom extension after a ``scheduler`` fit: the new items' coefficients here, their
        nearest training items searched in the coefficient store (``cache_dir``), block by
        block; the same distances as the in-memory ``transform``."""
        from pathlib import Path

        from .store import CoefficientStore
        from .store_queries import query_store

        path = (getattr(self, "scheduler_stats_", None) or {}).get("store")
        if path is None or not (Path(path) / "meta.json").exists():
            raise ValueError(
                f"transform: the coefficient store of this scheduler=... fit ({path}) no longer "
                "exists (without cache_dir it is a temporary directory, removed after fit), and "
                "the new items' neighbours are searched in it; fit with cache_dir=DIR (kept, and "
                "reused by the next fit) to embed new items")
        X = self._validate_input(X, reset=False)
        store = CoefficientStore(path)
        params = dict(self.metric_params or {})
        params.pop("progress", None)
        params.pop("columns", None)
        params.setdefault("negative", "keep")
        if getattr(self, "denoiser_", None) is not None:
            X, _ = apply_denoiser(self.denoiser_, X)
        feats = features_for_metric(X, "wemd", {**params, "columns": "all"})
        idx, dist = query_store(store, feats, self.n_neighbors_ + 1,
                                columns=self.scheduler_stats_["columns"])
        m, k = idx.shape
        d = sp.csr_matrix((np.maximum(dist.ravel(), 0.0), idx.ravel(), np.arange(0, m * k + 1, k)),
                          shape=(m, store.n))
        return nystrom_extension(d, self.result_)


def _keep_nearest(dist: np.ndarray, k: int) -> sp.csr_matrix:
    """Sparsify (m, n) distances to each row's k nearest, matching the knn training graph."""
    m, n = dist.shape
    k = min(k, n)
    idx = np.argpartition(dist, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(dist, idx, axis=1)
    return sp.csr_matrix((vals.ravel(), idx.ravel(), np.arange(0, m * k + 1, k)), shape=(m, n))


#: scikit-learn checks that WEMD/EMD diffusion maps fail by design, with the reason.
_DENSITY_CHECKS = {
    "check_positive_only_tag_during_fit": (
        "WEMD accepts signed maps (noisy cryo-EM maps have negative voxels; they are kept, with "
        "a NegativeDensityWarning), so a negative value is not an error; it refuses only items "
        "of non-positive total mass, naming the item"
    ),
    "check_estimators_dtypes": (
        "the check casts random data in [0, 1) to integers, which leaves items that are all "
        "zero; a density of zero mass cannot be normalised and is refused by name"
    ),
}
#: scikit-learn checks that ProductManifoldFactorizer fails by design, with the reason.
_FACTORIZER_CHECKS = {
    "check_pipeline_consistency": (
        "with more than one factor, fit_transform returns one embedding per factor (a list of "
        "arrays whose widths differ), not one (n, k) array, so the check cannot compare it as an "
        "array; where n_factors='auto' finds one factor in the check's random data it passes"
    ),
}


def expected_failed_checks(estimator) -> dict[str, str]:
    """scikit-learn estimator checks ``estimator`` is known to fail, each with the reason.

    For ``sklearn.utils.estimator_checks.check_estimator(est, expected_failed_checks=...)`` or
    ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``.
    ``DiffusionMap(metric="euclidean")`` and ``metric="precomputed"`` pass every check;
    ``metric="wemd"``/``"emd"`` compare densities (``positive_only`` tag) and fail the two
    checks whose data are not densities; ``ProductManifoldFactorizer`` returns a list of
    per-factor embeddings from ``fit_transform`` (one check compares it as one array).
    """
    from .product import ProductManifoldFactorizer

    if isinstance(estimator, DiffusionMap) and estimator.metric in ("wemd", "emd"):
        return dict(_DENSITY_CHECKS)
    if isinstance(estimator, ProductManifoldFactorizer):
        return dict(_FACTORIZER_CHECKS)
    return {}
