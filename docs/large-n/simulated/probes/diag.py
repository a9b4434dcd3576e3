"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, time, warnings, json
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from benchmarks.bench_density import score
from conformap import DiffusionMap
from conformap.features import prepare_features
from conformap.graph import build_graph, graph_from_distances, distances_for
from conformap.truncation import kept_knn_distances
from conformap.evaluate import circle_recovery
warnings.simplefilter("ignore")

def dwell_mask(th):
    # dwells: find the 3 densest 1-degree bins
    h, e = np.histogram(th % 360, bins=360, range=(0, 360))
    top = np.argsort(h)[-3:]
    b = np.floor(th % 360).astype(int)
    return np.isin(b, top)

def run(n, seed, noise=0.05, **kw):
    X, th = images(n, seed, noise)
    t0 = time.perf_counter()
    dm = DiffusionMap(metric="wemd", random_state=0, **kw).fit(X)
    s = score(dm.embedding_, th)
    r = circle_recovery(dm.embedding_[:, :2], th)
    return dm, th, s, time.perf_counter() - t0

if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1].split(",")]:
        for seed in [int(a) for a in sys.argv[2].split(",")]:
            X, th = images(n, seed, 0.05)
            fs = prepare_features(X, "wemd")
            meth = "dense" if n <= 3000 else "knn"
            if meth == "dense":
                d = distances_for(fs, "dense")
                g = graph_from_distances(d, validate=False)
                _, share = kept_knn_distances(g, d, fs)
            else:
                g, _ = build_graph(features=fs, metric="wemd", rng=0)
                share = g.dropped_mass
            dw = dwell_mask(th)
            print(json.dumps({"n": n, "seed": seed, "rank": fs.denoiser.rank, "share": round(share, 3),
                  "m": round(float(g.dimension), 3), "sn": g.scale_neighbor, "k": g.n_neighbors,
                  "rho_dwell_med": float(np.median(g.scales[dw])), "rho_out_med": float(np.median(g.scales[~dw])),
                  "dwell_frac": float(dw.mean())}), flush=True)
