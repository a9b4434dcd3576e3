"""Product manifold learning against the published pipeline (baseline b).

Baseline (b), written out here as the product-manifold paper's code does it: a dense Gaussian
kernel over all pairs, the eigenvectors by randomized SVD
(``sklearn.utils.extmath.randomized_svd``), and Algorithm 1 as a Python loop over
``itertools.combinations`` computing the element-wise product of each admissible pair.

Inputs of the triplet search are the exact Neumann eigenfunctions of the paper's rectangle
evaluated at the ``n`` sample points (what the graph Laplacian converges to): both
implementations get the same matrix, and the eigensolver is benchmarked separately.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np

GAMMA = 0.75  # conformap.product's default eigenvector criterion


def rectangle_eigenfunctions(n: int, n_vec: int, rng=0):
    """Points of the rectangle and its first ``n_vec`` non-trivial Neumann eigenfunctions."""
    from conformap.datasets import make_rectangle
    from conformap.datasets._product import RECTANGLE_SIDES

    X, truth = make_rectangle(n, rng=rng)
    a, b = RECTANGLE_SIDES
    m = int(math.ceil(math.sqrt(4 * n_vec))) + 2
    p, q = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    lam = np.pi**2 * ((p / a) ** 2 + (q / b) ** 2)
    order = np.argsort(lam.ravel(), kind="stable")[1 : n_vec + 1]  # drop the constant
    pp, qq = p.ravel()[order], q.ravel()[order]
    phi = np.cos(np.pi * pp[None, :] * truth["x"][:, None] / a) * np.cos(
        np.pi * qq[None, :] * truth["y"][:, None] / b
    )
    return X, phi, lam.ravel()[order]


def triplets_published(phi: np.ndarray, lam: np.ndarray, delta: float, gamma: float):
    """Baseline (b), Algorithm 1: a Python loop over all i < j < k."""
    n_vec = phi.shape[1]
    phi = phi / np.linalg.norm(phi, axis=0)  # a copy; unit columns
    lam_list = [float(v) for v in lam]
    best_score = np.zeros(n_vec)
    best_pair = np.full((n_vec, 2), -1)
    for i, j, k in itertools.combinations(range(n_vec), 3):
        if abs(lam_list[i] + lam_list[j] - lam_list[k]) < delta:
            prod = phi[:, i] * phi[:, j]
            norm = np.linalg.norm(prod)
            score = abs(phi[:, k] @ prod) / norm if norm > 0 else 0.0
            if score > best_score[k]:
                best_score[k] = score
                best_pair[k] = i, j
    ks = np.flatnonzero(best_score > gamma)
    return np.column_stack([best_pair[ks], ks]).astype(np.int64), best_score


class TripletSearch:
    """Algorithm 1 at N eigenvectors on n points of the rectangle (delta = 1.5 lambda_1)."""

    def setup(self, n, n_vec):
        _, self.phi, self.lam = rectangle_eigenfunctions(n, n_vec)
        self.delta = 1.5 * float(self.lam[0])
        return self.phi

    def warmup(self, impl):
        if impl == "ours":
            from conformap.product import find_triplets

            find_triplets(self.phi[:100, :10], self.lam[:10], delta=self.delta, gamma=GAMMA)

    def ours(self, phi):
        from conformap.product import find_triplets

        t0 = time.perf_counter()
        res = find_triplets(phi, self.lam, delta=self.delta, gamma=GAMMA)
        t = time.perf_counter() - t0
        return {"triplets": res.triplets, "best_score": res.best_score}, {"triplets": t}

    def baseline(self, phi):
        t0 = time.perf_counter()
        triplets, best = triplets_published(phi, self.lam, self.delta, GAMMA)
        t = time.perf_counter() - t0
        return {"triplets": triplets, "best_score": best}, {"triplets": t}


def rectangle_graph(n: int, n_neighbors: int = 15):
    """Rectangle points, their sparse kNN distances and a bandwidth (the kNN rule)."""
    from conformap import kneighbors_distances, select_bandwidth
    from conformap.datasets import make_rectangle

    X, _ = make_rectangle(n, rng=0)
    t0 = time.perf_counter()
    knn = kneighbors_distances(X, n_neighbors, metric="l2")
    graph_time = time.perf_counter() - t0
    sigma = select_bandwidth(knn.maximum(knn.T), rule="auto")
    return X, knn, sigma, graph_time


def diffusion_published(X: np.ndarray, sigma: float, n_vec: int):
    """Baseline (b), eigenvectors: dense Gaussian kernel + randomized SVD (alpha = 1)."""
    from scipy.spatial.distance import cdist
    from sklearn.utils.extmath import randomized_svd

    t0 = time.perf_counter()
    k = np.exp(-cdist(X, X, "sqeuclidean") / (2 * sigma * sigma))
    q = k.sum(axis=1)
    k /= q[:, None]
    k /= q[None, :]
    d = k.sum(axis=1)
    s = 1.0 / np.sqrt(d)
    k *= s[:, None]
    k *= s[None, :]
    t1 = time.perf_counter()
    u, mu, _ = randomized_svd(k, n_vec + 1, random_state=0)
    t2 = time.perf_counter()
    return mu, {"kernel": t1 - t0, "eigenvectors": t2 - t1}


class DiffusionMap:
    """Diffusion map (alpha = 1) of the n-point rectangle with ``n_vec`` eigenvectors.

    Ours: the sparse path (kNN graph, timed separately as ``graph``, then
    ``conformap.diffusion_map`` with ``eigen_solver="sparse"``). Baseline (b): dense kernel
    over all pairs + randomized SVD.
    """

    def setup(self, n, n_vec, n_neighbors=15):
        self.n_vec = n_vec
        self.X, self.knn, self.sigma, self.graph_time = rectangle_graph(n, n_neighbors)
        return self.X

    def warmup(self, impl):
        if impl == "ours":
            from conformap import diffusion_map, kneighbors_distances

            small = kneighbors_distances(self.X[:300], 10, metric="l2")
            # 60 components: the filtered solver's numba kernels are loaded untimed
            diffusion_map(small, n_components=60, bandwidth=self.sigma * 3, eigen_solver="sparse")

    def ours(self, X):
        from conformap import diffusion_map, kneighbors_distances

        t0 = time.perf_counter()
        knn = kneighbors_distances(X, self.knn.nnz // X.shape[0], metric="l2")
        t1 = time.perf_counter()
        res = diffusion_map(knn, n_components=self.n_vec, bandwidth=self.sigma,
                            eigen_solver="sparse", rng=0)
        t2 = time.perf_counter()
        return {"eigenvalues": res.eigenvalues}, {"graph": t1 - t0, "eigenvectors": t2 - t1}

    def baseline(self, X):
        mu, phases = diffusion_published(X, self.sigma, self.n_vec)
        return {"eigenvalues": mu}, phases


class SolverCheck:
    """Same sparse kNN operator, sparse solver (ours) vs dense ``eigh`` (oracle)."""

    def setup(self, n, n_vec, n_neighbors=15):
        self.n_vec = n_vec
        _, self.knn, self.sigma, _ = rectangle_graph(n, n_neighbors)
        return self.knn

    def _run(self, knn, solver):
        from conformap import diffusion_map

        t0 = time.perf_counter()
        res = diffusion_map(knn, n_components=self.n_vec, bandwidth=self.sigma,
                            eigen_solver=solver, rng=0)
        return {"eigenvalues": res.eigenvalues}, {"eigenvectors": time.perf_counter() - t0}

    def ours(self, knn):
        return self._run(knn, "sparse")

    def dense(self, knn):
        return self._run(knn, "dense")
