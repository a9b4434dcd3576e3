"""Scaling of our code with the problem size: time and peak memory per point, one process each."""

from __future__ import annotations

import time

import numpy as np

from .bench_product import TripletSearch, rectangle_graph
from .bench_wemd import rotor_maps


class WemdTransform:
    """``wemd_embedding(columns="resolved")`` of n rotor maps (coif3, level 5): linear in n."""

    def setup(self, n):
        self.maps, _ = rotor_maps(n)
        return self.maps

    def warmup(self, impl):
        from conformap import wemd_embedding

        wemd_embedding(self.maps[:2], level=5, negative="keep", columns="resolved")

    def ours(self, maps):
        from conformap import wemd_embedding

        t0 = time.perf_counter()
        emb = wemd_embedding(maps, level=5, negative="keep", columns="resolved")
        t = time.perf_counter() - t0
        return {"checksum": np.float64(emb[:, ::997].sum())}, {"transform": t}


class AllPairs:
    """All pairwise L1 distances of n float32 vectors of length ``dim``: quadratic in n."""

    def setup(self, n, dim):
        gen = np.random.default_rng(0)
        self.X = gen.standard_normal((n, dim), dtype=np.float32)
        return self.X

    def warmup(self, impl):
        from conformap import pairwise_distances

        pairwise_distances(self.X[:5, :100], metric="l1")

    def ours(self, X):
        from conformap import pairwise_distances

        t0 = time.perf_counter()
        d = pairwise_distances(X, metric="l1")
        t = time.perf_counter() - t0
        return {"checksum": np.float64(d[:, :7].sum())}, {"distances": t}


class KnnPath:
    """15 nearest neighbours (L1) of n float32 vectors of length ``dim``: memory linear in n."""

    def setup(self, n, dim):
        gen = np.random.default_rng(0)
        self.X = gen.standard_normal((n, dim), dtype=np.float32)
        return self.X

    def warmup(self, impl):
        from conformap import kneighbors_distances

        kneighbors_distances(self.X[:50, :100], 5, metric="l1")

    def ours(self, X):
        from conformap import kneighbors_distances

        t0 = time.perf_counter()
        g = kneighbors_distances(X, 15, metric="l1")
        t = time.perf_counter() - t0
        return {"checksum": np.float64(g.data.sum())}, {"knn": t}


class DiffusionScaling:
    """Sparse-path diffusion map of the n-point rectangle (kNN graph built in setup)."""

    def setup(self, n, n_vec):
        self.n_vec = n_vec
        _, self.knn, self.sigma, _ = rectangle_graph(n)
        return self.knn

    def warmup(self, impl):
        from conformap import diffusion_map

        # a small solve through the same (filtered) solver: numba kernels loaded untimed
        _, small, sigma, _ = rectangle_graph(600)
        diffusion_map(small, n_components=50, bandwidth=sigma, eigen_solver="sparse", rng=0)

    def ours(self, knn):
        from conformap import diffusion_map

        t0 = time.perf_counter()
        res = diffusion_map(knn, n_components=self.n_vec, bandwidth=self.sigma,
                            eigen_solver="sparse", rng=0)
        t = time.perf_counter() - t0
        return {"eigenvalues": res.eigenvalues}, {"eigenvectors": t}


class TripletScaling(TripletSearch):
    """Algorithm 1 (ours) vs the number N of eigenvectors, n = 10,000."""
