"""Exploratory kernel experiments behind docs/product-manifold/diagnosis.md (one seed).

Dense Gaussian kernel on image features with a bandwidth multiple, an optional zeroed
diagonal and an optional subtraction of the noise offset from the squared distances, then
the alpha = 1 Markov eigenvectors and factorize_spectrum. Usage:

    DEG=0.05 python docs/product-manifold/explore_kernel.py 2000 1 raw:1:0:0,rpca:1:0:0 0 [v]

MODE = FEATURES:BANDWIDTH_MULTIPLE:ZERO_DIAGONAL:SUBTRACT_OFFSET with FEATURES one of raw,
pca4 (standardised), rpca (PCA above the Marchenko-Pastur edge) or rpcaK; a fifth argument
prints, per eigenvector, its R^2 on each factor, R^2_all, lambda_k / lambda_1 and the best pair
of Algorithm 1 with its similarity.
"""
import sys, time, json, warnings, numpy as np, scipy.sparse.linalg as sla
from conformap.datasets import make_product_cryoem, pca_standardize
from conformap.product import factorize_spectrum
from conformap.product._spectrum import LaplacianSpectrum
from conformap.evaluate import factor_assignment
from conformap.distances import pairwise_distances
from conformap.bandwidth import select_bandwidth
warnings.simplefilter("ignore"); import os; DEG=float(os.environ.get("DEG","0"))
def spectrum(F, mult, zero_diag, N=50, shift=False):
    d2=pairwise_distances(F,metric="l2")**2
    if shift:
        dd=d2.copy(); np.fill_diagonal(dd,np.inf); off=np.median(dd.min(1))  # crude noise offset
        d2=np.maximum(d2-off,0)
    d=np.sqrt(d2); s=select_bandwidth(d,rule="mst")*mult
    K=np.exp(-d2/(2*s*s))
    if zero_diag: np.fill_diagonal(K,0)
    q=K.sum(1); K=K/q[:,None]/q[None,:]; deg=K.sum(1); A=K/np.sqrt(deg)[:,None]/np.sqrt(deg)[None,:]
    mu,v=sla.eigsh(A,k=N+1,which="LA",v0=np.random.default_rng(0).uniform(-1,1,len(A)))
    o=np.argsort(mu)[::-1]; mu=mu[o]; v=v[:,o]; psi=v/v[:,[0]]; mu[0]=1
    lam=-2*np.log(np.clip(mu,1e-300,1))/s**2; lam[0]=0; lam=np.maximum.accumulate(lam)
    return LaplacianSpectrum(psi,lam,mu,s,"dense")
def score(res, t):
    ev=factor_assignment(res.factors,res.eigenvectors,t)
    ca=(ev.predicted!=-1)&ev.confident
    per=[int(((ev.true_label==f)&ca&ev.correct).sum()) for f in range(2)]
    return dict(acc=ev.accuracy, cacc=ev.confident_accuracy, per=per, nass=ev.n_assigned, factors=[f.tolist() for f in res.factors])
n=int(sys.argv[1]); snr=float(sys.argv[2]); modes=sys.argv[3].split(","); seed=int(sys.argv[4])
X,t=make_product_cryoem(n, snr=snr, rng=seed)
for mode in modes:
    fm,mult,zd,sh=mode.split(":"); F=X.reshape(n,-1).astype(np.float64)
    if fm.startswith("pca"): F=pca_standardize(F,int(fm[3:]))
    if fm.startswith("rpca"):
        Fc=F-F.mean(0); G=Fc@Fc.T/n; w,v=np.linalg.eigh(G); w=w[::-1]; v=v[:,::-1]
        m=min(n,Fc.shape[1]); beta=min(n,Fc.shape[1])/max(n,Fc.shape[1])
        bulk=w[:m]; med=np.median(bulk)
        # MP median for ratio beta approx via simulation-free: use scipy
        from scipy import integrate
        lo,hi=(1-np.sqrt(beta))**2,(1+np.sqrt(beta))**2
        dens=lambda x: np.sqrt((hi-x)*(x-lo))/(2*np.pi*beta*x)
        xs=np.linspace(lo,hi,20001); c=np.cumsum(dens(xs)); c/=c[-1]; mpmed=xs[np.searchsorted(c,0.5)]
        scale=med/mpmed; edge=scale*hi
        k=int((w>edge).sum()) if fm=="rpca" else int(fm[4:])
        F=v[:,:k]*np.sqrt(np.maximum(w[:k],0)*n); print("k",k, "edge", edge)

    t0=time.time(); spec=spectrum(F,float(mult),zd=="1",shift=sh=="1")
    ev=factor_assignment([],spec.eigenvectors,t)
    try: s=score(factorize_spectrum(spec,rng=seed,degeneracy=DEG),t)
    except ValueError as e: s={"err":str(e)[:50]}
    print(json.dumps(dict(snr=snr,mode=mode,sig=round(spec.bandwidth,2),t=round(time.time()-t0,1),r2all10=round(float(np.mean(ev.r2_all[:20])),2),lamr=round(float(spec.eigenvalues[20]/spec.eigenvalues[1]),1),**s)),flush=True)
if len(sys.argv)>5:
    from conformap.product import find_triplets
    ev=factor_assignment([],spec.eigenvectors,t)
    lam=spec.eigenvalues
    fs=find_triplets(spec.eigenvectors[:,1:],lam[1:],delta=0.5*lam[1]+0.05*lam[1:],gamma=0.75)
    for c in range(25):
        bp=fs.best_pair[c]+1
        print(c+1, np.round(ev.r2[c],2), round(float(ev.r2_all[c]),2), round(float(lam[c+1]/lam[1]),2), bp, round(float(fs.best_score[c]),2))
