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
    m = math.ceil(math.sqrt(4 * n_vec)) + 2
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
                        identical_triplets=same, n_triplets=len(b["triplets"]),
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


#: The fixed-bandwidth rule of the diffusion rows (``bandwidth="connect"``: the fixed kernel of
#: ``DiffusionMap``; the randomized SVD solves the fixed kernel's symmetric operator, see
#: ``diffusion_operator``). ``"auto"`` (the adaptive kernel) is timed for context.
FIXED_RULE = "connect"


def rectangle_graph(n: int, bandwidth=FIXED_RULE, *, n_neighbors=None):
    """Rectangle points and the kNN affinity graph conformap builds for them.

    ``conformap.graph.build_graph(X, metric="euclidean", method="knn", ...)``: the library's
    one graph builder (default ``k``, union symmetrisation, bridges, the dropped kernel mass
    measured on sampled rows), as ``DiffusionMap(method="knn", bandwidth=...)`` calls it.

    Returns
    -------
    X : ndarray (n, 3)
    graph : conformap.graph.AffinityGraph
    seconds : float
        Wall time of ``build_graph``.
    """
    from conformap.datasets import make_rectangle
    from conformap.graph import build_graph

    X, _ = make_rectangle(n, rng=0)
    t0 = time.perf_counter()
    graph, _ = build_graph(X, metric="euclidean", method="knn", n_neighbors=n_neighbors,
                           bandwidth=bandwidth, rng=0)
    return X, graph, time.perf_counter() - t0


def diffusion_operator(graph, alpha: float = 1.0):
    r"""The symmetric operator :math:`A = D^{-1/2} W D^{-1/2}` of a fixed-bandwidth graph.

    :math:`W = U K U` and :math:`D` its degrees come from ``conformap.diffusion.
    normalized_operator`` (the library's kernel normalisation, alpha = 1), so this is the
    matrix whose top eigenpairs ``conformap.diffusion.diffusion_eigenpairs`` computes on the
    fixed-kernel sparse path (Markov eigenvalues :math:`\mu_k`). The baseline hands it to the
    published randomized SVD. For the adaptive kernel the library solves the generalized
    problem :math:`(D - W) f = \lambda M f` instead, which has no such top-of-spectrum form
    (``M`` is not a multiple of ``D``): the randomized SVD as published cannot solve it.

    Returns
    -------
    A : csr_matrix, shape (n, n), symmetric
    """
    import scipy.sparse as sp

    from conformap.diffusion import normalized_operator

    if graph.adaptive:
        raise ValueError("graph: the adaptive kernel has no symmetric top-of-spectrum operator; "
                         "build the graph with a fixed bandwidth")
    w, _, _, deg, _ = normalized_operator(graph, alpha)
    s = sp.diags(deg**-0.5)
    a = sp.csr_matrix(s @ w @ s)
    return (a + a.T) * 0.5


def dense_published_operator(X: np.ndarray, sigma: float, alpha: float = 1.0) -> np.ndarray:
    """The published pipeline's operator: dense Gaussian kernel over all pairs, alpha = 1.

    :math:`D^{-1/2} K_\alpha D^{-1/2}`, :math:`K_\alpha = Q^{-\alpha} K Q^{-\alpha}`,
    built in place (one n x n array and the distance matrix it is computed from).
    """
    from scipy.spatial.distance import cdist

    k = cdist(X, X)
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
    t0 = time.perf_counter()
    a = dense_published_operator(X, sigma)
    t1 = time.perf_counter()
    mu = eigs_published(a, n_vec)
    t2 = time.perf_counter()
    return mu, {"kernel": t1 - t0, "eigenvectors": t2 - t1}


#: Top eigenvalues compared in the diffusion row's check, and the tolerance. The randomized SVD
#: with the published n_iter = 5 is accurate at the top of this spectrum (measured on the
#: operator of ``diffusion_operator`` at n = 2000 with 101 pairs: 1.4e-10 over the top 10) and
#: loses accuracy further down (0.0055 over all 101, reported as
#: ``max_abs_eigenvalue_diff_all``, not checked); the tolerance leaves room for larger n.
DIFFUSION_TOP = 10
DIFFUSION_TOL = 2e-3


