"""``ProductManifoldFactorizer``: the scikit-learn estimator around :func:`factorize`."""

from __future__ import annotations

from sklearn.base import BaseEstimator

from .._validation import check_int, validate_items
from ._factorize import (
    DEFAULT_CLEAN_PRODUCTS,
    DEFAULT_DEGENERACY,
    DEFAULT_GAMMA,
    DEFAULT_HARMONICS,
    DEFAULT_PURITY,
    factorize,
)
from ._unmix import DEFAULT_UNMIX

__all__ = ["ProductManifoldFactorizer"]


class ProductManifoldFactorizer(BaseEstimator):
    """Scikit-learn-style estimator around :func:`factorize`.

    Parameters
    ----------
    n_eigenvectors, n_factors, delta, gamma, bandwidth, metric, hierarchical, n_rounds,
    preprocess, degeneracy, purity, unmix, harmonics, clean_products
        As in :func:`factorize`.
    n_components : int, default 2
        Leading eigenvectors per factor in ``embeddings_``.
    random_state : int or Generator, optional

    Attributes
    ----------
    factors_ : list of ndarray of int
        Eigenvector columns of each factor.
    products_ : ndarray of int
    triplets_ : ndarray of int, shape (t, 3)
    scores_ : ndarray, shape (t,)
    separability_ : ndarray, shape (N + 1, N + 1)
    eigenvectors_ : ndarray, shape (n, N + 1)
    eigenvalues_ : ndarray, shape (N + 1,)
    embeddings_ : list of ndarray, each shape (n, <= n_components)
        Per-factor diffusion coordinates.
    bandwidth_, delta_ : float
    n_features_in_ : int
        Values per point (or training items for metric="precomputed").
    item_shape_ : tuple of int
    confidence_ : list of ndarray
        Confidence in [0, 1] of every assignment, aligned with ``factors_``.
    n_factors_ : int
        Number of factors found.
    result_ : FactorizationResult
    """

    def __init__(self, n_eigenvectors: int = 100, *, n_factors="auto", delta="auto",
                 gamma: float = DEFAULT_GAMMA, bandwidth="auto", metric: str = "l2",
                 hierarchical: bool = False, n_rounds: int = 1000, n_components: int = 2,
                 preprocess="auto", degeneracy: float = DEFAULT_DEGENERACY,
                 purity: float = DEFAULT_PURITY, unmix: float = DEFAULT_UNMIX,
                 harmonics: bool = DEFAULT_HARMONICS,
                 clean_products: bool = DEFAULT_CLEAN_PRODUCTS, random_state=None):
        self.n_eigenvectors = n_eigenvectors
        self.n_factors = n_factors
        self.delta = delta
        self.gamma = gamma
        self.bandwidth = bandwidth
        self.metric = metric
        self.hierarchical = hierarchical
        self.n_rounds = n_rounds
        self.n_components = n_components
        self.preprocess = preprocess
        self.degeneracy = degeneracy
        self.purity = purity
        self.unmix = unmix
        self.harmonics = harmonics
        self.clean_products = clean_products
        self.random_state = random_state

    def __sklearn_tags__(self):
        """Dense points (or a dense/sparse distance matrix with metric="precomputed")."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = self.metric == "precomputed"
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags

    def fit(self, X, y=None):
        """Compute the factorization of ``X``; returns ``self``."""
        n_comp = check_int(self.n_components, "n_components", low=1)
        # A constant and two non-trivial eigenvectors need three points.
        X = validate_items(self, X, reset=True, min_samples=3,
                           precomputed=self.metric == "precomputed",
                           needs="a constant and two non-trivial eigenvectors")
        res = factorize(X, n_eigenvectors=self.n_eigenvectors, n_factors=self.n_factors,
                        delta=self.delta, gamma=self.gamma, bandwidth=self.bandwidth,
                        metric=self.metric, hierarchical=self.hierarchical,
                        n_rounds=self.n_rounds, preprocess=self.preprocess,
                        degeneracy=self.degeneracy, purity=self.purity, unmix=self.unmix,
                        harmonics=self.harmonics, clean_products=self.clean_products,
                        rng=self.random_state)
        self.result_ = res
        self.factors_ = res.factors
        self.products_ = res.products
        self.triplets_ = res.triplets
        self.scores_ = res.scores
        self.separability_ = res.separability
        self.eigenvectors_ = res.eigenvectors
        self.eigenvalues_ = res.eigenvalues
        self.bandwidth_ = res.bandwidth
        self.delta_ = res.delta
        self.confidence_ = res.confidence
        self.n_factors_ = res.n_factors
        self.embeddings_ = [res.embedding(f, n_comp) for f in range(len(res.factors))]
        return self

    def fit_transform(self, X, y=None) -> list:
        """Fit and return the per-factor embeddings."""
        return self.fit(X).embeddings_
