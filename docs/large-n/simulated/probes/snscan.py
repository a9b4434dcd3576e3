"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, warnings, json, time
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from benchmarks.bench_density import score
import conformap.graph as G
from conformap.graph import build_graph
from conformap.features import prepare_features
from conformap.diffusion import diffusion_core
warnings.simplefilter("ignore")
orig = G.scale_neighbor
ns = [int(a) for a in sys.argv[1].split(",")]; seeds = [int(a) for a in sys.argv[2].split(",")]
sns = [int(a) for a in sys.argv[3].split(",")]; kmode = sys.argv[4]  # "48" or "3x"
noise = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
for n in ns:
    for seed in seeds:
        X, th = images(n, seed, noise)
        fs = prepare_features(X, "wemd")
        out = {"n": n, "seed": seed, "k": kmode}
        for sn in sns:
            G.scale_neighbor = lambda n_, k_=None, sn=sn: int(min(sn, k_ or sn, n_ - 1))
            k = 48 if kmode == "48" else max(3 * sn, 10)
            t0 = time.perf_counter()
            g, _ = build_graph(features=fs, metric="wemd", n_neighbors=k, rng=0, method=(sys.argv[6] if len(sys.argv) > 6 else "auto"))
            r = diffusion_core(g, n_components=2, rng=0)
            s = score(r.embedding, th)
            out[sn] = [s["median"], s["p90"], g.method[0], round(float(g.dimension), 2)]
        G.scale_neighbor = orig
        print(json.dumps(out), flush=True)
