"""Why noisy particle images embed badly on the kNN path: the kernel on concentrated distances.

Diagnosis for issue 10 (``bench_largen``: 6,000 noisy images gave 9.4 / 25 degrees). On
``make_particles(n, size=64, snr=0.5)`` WEMD coefficients, the exact kNN graph (k up to
200) is computed once, and the diffusion map of ``graph_from_distances`` is scored with
``circle_recovery`` for variants of the graph:

* ``raw``: the default adaptive kernel on the WEMD distances;
* ``dimension 1``: the same with the intrinsic dimension of the normalisation forced to 1
  (the Levina-Bickel estimate on noise-dominated distances is ~30);
* ``noise floor``: distances with the noise floor removed,
  :math:`\\tilde d_{ij} = \\sqrt{d_{ij}^2 - d_{i1} d_{j1}}` (``d_i1``: distance to the nearest
  neighbour; for L2 with white noise :math:`d^2 = d_{signal}^2 + 2 D \\sigma^2`, so this
  removes the constant), which is never negative because ``d_ij >= max(d_i1, d_j1)``;

for several k and scale neighbours. Also reported: how far apart in angle the exact
neighbours are (no 36-degree symmetry shortcuts: the c-ring's symmetry is broken by the axle
and the arm), and the concentration of the neighbour distances.

Usage::

    python -m benchmarks.largen_kernel [--n 6000] [--out docs/large-n/kernel-diagnosis.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

from ._harness import command_line, write_json

VARIANTS = [  # (name, k, scale neighbour, transform, forced dimension)
    ("raw", 30, 10, None, None), ("dimension 1", 30, 10, None, 1),
    ("noise floor", 30, 10, "floor", None),
    ("raw", 100, 10, None, None), ("noise floor", 100, 10, "floor", None),
    ("raw", 100, 30, None, None), ("noise floor", 100, 30, "floor", None),
    ("raw", 200, 60, None, None), ("noise floor", 200, 60, "floor", None),
]


def _floor(idx, d):
    c = d[:, 0]
    return np.sqrt(np.maximum(d * d - c[:, None] * c[idx], 0.0))


def main(argv=None) -> int:
    import conformap.graph as G
    from conformap import wemd_embedding
    from conformap.datasets import make_particles
    from conformap.diffusion import diffusion_core
    from conformap.evaluate import circle_recovery
    from conformap.neighbors import nearest_neighbors

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--snr", type=float, default=0.5)
    p.add_argument("--out", default="docs/large-n/kernel-diagnosis.json")
    args = p.parse_args(argv)
    images, ang = make_particles(args.n, size=64, snr=args.snr, rng=0)
    X = wemd_embedding(images, negative="keep", columns="resolved")
    del images
    kmax = max(v[1] for v in VARIANTS)
    t0 = time.perf_counter()
    IDX, D = nearest_neighbors(X, kmax, method="exact")
    print(f"exact kNN (k={kmax}): {time.perf_counter() - t0:.0f} s", flush=True)
    da = np.abs((ang[IDX[:, :15]] - ang[:, None] + 180) % 360 - 180)
    dwell = np.min(np.abs((ang[:, None] - np.array([0, 120, 240]) + 180) % 360 - 180), 1) < 3
    facts = {
        "neighbour_angle_median_deg": float(np.median(da)),
        "neighbour_angle_median_dwell_deg": float(np.median(da[dwell])),
        "neighbour_angle_median_uniform_deg": float(np.median(da[~dwell])),
        "neighbours_over_10deg": float((da > 10).mean()),
        "neighbours_over_30deg": float((da > 30).mean()),
        "d1_median": float(np.median(D[:, 0])), "d10_median": float(np.median(D[:, 9])),
        "d30_median": float(np.median(D[:, 29])),
    }
    print(facts, flush=True)
    rows = []
    for name, k, sn, tr, dim in VARIANTS:
        idx, d = IDX[:, :k], D[:, :k]
        dd = _floor(idx, d) if tr == "floor" else d
        g = sp.csr_matrix((np.maximum(dd.ravel(), 1e-300), idx.ravel(),
                           np.arange(0, args.n * k + 1, k)), shape=(args.n, args.n))
        ls, idim = G.local_scales, G.intrinsic_dimension
        G.local_scales = lambda x, s=sn, f=ls: f(x, s)
        if dim:
            G.intrinsic_dimension = lambda x, m=dim: float(m)
        try:
            graph = G.graph_from_distances(g)
        finally:
            G.local_scales, G.intrinsic_dimension = ls, idim
        res = diffusion_core(graph, n_components=2, rng=0)
        rec = circle_recovery(res.embedding, ang)
        row = {"variant": name, "k": k, "scale_neighbor": sn, "dimension": graph.dimension,
               "max_dropped_affinity": graph.max_dropped_affinity,
               "median_error_deg": rec.median_error, "p90_error_deg": rec.p90_error}
        rows.append(row)
        print(row, flush=True)
    out = {"kind": "kernel-diagnosis", "n": args.n, "snr": args.snr, "facts": facts,
           "rows": rows, "load_average": os.getloadavg(),
           "command": command_line("benchmarks.largen_kernel", argv)}
    write_json(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
