"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, time, warnings, json
from dataclasses import replace
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from benchmarks.bench_density import score
from conformap.graph import build_graph
from conformap.diffusion import diffusion_core
warnings.simplefilter("ignore")
ms = [float(a) for a in sys.argv[3].split(",")]
noise = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
for n in [int(a) for a in sys.argv[1].split(",")]:
    for seed in [int(a) for a in sys.argv[2].split(",")]:
        X, th = images(n, seed, noise)
        g, fs = build_graph(X, metric="wemd", rng=0)
        out = {"n": n, "seed": seed, "method": g.method, "m0": round(float(g.dimension), 3),
               "rank": None if fs.denoiser is None else fs.denoiser.rank}
        res = diffusion_core(g, n_components=2, rng=0)
        out["default"] = score(res.embedding, th)
        out["loc"] = [c["coordinate"] for c in res.graph["localised"]]
        for m in ms:
            r = diffusion_core(replace(g, dimension=m), n_components=2, rng=0)
            out[str(m)] = tuple(score(r.embedding, th).values())
        print(json.dumps(out), flush=True)
