"""One ingredient at a time on noisy rotor-map projections (docs/large-n/NOISY_IMAGES.md §2).

For one set of images (``benchmarks.noisy_images``'s data) the denoised WEMD features are
prepared once (``denoise="pca"`` forced, or a given rank), and then each variant changes one
thing of the default dense graph: the dimension ``m`` of the normalisation, the scale
neighbour, a fixed bandwidth rule. Oracles: the same graph rule on the clean images at the
same angles (``snr=None``), and on the clean images passed through the noisy images' PCA
projection (what the projection itself loses). Also the neighbours' angular distance
(median / p90 over the 16 nearest of every item, degrees) and the error by angle region.

    python -m benchmarks.noisy_images_diag --n 2000 --snr 0.5 --seed 0 --out F.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import replace

import numpy as np

from benchmarks.bench_density import score
from benchmarks.noisy_images import ROTOR_MAP


def angle_gap(th, idx):
    d = np.abs(th[idx] - th[:, None]) % 360.0
    d = np.minimum(d, 360.0 - d)
    return {"nn_gap_median": round(float(np.median(d)), 3),
            "nn_gap_p90": round(float(np.percentile(d, 90)), 3)}


def template_oracle(imgs, th, size, step=0.25) -> dict:
    """Angle of each noisy image by least squares against clean projections every ``step``
    degrees (the angle is known to be an in-plane rotation of this map): what the images hold,
    a floor no diffusion map (which knows neither the map nor the model) is expected to reach."""
    from conformap.datasets import make_particles

    grid = np.arange(0.0, 360.0, step)
    T, _ = make_particles(grid.size, size=size, snr=None, map=ROTOR_MAP, angles=grid, rng=0)
    X = imgs.reshape(len(imgs), -1).astype(np.float64)
    Tm = T.reshape(grid.size, -1).astype(np.float64)
    est = grid[np.argmin((Tm ** 2).sum(1)[None] - 2 * X @ Tm.T, axis=1)]
    e = np.abs(est - th) % 360
    e = np.minimum(e, 360 - e)
    return {"median": round(float(np.median(e)), 3), "p90": round(float(np.percentile(e, 90)), 3)}


def arclength_floor(th, size, steps=720) -> dict:
    """The score of a perfect Laplace-Beltrami embedding of the clean projections: their WEMD
    arc-length angle (consecutive clean images every 360 / ``steps`` degrees) at the angles
    ``th`` (as ``benchmarks.rotor_arclength`` does for the 3-D maps)."""
    from conformap import graph as G
    from conformap.datasets import make_particles

    grid = np.arange(steps) * 360.0 / steps
    T, _ = make_particles(steps, size=size, snr=None, map=ROTOR_MAP, angles=grid, rng=0)
    c = G.prepare_features(T, "wemd", None, denoise="off").features
    arc = np.r_[0.0, np.cumsum(np.abs(np.diff(np.r_[c, c[:1]], axis=0)).sum(axis=1))]
    a = np.radians(360.0 * np.interp(th, np.r_[grid, 360.0], arc) / arc[-1])
    return score(np.c_[np.cos(a), np.sin(a)], th)


def by_region(emb, th) -> dict:
    """Median / p90 error of the items by their true angle's distance from the nearest dwell
    centre (0, 120, 240 degrees): the dwells (< 2 degrees) against the sparse arcs."""
    from conformap.evaluate import circle_recovery
    from conformap.evaluate._embedding import unit_circle_coordinates

    r = circle_recovery(emb, th)
    xy = unit_circle_coordinates(emb)
    est = np.degrees(np.arctan2(xy[:, 1], xy[:, 0]))
    err = np.abs(((-1 if r.reflected else 1) * est - th - r.offset + 180) % 360 - 180)
    dist = np.min([np.minimum(np.abs(th - c) % 360, 360 - np.abs(th - c) % 360)
                   for c in (0, 120, 240)], axis=0)
    out = {}
    for lo, hi in ((0, 2), (2, 5), (5, 20), (20, 61)):
        k = (dist >= lo) & (dist < hi)
        out[f"{lo}-{hi} deg"] = [int(k.sum()), round(float(np.median(err[k])), 2),
                                 round(float(np.percentile(err[k], 90)), 2)]
    return out


def euclidean_rows(imgs, th):
    """The denoised scores under the L2 metric (``DiffusionMap(metric="euclidean")``'s graph),
    the error by region, and the squared distances less a share of the expected noise floor
    ``2 r sigma^2`` (r = rank, sigma^2 = the estimated noise variance per value)."""
    from conformap import graph as G
    from conformap.denoise import denoise_items
    from conformap.diffusion import diffusion_core
    from conformap.distances import pairwise_distances

    sc, model = denoise_items(imgs, "auto", scores=True)
    d = pairwise_distances(sc, metric="l2")
    floor = 2 * model.rank * model.noise_variance
    for frac in (0.0, 0.5, 0.8, 1.0):
        d2 = np.sqrt(np.maximum(d ** 2 - frac * floor, 0.0))
        np.fill_diagonal(d2, 0.0)
        g = G.graph_from_distances(d2, validate=False)
        for m in (None, 1.0, 2.0):
            gg = g if m is None else replace(g, dimension=m)
            emb = diffusion_core(gg, n_components=2, rng=0).embedding
            yield (f"euclidean rank {model.rank}, d^2 - {frac} x 2 r sigma^2"
                   + ("" if m is None else f", m={m:g}"), gg,
                   {"regions": by_region(emb, th)} if frac == 0 and m is None else {}, emb)


def main(argv=None) -> int:
    from conformap import graph as G
    from conformap.datasets import make_particles
    from conformap.denoise import fit_denoiser, wemd_of_denoised
    from conformap.diffusion import diffusion_core
    from conformap.distances import pairwise_distances
    from conformap.features import FeatureSet
    from conformap.scales import dense_kernel, dense_neighbors, local_scales

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--snr", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=47)
    ap.add_argument("--ranks", default="mp")
    ap.add_argument("--ms", default="1,1.5,2,3")
    ap.add_argument("--sns", default="32,64")
    ap.add_argument("--rules", default="connect,median")
    ap.add_argument("--oracles", action="store_true")
    ap.add_argument("--method", default="dense", choices=["dense", "knn"],
                    help="knn: the kNN graph of build_graph, only m varied")
    ap.add_argument("--template", action="store_true",
                    help="only the template-matching oracle (template_oracle)")
    ap.add_argument("--euclidean", action="store_true",
                    help="only the L2 rows on the denoised scores (euclidean_rows)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    imgs, th = make_particles(a.n, size=a.size, snr=a.snr, map=ROTOR_MAP, rng=a.seed)
    with open(a.out, "a") if a.out else contextlib.nullcontext() as fh:
        if a.template:
            row = {"data": f"rotor map {a.size}x{a.size}, snr {a.snr}", "n": a.n, "seed": a.seed,
                   "variant": "oracle: template matching", **template_oracle(imgs, th, a.size)}
            floor = {**row, "variant": "floor: WEMD arc length of the clean projections",
                     **arclength_floor(th, a.size)}
            for r in (row, floor):
                print(json.dumps(r))
                if fh:
                    fh.write(json.dumps(r) + "\n")
            return 0

        def emit(label, g, fs_d=None, extra=None, emb=None):
            if emb is None:
                emb = diffusion_core(g, n_components=2, rng=0).embedding
            row = {"data": f"rotor map {a.size}x{a.size}, snr {a.snr}", "n": a.n, "seed": a.seed,
                   "variant": label, **score(emb, th), "m": g.dimension, "rule": (
                       "adaptive" if g.adaptive else "fixed"), "note": g.note, **(extra or {})}
            print(json.dumps(row), flush=True)
            if fh:
                fh.write(json.dumps(row) + "\n")
                fh.flush()

        if a.euclidean:
            for label, g, extra, emb in euclidean_rows(imgs, th):
                emit(label, g, extra=extra, emb=emb)
            return 0

        def features_of(model, items):
            f, cols, full = wemd_of_denoised(model, items)
            return FeatureSet(f, "l1", cols, full, denoiser=model)

        for r in a.ranks.split(","):
            model = fit_denoiser(imgs, "auto" if r == "mp" else int(r))
            fs = features_of(model, imgs)
            tag = f"rank {model.rank}"
            if a.method == "knn":
                g, _ = G.build_graph(features=fs, metric="wemd", method="knn", rng=0)
                emit(f"{tag} knn default", g)
                for m in a.ms.split(","):
                    if m:
                        emit(f"{tag} knn m={m}", replace(g, dimension=float(m)))
                continue
            d = pairwise_distances(fs.features, metric="l1")
            g = G.graph_from_distances(d, validate=False)
            idx, _ = dense_neighbors(d, 16)
            emb = diffusion_core(g, n_components=2, rng=0).embedding
            emit(f"{tag} default", g, extra={**angle_gap(th, idx), "regions": by_region(emb, th)},
                 emb=emb)
            for m in a.ms.split(","):
                if m:
                    gm = replace(g, dimension=float(m))
                    emb = diffusion_core(gm, n_components=2, rng=0).embedding
                    emit(f"{tag} m={m}", gm, extra={"regions": by_region(emb, th)}, emb=emb)
            for j in a.sns.split(","):
                if j:
                    j = int(j)
                    _, nn = dense_neighbors(d, j)
                    sc = local_scales(nn, j)
                    g2 = replace(g, kernel=dense_kernel(d, sc), scales=sc, scale_neighbor=j)
                    emit(f"{tag} sn={j}", g2)
            for rule in a.rules.split(","):
                if rule:
                    emit(f"{tag} bandwidth={rule}", G.graph_from_distances(d, bandwidth=rule,
                                                                         validate=False))
            if a.oracles and r == a.ranks.split(",")[0]:
                clean, th2 = make_particles(a.n, size=a.size, snr=None, map=ROTOR_MAP, rng=a.seed)
                assert np.allclose(th, th2)
                fc = features_of(model, clean)  # clean images through the noisy PCA projection
                dc = pairwise_distances(fc.features, metric="l1")
                idx, _ = dense_neighbors(dc, 16)
                emit(f"oracle: clean images, {tag} projection",
                     G.graph_from_distances(dc, validate=False), extra=angle_gap(th, idx))
                del dc
                cf = G.prepare_features(clean, "wemd", None, denoise="off")
                dc = pairwise_distances(cf.features, metric="l1")
                idx, _ = dense_neighbors(dc, 16)
                emit("oracle: clean images", G.graph_from_distances(dc, validate=False),
                     extra=angle_gap(th, idx))
        return 0


if __name__ == "__main__":
    sys.exit(main())
