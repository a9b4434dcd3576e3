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


#: Best scores of ours and the published loop (float64) must agree to this, and the triplets
#: be identical: ours screens in float32 and rescores the close calls in float64.
TRIPLET_SCORE_TOL = 1e-10


def triplet_check(a: dict, b: dict) -> dict:
    """The triplets row's check: identical triplets and best scores within TRIPLET_SCORE_TOL."""
    from ._harness import check_result

    same = bool(np.array_equal(a["triplets"], b["triplets"]))
    diff = float(np.abs(a["best_score"] - b["best_score"]).max())
    return check_result(same and diff <= TRIPLET_SCORE_TOL,
                        f"identical triplets; best scores within {TRIPLET_SCORE_TOL:g}",
                        identical_triplets=same, n_triplets=int(len(b["triplets"])),
                        max_score_diff=diff)


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
        else:
            triplets_published(self.phi[:100, :10], self.lam[:10], self.delta, GAMMA)

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


def diffusion_operator(knn, sigma: float, alpha: float = 1.0):
    r"""The one operator both sides of the *diffusion* row solve.

    :math:`A = D^{-1/2} K_\alpha D^{-1/2}` with :math:`K_{ij} = e^{-d_{ij}^2 / (2\sigma^2)}` on
    the union-symmetrised kNN graph (unit diagonal), :math:`K_\alpha = Q^{-\alpha} K
    Q^{-\alpha}` (Q the kernel degrees) and D the degrees of :math:`K_\alpha`: what
    ``conformap.diffusion_map`` builds from the same ``knn`` and ``sigma``. The baseline solves
    it with the published eigensolver; the row's check (equal eigenvalues) confirms that ours
    built the same operator. Kept in one function so that it follows the library's graph
    construction (``conformap.graph`` after issue 10) with a one-line change.

    ``knn`` may also be a dense distance matrix (then the dense operator of all pairs).

    Returns
    -------
    A : sparse csr_matrix or ndarray, shape (n, n), symmetric
    """
    import scipy.sparse as sp

    if sp.issparse(knn):
        k = knn.copy().tocsr()
        k.data = np.exp(-(k.data**2) / (2 * sigma * sigma))
        k = k.maximum(k.T).tolil()
        k.setdiag(1.0)
        k = k.tocsr()
        q = np.asarray(k.sum(axis=1)).ravel() ** -alpha
        ka = sp.diags(q) @ k @ sp.diags(q)
        s = np.asarray(ka.sum(axis=1)).ravel() ** -0.5
        a = sp.csr_matrix(sp.diags(s) @ ka @ sp.diags(s))
        return (a + a.T) * 0.5
    k = np.array(knn, dtype=np.float64)  # in place from here: one n x n array (+ one temporary)
    np.square(k, out=k)
    k *= -1.0 / (2 * sigma * sigma)
    np.exp(k, out=k)
    q = k.sum(axis=1) ** -alpha
    k *= q[:, None]
    k *= q[None, :]
    s = k.sum(axis=1) ** -0.5
    k *= s[:, None]
    k *= s[None, :]
    k += k.T  # numpy buffers the overlapping transpose
    k *= 0.5
    return k


#: The published eigensolver's options (the paper's ``calc_vars``).
RSVD_OPTIONS = {"n_iter": 5, "random_state": 0}


def eigs_published(a, n_vec: int):
    """Baseline (b)'s eigensolver: ``randomized_svd(A, n_vec + 1, n_iter=5)`` (singular values
    = eigenvalues of the positive semi-definite part at the top of the spectrum)."""
    from sklearn.utils.extmath import randomized_svd

    _, mu, _ = randomized_svd(a, n_vec + 1, **RSVD_OPTIONS)
    return mu


def diffusion_published(X: np.ndarray, sigma: float, n_vec: int):
    """Baseline (b) as published: dense Gaussian kernel over all pairs + randomized SVD."""
    from scipy.spatial.distance import cdist

    t0 = time.perf_counter()
    a = diffusion_operator(cdist(X, X), sigma)
    t1 = time.perf_counter()
    mu = eigs_published(a, n_vec)
    t2 = time.perf_counter()
    return mu, {"kernel": t1 - t0, "eigenvectors": t2 - t1}


#: Top eigenvalues compared in the diffusion row's check, and the tolerance. The randomized SVD
#: with the published n_iter = 5 is accurate to a few 1e-4 at the top of this spectrum and
#: loses accuracy further down (reported as ``max_abs_eigenvalue_diff_all``, not checked).
DIFFUSION_TOP = 10
DIFFUSION_TOL = 2e-3


