"""pca_denoise: noise level and number of components against known truth (white noise, rank)."""

import numpy as np
import pytest

from conformap.product import pca_denoise


def test_noise_variance_of_white_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 0.7, (800, 300))
    den = pca_denoise(X, rng=0)
    assert den.noise_variance == pytest.approx(0.49, rel=0.05)
    assert den.n_components == 2  # nothing above the Marchenko-Pastur edge: the minimum kept


@pytest.mark.parametrize(("n", "d"), [(600, 200), (300, 900)])  # both aspect ratios
def test_low_rank_signal_keeps_its_rank(n, d):
    rng = np.random.default_rng(1)
    rank = 5
    signal = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d)) * 0.5
    X = signal + rng.normal(0.0, 1.0, (n, d))
    den = pca_denoise(X, rng=0)
    assert den.n_components == rank
    assert den.noise_variance == pytest.approx(1.0, rel=0.1)
    assert den.scores.shape == (n, rank)
    # the kept scores span the signal's row space: the signal is nearly explained by them
    centred = signal - signal.mean(axis=0)
    coef, *_ = np.linalg.lstsq(den.scores, centred, rcond=None)
    assert 1 - ((centred - den.scores @ coef) ** 2).sum() / (centred**2).sum() > 0.95


def test_fixed_components_and_determinism():
    X = np.random.default_rng(2).normal(size=(200, 150))
    a, b = pca_denoise(X, 7, rng=3), pca_denoise(X, 7, rng=3)
    assert a.n_components == 7
    np.testing.assert_array_equal(a.scores, b.scores)
    with pytest.raises(ValueError, match="n_components"):
        pca_denoise(X, 0)
