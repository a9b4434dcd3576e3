"""Issue 12 check: one image spectrum (n, SNR from argv, seed 0), factorized with several `degeneracy` values."""
import numpy as np, warnings, json, sys
from conformap.datasets import make_product_cryoem
from conformap.product import laplacian_spectrum, factorize_spectrum, pca_denoise, degenerate_groups
from conformap.evaluate import factor_assignment
warnings.simplefilter("ignore")
n=int(sys.argv[1]); snr=float(sys.argv[2])
X,t=make_product_cryoem(n, snr=snr, rng=0)
gen=np.random.default_rng(0)
d=pca_denoise(X, rng=gen)
spec=laplacian_spectrum(d.scores, n_eigenvectors=50, bandwidth="mst", rng=gen)
lam=spec.eigenvalues; print(np.round(lam[1:16]/lam[1],2).tolist())
print(degenerate_groups(lam[1:16],0.05).tolist())
ev=factor_assignment([],spec.eigenvectors,t); print([int(ev.true_label[i]) for i in range(15)])
for deg in (0,0.02,0.03,0.05):
    res=factorize_spectrum(spec,rng=0,degeneracy=deg); ev=factor_assignment(res.factors,res.eigenvectors,t)
    ca=(ev.predicted!=-1)&ev.confident; per=[int(((ev.true_label==f)&ca&ev.correct).sum()) for f in range(2)]
    print(deg, [f.tolist() for f in res.factors], ev.confident_accuracy, per, [np.round(c,2).tolist() for c in res.confidence])
