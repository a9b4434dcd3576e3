"""The compiled pairwise kernels against a float64 ``cdist`` oracle (no timings here)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from conformap._kernels import PACK_COLUMNS, PAIR_BLOCK, active_runs, pairwise_block

METRICS = {False: "cityblock", True: "sqeuclidean"}


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n", "m", "dim"),
    [(1, None, 1), (5, None, 37), (PAIR_BLOCK + 3, None, PACK_COLUMNS + 5), (2 * PAIR_BLOCK + 1, 7, 300), (3, 2 * PAIR_BLOCK, 9)],
)
def test_matches_cdist(n, m, dim, dtype, squared):
    rng = np.random.default_rng(n + dim)
    X = rng.standard_normal((n, dim)).astype(dtype)
    Y = None if m is None else rng.standard_normal((m, dim)).astype(dtype)
    got = pairwise_block(X, Y, squared=squared)
    ref = cdist(X.astype(float), (X if Y is None else Y).astype(float), METRICS[squared])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * max(ref.max(), 1e-300))
    if Y is None:
        np.testing.assert_array_equal(got, got.T)
        np.testing.assert_array_equal(np.diag(got), 0.0)


def test_constant_columns_are_skipped_exactly():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3 * PACK_COLUMNS)).astype(np.float32)
    X[:, 10:3000] = 0.0
    X[:, 4000:4001] = 7.0
    start, offset = active_runs(X)
    assert offset[-1] == X.shape[1] - 2990 - 1
    np.testing.assert_array_equal(start, [0, 3000, 4001])
    got = pairwise_block(X, None, squared=False)
    np.testing.assert_allclose(got, cdist(X.astype(float), X.astype(float), "cityblock"), rtol=1e-5)


def test_all_columns_constant():
    X = np.ones((4, 10), dtype=np.float32)
    np.testing.assert_array_equal(pairwise_block(X, None, squared=True), np.zeros((4, 4)))


def test_wemd_scale_values_keep_float32_accuracy():
    # WEMD coefficients are small and of mixed sign; near neighbours differ by ~1% of the norm.
    rng = np.random.default_rng(1)
    base = rng.standard_normal(50_000) * 1e-4
    X = (base + 1e-2 * rng.standard_normal((6, base.size)) * 1e-4).astype(np.float32)
    got = pairwise_block(X, None, squared=False)
    ref = cdist(X.astype(float), X.astype(float), "cityblock")
    off = ~np.eye(6, dtype=bool)
    assert np.max(np.abs(got - ref)[off] / ref[off]) < 1e-5


def test_csr_step_matches_scipy():
    import scipy.sparse as sp

    from conformap._kernels import csr_step

    rng = np.random.default_rng(2)
    a = sp.random(50, 50, density=0.1, format="csr", random_state=3)
    y1, y0 = rng.standard_normal((50, 7)), rng.standard_normal((50, 7))
    got = csr_step(a, y1, y0, 2.0, -0.5, -1.0)
    np.testing.assert_allclose(got, 2.0 * (a @ y1) - 0.5 * y1 - y0, rtol=1e-12, atol=1e-12)


def test_filtered_subspace_solver_matches_dense_eigh():
    # More components than ARPACK handles on the sparse path: Chebyshev-filtered iteration.
    from conformap import diffusion_map, kneighbors_distances
    from conformap.diffusion import _ARPACK_MAX

    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, (600, 2)) * [2.0, 1.0]
    knn = kneighbors_distances(X, 12, metric="l2")
    k = _ARPACK_MAX + 20
    sparse = diffusion_map(knn, n_components=k, bandwidth=0.08, eigen_solver="sparse", rng=0)
    dense = diffusion_map(knn, n_components=k, bandwidth=0.08, eigen_solver="dense")
    np.testing.assert_allclose(sparse.eigenvalues, dense.eigenvalues, atol=1e-9)
    # eigenvectors agree up to sign where eigenvalues are not (nearly) repeated
    gaps = np.minimum(np.abs(np.diff(dense.eigenvalues, prepend=2)),
                      np.abs(np.diff(dense.eigenvalues, append=-2)))
    ok = np.flatnonzero(gaps > 1e-4)
    cos = np.abs(np.sum(sparse.eigenvectors[:, ok] * dense.eigenvectors[:, ok], axis=0))
    cos /= np.linalg.norm(sparse.eigenvectors[:, ok], axis=0)
    cos /= np.linalg.norm(dense.eigenvectors[:, ok], axis=0)
    assert cos.min() > 1 - 1e-8


def test_pair_dots_matches_einsum():
    from conformap._triplet_kernels import pair_dots

    rng = np.random.default_rng(5)
    phi_t = rng.standard_normal((30, 1500))  # 1500 samples: several cache blocks, one partial
    pi, pj = rng.integers(0, 30, 90), rng.integers(0, 30, 90)
    cnt = rng.integers(0, 4, 90)  # pairs with 0..3 triplets, including none
    ptr = np.concatenate([[0], np.cumsum(cnt)])
    tk = rng.integers(0, 30, ptr[-1])
    num, norm2 = pair_dots(phi_t, pi, pj, ptr, tk)
    prod = phi_t[pi] * phi_t[pj]
    np.testing.assert_allclose(norm2, np.einsum("px,px->p", prod, prod), rtol=1e-12)
    ref = np.einsum("tx,tx->t", np.repeat(prod, cnt, axis=0), phi_t[tk])
    np.testing.assert_allclose(num, ref, rtol=1e-12, atol=1e-10)
    empty = pair_dots(phi_t, pi[:0], pj[:0], ptr[:1], tk[:0])
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


def test_pair_dots_float32_within_block_bound():
    from conformap._triplet_kernels import TRIPLET_BLOCK, pair_dots

    rng = np.random.default_rng(6)
    phi_t = rng.standard_normal((20, 3000))
    phi_t /= np.linalg.norm(phi_t, axis=1, keepdims=True)
    pi, pj = rng.integers(0, 20, 40), rng.integers(0, 20, 40)
    ptr = np.arange(41) * 2
    tk = rng.integers(0, 20, 80)
    num64, n64 = pair_dots(phi_t, pi, pj, ptr, tk)
    num32, n32 = pair_dots(phi_t.astype(np.float32), pi, pj, ptr, tk)
    assert num32.dtype == np.float64
    u = 2.0**-24
    norm = np.sqrt(n64)
    # the bounds used by find_triplets' float32 screening (relative to ||phi_i phi_j||)
    assert np.all(np.abs(num32 - num64) <= (TRIPLET_BLOCK + 4) * u * np.repeat(norm, 2))
    assert np.all(np.abs(np.sqrt(n32) - norm) <= (TRIPLET_BLOCK + 7) * u / 2 * norm)


def test_triplet_dots_and_transpose_scaled_match_numpy():
    from conformap._triplet_kernels import transpose_scaled, triplet_dots

    rng = np.random.default_rng(7)
    phi = rng.standard_normal((1001, 70))  # not a multiple of the 64 x 64 tiles
    scale = rng.uniform(0.5, 2.0, 70)
    for dtype in (np.float32, np.float64):
        t = transpose_scaled(phi, scale, dtype)
        assert t.dtype == dtype and t.flags.c_contiguous and t.shape == (70, 1001)
        np.testing.assert_array_equal(t, (phi * scale).T.astype(dtype))
    ti, tj, tk = rng.integers(0, 70, (3, 25))
    num, norm2 = triplet_dots(phi, scale, ti, tj, tk)
    f = phi * scale
    prod = f[:, ti] * f[:, tj]
    np.testing.assert_allclose(norm2, (prod**2).sum(0), rtol=1e-12)
    np.testing.assert_allclose(num, (prod * f[:, tk]).sum(0), rtol=1e-10, atol=1e-12)
    assert triplet_dots(phi, scale, ti[:0], tj[:0], tk[:0])[0].shape == (0,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_abs_stats_and_compact_rows_match_numpy(dtype):
    from conformap._kernels import abs_stats, compact_rows

    rng = np.random.default_rng(9)
    x = rng.standard_normal((7, 50)).astype(dtype)
    colmax, rowsum = abs_stats(x)
    np.testing.assert_allclose(colmax, np.abs(x).max(axis=0))
    np.testing.assert_allclose(rowsum, np.abs(x).astype(np.float64).sum(axis=1), rtol=1e-6)
    cols = np.sort(rng.choice(50, 18, replace=False))
    want = x[:, cols].copy()
    compact_rows(x, cols)
    np.testing.assert_array_equal(x.reshape(-1)[: 7 * 18].reshape(7, 18), want)
    # rows move in parallel waves: few kept columns (fast-growing waves), almost all kept
    # (rows one by one), none, the first and the last
    for k in (1, 3, 25, 49, 50):
        for sel in (np.sort(rng.choice(50, k, replace=False)), np.arange(k), np.arange(50 - k, 50)):
            x = rng.standard_normal((300, 50)).astype(dtype)
            want = x[:, sel].copy()
            compact_rows(x, sel)
            np.testing.assert_array_equal(x.reshape(-1)[: 300 * k].reshape(300, k), want)


def test_row_abs_stats_accumulates_and_matches_abs_stats():
    from conformap._kernels import abs_stats, row_abs_stats

    rng = np.random.default_rng(10)
    x = rng.standard_normal((40, 3000)).astype(np.float32)
    colmax = np.zeros(3000, np.float32)
    l1 = np.empty(40)
    for i0 in range(0, 40, 7):  # chunk by chunk, as the transform's threads do
        row_abs_stats(x[i0 : i0 + 7], colmax, l1[i0 : i0 + 7])
    want_max, want_l1 = abs_stats(x)
    np.testing.assert_array_equal(colmax, want_max)
    np.testing.assert_array_equal(l1, want_l1)  # same kernel, same rounding
    np.testing.assert_allclose(l1, np.abs(x).astype(np.float64).sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("which", ["X", "Y"])  # both read-only: the Y=None case below
def test_read_only_and_memory_mapped_inputs(tmp_path, which):
    """numba types a read-only array differently; mixing one with a writable one used to crash."""
    from conformap import pairwise_distances

    rng = np.random.default_rng(0)
    a, b = rng.random((7, 33)), rng.random((5, 33))
    want = np.abs(a[:, None] - b[None]).sum(-1)
    np.save(tmp_path / "b.npy", b)
    mm = np.load(tmp_path / "b.npy", mmap_mode="r")
    ro = a.copy()
    ro.setflags(write=False)
    X = ro if which in ("X", "both") else a
    Y = mm if which in ("Y", "both") else b
    np.testing.assert_allclose(pairwise_distances(X, Y, metric="l1"), want, rtol=1e-12)
    np.testing.assert_allclose(pairwise_distances(mm, metric="l1"),
                               np.abs(b[:, None] - b[None]).sum(-1), rtol=1e-12, atol=1e-12)


def test_thread_count_is_restored_after_a_call():
    import numba

    from conformap import kneighbors_distances, pairwise_distances
    from conformap._kernels import threads

    x = np.random.default_rng(0).random((40, 64))
    before = numba.get_num_threads()
    pairwise_distances(x, n_jobs=1)
    assert numba.get_num_threads() == before
    kneighbors_distances(x, 3, n_jobs=1)
    assert numba.get_num_threads() == before
    with threads(1) as n:
        assert n == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
