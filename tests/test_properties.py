"""Property-based tests (hypothesis): WEMD metric invariants and refusal of bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conformap import DiffusionMap, diffusion_map, pairwise_distances, wemd_embedding
from conformap.io import InputError, read_stack, write_mrc
from conformap.structures import SIGMA_FACTOR

PROPS = settings(max_examples=25, deadline=None, derandomize=True,  # same examples every run (CI)
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def wemd(*items, **kw) -> np.ndarray:
    """WEMD matrix of the given densities."""
    e = wemd_embedding(np.stack(items).astype(np.float64), negative="keep", **kw)
    return pairwise_distances(e, metric="l1")


shapes = st.sampled_from([(16,), (24,), (8, 8), (8, 12), (4, 4, 8)])


@st.composite
def density_sets(draw, k=3):
    shape = draw(shapes)
    elems = st.floats(0.0, 1.0, allow_nan=False, width=64)
    items = [draw(arrays(np.float64, shape, elements=elems)) for _ in range(k)]
    # Every item needs positive mass: give each one a guaranteed positive voxel.
    for i, x in enumerate(items):
        x.flat[draw(st.integers(0, x.size - 1))] += 0.5 + i
    return items


@PROPS
@given(density_sets(k=3))
def test_wemd_is_a_symmetric_metric(items):
    x, y, z = items
    d = wemd(x, y, z)
    assert (d == d.T).all()
    assert (np.diag(d) == 0).all()
    assert (d >= 0).all()
    # Order of the inputs does not matter.
    np.testing.assert_allclose(wemd(y, x)[0, 1], d[0, 1], rtol=1e-12)
    # Triangle inequality for every triple.
    for i, j, k in [(0, 2, 1), (0, 1, 2), (1, 2, 0)]:
        assert d[i, j] <= d[i, k] + d[k, j] + 1e-12 * d.max()


@PROPS
@given(density_sets(k=1))
def test_wemd_is_zero_on_identical_inputs(items):
    (x,) = items
    d = wemd(x, x.copy(), x)
    assert np.abs(d).max() <= 1e-12


@PROPS
@given(density_sets(k=2), st.floats(1e-3, 1e3))
def test_wemd_is_invariant_to_scaling_the_mass(items, c):
    x, y = items
    d = wemd(x, c * x, y, c * y)
    # Densities are normalised to unit mass, so distances are O(1) in voxel units.
    assert d[0, 1] <= 1e-9
    assert d[2, 3] <= 1e-9
    np.testing.assert_allclose(d[1, 3], d[0, 2], rtol=1e-9, atol=1e-9)


def bump(shape, centre, sigma):
    grids = np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij")
    r2 = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return np.exp(-r2 / (2 * sigma**2))


@PROPS
@given(st.floats(6.0, 14.0), st.floats(0.8, 2.0), st.integers(0, 20), st.integers(1, 12))
def test_wemd_grows_with_the_size_of_a_1d_translation(p0, sigma, a, extra):
    b = a + extra  # b > a, both well inside the 64-voxel box
    x0, xa, xb = (bump((64,), (p0 + s,), sigma) for s in (0, a, b))
    d = wemd(x0, xa, xb)
    assert d[0, 2] > d[0, 1]


@PROPS
@given(st.floats(7.0, 10.0), st.floats(7.0, 10.0), st.floats(0.9, 1.8), st.integers(0, 8),
       st.integers(1, 6), st.sampled_from([(1, 0), (0, 1), (1, 1)]))
def test_wemd_grows_with_the_size_of_a_2d_translation(py, px, sigma, a, extra, direction):
    b = a + extra
    dy, dx = direction

    def at(s):
        return bump((32, 32), (py + dy * s, px + dx * s), sigma)

    d = wemd(at(0), at(a), at(b))
    assert d[0, 2] > d[0, 1]


# -- bad inputs --------------------------------------------------------------------------------

@PROPS
@given(st.integers(2, 6), st.data())
def test_nan_or_inf_names_the_item(n, data):
    x = np.random.default_rng(0).uniform(0.1, 1.0, (n, 8, 8))
    i = data.draw(st.integers(0, n - 1), label="item")
    v = data.draw(st.integers(0, 63), label="voxel")
    x[i].flat[v] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with pytest.raises(ValueError, match=rf"item {i} contains NaN or infinite values"):
        wemd_embedding(x)
    with pytest.raises(ValueError, match=rf"(item|row) {i} contains NaN or infinite"):
        DiffusionMap(1, metric="euclidean").fit(x)


@PROPS
@given(st.integers(2, 6), st.data())
def test_all_zero_or_negative_mass_names_the_item(n, data):
    x = np.random.default_rng(1).uniform(0.1, 1.0, (n, 16))
    i = data.draw(st.integers(0, n - 1), label="item")
    kind = data.draw(st.sampled_from(["zero", "negative"]))
    x[i] = 0.0 if kind == "zero" else -x[i]
    what = "is all zero" if kind == "zero" else "has non-positive total mass"
    with pytest.raises(ValueError, match=rf"item {i} {what}"):
        wemd_embedding(x, negative="keep")


@PROPS
@given(st.integers(2, 6), st.integers(0, 3))
def test_fewer_samples_than_components(n, more):
    k = n - 1 + more  # needs n >= k + 1 (the trivial eigenvector) plus the k coordinates
    d = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float)
    with pytest.raises(ValueError, match=rf"n_components: {k} needs at least"):
        diffusion_map(d, n_components=k)


@PROPS
@given(st.integers(3, 8), st.integers(3, 8), st.floats(50.0, 1e4))
def test_disconnected_graph_is_refused(n1, n2, gap):
    pts = np.concatenate([np.arange(n1), gap + np.arange(n2)]).astype(float)
    d = np.abs(np.subtract.outer(pts, pts))
    with pytest.raises(ValueError, match="falls apart into 2 disconnected pieces"):
        diffusion_map(d, n_components=1, bandwidth=1.0)


@PROPS
@given(st.integers(4, 10), st.floats(1e-6, 1e-2), st.floats(1e6, 1e9))
def test_bandwidth_making_the_kernel_trivial_is_refused(n, tiny, huge):
    pts = np.random.default_rng(n).uniform(1, 2, n).cumsum()
    d = np.abs(np.subtract.outer(pts, pts))
    with pytest.raises(ValueError, match=r"every affinity .*zero; use a larger bandwidth"):
        diffusion_map(d, n_components=1, bandwidth=tiny * d[d > 0].min())
    with pytest.raises(ValueError, match=r"every affinity .*one.*use a smaller bandwidth"):
        diffusion_map(d, n_components=1, bandwidth=huge * d.max())


@PROPS
@given(st.sampled_from([(3,), (3, 2, 2, 2, 2), (0, 4, 4)]))
def test_wrong_dimensionality_is_refused(shape):
    with pytest.raises(ValueError, match=r"expected a stack of|empty array"):
        wemd_embedding(np.ones(shape))


@PROPS
@given(cut=st.integers(0, 1024 + 4 * 8 * 8 * 8 - 1))
def test_any_truncation_of_an_mrc_file_is_named(tmp_path_factory, cut):
    d = tmp_path_factory.mktemp("trunc")
    good = np.random.default_rng(0).uniform(0.1, 1, (8, 8, 8)).astype(np.float32)
    write_mrc(d / "good.mrc", good)
    write_mrc(d / "cut.mrc", good)
    p = d / "cut.mrc"
    p.write_bytes(p.read_bytes()[:cut])
    with pytest.raises(InputError, match=r"cut\.mrc: not a readable MRC file"):
        read_stack(d)


# -- cache and structures ----------------------------------------------------------------------

@PROPS
@given(st.integers(1, 9), st.integers(256, 4096), st.sampled_from([np.float32, np.float64]))
def test_cached_coefficients_equal_direct_for_any_chunking(n, chunk_bytes, dtype):
    import tempfile

    import conformap.cache as cache_mod

    x = np.random.default_rng(n).uniform(0.1, 1.0, (n, 8, 8)).astype(dtype)
    old = cache_mod._CHUNK_BYTES
    cache_mod._CHUNK_BYTES = chunk_bytes
    try:
        with tempfile.TemporaryDirectory() as d:
            got = cache_mod.DiskCache(d).wemd_embedding(x)
            again = cache_mod.DiskCache(d).wemd_embedding(x, mmap=True)
            np.testing.assert_array_equal(again, got)
            del again
    finally:
        cache_mod._CHUNK_BYTES = old
    np.testing.assert_array_equal(got, wemd_embedding(x))


@PROPS
@given(arrays(np.float64, (4, 3), elements=st.floats(-3.0, 3.0)),
       arrays(np.float64, (4,), elements=st.floats(0.5, 20.0)),
       st.floats(3.0, 8.0), st.floats(0.6, 1.2))
def test_molmap_conserves_mass_and_centroid(coords, weights, resolution, spacing_ratio):
    from conformap.structures import Grid, molmap

    h = spacing_ratio * resolution / 3
    half = 3.0 + 3 * resolution  # atoms within +-3 Å, padding 3R as molmap
    n = int(np.ceil(2 * half / h)) + 1
    grid = Grid(shape=(n, n, n), voxel_size=h, origin=(-half, -half, -half))
    m = molmap(coords, weights, resolution=resolution, grid=grid, dtype=np.float64)
    # Sampling a Gaussian at spacing h sums to its integral up to the aliasing term of the
    # Poisson summation formula, 2 exp(-2 pi^2 sigma^2 / h^2) per axis (2.4e-4 per axis at
    # molmap's default h = R/3; larger for coarser grids), plus the 5-sigma cutoff (~1e-5).
    # The three axes multiply: (1 + alias)^3 - 1, not 3 alias (hypothesis found four atoms at
    # the origin, h = 1.2 R / 3, 1.152 % off against 3 alias = 1.151 %).
    sigma = SIGMA_FACTOR * resolution
    alias = 2 * np.exp(-2 * np.pi**2 * sigma**2 / h**2)
    np.testing.assert_allclose(m.sum() * h**3, weights.sum(),
                               rtol=(1 + alias) ** 3 - 1 + 2e-5)
    zz, yy, xx = np.indices(m.shape)
    cen = np.array([(m * xx).sum(), (m * yy).sum(), (m * zz).sum()]) / m.sum() * h - half
    # First moment: the aliasing term carries a factor 2 pi sigma^2 / h; the mass errors of
    # the atoms (each up to 3 alias, depending on its position against the grid) weight
    # their coordinates unevenly in the numerator and the denominator, so they move the
    # centroid by up to 2 x 3 alias x max |coordinate| (not |centroid|: a centroid at 0 of
    # atoms at +-1 moves too).
    want = np.average(coords, axis=0, weights=weights)
    tol = 2 * np.pi * sigma**2 / h * alias + 6 * alias * np.abs(coords).max(axis=0) + 2e-5 * h
    assert (np.abs(cen - want) <= tol).all(), (cen, want, tol)


@PROPS
@given(junk=st.binary(max_size=3000), suffix=st.sampled_from([".mrc", ".map", ".mrcs", ".npy",
                                                                ".npz"]))
def test_junk_files_give_an_input_error_naming_them(tmp_path_factory, junk, suffix):
    d = tmp_path_factory.mktemp("junk")
    p = d / f"junk{suffix}"
    p.write_bytes(junk)
    with pytest.raises(InputError, match=rf"junk\{suffix}"):
        read_stack(p)


@PROPS
@given(arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(2, 5), st.integers(2, 5)),
              elements=st.floats(-1.0, 1.0, width=32)))
def test_any_float_array_is_read_or_refused_by_name(tmp_path_factory, x):
    d = tmp_path_factory.mktemp("arr")
    np.save(d / "a.npy", x)
    flat = x.reshape(len(x), -1).astype(np.float64)
    ok = bool((flat.sum(axis=1) > 0).all())
    if ok:
        np.testing.assert_array_equal(read_stack(d / "a.npy").data, x)
    else:
        with pytest.raises(InputError, match=r"a\.npy:\d+: (the map is all zero|total mass)"):
            read_stack(d / "a.npy")
    # Signed feature arrays are accepted when they are not densities.
    np.testing.assert_array_equal(read_stack(d / "a.npy", densities=False).data, x)
