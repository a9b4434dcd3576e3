"""WEMD: against the published per-volume algorithm, exact EMD (POT), and the paper's Fig. 1/3."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import scipy.stats

from conformap import NegativeDensityWarning, emd_distances, pairwise_distances
from conformap.datasets import rotate_map, rotor_density
from conformap.wemd import (
    default_level,
    wemd_bands,
    wemd_distances,
    wemd_embedding,
    wemd_size,
)


def published_wemd_vector(vol, level, wavelet="coif3"):
    """The paper's code, restated: one wavedecn per volume, finest level weight 1."""
    p = vol / vol.sum()
    coeffs = pywt.wavedecn(p, wavelet, mode="zero", level=level)[1:]
    d = vol.ndim
    parts = []
    for j in range(len(coeffs)):
        for key in coeffs[-1 - j]:
            parts.append(np.ravel(coeffs[-1 - j][key]) * 2 ** (j * (1 + d / 2)))
    return np.concatenate(parts)


def blob(shape, centre, sigma=1.5):
    grids = np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij")
    r2 = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return np.exp(-r2 / (2 * sigma**2))


@pytest.mark.filterwarnings("ignore:Level value of:UserWarning")
@pytest.mark.parametrize("shape", [(64,), (24, 20), (12, 16, 10)])
def test_matches_published_distances(shape):
    rng = np.random.default_rng(0)
    x = rng.random((6, *shape)) ** 3
    level = default_level(shape)
    ref = np.array([published_wemd_vector(v, level) for v in x])
    ours = wemd_embedding(x)
    assert ours.shape == (6, wemd_size(shape))
    d_ref = scipy.spatial.distance.cdist(ref, ref, "cityblock")
    np.testing.assert_allclose(pairwise_distances(ours), d_ref, rtol=1e-10, atol=1e-12)


def test_float32_close_to_float64_and_chunking_irrelevant():
    x = rotor_density([0.0, 40.0, 200.0], shape=(16, 24, 16), dtype=np.float64)
    e64 = wemd_embedding(x)
    e32 = wemd_embedding(x.astype(np.float32))
    assert e32.dtype == np.float32
    d64, d32 = pairwise_distances(e64), pairwise_distances(e32)
    np.testing.assert_allclose(d32, d64, rtol=1e-5)
    np.testing.assert_array_equal(wemd_embedding(x, chunk_size=1), e64)


def test_size_helper_matches_the_paper_rotor_without_computing():
    assert default_level((47, 104, 47)) == 7
    assert wemd_size((47, 104, 47), level=5) == 747_229
    assert wemd_size((47, 104, 47)) == 818_034
    bands = wemd_bands((47, 104, 47), level=5)
    assert len(bands) == 5 * 7
    assert bands[0].level == 5 and bands[-1].level == 1
    assert bands[-1].weight == 1.0 and bands[0].weight == 2.0 ** (4 * 2.5)


def test_bounded_ratio_and_rank_agreement_with_exact_emd():
    rng = np.random.default_rng(1)
    imgs = rng.random((16, 12, 12)) ** 4
    w = pairwise_distances(wemd_embedding(imgs))
    e = emd_distances(imgs)
    iu = np.triu_indices(len(imgs), 1)
    ratio = w[iu] / e[iu]
    assert ratio.max() / ratio.min() < 3.0  # strongly equivalent metrics
    assert scipy.stats.spearmanr(w[iu], e[iu]).statistic > 0.7


