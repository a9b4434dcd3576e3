"""What the noise does to the kernel of noisy particle images (docs/large-n/TRUNCATION.md).

One data set per call: ``make_particles`` images (``--data procedural``: the procedural rotor,
64 x 64, as ``benchmarks.truncation_sweep``; ``--data rotor``: the real map, 47 x 47, as
``benchmarks.noisy_images``), WEMD features as the library prepares them (PCA denoising
"auto"), and all ``n x n`` distances (n <= 5,000: 200 MB), so that the complete kernel is at
hand. Sections (each appends JSON lines to ``--out``):

* ``floor``: the WEMD distance between two noisy copies of one image after the projection
  (Monte Carlo over 500 images: the projected noise ``V z``, ``z ~ N(0, sigma^2 I_r)``, added
  twice to the denoised image), against the graph's neighbour distances (quantiles of the
  1st, 16th and 48th neighbour) and the Levina-Bickel estimates at each ``k``;
* ``ksum``: the slope ``d log S / d log sigma`` of the mean fixed-bandwidth kernel
  ``S(sigma)`` over 2,000,000 random pairs (the growth that reads the dimension, Coifman et al.
  2008; ``bandwidth="kernel-sum"``) on a grid of ``sigma`` in units of the median distance to
  the 16th neighbour: inside the noise it reads the noise's dimension, above it the manifold's;
* ``sweep``: the kNN graph at each ``k`` (exact neighbours, no bridges) and the complete dense
  kernel, each with ``m`` as estimated and forced to ``--ms``; dropped mass exact on 256 rows;
* ``norms``: other normalisations of the same kNN graphs: the kernel's unit diagonal zeroed,
  and the degrees ``q`` of the complete kernel (all ``n`` columns) in place of the stored
  ones; and fixed-bandwidth complete kernels (zero diagonal) with the standard ``alpha = 1``
  normalisation, the doubly stochastic (Sinkhorn) scaling of Landa, Coifman & Kluger (2021),
  and ``alpha = 1`` on the Sinkhorn degrees (``K d^2 d^2``, then row-normalised).

    python -m benchmarks.noisy_kernel --data procedural --n 5000 --snr 0.5 --seed 0 \\
        --ks 48,100,200 --complete --out docs/large-n/truncation/noisy-kernel.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from benchmarks.bench_density import score
from benchmarks.noisy_images import ROTOR_MAP

STATE: dict = {}


def load(kind, n, snr, seed):
    from conformap.datasets import make_particles
    from conformap.distances import pairwise_distances
    from conformap.features import prepare_features

    if kind == "procedural":
        X, th = make_particles(n, size=64, snr=snr, rng=seed)
    else:
        X, th = make_particles(n, size=47, snr=snr, map=ROTOR_MAP, rng=seed)
    fs = prepare_features(X, "wemd", denoise="auto")
    D = pairwise_distances(fs.features, metric=fs.lp)
    return X, th, fs, np.asarray(D, dtype=np.float64)


def noise_floor(X, fs, m=500, seed=0):
    """WEMD distances between two noisy copies of ``m`` denoised images (see module doc)."""
    from conformap.wemd import wemd_embedding

    dn = fs.denoiser
    V = dn.components
    rng = np.random.default_rng(seed)
    base = X[:m].reshape(m, -1).astype(np.float64)
    proj = dn.mean + (base - dn.mean) @ V @ V.T
    copies = [(proj + (rng.standard_normal((m, dn.rank)) * np.sqrt(dn.noise_variance)) @ V.T)
              .reshape((m,) + tuple(dn.item_shape)) for _ in range(2)]
    f = [np.asarray(wemd_embedding(c, negative="keep")) for c in copies]
    if fs.columns is not None:
        f = [x[:, fs.columns] for x in f]
    return np.abs(f[0] - f[1]).sum(axis=1)


def patched_operator(graph, alpha=1.0):
    """``conformap.diffusion.normalized_operator`` with the variants of ``STATE``."""
    k = sp.csr_matrix(graph.kernel)
    if STATE.get("zero_diagonal"):
        k = k - sp.eye(k.shape[0], format="csr")
        k.eliminate_zeros()
    q = STATE["q"] if STATE.get("q") is not None else np.asarray(k.sum(axis=1)).ravel()
    rho = graph.scales
    u = q ** -alpha
    if graph.adaptive:
        m = graph.dimension
        u = u * (rho / np.median(rho)) ** (alpha * m - (m + 2) / 2.0)
    du = sp.diags(u)
    w = sp.csr_matrix(du @ k @ du)
    w = (w + w.T) * 0.5
    deg = np.asarray(w.sum(axis=1)).ravel()
    return w, q, u, deg, deg * rho ** 2


def complete_degrees(D, scales, zero_diagonal):
    n = D.shape[0]
    q = np.empty(n)
    for a in range(0, n, 500):
        b = min(n, a + 500)
        K = np.exp(-D[a:b] ** 2 / (2 * scales[a:b, None] * scales[None, :]))
        if zero_diagonal:
            K[np.arange(b - a), np.arange(a, b)] = 0.0
        q[a:b] = K.sum(axis=1)
    return q


def fixed_kernel_rows(D, th, sigma):
    """Complete fixed-bandwidth kernel, zero diagonal: three normalisations (module doc)."""
    import scipy.sparse.linalg as sla

    n = D.shape[0]

    def coords(A, markov):
        mu, v = sla.eigsh(A, k=3, which="LA", v0=np.random.default_rng(0).uniform(-1, 1, n),
                          tol=1e-8)
        v = v[:, np.argsort(mu)[::-1]]
        return (v / v[:, :1] if markov else v)[:, 1:3]

    K = np.exp(-D ** 2 / (2 * sigma ** 2))
    np.fill_diagonal(K, 0.0)
    d = np.ones(n)
    for _ in range(300):  # symmetric Sinkhorn: d_i (K d)_i = 1
        d = np.sqrt(d / (K @ d))
    out = {"sinkhorn_residual": float(np.abs(d * (K @ d) - 1).max())}
    out["doubly stochastic"] = score(coords(K * d[:, None] * d[None, :], False), th)
    for name, dd in (("alpha=1 on the Sinkhorn degrees", d ** 2), ("alpha=1, zero diagonal",
                                                                   1.0 / K.sum(axis=1))):
        K1 = K * dd[:, None] * dd[None, :]
        s = K1.sum(axis=1) ** -0.5
        out[name] = score(coords(K1 * s[:, None] * s[None, :], True), th)
    return out


def main(argv=None) -> int:
    import conformap.diffusion as CD
    from conformap.graph import graph_from_distances
    from conformap.neighbor_graph import knn_distance_matrix
    from conformap.scales import dense_neighbors, gaussian_affinity, intrinsic_dimension

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=["procedural", "rotor"], default="procedural")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--snr", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ks", default="48,200")
    ap.add_argument("--ms", default="1,2,3")
    ap.add_argument("--sigmas", default="1.0,1.6")
    ap.add_argument("--sections", default="floor,ksum,sweep,norms")
    ap.add_argument("--complete", action="store_true",
                    help="sweep: also the complete dense kernel")
    ap.add_argument("--norm-ks", default="",
                    help="norms: the kNN graphs to renormalise (default: the first of --ks)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    sections = a.sections.split(",")
    ks = [int(k) for k in a.ks.split(",")]
    ms = [float(m) for m in a.ms.split(",") if m]
    t0 = time.perf_counter()
    X, th, fs, D = load(a.data, a.n, a.snr, a.seed)
    head = {"data": f"{a.data} {X.shape[1]}x{X.shape[2]}, snr {a.snr:g}", "n": a.n,
            "seed": a.seed, "rank": fs.denoiser.rank if fs.denoiser is not None else None}
    def emit(row):
        row = {**head, **row, "load": round(os.getloadavg()[0], 2)}
        print(json.dumps(row), flush=True)
        if a.out:  # appended row by row, so a stopped run keeps what it measured
            with open(a.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")

    idx, dist = dense_neighbors(D, max(max(ks), 48))
    rows = np.sort(np.random.default_rng(0).choice(a.n, 256, replace=False))

    def dropped(g):
        K = gaussian_affinity(D[rows], g.scales[rows][:, None] * g.scales[None, :])
        K[np.arange(rows.size), rows] = 0.0
        pat = sp.csr_matrix(g.kernel)
        st = np.array([K[i, pat.indices[pat.indptr[r]:pat.indptr[r + 1]]].sum()
                       for i, r in enumerate(rows)])
        fr = 1.0 - st / K.sum(axis=1)
        return round(float(fr.mean()), 3), round(float(fr.max()), 3)

    if "floor" in sections and fs.denoiser is not None:
        fl = noise_floor(X, fs)
        q = lambda v: [round(float(x), 3) for x in np.percentile(v, [5, 50, 95])]  # noqa: E731
        emit({"section": "floor", "copies_q05_q50_q95": q(fl),
              "copies_mean": round(float(fl.mean()), 3), "copies_sd": round(float(fl.std()), 3),
              "r1_q05_q50_q95": q(dist[:, 0]), "r16_q05_q50_q95": q(dist[:, 15]),
              "r48_q05_q50_q95": q(dist[:, 47]),
              "dimension": {str(k): {"pooled": round(intrinsic_dimension(dist[:, :k]), 2),
                                     "sparsest quarter": round(intrinsic_dimension(
                                         dist[:, :k], sparsest=0.25), 2)}
                            for k in sorted({16, 48, *ks})}})
    if "ksum" in sections:
        iu = np.triu_indices(a.n, 1)
        sel = np.random.default_rng(0).choice(iu[0].size, min(iu[0].size, 2_000_000),
                                              replace=False)
        d2 = D[iu[0][sel], iu[1][sel]] ** 2
        del iu
        r16 = float(np.median(dist[:, 15]))
        units = np.geomspace(0.25, 16, 25)
        S = np.array([np.exp(-d2 / (2 * (u * r16) ** 2)).mean() for u in units])
        slope = np.gradient(np.log(S), np.log(units))
        emit({"section": "ksum", "median_r16": round(r16, 3),
              "median_distance": round(float(np.sqrt(np.median(d2))), 3),
              "sigma_over_r16": [round(float(u), 3) for u in units],
              "slope": [round(float(v), 2) for v in slope]})
    graphs = {k: graph_from_distances(knn_distance_matrix(idx[:, :k], dist[:, :k]),
                                      validate=False) for k in ks}
    if "sweep" in sections:
        extra = [("complete", graph_from_distances(D, validate=False))] if a.complete else []
        for k, g in [*graphs.items(), *extra]:
            dm = (0.0, 0.0) if k == "complete" else dropped(g)
            for m in [None, *ms]:
                gg = g if m is None else replace(g, dimension=m)
                emit({"section": "sweep", "k": k, "m": round(float(gg.dimension), 2),
                      "m_forced": m is not None, "dropped_mean": dm[0], "dropped_max": dm[1],
                      **score(CD.diffusion_core(gg, n_components=2, rng=0).embedding, th)})
    if "norms" in sections:
        orig = CD.normalized_operator
        CD.normalized_operator = patched_operator
        try:
            for k in [int(x) for x in a.norm_ks.split(",") if x] or ks[:1]:
                g = graphs[k]
                for name, zd, full in (("zero diagonal", True, False),
                                       ("complete degrees", False, True)):
                    STATE.clear()
                    STATE["zero_diagonal"] = zd
                    if full:
                        STATE["q"] = complete_degrees(D, g.scales, zd)
                    for m in [None, *ms]:
                        gg = g if m is None else replace(g, dimension=m)
                        emit({"section": "norms", "k": k, "variant": name,
                              "m": round(float(gg.dimension), 2), "m_forced": m is not None,
                              **score(CD.diffusion_core(gg, n_components=2, rng=0).embedding,
                                      th)})
        finally:
            CD.normalized_operator = orig
            STATE.clear()
        for s in [float(x) for x in a.sigmas.split(",") if x]:
            emit({"section": "norms", "variant": "fixed sigma, complete kernel",
                  "sigma": s, "median_r16": round(float(np.median(dist[:, 15])), 3),
                  **fixed_kernel_rows(D, th, s)})
    emit({"section": "done", "wall_s": round(time.perf_counter() - t0, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
