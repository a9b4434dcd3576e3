"""Where ``denoise="auto"`` must leave the data alone: clean and noisy maps at small n (issue 10).

For the paper's rotor map (``../shared/data/rotating_shaft_res6.mrc``; skipped when absent)
rotated by the paper's angle mixture (:func:`conformap.datasets.rotate_map`, clean and with
noise 0.1 of the maximum voxel), n = 100-800, and for 64 x 64 particle images
(:func:`conformap.datasets.make_particles`, clean and SNR 10 and 1): the noise fraction and
rank of :func:`conformap.denoise.fit_denoiser`, whether "auto" applies, and for the noisy
maps the circle error of ``DiffusionMap`` (defaults) with ``denoise="pca"`` (forced) and
``"off"``: the measurement behind the upper bound on p / n of the rule (``DENOISE_MAX_RATIO``; the
bound was :math:`n \\ge p` when this ran).

Usage::

    python -m benchmarks.denoise_small [--out docs/large-n/denoise-small.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from ._harness import command_line, write_json

MAP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "rotating_shaft_res6.mrc"


def main(argv=None) -> int:
    from conformap import DiffusionMap
    from conformap import denoise as dn
    from conformap.datasets import make_particles, rotate_map
    from conformap.evaluate import circle_recovery

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/large-n/denoise-small.json")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []
    load0 = os.getloadavg()
    if MAP.is_file():
        import mrcfile

        vol = mrcfile.read(MAP).astype(np.float32)
        for n in (100, 200, 400, 800):
            for noise in (0.0, 0.1):
                maps, ang = rotate_map(vol, n, noise=noise, rng=0)
                m = dn.fit_denoiser(maps)
                row = {"data": "rotor map", "n": n, "values": int(maps[0].size),
                       "noise": noise, "noise_fraction": m.noise_fraction, "rank": m.rank,
                       "auto_applies": dn.fit_for(maps, "auto") is not None}
                if noise > 0:
                    for d in ("pca", "off"):
                        dm = DiffusionMap(metric_params={"negative": "keep"}, denoise=d,
                                          random_state=0).fit(maps)
                        r = circle_recovery(dm.embedding_, ang)
                        row[d] = [r.median_error, r.p90_error]
                rows.append(row)
                print(row, flush=True)
    for n in (400, 6000):
        for snr in (None, 10.0, 1.0):
            im, _ = make_particles(n, size=64, snr=snr, rng=0)
            m = dn.fit_denoiser(im)
            row = {"data": "64x64 images", "n": n, "values": 4096, "noise": snr,
                   "noise_fraction": m.noise_fraction, "rank": m.rank,
                   "auto_applies": dn.fit_for(im, "auto") is not None}
            rows.append(row)
            print(row, flush=True)
    out = {"kind": "denoise-small", "rows": rows, "load_average": [load0, os.getloadavg()],
           "command": command_line("benchmarks.denoise_small", argv)}
    write_json(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
