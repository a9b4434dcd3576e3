"""``conformap demo``: the main job on built-in data, in about a minute."""

from __future__ import annotations

import sys
import time

from ._common import add_output_options, check_output_directory, progress_enabled

#: Appended to recovery.md under the table: what each column means.
RECOVERY_COLUMNS = """\
Columns:

* **data**, **n**, **metric**: the rotor maps (clean, or with Gaussian noise of s.d. 0.1 of the
  maximum voxel), how many, and the distance (WEMD or Euclidean) of the diffusion map.
* **bandwidth**: the kernel width sigma chosen by the "auto" rule (in the metric's units).
* **median_err_deg**, **p90_err_deg**: the median and 90th percentile of the absolute angular
  error, in degrees, between each map's true rotor angle and its angle around the centre of the
  (psi1, psi2) embedding, after the best rotation (and reflection) of the embedding.
* **circ_corr**: the circular correlation coefficient (Jammalamadaka & SenGupta) between the
  estimated and the true angles: sum sin(a - mean a) sin(b - mean b), normalised; 1 when the
  angles agree up to a rotation.
* **geometry_corr**: the Spearman rank correlation between all pairwise distances in the
  embedding (each axis scaled to [-1, 1]) and the chord distances between the true angles on the
  unit circle: 1 when the embedding keeps which maps are near and which are far.
* **seconds**: wall time of the fit (distances, kernel, eigenvectors).

Why circ_corr and geometry_corr can disagree: circ_corr looks only at the angle of each point
around the embedding's centre, geometry_corr only at distances between points. An embedding
whose points sit at the right angles but at very different radii (or bunched in tight clusters,
as the rotor's three dominant states are) keeps a high circ_corr while its distances, and so
geometry_corr, are off. Conversely, an embedding that is a faithful arc but not a closed circle
keeps most distances (high geometry_corr) while its angles around the centre are compressed.
circ_corr is also unstable when the angles cluster at three states 120 degrees apart: their
circular mean is then nearly undefined, so the sine deviations it is built on are ill-defined.
"""


def plot_summary(panels, path, *, n_cols: int):
    """All embeddings side by side, coloured by the true angle, one shared colour bar."""
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(rows, n_cols, figsize=(3.1 * n_cols + 0.9, 3.0 * rows + 0.6),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    first = None
    for ax, (tag, emb, ang, rec) in zip(axes.ravel(), panels, strict=True):
        # one colour bar for the whole figure: all panels share the 0-360 angle scale
        sc = ax.scatter(emb[:, 0], emb[:, 1], c=ang, cmap="twilight", vmin=0, vmax=360, s=10,
                        linewidths=0)
        first = first or sc
        data, n, metric = tag.split("_")
        name = {"wemd": "WEMD", "euclidean": "Euclidean"}.get(metric, metric)
        ax.set_title(f"{data}, n = {n[1:]}, {name}\nmedian error {rec.median_error:.1f}°",
                     fontsize=8)
        ax.set_xlabel("ψ1", fontsize=8)
        ax.set_ylabel("ψ2", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_aspect("equal", adjustable="datalim")
    fig.colorbar(first, ax=axes, label="true rotor angle (deg)", shrink=0.8)
    fig.suptitle("Rotor embeddings coloured by true angle (WEMD vs Euclidean)", fontsize=10)
    return save_figure(fig, path)


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="simulate the rotor, embed it with WEMD and Euclidean diffusion maps, write figures",
        description="Simulate the ATP-synthase-like rotor (clean and noisy, n = 25 and 100), "
        "embed with WEMD and Euclidean diffusion maps, and write one figure per embedding, a "
        "summary figure and a table of angular recovery errors.",
    )
    p.add_argument(
        "--out", default="conformap-demo",
        help="output directory (default conformap-demo): created if missing (its parent must "
        "exist); an existing non-empty one is refused unless --overwrite",
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[25, 100], help="sample sizes")
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm.auto import tqdm

    from ..datasets import make_rotor
    from ..estimators import DiffusionMap
    from ..evaluate import circle_recovery
    from ..io import atomic_path, write_csv
    from ._common import output_stem
    from ._embed import write_outputs

    out = check_output_directory(args)  # before any computation
    out.mkdir(exist_ok=True)
    rows, panels = [], []
    t0 = time.perf_counter()
    bar = tqdm(total=4 * len(args.sizes), desc="demo", unit="embedding", leave=False,
               disable=not progress_enabled(args))
    for noise in (0.0, 0.1):
        for n in args.sizes:
            maps, angles = make_rotor(n, noise=noise, rng=args.seed)
            for metric in ("wemd", "euclidean"):
                params = {"negative": "keep"} if metric == "wemd" else None
                bar.set_postfix_str(f"{'noisy' if noise else 'clean'} n={n} {metric}")
                t1 = time.perf_counter()
                dm = DiffusionMap(2, metric=metric, metric_params=params).fit(maps)
                secs = time.perf_counter() - t1
                bar.update(1)
                rec = circle_recovery(dm.embedding_, angles)
                tag = f"{'noisy' if noise else 'clean'}_n{n}_{metric}"
                names = [f"rotor_{i:04d}" for i in range(n)]
                write_outputs(
                    output_stem(str(out / tag)),
                    dm,
                    names,
                    color=angles,
                    color_label="angle (deg)",
                    cyclic=True,
                    title=f"{tag}: median error {rec.median_error:.1f}°",
                )
                rows.append(
                    [
                        ("noisy" if noise else "clean"),
                        n,
                        metric,
                        f"{dm.bandwidth_:.4g}",
                        f"{rec.median_error:.2f}",
                        f"{rec.p90_error:.2f}",
                        f"{rec.circular_correlation:.3f}",
                        f"{rec.geometry_correlation:.3f}",
                        f"{secs:.2f}",
                    ]
                )
                panels.append((tag, dm.embedding_, angles, rec))
                tqdm.write(
                    f"  {tag:24s} median angular error {rec.median_error:6.2f} deg, "
                    f"geometry correlation {rec.geometry_correlation:.3f} ({secs:.1f} s)",
                    file=sys.stdout,
                )
    bar.close()
    header = [
        "data",
        "n",
        "metric",
        "bandwidth",
        "median_err_deg",
        "p90_err_deg",
        "circ_corr",
        "geometry_corr",
        "seconds",
    ]
    table = write_csv(out / "recovery.csv", header, rows)
    md = out / "recovery.md"
    with atomic_path(md) as tmp:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        tmp.write_text("\n".join(lines) + "\n\n" + RECOVERY_COLUMNS)
    summary = plot_summary(panels, out / "summary.png", n_cols=2 * len(args.sizes))
    print(
        f"demo finished in {time.perf_counter() - t0:.0f} s; wrote {summary}, {table}, {md} "
        f"and one .npz/.csv/.png per embedding in {out}/",
        file=sys.stdout,
    )
    return 0
