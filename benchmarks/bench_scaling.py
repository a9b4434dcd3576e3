"""Scaling of our code with the problem size: time and peak memory per point, one process each."""

from __future__ import annotations

import time

import numpy as np

from ._harness import check_result
from .bench_product import (
    GAMMA,
    SOLVER_TOL,
    TripletSearch,
    diffusion_operator,
    rectangle_graph,
    triplet_check,
    triplets_published,
)
from .bench_wemd import OURS_TOLERANCE, distance_agreement, rotor_maps, wemd_published

#: float32 storage within tiles of the L1 kernel, float64 across: relative error per distance
#: at most (KC / 8) u (a few 1e-6), checked at 2e-5 against a float64 sum.
L1_REL_TOL = 2e-5
#: Rows (or columns) of each scaling case compared with an oracle after the timed run.
CHECK_ROWS = 8


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
        head = np.ascontiguousarray(emb[:CHECK_ROWS])
        return {"head": head}, {"transform": t}

    def check(self, impl, outputs):
        from scipy.spatial.distance import pdist

        m = min(CHECK_ROWS, len(self.maps))
        ref, _, vectors = wemd_published(self.maps[:m], level=5, dtype=np.float64)
        norms = np.array([np.abs(v).sum() for v in vectors])
        got = pdist(outputs["head"].astype(np.float64), "cityblock")
        agree = distance_agreement(got, ref, norms)
        over = agree["pairs_over_certified_bound"]
        return check_result(over == 0, OURS_TOLERANCE.format(m=m), oracle_pairs_over_bound=over,
                            oracle_normwise_rel_diff=agree["normwise_rel_diff"])


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
        return {"columns": np.ascontiguousarray(d[:, :CHECK_ROWS])}, {"distances": t}

    def check(self, impl, outputs):
        return _l1_columns_check(self.X, outputs["columns"])


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
        return {"head": g[:CHECK_ROWS].toarray()}, {"knn": t}

    def check(self, impl, outputs):
        """The stored neighbour distances of the first rows = the 15 smallest exact ones."""
        head = outputs["head"]
        got = np.sort(np.where(head > 0, head, np.inf), axis=1)[:, :15]
        exact = np.empty_like(got)
        for r in range(head.shape[0]):
            d = np.abs(self.X.astype(np.float64) - self.X[r].astype(np.float64)).sum(axis=1)
            d[r] = np.inf
            exact[r] = np.sort(d)[:15]
        rel = float(np.abs(got - exact).max() / exact.max())
        return check_result(rel <= L1_REL_TOL,
                            f"first {head.shape[0]} rows: the 15 stored distances equal the 15 "
                            f"smallest exact float64 ones within {L1_REL_TOL:g} (relative)",
                            max_rel_diff=rel)


class DiffusionScaling:
    """Sparse-path diffusion eigenpairs of the n-point rectangle: conformap's fixed-bandwidth
    kNN graph (``bench_product.rectangle_graph``, built in setup), ``n_vec`` eigenpairs."""

    def setup(self, n, n_vec):
        self.n_vec = n_vec
        _, self.graph, _ = rectangle_graph(n)
        return self.graph

    def warmup(self, impl):
        from conformap.diffusion import diffusion_eigenpairs

        # a small solve through the same (filtered) solver: numba kernels loaded untimed
        _, small, _ = rectangle_graph(600, self.graph.bandwidth)
        diffusion_eigenpairs(small, 51, eigen_solver="sparse", rng=0)

    def ours(self, graph):
        from conformap.diffusion import diffusion_eigenpairs

        t0 = time.perf_counter()
        _, _, info = diffusion_eigenpairs(graph, self.n_vec + 1, eigen_solver="sparse", rng=0)
        t = time.perf_counter() - t0
        return {"eigenvalues": info["mu"]}, {"eigenvectors": t}

    def check(self, impl, outputs):
        """Top eigenvalues against ARPACK (tol 1e-12) on the same operator."""
        import scipy.sparse.linalg as sla

        a = diffusion_operator(self.graph)
        k = CHECK_ROWS
        ref = np.sort(sla.eigsh(a, k=k, which="LA", tol=1e-12, v0=np.ones(a.shape[0]))[0])[::-1]
        diff = float(np.abs(outputs["eigenvalues"][:k] - ref).max())
        return check_result(diff <= SOLVER_TOL,
                            f"same operator: top {k} eigenvalues within {SOLVER_TOL:g} of ARPACK",
                            max_abs_eigenvalue_diff=diff)


class TripletScaling(TripletSearch):
    """Algorithm 1 (ours) vs the number N of eigenvectors, n = 10,000."""

    def check(self, impl, outputs):
        triplets, best = triplets_published(self.phi, self.lam, self.delta, GAMMA)
        return triplet_check(outputs, {"triplets": triplets, "best_score": best})


def _l1_columns_check(X, columns) -> dict:
    """The first columns of an all-pairs L1 matrix against float64 sums (rows in blocks)."""
    m = columns.shape[1]
    worst = 0.0
    for j in range(m):
        ref = np.empty(X.shape[0])
        xj = X[j].astype(np.float64)
        for i0 in range(0, X.shape[0], 64):
            ref[i0:i0 + 64] = np.abs(X[i0:i0 + 64].astype(np.float64) - xj).sum(axis=1)
        worst = max(worst, float((np.abs(columns[:, j] - ref) / np.maximum(ref, 1e-300)).max()))
    return check_result(worst <= L1_REL_TOL,
                        f"first {m} columns equal float64 sums within {L1_REL_TOL:g} (relative)",
                        max_rel_diff=worst)