class DiffusionMap:
    """Diffusion map (alpha = 1) of the n-point rectangle with ``n_vec`` eigenvectors.

    Both sides solve the same operator: the fixed-bandwidth (``FIXED_RULE``) kNN graph that
    ``conformap.graph.build_graph`` makes (default ``k``; built untimed in ``setup``), normalised
    by ``conformap.diffusion.normalized_operator``. Ours: ``diffusion_eigenpairs(graph,
    n_vec + 1, eigen_solver="sparse")`` (normalisation, connectivity check and the solve:
    phase ``kernel+solve``). Baseline: ``diffusion_operator`` (phase ``kernel``) + the
    published randomized SVD (phase ``eigenvectors``). Timed for context only:
    ``ours_adaptive``, the default ``bandwidth="auto"`` graph (adaptive kernel, a generalized
    eigenproblem the randomized SVD cannot solve) with the same solver call, and
    ``published_dense``, the published pipeline as it stands (dense kernel over all pairs with
    the same sigma). How far the kNN operators are from their complete kernels is the
    ``diffusion_approximation`` row.
    """

    def setup(self, n, n_vec):
        self.n_vec = n_vec
        self.X, self.graph, self.graph_time = rectangle_graph(n)
        # the default graph of the same points, for ours_adaptive (built for every impl alike)
        self.adaptive = rectangle_graph(n, "auto")[1]
        return self.graph

    def warmup(self, impl):
        from conformap.diffusion import diffusion_eigenpairs

        _, small, _ = rectangle_graph(600, self.graph.bandwidth)
        if impl == "ours":
            # 61 eigenpairs: the filtered solver's numba kernels are loaded untimed
            diffusion_eigenpairs(small, 61, eigen_solver="sparse", rng=0)
        elif impl == "ours_adaptive":
            _, small, _ = rectangle_graph(600, "auto")
            diffusion_eigenpairs(small, 21, eigen_solver="sparse", rng=0)
        else:
            eigs_published(diffusion_operator(small), 20)

    def ours(self, graph):
        from conformap.diffusion import diffusion_eigenpairs

        t0 = time.perf_counter()
        _, _, info = diffusion_eigenpairs(graph, self.n_vec + 1, eigen_solver="sparse", rng=0)
        return {"eigenvalues": info["mu"]}, {"kernel+solve": time.perf_counter() - t0}

    def ours_adaptive(self, graph):
        from conformap.diffusion import diffusion_eigenpairs

        t0 = time.perf_counter()
        _, _, info = diffusion_eigenpairs(self.adaptive, self.n_vec + 1, eigen_solver="sparse",
                                          rng=0)
        return {"eigenvalues": info["mu"]}, {"kernel+solve": time.perf_counter() - t0}

    def baseline(self, graph):
        t0 = time.perf_counter()
        a = diffusion_operator(graph)
        t1 = time.perf_counter()
        mu = eigs_published(a, self.n_vec)
        t2 = time.perf_counter()
        return {"eigenvalues": mu}, {"kernel": t1 - t0, "eigenvectors": t2 - t1}

    def published_dense(self, graph):
        mu, phases = diffusion_published(self.X, graph.bandwidth, self.n_vec)
        return {"eigenvalues": mu}, phases


def diffusion_check(ours, base) -> dict:
    """The diffusion row's check: the same operator's top eigenvalues on both sides."""
    from ._harness import check_result

    top = np.abs(ours[:DIFFUSION_TOP] - base[:DIFFUSION_TOP]).max()
    return check_result(
        top <= DIFFUSION_TOL,
        f"same operator (conformap's fixed-bandwidth kNN graph) on both sides: top "
        f"{DIFFUSION_TOP} eigenvalues within {DIFFUSION_TOL:g} (the published randomized "
        "SVD's accuracy there)",
        max_abs_eigenvalue_diff_top=float(top),
        max_abs_eigenvalue_diff_all=float(np.abs(ours - base).max()))


