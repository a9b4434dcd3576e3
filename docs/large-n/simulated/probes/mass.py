"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, warnings, json
from dataclasses import replace
import numpy as np


def _wrap(a):  # angle in (-pi, pi]
    return np.angle(np.exp(1j * a))


sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from benchmarks.bench_density import score
from conformap.graph import build_graph
from conformap.diffusion import normalized_operator, diffusion_core
warnings.simplefilter("ignore")
for spec in sys.argv[1:]:
    n, seed, meth, m = spec.split(":"); n = int(n); seed = int(seed)
    X, th = images(n, seed, 0.05)
    g, fs = build_graph(X, metric="wemd", rng=0, method=meth)
    if m != "-": g = replace(g, dimension=float(m))
    w, q, u, deg, mass = normalized_operator(g)
    dd = np.degrees(np.abs(_wrap(np.radians(th[:, None] - np.array([0, 120, 240])[None]))).min(1))
    pi = mass / mass.sum()
    out = {"spec": spec, "method": g.method, "m": round(float(g.dimension), 2)}
    # mass per degree of arc, relative to uniform (1 = right)
    for a, b in [(0, 3), (3, 6), (6, 10), (10, 20), (20, 40), (40, 61)]:
        s = (dd >= a) & (dd < b)
        out[f"{a}-{b}"] = round(float(pi[s].sum() / (6 * (b - a) / 360)), 2)
    # kernel stiffness: sum w_ij across the cut at angle dwell+x, in units of uniform
    r = diffusion_core(g, n_components=2, rng=0)
    out["score"] = list(score(r.embedding, th).values())
    out["rho_ratio"] = round(float(np.median(g.scales[dd < 3]) / np.median(g.scales[dd > 20])), 3)
    out["q_ratio"] = round(float(np.median(q[dd < 3]) / np.median(q[dd > 20])), 1)
    print(json.dumps(out), flush=True)
