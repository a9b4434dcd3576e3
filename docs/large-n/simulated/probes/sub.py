"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, time, warnings, json
from dataclasses import replace
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from benchmarks.bench_density import score
from conformap.graph import build_graph
from conformap.features import prepare_features
from conformap.diffusion import diffusion_core
warnings.simplefilter("ignore")
seed = int(sys.argv[1]); nsub = int(sys.argv[2])
X, th = images(5000, seed, 0.05)
fs = prepare_features(X, "wemd")
def fit(fsx, thx, label, method="auto"):
    t0 = time.perf_counter()
    g, _ = build_graph(features=fsx, metric="wemd", method=method, rng=0)
    r = diffusion_core(g, n_components=2, rng=0)
    print(json.dumps({"label": label, "n": fsx.features.shape[0], "method": g.method, "m": round(float(g.dimension), 3),
                      "rank": fsx.denoiser.rank if fsx.denoiser is not None else None,
                      "dm": None if g.dropped_mass is None else round(g.dropped_mass, 3),
                      **score(r.embedding, thx), "s": round(time.perf_counter() - t0, 1)}), flush=True)
    return g
rows = np.sort(np.random.default_rng(1).choice(5000, nsub, replace=False))
sub = replace(fs, features=np.ascontiguousarray(fs.features[rows]))
fit(sub, th[rows], "5000-denoiser, subsample", "auto")
fit(sub, th[rows], "5000-denoiser, subsample", "knn")
fs2 = prepare_features(X[rows], "wemd")
fit(fs2, th[rows], "own denoiser, subsample", "auto")
fit(fs2, th[rows], "own denoiser, subsample", "knn")