def complete_kernel_eigenvalues(X: np.ndarray, graph, n_eigenpairs: int, alpha: float = 1.0):
    r"""Dense oracle: the graph's problem on the *complete* kernel, with the same scales.

    :math:`K_{ij} = e^{-d_{ij}^2 / (2\rho_i\rho_j)}` over all pairs with the kNN graph's
    ``scales`` (a fixed kernel: all equal to sigma), normalised by
    ``conformap.diffusion.normalized_operator`` (weights, degrees, mass of the library), then
    the smallest eigenvalues of :math:`M^{-1/2}(D - W)M^{-1/2}` by LAPACK ``eigh`` (all of them
    computed in place: no truncation, no iterative solver). Also measured on the complete
    kernel: each row's exact fraction of off-diagonal kernel mass that the kNN graph does not
    store, and the largest affinity it does not store.

    Returns
    -------
    lam : ndarray (n_eigenpairs,)
        Generalized eigenvalues, ascending (``lam[0] = 0``).
    dropped : ndarray (n,)
        Fraction of each row's off-diagonal mass not stored.
    max_unstored : float
        Largest affinity of a pair the graph does not store.
    """
    import dataclasses

    import scipy.linalg
    import scipy.sparse as sp
    from scipy.spatial.distance import cdist

    from conformap.diffusion import normalized_operator

    n = X.shape[0]
    rho = graph.scales
    k = cdist(X, X)
    np.square(k, out=k)
    k /= -2.0 * rho[:, None] * rho[None, :]
    np.exp(k, out=k)
    pattern = sp.coo_matrix(graph.kernel)
    off = pattern.row != pattern.col
    rows, cols = pattern.row[off], pattern.col[off]
    stored = np.bincount(rows, weights=k[rows, cols], minlength=n)
    total = k.sum(axis=1) - np.diag(k)
    dropped = np.clip(1.0 - stored / total, 0.0, 1.0)
    saved = k[rows, cols].copy()
    k[rows, cols] = 0.0
    np.fill_diagonal(k, 0.0)
    max_unstored = float(k.max())
    k[rows, cols] = saved
    np.fill_diagonal(k, 1.0)
    dense = dataclasses.replace(graph, kernel=k, method="dense", max_dropped_affinity=0.0,
                                dropped_mass=0.0, dropped_mass_max=0.0)
    w, _, _, deg, mass = normalized_operator(dense, alpha)
    del dense, k
    # L = M^{-1/2} (D - W) M^{-1/2}, in place on w
    w *= -1.0
    w[np.diag_indices(n)] += deg
    smi = mass**-0.5
    w *= smi[:, None]
    w *= smi[None, :]
    # w is symmetric: its transpose is the same matrix in Fortran order, which LAPACK
    # overwrites without a copy (n = 10,000: 0.8 GB saved)
    lam = scipy.linalg.eigh(w.T, subset_by_index=[0, n_eigenpairs - 1], eigvals_only=True,
                            overwrite_a=True, check_finite=False)
    lam = np.sort(np.maximum(lam, 0.0))
    lam[0] = 0.0
    return lam, dropped, max_unstored


class DiffusionApproximation:
    """How far conformap's kNN graph is from the complete kernel with the same scales.

    Not a timing. For the fixed kernel of the diffusion row (``FIXED_RULE``) and the default
    adaptive one (``"auto"``): the top ``n_top`` eigenvalues of the kNN problem
    (``diffusion_eigenpairs``, the library's solver) against a dense ``eigh`` of the complete
    kernel (``complete_kernel_eigenvalues``), the exact dropped kernel mass of every row, and
    the graph's own estimate of it (``AffinityGraph.dropped_mass``, sampled rows).
    """

    def setup(self, n, bandwidth=FIXED_RULE, n_top=DIFFUSION_TOP):
        self.n_top = n_top
        self.X, self.graph, _ = rectangle_graph(n, bandwidth)
        return self.graph

    def measure(self, graph):
        from conformap.diffusion import diffusion_eigenpairs

        t0 = time.perf_counter()
        lam_knn, _, info = diffusion_eigenpairs(graph, self.n_top + 1, eigen_solver="sparse",
                                                rng=0)
        lam_dense, dropped, max_unstored = complete_kernel_eigenvalues(self.X, graph,
                                                                       self.n_top + 1)
        rbar = float(np.median(graph.scales))
        return ({"lam_knn": lam_knn, "lam_dense": lam_dense,
                 "mu_knn": info["mu"], "mu_dense": 1.0 - lam_dense * rbar**2,
                 "dropped_mass_rows": dropped, "max_unstored_affinity": np.float64(max_unstored),
                 "graph_max_dropped_affinity": np.float64(graph.max_dropped_affinity),
                 "graph_dropped_mass": np.float64(graph.dropped_mass),
                 "graph_dropped_mass_max": np.float64(graph.dropped_mass_max),
                 "n_neighbors": np.int64(graph.n_neighbors),
                 "adaptive": np.bool_(graph.adaptive), "bandwidth": np.float64(graph.bandwidth)},
                {"measure": time.perf_counter() - t0})