def test_grows_with_translation_while_l2_saturates():
    # Paper Fig. 1: a blob translated by s; WEMD keeps growing, L2 is flat once supports part.
    # (With level=5 instead of the default 7, WEMD would saturate beyond ~16 voxels.)
    shape = (48, 48)
    shifts = np.arange(0, 25, 2)
    imgs = np.array([blob(shape, (12 + s, 24)) for s in shifts])
    w = pairwise_distances(wemd_embedding(imgs))[0]
    l2 = pairwise_distances(imgs, metric="l2")[0]
    assert np.all(np.diff(w) > 0)
    # L2 saturates: the last half of the shifts change it by < 1 %.
    tail = l2[len(l2) // 2 :]
    assert tail.max() / tail.min() < 1.01
    assert scipy.stats.spearmanr(w, shifts).statistic == pytest.approx(1.0)


def _first_drop(values):
    steps = np.diff(values) <= 0
    return int(np.argmax(steps)) if steps.any() else len(steps)


def _monotone_fraction(values):
    return float(np.mean(np.diff(values) > 0))


def test_rotor_wemd_is_monotone_in_angle_over_most_of_the_range():
    angles = np.arange(0, 181, 10.0)
    maps = rotor_density(angles, shape=(28, 48, 28))
    w = pairwise_distances(wemd_embedding(maps)[:1], wemd_embedding(maps))[0]
    l2 = pairwise_distances(maps[:1], maps, metric="l2")[0]
    # WEMD grows from 0 to at least 120 degrees (the rotor's ten-fold c-ring makes the
    # exact EMD itself flatten near 144 = 4 x 36 degrees); L2 stops growing much earlier.
    assert angles[_first_drop(w)] >= 120
    assert angles[_first_drop(l2)] < angles[_first_drop(w)]
    assert _monotone_fraction(w) > _monotone_fraction(l2)


@pytest.mark.slow
def test_real_rotor_fig3(real_rotor_map):
    # Paper Fig. 3 on the paper's own map: WEMD monotone almost everywhere, L2 only to ~20 deg.
    angles = np.arange(0, 181, 10.0)
    maps, _ = rotate_map(real_rotor_map, angles=angles)
    e = wemd_embedding(maps)
    w = pairwise_distances(e[:1], e)[0]
    l2 = pairwise_distances(maps[:1], maps, metric="l2")[0]
    assert _monotone_fraction(w) >= 0.9
    assert angles[_first_drop(l2)] <= 30  # L2 stops growing early
    assert _monotone_fraction(l2) < _monotone_fraction(w)


def test_negative_voxels_policy():
    rng = np.random.default_rng(2)
    x = blob((32,), (10,))[None] + 0.05 * rng.standard_normal((3, 32))
    with pytest.warns(NegativeDensityWarning, match="negative voxels"):
        default = wemd_embedding(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = wemd_embedding(x, negative="keep")
    np.testing.assert_array_equal(default, kept)
    np.testing.assert_allclose(wemd_embedding(x, negative="clip"), wemd_embedding(np.maximum(x, 0)))
    with pytest.raises(ValueError, match=r"item 0 has negative values"):
        wemd_embedding(x, negative="error")
    with pytest.raises(ValueError, match="negative"):
        wemd_embedding(x, negative="absolute")


def test_mass_normalisation():
    x = np.abs(np.random.default_rng(3).standard_normal((2, 20, 20)))
    np.testing.assert_allclose(wemd_embedding(x * 7.5), wemd_embedding(x), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((3, 16)), "item 0 is all zero"),
        (np.array([[1.0] * 16, [np.nan] + [1.0] * 15]), "item 1 contains NaN"),
        (np.array([[1.0] * 16, [np.inf] * 16]), "item 1 contains NaN or infinite"),
        (np.array([[1.0] * 16, [-1.0] * 16]), "item 1 has non-positive total mass"),
        (np.ones(16), "shape \\(n, \\*shape\\)"),
        (np.ones((2, 4, 4, 4, 4)), "1-D/2-D/3-D"),
    ],
)
def test_bad_input_names_the_item(bad, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDensityWarning)
        with pytest.raises(ValueError, match=match):
            wemd_embedding(bad)


def test_bad_parameters():
    x = np.ones((2, 16))
    with pytest.raises(ValueError, match="wavelet: 'nope'"):
        wemd_embedding(x, wavelet="nope")
    with pytest.raises(ValueError, match="not orthogonal"):
        wemd_embedding(x, wavelet="bior2.2")
    with pytest.raises(ValueError, match="level: 0"):
        wemd_embedding(x, level=0)
    with pytest.raises(ValueError, match="dtype"):
        wemd_embedding(x, dtype=np.int32)


