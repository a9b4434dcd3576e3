# Sweep of delta (multiples of lambda_1) and gamma on the quick-mode data sets.
# Run: python docs/product-manifold/sweep_defaults.py > docs/product-manifold/sweep_defaults.txt
# Columns: data set, delta / lambda_1, gamma, (accuracy, assigned, confident accuracy, bins)
import warnings, numpy as np, json
from conformap.datasets import make_rectangle, make_torus, make_box, make_product_cryoem
from conformap.product import laplacian_spectrum, factorize_spectrum
from conformap.evaluate import factor_assignment
warnings.simplefilter("ignore")
sets = {
 'rect': (make_rectangle(5000, rng=0), 100, 2),
 'torus': (make_torus(4000, rng=2), 100, 2),
 'box': (make_box(6000, rng=3), 100, 3),
 'cryo_lo': (make_product_cryoem(3000, snr=1.0, pca_components=4, rng=1), 50, 2),
 'cryo_hi': (make_product_cryoem(3000, snr=0.1, pca_components=4, rng=1), 50, 2),
}
out = {}
for name, ((X, tr), N, k) in sets.items():
    sp_ = laplacian_spectrum(X, n_eigenvectors=N, bandwidth='mst', rng=0)
    for dm in (0.5, 1.0, 1.5, 2.0):
        for g in (0.75, 0.8, 0.85):
            try:
                r = factorize_spectrum(sp_, n_factors=k, delta=dm*sp_.eigenvalues[1], gamma=g, rng=0)
                ev = factor_assignment(r.factors, r.eigenvectors, tr)
                res = (round(ev.accuracy,2), ev.n_assigned, round(ev.confident_accuracy,2), len(r.factors))
            except ValueError as e:
                res = ('err',)
            print(name, dm, g, res, flush=True)
