"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, json, warnings
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from conformap.features import prepare_features
from conformap.graph import distances_for
warnings.simplefilter("ignore")
for spec in sys.argv[1:]:
    n, seed, noise = spec.split(":"); n, seed, noise = int(n), int(seed), float(noise)
    X, th = images(n, seed, noise)
    fs = prepare_features(X, "wemd")
    d = distances_for(fs, "knn", n_neighbors=48)
    import scipy.sparse as sp
    d = sp.csr_matrix(d)
    r = np.array([np.sort(d.data[d.indptr[i]:d.indptr[i+1]])[:48] for i in range(n)])
    sparse = np.argsort(r[:, -1])[-n // 4:]
    out = {"probe": "neighbour distance ratios r_k / r_1 (median over the sparsest quarter)", "command": "floor.py", "n": n, "seed": seed, "noise": noise}
    for k in (10, 18, 30, 48):
        out[f"r{k}/r1"] = round(float(np.median(r[sparse, k - 1] / r[sparse, 0])), 3)
    print(json.dumps(out), flush=True)
