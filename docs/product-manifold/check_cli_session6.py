"""Issue 12, session 6: ``conformap factorize IMAGES --out OUT`` with no options, against the API.

    python docs/product-manifold/check_cli_session6.py --out docs/product-manifold/cli_session6.json

For two held-out image sets (seeds never used before 70-72) the CLI's bins are compared with
``factorize(images, rng=0)`` (the CLI's defaults: N = 100, seed 0); a plain circle and a swiss
roll (no product) go through the CLI only: exit status, number of factors and message.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_swiss_roll

from conformap.datasets import make_product_cryoem
from conformap.product import FactorizationWarning, factorize

CLI = str(Path(sys.executable).with_name("conformap"))


def _cli(x: np.ndarray, tmp: Path, name: str) -> dict:
    path = tmp / f"{name}.npy"
    np.save(path, x)
    proc = subprocess.run([CLI, "factorize", str(path), "--out", str(tmp / name), "--quiet"],
                          capture_output=True, text=True, check=False)
    out = {"exit_status": proc.returncode, "stdout_head": proc.stdout[:400],
           "stderr_tail": proc.stderr[-400:]}
    if proc.returncode == 0:
        summary = json.loads((tmp / f"{name}.json").read_text())
        out.update(n_factors=summary["n_factors"], factors=summary["factors"],
                   message=summary["message"])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n, snr, slide, seed in ((2000, 1.0, False, 70), (3000, 0.1, True, 71)):
            images, _ = make_product_cryoem(n, snr=snr, slide=slide, rng=seed)
            name = f"images_n{n}_snr{snr:g}_{'slide' if slide else 'two'}_seed{seed}"
            cli = _cli(images, tmp, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FactorizationWarning)
                api = factorize(images, rng=0)
            api_bins = [f.tolist() for f in api.factors]
            rows.append({"case": name, **cli, "api_factors": api_bins,
                         "same_bins": cli.get("factors") == api_bins})
        rng = np.random.default_rng(70)
        theta = rng.uniform(0, 2 * np.pi, 1500)
        circle = np.column_stack([np.cos(theta), np.sin(theta)])
        roll = make_swiss_roll(1500, random_state=70)[0]
        for name, x in (("circle_n1500_seed70", circle), ("swiss_roll_n1500_seed70", roll)):
            rows.append({"case": name, **_cli(x, tmp, name)})
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    for r in rows:
        print(json.dumps({k: r.get(k) for k in ("case", "exit_status", "n_factors", "factors",
                                                 "same_bins", "message")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