class DiffusionMap:
    """Diffusion map (alpha = 1) of the n-point rectangle with ``n_vec`` eigenvectors.

    Both sides get the same kNN distances (15 neighbours, built untimed in ``setup``) and
    solve the same sparse operator (``diffusion_operator``). Ours: ``conformap.diffusion_map``
    with ``eigen_solver="sparse"`` (it builds the operator itself: phase ``kernel+solve``).
    Baseline: ``diffusion_operator`` (phase ``kernel``) + the published randomized SVD
    (phase ``eigenvectors``). ``published_dense`` is the published pipeline as it stands
    (dense kernel over all pairs): a different operator, timed for context only; how far the
    two operators are apart is the ``diffusion_approximation`` row.
    """

    def setup(self, n, n_vec, n_neighbors=15):
        self.n_vec = n_vec
        self.X, self.knn, self.sigma, self.graph_time = rectangle_graph(n, n_neighbors)
        return self.knn

    def warmup(self, impl):
        from conformap import kneighbors_distances

        small = kneighbors_distances(self.X[:300], 10, metric="l2")
        if impl == "ours":
            from conformap import diffusion_map

            # 60 components: the filtered solver's numba kernels are loaded untimed
            diffusion_map(small, n_components=60, bandwidth=self.sigma * 3, eigen_solver="sparse")
        else:
            eigs_published(diffusion_operator(small, self.sigma * 3), 20)

    def ours(self, knn):
        from conformap import diffusion_map

        t0 = time.perf_counter()
        res = diffusion_map(knn, n_components=self.n_vec, bandwidth=self.sigma,
                            eigen_solver="sparse", rng=0)
        t1 = time.perf_counter()
        return {"eigenvalues": res.eigenvalues}, {"kernel+solve": t1 - t0}

    def baseline(self, knn):
        t0 = time.perf_counter()
        a = diffusion_operator(knn, self.sigma)
        t1 = time.perf_counter()
        mu = eigs_published(a, self.n_vec)
        t2 = time.perf_counter()
        return {"eigenvalues": mu}, {"kernel": t1 - t0, "eigenvectors": t2 - t1}

    def published_dense(self, knn):
        mu, phases = diffusion_published(self.X, self.sigma, self.n_vec)
        return {"eigenvalues": mu}, phases


def diffusion_check(ours, base) -> dict:
    """The diffusion row's check: the same operator's top eigenvalues on both sides."""
    from ._harness import check_result

    top = np.abs(ours[:DIFFUSION_TOP] - base[:DIFFUSION_TOP]).max()
    return check_result(
        top <= DIFFUSION_TOL,
        f"same sparse operator on both sides: top {DIFFUSION_TOP} eigenvalues within "
        f"{DIFFUSION_TOL:g} (the published randomized SVD's accuracy there)",
        max_abs_eigenvalue_diff_top=float(top),
        max_abs_eigenvalue_diff_all=float(np.abs(ours - base).max()))


class DiffusionApproximation:
    """How far the kNN-truncated operator is from the dense one (all pairs), same n and sigma.

    Not a timing: the top eigenvalues of both operators by ARPACK to 1e-10 (``eigsh``), and
    the relative spectral-norm distance of the operators (power iteration on the difference).
    """

    def setup(self, n, n_neighbors=15, n_top=DIFFUSION_TOP):
        self.n_top = n_top
        self.X, self.knn, self.sigma, _ = rectangle_graph(n, n_neighbors)
        return self.knn

    def measure(self, knn):
        import scipy.sparse.linalg as sla
        from scipy.spatial.distance import cdist

        t0 = time.perf_counter()
        a_knn = diffusion_operator(knn, self.sigma)
        d = cdist(self.X, self.X)
        a_dense = diffusion_operator(d, self.sigma)
        del d
        k = self.n_top + 1
        mu_k = np.sort(sla.eigsh(a_knn, k=k, which="LA", tol=1e-10, v0=np.ones(knn.shape[0]))[0])
        mu_d = np.sort(sla.eigsh(a_dense, k=k, which="LA", tol=1e-10,
                                 v0=np.ones(knn.shape[0]))[0])
        coo = a_knn.tocoo()
        np.subtract.at(a_dense, (coo.row, coo.col), coo.data)  # A_dense - A_knn, in place
        norm_diff = sla.eigsh(a_dense, k=1, which="LM", tol=1e-6, return_eigenvectors=False)
        rel = float(np.abs(norm_diff).max())  # ||A_dense|| = 1 (top eigenvalue of a Markov-similar)
        return ({"eigenvalues_knn": mu_k[::-1], "eigenvalues_dense": mu_d[::-1],
                 "spectral_norm_diff": np.float64(rel)},
                {"measure": time.perf_counter() - t0})

#: Our sparse solver against dense ``eigh`` on the same operator: eigenvalues within this.
SOLVER_TOL = 1e-8


class SolverCheck:
    """Same sparse kNN operator, sparse solver (ours) vs dense ``eigh`` (oracle)."""

    def setup(self, n, n_vec, n_neighbors=15):
        self.n_vec = n_vec
        _, self.knn, self.sigma, _ = rectangle_graph(n, n_neighbors)
        return self.knn

    def warmup(self, impl):
        _, small, sigma, _ = rectangle_graph(600)
        self._run(small, "sparse" if impl == "ours" else "dense", n_vec=50, sigma=sigma)

    def _run(self, knn, solver, n_vec=None, sigma=None):
        from conformap import diffusion_map

        t0 = time.perf_counter()
        res = diffusion_map(knn, n_components=n_vec or self.n_vec,
                            bandwidth=sigma or self.sigma, eigen_solver=solver, rng=0)
        return {"eigenvalues": res.eigenvalues}, {"eigenvectors": time.perf_counter() - t0}

    def ours(self, knn):
        return self._run(knn, "sparse")

    def dense(self, knn):
        return self._run(knn, "dense")


def solver_check(ours, dense) -> dict:
    from ._harness import check_result

    diff = float(np.abs(ours - dense).max())
    return check_result(diff <= SOLVER_TOL,
                        f"same operator: all eigenvalues within {SOLVER_TOL:g} of dense eigh",
                        max_abs_eigenvalue_diff=diff)
