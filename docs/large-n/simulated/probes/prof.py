"""One-off probe of docs/large-n/SIMULATED_PARTICLES.md (session 10); rows in ../dwell.jsonl name it."""
import sys, warnings, json
import numpy as np


def _wrap(a):  # angle in (-pi, pi]
    return np.angle(np.exp(1j * a))


sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[4]))  # repository root
from benchmarks.simulated_particles import images
from conformap.graph import build_graph
from conformap.diffusion import diffusion_core
from conformap.evaluate._embedding import unit_circle_coordinates, _wrap
warnings.simplefilter("ignore")
def errs(emb, th):
    xy = unit_circle_coordinates(emb); est = np.arctan2(xy[:, 1], xy[:, 0]); t = np.radians(th)
    best = None
    for s in (1, -1):
        grid = np.radians(np.arange(0, 360, 0.5)); diff = _wrap(s * est - t)
        g0 = grid[np.argmin([np.median(np.abs(_wrap(diff - g))) for g in grid])]
        off = g0 + np.median(_wrap(diff - g0)); e = _wrap(diff - off)
        if best is None or np.median(np.abs(e)) < np.median(np.abs(best[0])): best = (e, xy)
    return np.degrees(best[0]), np.hypot(*best[1].T)
for n, seed in [(int(a.split(":")[0]), int(a.split(":")[1])) for a in sys.argv[1:]]:
    X, th = images(n, seed, 0.05)
    g, fs = build_graph(X, metric="wemd", rng=0)
    r = diffusion_core(g, n_components=2, rng=0)
    e, rad = errs(r.embedding, th)
    dd = np.abs(_wrap(np.radians(th[:, None] - np.array([0, 120, 240])[None]))).min(1)
    dd = np.degrees(dd)
    bins = [0, 3, 6, 10, 20, 40, 61]
    out = {"n": n, "seed": seed, "method": g.method}
    for a, b in zip(bins[:-1], bins[1:]):
        s = (dd >= a) & (dd < b)
        out[f"{a}-{b}"] = [int(s.sum()), round(float(np.median(np.abs(e[s]))), 1), round(float(np.percentile(np.abs(e[s]), 90)), 1), round(float(np.mean(e[s] * np.sign(_wrap(np.radians(th[s] - 120 * np.round(th[s] / 120)))))), 1), round(float(np.median(rad[s])), 2)]
    print(json.dumps(out), flush=True)
