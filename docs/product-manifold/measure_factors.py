"""Issue 12: how many factors ``factorize`` (no options) reports, on products and non-products.

Non-products: circles (no noise, 5 % and 10 % isotropic noise), an interval, a sphere, a disk
and rotor projection images (``make_particles``, 48 x 48, SNR 2 and 1: a circle of images);
products: the rectangle, the torus, the 3-D box and the swiss roll (intrinsically a flat
rectangle, so a product of two intervals). One JSON line per run::

    python docs/product-manifold/measure_factors.py --data circle0 circle05 circle10 interval \\
        sphere disk swiss rect torus box --n 500 2000 5000 --seeds 0 1 2 \\
        --out docs/product-manifold/measure_factors.jsonl
    python docs/product-manifold/measure_factors.py --data rotor2 rotor1 --n 300 1000 3000 \\
        --seeds 0 1 2 --out docs/product-manifold/measure_factors.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.datasets import make_swiss_roll

from conformap import datasets as D
from conformap.product import factorize

#: name: (description, number of factors it should give)
DATA = {
    "circle0": ("unit circle, no noise", 1), "circle05": ("unit circle, 5 % noise", 1),
    "circle10": ("unit circle, 10 % noise", 1), "interval": ("interval [0, 1]", 1),
    "sphere": ("unit sphere S^2", 1), "disk": ("unit disk", 1),
    "rotor2": ("rotor images 48x48, SNR 2", 1), "rotor1": ("rotor images 48x48, SNR 1", 1),
    "swiss": ("swiss roll (flat: interval x interval)", 2),
    "rect": ("rectangle (make_rectangle)", 2), "torus": ("torus (make_torus)", 2),
    "box": ("3-D box (make_box)", 3),
}


def data(name: str, n: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    if name.startswith("circle"):
        t = g.uniform(0, 2 * np.pi, n)
        noise = {"circle0": 0.0, "circle05": 0.05, "circle10": 0.1}[name]
        return np.c_[np.cos(t), np.sin(t)] + noise * g.normal(size=(n, 2))
    if name == "swiss":
        return make_swiss_roll(n, noise=0.0, random_state=seed)[0]
    if name == "sphere":
        x = g.normal(size=(n, 3))
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    if name == "disk":
        r, t = np.sqrt(g.uniform(size=n)), g.uniform(0, 2 * np.pi, n)
        return np.c_[r * np.cos(t), r * np.sin(t)]
    if name == "interval":
        return g.uniform(0, 1, (n, 1))
    if name in ("rotor2", "rotor1"):
        return D.make_particles(n, size=48, snr=2.0 if name == "rotor2" else 1.0, rng=seed)[0]
    maker = {"rect": D.make_rectangle, "torus": D.make_torus, "box": D.make_box}[name]
    return maker(n, rng=seed)[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", choices=sorted(DATA), required=True)
    p.add_argument("--n", type=int, nargs="+", default=[2000])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    with open(a.out, "a") as fh:
        for name in a.data:
            for n in a.n:
                for seed in a.seeds:
                    X = data(name, n, seed)
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r = factorize(X, rng=seed)
                    row = {"data": name, "n": n, "seed": seed, "expected": DATA[name][1],
                           "n_factors": r.n_factors, "sizes": [len(f) for f in r.factors],
                           "seconds": round(time.perf_counter() - t0, 1), "message": r.message}
                    fh.write(json.dumps(row) + "\n")
                    fh.flush()
                    print(json.dumps(row)[:200], flush=True)


if __name__ == "__main__":
    main()
