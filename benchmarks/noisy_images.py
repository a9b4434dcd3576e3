"""Noisy projections of the real rotor map at 300-5,000 images (docs/large-n/NOISY_IMAGES.md).

``make_particles(n, size=47, snr=SNR, map=../shared/data/rotating_shaft_res6.mrc, rng=seed)``
(the paper's angle mixture), WEMD, and per variant the graph and the embedding:

* ``default``: ``DiffusionMap(metric="wemd", random_state=0)`` at its defaults (the public
  path; ``conformap embed`` builds the same graph);
* ``pca`` / ``off``: the same with ``denoise="pca"`` (the Marchenko-Pastur projection forced)
  or ``"off"``;
* ``rank=R``: ``denoise=R`` (that many principal components);
* ``connect``: the defaults with ``bandwidth="connect"`` (the fixed rule of the noise-floor
  fallback);
* ``adaptive``: the defaults with ``bandwidth="adaptive"`` (the adaptive kernel without the
  localisation guard of ``conformap.localisation`` nor the noise-floor fallback);
* ``knn`` / ``dense``: the defaults with ``method="knn"`` (the truncated kNN kernel below
  ``conformap.graph.DENSE_MAX_ITEMS`` too) or ``method="dense"`` (the complete kernel, what
  "auto" built below that size before ``conformap.truncation.DENOISED_TRUNCATION_MASS``;
  ``docs/large-n/TRUNCATION.md``);
* ``one-pass``: the defaults with ``conformap.averaging.GRAPH_AVERAGING_STEPS = 0`` (one graph,
  the default before the two-pass rule);
* ``average=S`` / ``saverage=S``: the two-pass graph (NOISY_IMAGES.md §7): the default graph,
  its Markov operator :math:`P = D^{-1} W` (``conformap.diffusion.normalized_operator``,
  alpha = 1), then the default graph and embedding of :math:`P^S F`, where ``F`` are the WEMD
  coefficients of the denoised items (``average``) or, for ``saverage``, the WEMD coefficients
  of the items reconstructed from the PCA scores averaged by :math:`P^S` (n x rank, memory-cheap;
  the column choice is redone on them; what ``conformap.averaging`` does by default with S =
  ``GRAPH_AVERAGING_STEPS``). Applied only where the items were denoised (else the one-pass
  graph), the passes by hand with the builder's rule off.

Each row: median / p90 angular error (``bench_density.score``), the graph line (bandwidth rule,
m, denoising rank), the noise fraction of the denoiser fitted on all rows, wall seconds.

    python -m benchmarks.noisy_images --ns 300,1000,2000 --snrs 0.5 --seeds 0,1 --out F.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path

from benchmarks._harness import emit_row
from benchmarks.bench_density import score

#: The real rotor map (``../shared``).
ROTOR_MAP = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                         "rotating_shaft_res6.mrc")


class TwoPass:
    """What :func:`fit_variant` returns for the two-pass variants (the attributes the rows read)."""

    def __init__(self, result, fs, averaged):
        den = fs.denoiser
        self.result_ = result
        self.embedding_ = result.embedding
        self.bandwidth_ = result.bandwidth
        self.denoise_rank_ = None if den is None else den.rank
        s = result.graph["summary"]
        self.graph_summary_ = s if den is None else f"{den.summary()}; {s}"
        self.averaged = averaged


def markov(graph):
    """:math:`P = D^{-1} W` of ``graph`` (the diffusion core's alpha = 1 operator), sparse."""
    import scipy.sparse as sp

    from conformap.diffusion import normalized_operator

    w, _q, _u, deg, _m = normalized_operator(graph, alpha=1.0)
    return sp.diags(1.0 / deg) @ sp.csr_matrix(w)


@contextlib.contextmanager
def averaging_steps(steps):
    """``conformap.averaging.GRAPH_AVERAGING_STEPS`` set to ``steps`` inside the block."""
    from conformap import averaging

    before = averaging.GRAPH_AVERAGING_STEPS
    averaging.GRAPH_AVERAGING_STEPS = steps
    try:
        yield
    finally:
        averaging.GRAPH_AVERAGING_STEPS = before


def fit_two_pass(images, steps, space="features"):
    with averaging_steps(0):  # the passes by hand, not the builder's own rule
        return _fit_two_pass(images, steps, space)


def _fit_two_pass(images, steps, space):
    import numpy as np

    from conformap.diffusion import diffusion_core
    from conformap.features import FeatureSet
    from conformap.graph import build_graph
    from conformap.truncation import measure_dropped_mass
    from conformap.wemd import wemd_embedding

    t = time.perf_counter()
    graph, fs = build_graph(images, metric="wemd", rng=0)
    averaged = fs.denoiser is not None and steps > 0
    if averaged:
        P = markov(graph)
        del graph
        if space == "features":
            F = np.asarray(fs.features, dtype=np.float64)
            for _ in range(steps):
                F = P @ F
            fs = FeatureSet(F.astype(fs.features.dtype), "l1", fs.columns, fs.full_size,
                            denoiser=fs.denoiser)
        else:
            den = fs.denoiser
            n = images.shape[0]
            S = (images.reshape(n, -1).astype(np.float64) - den.mean) @ den.components
            for _ in range(steps):
                S = P @ S
            rec = (S @ den.components.T + den.mean).reshape(n, *den.item_shape)
            F, cols = wemd_embedding(rec.astype(images.dtype), return_columns=True,
                                     columns="resolved", negative="keep")
            fs = FeatureSet(F, "l1", cols, fs.full_size, denoiser=den)
        graph, fs = build_graph(features=fs, metric="wemd", rng=0)
    res = diffusion_core(graph, n_components=2, rng=0,
                         remeasure=lambda g: measure_dropped_mass(g, fs, rng=0))
    return TwoPass(res, fs, averaged), time.perf_counter() - t


def fit_variant(images, variant):
    from conformap import DiffusionMap

    kw = {}
    if variant == "one-pass":  # the defaults before GRAPH_AVERAGING_STEPS (one graph)
        with averaging_steps(0):
            return fit_variant(images, "default")
    if variant.startswith(("average=", "saverage=")):
        steps = int(variant.split("=")[1])
        return fit_two_pass(images, steps, "features" if variant[0] == "a" else "scores")
    if variant in ("pca", "off"):
        kw["denoise"] = variant
    elif variant.startswith("rank="):
        kw["denoise"] = int(variant.split("=")[1])
    elif variant in ("connect", "adaptive"):
        kw["bandwidth"] = variant
    elif variant in ("knn", "dense"):
        kw["method"] = variant
    elif variant != "default":
        raise ValueError(f"variant: unknown {variant!r}")
    t = time.perf_counter()
    dm = DiffusionMap(metric="wemd", random_state=0, **kw).fit(images)
    return dm, time.perf_counter() - t


def graph_info(dm) -> dict:
    s = dm.graph_summary_
    m = re.search(r"dimension ([0-9.]+)", s)
    return {"m": float(m.group(1)) if m else None,
            "rule": ("connect (noise floor)" if "noise-dominated" in s else
                     "fixed (localisation guard)" if "its median scale" in s else
                     "adaptive" if "adaptive kernel" in s else "fixed"),
            "localisation_ratio": dm.result_.graph.get("localisation_ratio"),
            "rank": dm.denoise_rank_, "bandwidth": dm.bandwidth_, "summary": s,
            **({"averaged": dm.averaged} if hasattr(dm, "averaged") else {})}


def compare(paths, a="pca", b="off") -> list[dict]:
    """Variant ``a`` against ``b`` per (size, n) over the rows of ``paths``: values per item
    over items (p/n), runs where ``a``'s median error is lower (ties within 0.05 degrees
    counted apart), and the ranges of both."""
    rows = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            rows.setdefault((r["data"], r["n"], r["seed"]), {})[r["variant"]] = r
    groups = {}
    for (data, n, seed), v in rows.items():
        if a in v and b in v:
            size = int(data.split()[2].split("x")[0])
            groups.setdefault((size, n), []).append((seed, data, v[a], v[b]))
    out = []
    for (size, n), g in sorted(groups.items(), key=lambda kv: kv[0][0] ** 2 / kv[0][1]):
        better = sum(x["median"] < y["median"] - 0.05 for _, _, x, y in g)
        ties = sum(abs(x["median"] - y["median"]) <= 0.05 for _, _, x, y in g)
        def rng(k, i, g=g):
            return [min(t[i][k] for t in g), max(t[i][k] for t in g)]

        out.append({"size": size, "n": n, "p_over_n": round(size * size / n, 2),
                    "seeds": sorted({t[0] for t in g}), "runs": len(g), "better": better,
                    "ties": ties, f"{a}_median": rng("median", 2), f"{b}_median": rng("median", 3),
                    f"{a}_p90": rng("p90", 2), f"{b}_p90": rng("p90", 3)})
    return out


def render(paths) -> str:
    """A markdown table of the rows of ``paths``: per image set, the error without and with
    the projection (``off`` / ``pca`` rows, or ``default`` rows, which are the one or the
    other by their PCA rank), and which of the two the size rule before (``p <= n``) and
    after (``p <= DENOISE_MAX_RATIO * n``) picks ("off" below ``DENOISE_MIN_ITEMS`` items)."""
    from conformap.denoise import DENOISE_MAX_RATIO, DENOISE_MIN_ITEMS

    d = {}
    for p in paths:
        for line in Path(p).read_text().splitlines():
            r = json.loads(line)
            d.setdefault((r["data"], r["n"], r["seed"]), {}).setdefault(r["variant"], r)

    def cell(r):
        if not r:
            return "-"
        m = "-" if r.get("m") is None else f"{r['m']:.3g}"
        rank = f", rank {r['rank']}" if r.get("rank") else ""
        rule = f", {r['rule']}" if r.get("rule") != "adaptive" else ""
        return f"{r['median']:.2f} / {r['p90']:.2f} (m {m}{rank}{rule})"

    out = ["| images | n | seed | denoise off | denoise pca | rule before (p <= n) | "
           f"rule after (p <= {DENOISE_MAX_RATIO} n) |", "|---|---|---|---|---|---|---|"]
    for k in sorted(d, key=lambda k: (int(k[0].split()[2].split("x")[0]), k[0], k[1], k[2])):
        v, n = d[k], k[1]
        p = int(k[0].split()[2].split("x")[0]) ** 2
        dflt = v.get("default", {})
        off = v.get("off") or (dflt if dflt and dflt.get("rank") is None else None)
        pca = v.get("pca") or (dflt if dflt.get("rank") is not None else None)
        old = "off" if n < DENOISE_MIN_ITEMS or p > n else "pca"
        new = "off" if n < DENOISE_MIN_ITEMS or p > DENOISE_MAX_RATIO * n else "pca"
        out.append(f"| {k[0].replace('rotor map ', '')} | {n} | {k[2]} | {cell(off)} | "
                   f"{cell(pca)} | {old} | {new} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ns", default="300,1000,2000")
    ap.add_argument("--snrs", default="0.5")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--size", type=int, default=47)
    ap.add_argument("--variants", default="default")
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare", nargs="+", default=None, metavar="JSONL",
                    help="print pca against off per image size and n (JSON lines)")
    ap.add_argument("--render", nargs="+", default=None, metavar="JSONL",
                    help="print the rows as a markdown table")
    a = ap.parse_args(argv)
    if a.render:
        print(render(a.render))
        return 0
    if a.compare:
        for r in compare(a.compare):
            print(json.dumps(r))
        return 0
    from conformap import denoise as dn
    from conformap.datasets import make_particles

    warnings.simplefilter("ignore")
    with open(a.out, "a") if a.out else contextlib.nullcontext() as fh:
        for snr in a.snrs.split(","):
            s = None if snr == "clean" else float(snr)
            for n in map(int, a.ns.split(",")):
                for seed in map(int, a.seeds.split(",")):
                    imgs, th = make_particles(n, size=a.size, snr=s, map=ROTOR_MAP, rng=seed)
                    f = dn.fit_denoiser(imgs)
                    for v in a.variants.split(","):
                        dm, wall = fit_variant(imgs, v)
                        row = {"data": f"rotor map {a.size}x{a.size}, snr {snr}", "n": n,
                               "seed": seed, "variant": v, **score(dm.embedding_, th),
                               **graph_info(dm), "noise_fraction": round(f.noise_fraction, 4),
                               "mp_rank": f.rank, "wall_s": round(wall, 1),
                               "load": round(os.getloadavg()[0], 2)}
                        emit_row(row, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
