"""Issue 12, session 13: ``conformap factorize IMAGES --out OUT`` exactly so, on fresh stacks.

    python docs/product-manifold/check_cli_session13.py \\
        --out docs/product-manifold/cli_session13.json

Eight image sets with seeds used nowhere else (181-188): two-factor images (n = 3000, 8000,
10,000 at SNR 1 and 0.1; the n = 3000 SNR 0.1 one written as an ``.mrcs`` stack, the others as
``.npy``) and three-part images (n = 3000, 6000, 10,000). Each goes through the CLI with no
option; OUT.json's bins and OUT.npz's eigenvectors are scored against the generator's ground
truth (``factor_assignment``, the issue's target: confident accuracy >= 0.9 and at least 2
confident eigenvectors per factor), with the rejoin steps the run recorded, its wall time and
peak memory (``/usr/bin/time``). ``--seed-offset K`` adds K to every seed (session 14: 10,
seeds 191-198, the ``.mrcs`` stack then the second run's); each row also records the
``unmix_bins`` groups.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import mrcfile
import numpy as np

from conformap.datasets import make_product_cryoem
from conformap.evaluate import factor_assignment

#: (n, SNR, seed, three-part)
RUNS = [(3000, 1.0, 181, False), (3000, 0.1, 182, False), (8000, 1.0, 183, False),
        (8000, 0.1, 184, False), (10000, 0.1, 185, False), (6000, 0.1, 186, True),
        (10000, 1.0, 187, True), (3000, 1.0, 188, True)]


def check(run, tmp: Path, offset: int = 0) -> dict:
    n, snr, seed, slide = run
    mrcs = seed == 182
    seed += offset
    images, truth = make_product_cryoem(n, snr=snr, slide=slide, rng=seed)
    stack = tmp / (f"{seed}.mrcs" if mrcs else f"{seed}.npy")
    if stack.suffix == ".mrcs":
        with mrcfile.new(stack) as m:
            m.set_data(images.astype(np.float32))
    else:
        np.save(stack, images)
    out = tmp / f"out{seed}"
    cli = Path(sys.executable).with_name("conformap")
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", str(cli), "factorize", str(stack),
                           "--out", str(out), "--quiet"], capture_output=True, text=True)
    wall, kb = proc.stderr.strip().splitlines()[-1].split()
    res = json.loads(out.with_suffix(".json").read_text())
    vec = np.load(out.with_suffix(".npz"))["eigenvectors"]
    bins = [np.asarray(f) for f in res["factors"]]
    ev = factor_assignment(bins, vec, truth)
    ok = (ev.predicted != -1) & ev.confident & ev.correct
    per = [int((ok & (ev.true_label == f)).sum()) for f in range(ev.r2.shape[1])]
    return {"n": n, "snr": snr, "seed": seed, "motions": 3 if slide else 2,
            "stack": stack.suffix, "exit_status": proc.returncode,
            "n_factors_found": len(bins), "accuracy": round(float(ev.accuracy), 3),
            "confident_accuracy": round(float(ev.confident_accuracy), 3),
            "confident_correct_per_factor": per,
            "target_met": bool(len(bins) == ev.r2.shape[1] and ev.confident_accuracy >= 0.9
                               and min(per) >= 2),
            "rejoin_steps": [lv for lv in res["levels"] if lv["split"] == "rejoin"],
            "unmix_bins_steps": [st for lv in res["levels"] if lv["split"] == "unmix_bins"
                                 for st in lv["steps"]],
            "wall_s": float(wall), "peak_rss_gib": round(int(kb) / 2**20, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed-offset", type=int, default=0)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        rows = [check(r, Path(d), a.seed_offset) for r in RUNS]
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
