"""Sweep delta (in multiples of lambda_1) and gamma on the quick-mode data sets.

Run: ``python docs/product-manifold/sweep_defaults.py > docs/product-manifold/sweep_defaults.txt``
Each line: data set, delta / lambda_1 (or "auto" = max(0.5 lambda_1, 0.05 lambda_k)), gamma,
(accuracy, eigenvectors assigned, confident accuracy, number of bins).
Same data and seeds as ``conformap reproduce product-manifold``.
"""

import warnings

from conformap.datasets import make_box, make_product_cryoem, make_rectangle, make_torus
from conformap.evaluate import factor_assignment
from conformap.product import factorize_spectrum, laplacian_spectrum

warnings.simplefilter("ignore")  # disconnected separability graphs are expected at some settings
SETS = {
    "rect": (lambda: make_rectangle(5000, rng=0), 100, 2),
    "torus": (lambda: make_torus(4000, rng=2), 100, 2),
    "box": (lambda: make_box(6000, rng=3), 100, 3),
    "cryo_lo": (lambda: make_product_cryoem(3000, snr=1.0, pca_components=4, rng=1), 50, 2),
    "cryo_hi": (lambda: make_product_cryoem(3000, snr=0.1, pca_components=4, rng=1), 50, 2),
}

for name, (make, n_vec, n_factors) in SETS.items():
    X, truth = make()
    spec = laplacian_spectrum(X, n_eigenvectors=n_vec, bandwidth="mst", rng=0)
    for dm in ("auto", 0.5, 1.0, 1.5, 2.0):
        for gamma in (0.75, 0.8, 0.85):
            delta = dm if dm == "auto" else dm * spec.eigenvalues[1]
            try:
                res = factorize_spectrum(spec, n_factors=n_factors, delta=delta, gamma=gamma,
                                         rng=0)
            except ValueError:
                print(name, dm, gamma, ("no triplet",), flush=True)
                continue
            ev = factor_assignment(res.factors, res.eigenvectors, truth)
            print(name, dm, gamma, (round(ev.accuracy, 2), ev.n_assigned,
                                    round(ev.confident_accuracy, 2), len(res.factors)),
                  flush=True)