def approximation_check(out: dict) -> dict:
    """The approximation row: what the kNN graph drops, and whether its stated bound holds.

    Passes when the values are finite and no unstored affinity of the complete kernel exceeds
    the graph's ``max_dropped_affinity`` (the bound ``conformap.graph`` reports); the size of
    the approximation is reported, not bounded (it is a property of the data and ``k``).
    """
    from ._harness import check_result

    lam_k, lam_d = out["lam_knn"][1:], out["lam_dense"][1:]
    mu_k, mu_d = out["mu_knn"][1:], out["mu_dense"][1:]
    rows = out["dropped_mass_rows"]
    bound = float(out["graph_max_dropped_affinity"])
    unstored = float(out["max_unstored_affinity"])
    values = {
        "n_top": int(lam_k.size),
        "n_neighbors": int(out["n_neighbors"]),
        "kernel": ("adaptive" if bool(out["adaptive"])
                   else f"fixed sigma={float(out['bandwidth']):.4g}"),
        "dropped_mass_mean": float(rows.mean()),
        "dropped_mass_max": float(rows.max()),
        "graph_dropped_mass_estimate": float(out["graph_dropped_mass"]),
        "max_unstored_affinity": unstored,
        "graph_max_dropped_affinity": bound,
        "max_abs_eigenvalue_diff_top": float(np.abs(mu_k - mu_d).max()),
        "max_rel_laplacian_eigenvalue_diff_top": float((np.abs(lam_k - lam_d) / lam_d).max()),
        "laplacian_eigenvalues_knn": lam_k.tolist(),
        "laplacian_eigenvalues_dense": lam_d.tolist(),
    }
    finite = all(np.isfinite(v) for v in values.values() if isinstance(v, float))
    return check_result(
        finite and unstored <= bound * (1 + 1e-9),
        "a measurement of the kNN truncation against a dense eigh of the complete kernel "
        "(same scales); fails if not finite or if an unstored affinity exceeds the graph's "
        "stated bound max_dropped_affinity",
        **values)


#: Our sparse solver against dense ``eigh`` on the same operator: eigenvalues within this.
SOLVER_TOL = 1e-8


class SolverCheck:
    """Same kNN graph (``build_graph``, fixed kernel), sparse solver (ours) vs dense ``eigh``."""

    def setup(self, n, n_vec):
        self.n_vec = n_vec
        _, self.graph, _ = rectangle_graph(n)
        return self.graph

    def warmup(self, impl):
        _, small, _ = rectangle_graph(600, self.graph.bandwidth)
        self._run(small, "sparse" if impl == "ours" else "dense", n_vec=50)

    def _run(self, graph, solver, n_vec=None):
        from conformap.diffusion import diffusion_eigenpairs

        t0 = time.perf_counter()
        _, _, info = diffusion_eigenpairs(graph, (n_vec or self.n_vec) + 1, eigen_solver=solver,
                                          rng=0)
        return {"eigenvalues": info["mu"]}, {"eigenvectors": time.perf_counter() - t0}

    def ours(self, graph):
        return self._run(graph, "sparse")

    def dense(self, graph):
        return self._run(graph, "dense")


def solver_check(ours, dense) -> dict:
    from ._harness import check_result

    diff = float(np.abs(ours - dense).max())
    return check_result(diff <= SOLVER_TOL,
                        f"same operator: all eigenvalues within {SOLVER_TOL:g} of dense eigh",
                        max_abs_eigenvalue_diff=diff)