def _padded_blobs(n, shape, rng):
    """Smooth blobs well inside a larger box: much of the wavelet vector is exactly zero."""
    gen = np.random.default_rng(rng)
    inner = [s // 2 for s in shape]
    x = np.zeros((n, *shape))
    for i in range(n):
        centre = [s // 4 + gen.uniform(0.3, 0.7) * h for s, h in zip(shape, inner, strict=True)]
        x[i] = blob(shape, centre, sigma=2.0) * (np.indices(shape)[0] < shape[0] // 2 + 4)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_support_columns_are_exact(dtype):
    x = _padded_blobs(5, (40, 36, 24), rng=1).astype(dtype)
    full = wemd_embedding(x, level=4)
    sup, cols = wemd_embedding(x, level=4, columns="support", return_columns=True)
    assert cols.dtype == np.int64 and np.all(np.diff(cols) > 0) and sup.shape == (5, cols.size)
    assert cols.size < 0.9 * full.shape[1]
    np.testing.assert_array_equal(sup, full[:, cols])  # same numbers, bit for bit
    rest = np.ones(full.shape[1], dtype=bool)
    rest[cols] = False
    assert not full[:, rest].any()  # everything left out is zero for every item
    np.testing.assert_array_equal(pairwise_distances(sup), pairwise_distances(full))
    np.testing.assert_array_equal(wemd_embedding(x, level=4, columns="support", chunk_size=2),
                                  sup)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resolved_columns_stay_within_the_rounding_bound(dtype):
    x = rotor_density(np.linspace(0, 350, 12), shape=(20, 32, 20), dtype=np.float64)
    ref = wemd_embedding(x, level=5)  # float64 reference
    emb, cols = wemd_embedding(x.astype(dtype), level=5, columns="resolved",
                               return_columns=True)
    assert emb.dtype == dtype and emb.flags.c_contiguous and emb.flags.owndata
    u = np.finfo(dtype).eps / 2
    l1 = np.abs(ref).sum(axis=1)
    bound = 2 * u * (l1[:, None] + l1[None, :]) + 2**8 * u * pairwise_distances(ref)
    err = np.abs(pairwise_distances(emb) - pairwise_distances(ref))
    assert np.all(err <= bound + 1e-300)
    if dtype == np.float32:  # smooth maps: many coefficients below float32 resolution
        assert cols.size < 0.8 * wemd_size((20, 32, 20), level=5)
    # what was dropped is tiny in every item, not just on average
    dropped = np.ones(ref.shape[1], dtype=bool)
    dropped[cols] = False
    assert np.all(np.abs(ref[:, dropped]).sum(axis=1) <= u * l1.min() * (1 + 1e-9))


def test_resolved_never_drops_a_resolvable_column():
    """Noise: every column with a coefficient above the budget is kept, whatever the rest."""
    rng = np.random.default_rng(3)
    x = (rng.random((6, 24, 24)) + 0.5).astype(np.float32)
    full = wemd_embedding(x.astype(np.float64))
    res, cols = wemd_embedding(x, columns="resolved", return_columns=True)
    budget = 2.0**-24 * np.abs(full).sum(axis=1).min()
    must_keep = np.flatnonzero(np.abs(full).max(axis=0) > budget * (1 + 1e-6))
    assert np.isin(must_keep, cols).all()
    assert res.shape[1] >= must_keep.size


def test_wemd_distances_is_the_l1_of_the_embedding():
    x = _padded_blobs(7, (32, 28), rng=2)
    d = wemd_distances(x, columns="support")
    np.testing.assert_array_equal(d, pairwise_distances(wemd_embedding(x)))
    d_res = wemd_distances(x.astype(np.float32))
    assert d_res.shape == (7, 7) and np.array_equal(d_res, d_res.T) and not np.diag(d_res).any()
    np.testing.assert_allclose(d_res, d, rtol=1e-5)
    with pytest.raises(ValueError, match="columns: 'some' is not supported"):
        wemd_embedding(x, columns="some")
