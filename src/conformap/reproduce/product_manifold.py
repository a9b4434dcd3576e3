"""Product manifold learning (Zhang, Moscovich & Singer 2021): Figs. 2-7 and Table 1.

Writes figures (PNG), ``results.md`` (assignment accuracy of every experiment, timings) and
``results.json`` to ``--out``. The default quick mode uses fewer samples (a few minutes on 2
cores); ``--full`` uses the paper's 10,000 samples and N up to 400 for Table 1.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

QUICK = {"rect": 5000, "cryo": 3000, "torus": 4000, "box": 6000, "timing": 3000,
         "timing_N": (50, 100, 200, 400), "N": 100, "N_cryo": 50}
FULL = {"rect": 10000, "cryo": 10000, "torus": 10000, "box": 10000, "timing": 10000,
        "timing_N": (50, 100, 200, 400), "N": 100, "N_cryo": 100}
EXPERIMENTS = ("fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "table1")


def _log(msg: str) -> None:
    """Progress line (``conformap reproduce`` shows this logger's INFO records on stdout)."""
    logger.info(msg)


def _acc_row(name, res, ev, n, params, extra=""):
    return {
        "experiment": name, "n": n, "N": res.eigenvectors.shape[1] - 1,
        "delta": round(res.delta, 4), "gamma": res.gamma, "bandwidth": round(res.bandwidth, 4),
        "factors": [f.tolist() for f in res.factors],
        "n_triplets": len(res.triplets), "n_assigned": ev.n_assigned,
        "accuracy": ev.accuracy, "confident_accuracy": ev.confident_accuracy,
        "recall": ev.recall, "params": params, "note": extra,
        "n_factors_found": len(res.factors), "message": res.message,
        "confidence": [[round(float(c), 3) for c in cf] for cf in res.confidence],
        "cut_fraction": [round(float(f), 3) for f in res.cut_fraction],
        "preprocessing": res.preprocessing,
        "per_eigenvector": ev.table(),
    }


def _fmt(v):
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.2f}"


def _fig2(cfg, out, seed, rows):
    from ..datasets import make_rectangle
    from ..evaluate import factor_assignment
    from ..plotting import pyplot, save_figure
    from ..product import factorize_spectrum, laplacian_spectrum, plot_factor_eigenvectors

    n = cfg["rect"]
    X, truth = make_rectangle(n, rng=seed)
    t0 = time.perf_counter()
    spec = laplacian_spectrum(X, n_eigenvectors=cfg["N"], bandwidth="mst", rng=seed)
    t_spec = time.perf_counter() - t0
    results = {}
    for label, kw in (("defaults", {}), ("paper (delta=0.5, gamma=0.85)",
                                         {"delta": 0.5, "gamma": 0.85})):
        res = factorize_spectrum(spec, rng=seed, t_spectrum=t_spec, **kw)
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        rows.append(_acc_row(f"Fig. 2 rectangle, {label}", res, ev, n, kw))
        results[label] = (res, ev)
    res, ev = results["defaults"]
    # left panel: the data coloured by z, then the factor eigenvectors on (x, y)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 2.6))
    sub = np.random.default_rng(0).permutation(n)[:2000]
    sc = ax.scatter(X[sub, 0], X[sub, 1], c=X[sub, 2], s=2, cmap="coolwarm", rasterized=True)
    fig.colorbar(sc, ax=ax, label="z noise")
    ax.set_aspect("equal")
    ax.set_title(f"noisy rectangle, n={n}", fontsize=9)
    save_figure(fig, out / "fig2_rectangle_data.png")
    order = sorted(range(len(res.factors)), key=lambda f: -_mean_r2(ev, res.factors[f], 1))
    plot_factor_eigenvectors(_reorder(res, order), out / "fig2_rectangle.png",
                             coords=np.column_stack([truth["x"], truth["y"]]),
                             coord_labels=("x", "y"),
                             title=f"rectangle n={n}, N={cfg['N']}: δ={res.delta:.3g} (auto), "
                             f"γ={res.gamma}; accuracy {_fmt(ev.accuracy)}")
    return spec, truth, results


def _mean_r2(ev, cols, f):
    idx = [int(np.flatnonzero(ev.columns == c)[0]) for c in cols if c in ev.columns]
    return float(np.nanmean(ev.r2[idx, f])) if idx else 0.0


def _reorder(res, order):
    import dataclasses

    return dataclasses.replace(res, factors=[res.factors[i] for i in order])


def _fig3(cfg, out, seed, rows):
    import warnings

    from ..datasets import make_product_cryoem, pca_standardize
    from ..evaluate import factor_assignment
    from ..product import FactorizationWarning, factorize, plot_factor_eigenvectors

    n = cfg["cryo"]
    sims = (("a", "x-stretch, low noise (SNR 1)", 1.0, False),
            ("b", "x-stretch, high noise (SNR 0.1)", 0.1, False),
            ("c", "x- and y-stretch, low noise (SNR 1)", 1.0, True))
    kept = {}
    for tag, label, snr, sy in sims:
        t0 = time.perf_counter()
        images, truth = make_product_cryoem(n, snr=snr, stretch_y=sy, rng=seed + 1)
        X = pca_standardize(images, 4)
        t_data = time.perf_counter() - t0
        n_factors = 3 if sy else 2
        # conformap's defaults on the images themselves (no option: PCA above the noise edge,
        # number of factors from the data), then the paper's preprocessing and settings
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FactorizationWarning)
            dres = factorize(images, n_eigenvectors=cfg["N_cryo"], rng=seed)
        dev = factor_assignment(dres.factors, dres.eigenvectors, truth)
        rows.append(_acc_row(f"Fig. 3{tag} cryo-EM, {label}, defaults on the images", dres,
                             dev, n, {"snr": snr, "stretch_y": sy},
                             f"{dres.message}; {time.perf_counter() - t0:.0f} s"))
        del images
        res = factorize(X, n_eigenvectors=cfg["N_cryo"], n_factors=n_factors, rng=seed)
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        rows.append(_acc_row(f"Fig. 3{tag} cryo-EM, {label}, paper's PCA 4", res, ev, n,
                             {"snr": snr, "stretch_y": sy, "pca": 4, "n_factors": n_factors},
                             f"images + PCA {t_data:.0f} s"))
        order = sorted(range(len(res.factors)), key=lambda f: -_mean_r2(ev, res.factors[f], 1))
        # the two coordinates that vary in this experiment: x- and y-stretch for 3c
        second = ("stretch_y", "y-stretch (pixels)") if sy else ("angle_deg",
                                                                  "rotation (degrees)")
        plot_factor_eigenvectors(
            _reorder(res, order), out / f"fig3{tag}_cryoem.png",
            coords=np.column_stack([truth["stretch_x"], truth[second[0]]]),
            coord_labels=("x-stretch (pixels)", second[1]),
            title=f"cryo-EM {label}, n={n}, paper's PCA (4, standardised)\n"
            f"accuracy {_fmt(ev.accuracy)}, confident {_fmt(ev.confident_accuracy)}; "
            "panel titles: eigenvector, eigenvalue, assignment confidence")
        kept[tag] = (X, truth, res)
    _example_images(out / "fig3_images.png", seed)
    return kept


def _example_images(path, seed):
    from ..datasets import make_product_cryoem
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    clean, t = make_product_cryoem(4, snr=None, rng=seed + 7)
    noisy = [make_product_cryoem(4, snr=s, rng=seed + 7)[0] for s in (1.0, 0.1)]
    fig, axes = plt.subplots(3, 4, figsize=(6.4, 5))
    for j in range(4):
        for i, (imgs, name) in enumerate(zip([clean, *noisy], ["clean", "SNR 1", "SNR 0.1"],
                                             strict=True)):
            axes[i, j].imshow(imgs[j], cmap="gray")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(name, fontsize=8)
        axes[0, j].set_title(f"{t['angle_deg'][j]:.0f}°, {t['stretch_x'][j]:+.0f} px",
                             fontsize=8)
    fig.suptitle("synthetic two-subunit molecule: rotation angle, x-stretch", fontsize=9)
    save_figure(fig, path)


def _fig4(spec, truth, results, out, rows_extra):
    from ..evaluate import factor_r2
    from ..plotting import pyplot, save_figure
    from ..product import triplet_scores

    res, _ = results["defaults"]
    # the eigenvectors the triplets refer to (unmixed by default, not the graph's as given)
    phi, lam = res.eigenvectors[:, 1:], res.eigenvalues[1:]
    r2 = factor_r2(phi, truth)
    products = [k for k in res.triplets[:, 2] if r2[k - 1].max() < 0.1]
    rng = np.random.default_rng(4)
    ks = sorted(rng.choice(products, size=min(6, len(products)), replace=False).tolist())
    plt = pyplot()
    fig, axes = plt.subplots(1, len(ks), figsize=(2.3 * len(ks), 2.5), squeeze=False)
    outliers = []
    for ax, k in zip(axes[0], ks, strict=True):
        _pairs, sim, err = triplet_scores(phi, lam, k - 1)
        ax.scatter(sim, err, s=3, c="0.4", linewidths=0, rasterized=True)
        best = int(np.argmax(sim))  # the paper marks the pair of maximum similarity
        ax.annotate("", xy=(sim[best], err[best]), xytext=(-30, 30),
                    textcoords="offset points", arrowprops={"arrowstyle": "->", "color": "red"})
        ax.axhline(res.delta, color="C0", lw=0.8, ls="--")
        ax.axvline(res.gamma, color="C1", lw=0.8, ls="--")
        ax.set_title(f"k = {k}", fontsize=8)
        ax.set_xlabel("similarity S", fontsize=7)
        ax.tick_params(labelsize=6)
        second = float(np.sort(sim)[-2]) if sim.size > 1 else 0.0
        outliers.append({"k": int(k), "best": float(sim[best]), "second": float(second),
                         "best_eigenvalue_error": float(err[best])})
    axes[0, 0].set_ylabel("|λi + λj − λk|", fontsize=7)
    fig.suptitle("all pairs i < j < k: eigenvalue criterion vs similarity (dashed: 0.5λ1, γ; "
                 "arrow: maximum similarity)",
                 fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "fig4_criteria.png")
    rows_extra["fig4"] = outliers


def _fig5(spec, truth, out, seed, rows_extra):
    from ..evaluate import factor_assignment
    from ..plotting import pyplot, save_figure
    from ..product import factorize_spectrum

    lam1 = float(spec.eigenvalues[1])
    base_delta, base_gamma = 0.5 * lam1, 0.75
    deltas = [m * lam1 for m in (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)]
    gammas = [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    settings = [("δ", d, {"delta": d, "gamma": base_gamma}) for d in deltas] + [
        ("γ", g, {"delta": base_delta, "gamma": g}) for g in gammas]
    n_cols = 40
    grid = np.zeros((len(settings), n_cols))
    table = []
    for r, (name, val, kw) in enumerate(settings):
        try:
            res = factorize_spectrum(spec, rng=seed, n_factors=2, **kw)
        except ValueError:
            res = None
        if res is None or res.n_factors < 2:  # no product triplet at this setting
            table.append({"param": name, "value": val, "accuracy": None})
            continue
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        # colour by the ground-truth factor of the bin (x = +1, y = -1)
        for b, cols in enumerate(res.factors):
            sign = 1 if ev.bin_to_factor[b] == 0 else -1
            for c in cols:
                if c <= n_cols:
                    grid[r, c - 1] = sign
        table.append({"param": name, "value": round(val, 4), "accuracy": ev.accuracy,
                      "n_assigned": ev.n_assigned})
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.imshow(grid, cmap="bwr", vmin=-1.5, vmax=1.5, aspect="auto")  # +1 (x) red, -1 (y) blue
    ax.set_yticks(range(len(settings)),
                  [f"{n} = {v:.3g}" + (f" ({v / lam1:.2g}λ1)" if n == "δ" else "")
                   for n, v, _ in settings], fontsize=7)
    ax.set_xticks(range(n_cols), [str(c) for c in range(1, n_cols + 1)], fontsize=6)
    ax.set_xlabel("eigenvector k (red: x factor, blue: y factor, white: product/unassigned)",
                  fontsize=8)
    ax.axhline(len(deltas) - 0.5, color="k", lw=1)
    ax.set_title(f"sensitivity (rectangle): δ varied at γ = {base_gamma}, γ varied at "
                 f"δ = 0.5λ1 = {base_delta:.3g}", fontsize=8)
    save_figure(fig, out / "fig5_sensitivity.png")
    rows_extra["fig5"] = table


def _fig6(cfg, out, seed, rect, cryo, rows):
    from sklearn.decomposition import FastICA

    from ..datasets import make_torus
    from ..evaluate import factor_assignment
    from ..plotting import pyplot, save_figure
    from ..product import factorize

    n = cfg["torus"]
    Xt, tt = make_torus(n, rng=seed + 2)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # disconnected separability graph: reported in rows
        rest = factorize(Xt, n_eigenvectors=cfg["N"], rng=seed)
    evt = factor_assignment(rest.factors, rest.eigenvectors, tt)
    rows.append(_acc_row("Fig. 6 torus", rest, evt, n, {}))
    rect_X, rect_truth, rect_res = rect
    cryo_X, cryo_truth, cryo_res = cryo
    def colours(truth):  # in the order of truth["spec"], as bin_to_factor is
        spec = truth["spec"]
        return ([truth[f["coordinate"]] for f in spec], [f["name"] for f in spec],
                [f["kind"] == "circle" for f in spec])

    data = [("cryo-EM (3a)", cryo_X, cryo_res, *colours(cryo_truth)),
            ("torus", Xt, rest, *colours(tt)),
            ("rectangle", rect_X, rect_res, *colours(rect_truth))]
    plt = pyplot()
    fig, axes = plt.subplots(3, 4, figsize=(14, 9.6))
    rng = np.random.default_rng(0)

    def scatter(ax, x, y, c, cyclic, label):
        sc = ax.scatter(x, y, c=c, s=2, cmap="twilight" if cyclic else "viridis",
                        rasterized=True)
        cb = fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.03)
        cb.set_label(label, fontsize=7)
        cb.ax.tick_params(labelsize=6)

    for r, (name, X, res, colors, clabels, cyc) in enumerate(data):
        sub = rng.permutation(X.shape[0])[:1500]
        ev = factor_assignment(res.factors, res.eigenvectors,
                               {**(cryo_truth if r == 0 else tt if r == 1 else rect_truth)})
        for f in range(2):
            ax = axes[r, f]
            if f >= len(res.factors):
                ax.axis("off")
                continue
            g = ev.bin_to_factor[f] if ev.bin_to_factor[f] >= 0 else f
            cols = res.factors[f][:2]
            emb = res.eigenvectors[:, cols]
            y = emb[sub, 1] if emb.shape[1] > 1 else np.zeros(sub.size)
            scatter(ax, emb[sub, 0], y, np.asarray(colors[g])[sub], cyc[g], clabels[g])
            conf = res.confidence[f][:2] if res.confidence else []
            ax.set_title(f"{name}: factor {f + 1}\n(φ{', φ'.join(map(str, cols))}; confidence "
                         f"{', '.join(f'{c:.2f}' for c in conf)})", fontsize=8)
        ax = axes[r, 2]
        scatter(ax, res.eigenvectors[sub, 1], res.eigenvectors[sub, 2],
                np.asarray(colors[0])[sub], cyc[0], clabels[0])
        ax.set_title(f"{name}:\nstandard diffusion map (φ1, φ2)", fontsize=8)
        ica = FastICA(n_components=min(3, X.reshape(len(X), -1).shape[1]), random_state=0,
                      max_iter=1000, tol=1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = ica.fit_transform(X.reshape(len(X), -1))
        ax = axes[r, 3]
        scatter(ax, s[sub, 0], s[sub, 1], np.asarray(colors[0])[sub], cyc[0], clabels[0])
        ax.set_title(f"{name}:\nlinear ICA (components 1, 2)", fontsize=8)
        for a in axes[r]:
            a.tick_params(labelsize=6)
    fig.suptitle("Fig. 6: per-factor embeddings (left two columns) vs a standard diffusion map "
                 "and linear ICA; colour = ground-truth coordinate (colour bar)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_figure(fig, out / "fig6_embeddings.png")


def _fig7(cfg, out, seed, rows):
    from ..datasets import make_box
    from ..evaluate import factor_assignment
    from ..plotting import pyplot, save_figure
    from ..product import factorize_spectrum, laplacian_spectrum

    n = cfg["box"]
    X, truth = make_box(n, rng=seed + 3)
    import warnings

    # one spectrum for the three factorizations (each factorize() call rebuilt the same graph)
    t0 = time.perf_counter()
    spec = laplacian_spectrum(X, n_eigenvectors=cfg["N"], rng=seed)
    t_spec = time.perf_counter() - t0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = factorize_spectrum(spec, n_factors=3, hierarchical=True, rng=seed,
                                 t_spectrum=t_spec)
    ev = factor_assignment(res.factors, res.eigenvectors, truth)
    note = "; ".join(str(w.message)[:120] for w in caught)
    rows.append(_acc_row("Fig. 7 box, hierarchical", res, ev, n, {"hierarchical": True},
                         note))
    res3 = factorize_spectrum(spec, n_factors=3, rng=seed, t_spectrum=t_spec)
    ev3 = factor_assignment(res3.factors, res3.eigenvectors, truth)
    rows.append(_acc_row("Sec. 5 box, MAX-3-CUT", res3, ev3, n, {"n_factors": 3}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resa = factorize_spectrum(spec, rng=seed, t_spectrum=t_spec)  # n_factors="auto"
    eva = factor_assignment(resa.factors, resa.eigenvectors, truth)
    rows.append(_acc_row("Sec. 5 box, number of factors from the data (auto)", resa, eva, n,
                         {"n_factors": "auto"}, resa.message))
    # bins of every level: R^2 of each eigenvector on x, y, z
    bins = [("bin #1", res.levels[0]["bins"][0]), ("bin #2", res.levels[0]["bins"][1])]
    # hierarchical splits only (not refine_bins' revisions nor merge_bins' joins)
    splits = [lv for lv in res.levels[1:] if isinstance(lv["split"], list)]
    for lvl, level in enumerate(splits):
        bins += [(f"bin #{3 + 2 * lvl}", level["bins"][0]),
                 (f"bin #{4 + 2 * lvl}", level["bins"][1])]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(bins), figsize=(2.2 * len(bins), 3.6), squeeze=False)
    for ax, (name, cols) in zip(axes[0], bins, strict=True):
        cols = [c for c in cols if c in ev.columns][:14]
        idx = [int(np.flatnonzero(ev.columns == c)[0]) for c in cols]
        im = ax.imshow(ev.r2[idx] if idx else np.zeros((1, 3)), vmin=0, vmax=1, cmap="magma",
                       aspect="auto")
        ax.set_xticks(range(3), ["x", "y", "z"], fontsize=7)
        ax.set_yticks(range(len(cols)), [f"φ{c}" for c in cols], fontsize=6)
        ax.set_title(name, fontsize=8)
    fig.suptitle(f"hierarchical factorization of the box, n={n}: R² of each bin's eigenvectors "
                 "on each coordinate (1 = function of that coordinate only)", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.9, 0.94))
    cax = fig.add_axes((0.92, 0.15, 0.015, 0.7))
    fig.colorbar(im, cax=cax).set_label("R² on the coordinate", fontsize=8)
    save_figure(fig, out / "fig7_hierarchical.png")


def _table1(cfg, out, seed, rows_extra):
    from ..datasets import make_rectangle
    from ..evaluate import factor_assignment
    from ..product import factorize

    n = cfg["timing"]
    X, truth = make_rectangle(n, rng=seed)
    table = []
    for N in cfg["timing_N"]:
        res = factorize(X, n_eigenvectors=N, rng=seed)
        ev = factor_assignment(res.factors, res.eigenvectors, truth)
        t = res.timings
        table.append({"N": N, "diffusion_map_s": t["diffusion_map"], "alg1_s": t["triplets"],
                      "sorting_s": t["sorting"], "accuracy": ev.accuracy,
                      "n_assigned": ev.n_assigned})
        _log(f"Table 1: N={N}: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
    rows_extra["table1"] = {"n": n, "rows": table}


def _tables(rows, extra) -> list[str]:
    """The markdown tables of a run (results.md and the README's generated blocks)."""
    lines = ["| experiment | n | N | δ | γ | σ | triplets | factors found | assigned | accuracy "
             "| confident acc. | recall | median confidence | factors (eigenvector columns) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fac = " / ".join(",".join(map(str, f[:12])) + (",…" if len(f) > 12 else "")
                         for f in r["factors"])
        conf = [c for cf in r.get("confidence", []) for c in cf]
        med = f"{np.median(conf):.2f}" if conf else "n/a"
        lines.append(f"| {r['experiment']} | {r['n']} | {r['N']} | {r['delta']:.3g} | "
                     f"{r['gamma']} | {r['bandwidth']:.3g} | {r['n_triplets']} | "
                     f"{r.get('n_factors_found', len(r['factors']))} | "
                     f"{r['n_assigned']} | {_fmt(r['accuracy'])} | "
                     f"{_fmt(r['confident_accuracy'])} | {_fmt(r['recall'])} | {med} | {fac} |")
    if "table1" in extra:
        t1 = extra["table1"]
        lines += ["", f"Table 1: running time per step (rectangle, n = {t1['n']}; seconds on "
                  "the machine of the run)", "",
                  "| N | diffusion map | Alg. 1 | sorting (graph + MAX-CUT) | accuracy |",
                  "|---|---|---|---|---|"]
        for r in t1["rows"]:
            lines.append(f"| {r['N']} | {r['diffusion_map_s']:.2f} s | {r['alg1_s']:.3f} s | "
                         f"{r['sorting_s']:.3f} s | {_fmt(r['accuracy'])} |")
    return lines


def _update_readme(out: Path, mode: str, lines: list[str], elapsed: float) -> None:
    """Replace the README's block between ``<!-- generated:MODE -->`` markers, if present."""
    begin, end = f"<!-- generated:{mode} -->", f"<!-- /generated:{mode} -->"
    for readme in (out / "README.md", out.parent / "README.md"):
        if readme.is_file() and begin in (text := readme.read_text()) and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            src = Path(os.path.relpath(out / "results.json", readme.parent)).as_posix()
            body = [f"_Generated from `{src}` by `conformap "
                    f"reproduce product-manifold{' --full' if mode == 'full' else ''}` "
                    f"({elapsed:.0f} s); do not edit by hand._", "", *lines]
            readme.write_text(head + begin + "\n" + "\n".join(body) + "\n" + end + tail)
            return


def render_results(data: dict) -> str:
    """``results.md`` of a run, from its parsed ``results.json`` (pure; registered in
    ``benchmarks/docs.py`` so the committed markdown cannot drift from the JSON)."""
    mode, rows, extra = data["mode"], data["rows"], data.get("extra", {})
    elapsed = float(data.get("elapsed_s", 0.0))
    where = (f"on {data['machine']}, Python {data['python']}" if "machine" in data
             else "on the machine of the run")
    lines = [f"# Product manifold learning: reproduced results ({mode} mode)", "",
             f"Command: `conformap reproduce product-manifold{' --full' if mode == 'full' else ''}"
             f"` ({elapsed:.0f} s {where})",
             *(["", f"**Stale:** {data['stale']}"] if data.get("stale") else []),
             "", "## Assignment accuracy", "", *_tables(rows, extra)]
    if "seconds" in extra:
        steps = extra["seconds"]
        lines += ["", "## Wall time of each step", "",
                  "| step | " + " | ".join(steps) + " | total |",
                  "|---|" + "---|" * (len(steps) + 1),
                  "| seconds | " + " | ".join(f"{v:.0f}" for v in steps.values())
                  + f" | {sum(steps.values()):.0f} |"]
    if "fig4" in extra:
        lines += ["", "## Fig. 4: best vs second-best similarity", "",
                  "| k | best S | second S | best pair's eigenvalue error |", "|---|---|---|---|"]
        for r in extra["fig4"]:
            lines.append(f"| {r['k']} | {r['best']:.3f} | {r['second']:.3f} | "
                         f"{r['best_eigenvalue_error']:.3g} |")
    if "fig5" in extra:
        lines += ["", "## Fig. 5: sensitivity (rectangle)", "", "| parameter | value | "
                  "accuracy | assigned |", "|---|---|---|---|"]
        for r in extra["fig5"]:
            lines.append(f"| {r['param']} | {r['value']} | {_fmt(r['accuracy'])} | "
                         f"{r.get('n_assigned', 0)} |")
    return "\n".join(lines) + "\n"


def _write_results(out, rows, extra, cfg, mode, elapsed):
    data = {"mode": mode, "config": cfg, "rows": rows, "extra": extra, "elapsed_s": elapsed,
            "machine": platform.machine(), "python": platform.python_version()}
    text = json.dumps(data, indent=1,
                      default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    (out / "results.json").write_text(text)
    # rendered from the JSON as written (what benchmarks/docs.py re-renders)
    (out / "results.md").write_text(render_results(json.loads(text)))
    _update_readme(out, mode, _tables(rows, extra), elapsed)


def run(*, out="docs/product-manifold", full: bool = False, seed: int = 0, only=None) -> int:
    """Run the experiments (``only``: a subset of EXPERIMENTS) and write them to ``out``."""
    cfg = FULL if full else QUICK
    mode = "full" if full else "quick"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = set(only or EXPERIMENTS)
    rows: list[dict] = []
    extra: dict = {}
    seconds: dict[str, float] = {}  # wall time of each step of this run
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = seconds.get(step, 0.0) + now - clock[0]
        clock[0] = now

    rect = cryo = None
    if todo & {"fig2", "fig4", "fig5", "fig6"}:
        _log(f"Fig. 2: rectangle n={cfg['rect']}")
        spec, truth, results = _fig2(cfg, out, seed, rows)
        from ..datasets import make_rectangle

        rect = (make_rectangle(cfg["rect"], rng=seed)[0], truth, results["defaults"][0])
        lap("fig2")
        if "fig4" in todo:
            _log("Fig. 4: criteria scatter")
            _fig4(spec, truth, results, out, extra)
            lap("fig4")
        if "fig5" in todo:
            _log("Fig. 5: sensitivity")
            _fig5(spec, truth, out, seed, extra)
            lap("fig5")
    if todo & {"fig3", "fig6"}:
        _log(f"Fig. 3: cryo-EM n={cfg['cryo']} (x3)")
        kept = _fig3(cfg, out, seed, rows)
        cryo = kept["a"]
        lap("fig3")
    if "fig6" in todo:
        _log("Fig. 6: per-factor embeddings")
        _fig6(cfg, out, seed, rect, cryo, rows)
        lap("fig6")
    if "fig7" in todo:
        _log(f"Fig. 7: hierarchical box n={cfg['box']}")
        _fig7(cfg, out, seed, rows)
        lap("fig7")
    if "table1" in todo:
        _log(f"Table 1: timings n={cfg['timing']}")
        _table1(cfg, out, seed, extra)
        lap("table1")
    previous = out / "results.json"
    if only and previous.is_file():  # keep the other experiments of an earlier run
        old = json.loads(previous.read_text())
        if old.get("mode") == mode:
            names = {r["experiment"] for r in rows}
            rows = [r for r in old["rows"] if r["experiment"] not in names] + rows
            # a step that was run again replaces its old time (the sum of all partial runs
            # counted re-runs twice: the 3976 s once reported for the quick mode)
            seconds = {**old.get("extra", {}).get("seconds", {}), **seconds}
            extra = {**old.get("extra", {}), **extra}
    extra["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    elapsed = float(sum(extra["seconds"].values()))
    _write_results(out, rows, extra, cfg, mode, elapsed)
    for r in rows:
        _log(f"{r['experiment']}: accuracy {_fmt(r['accuracy'])} "
             f"({r['n_assigned']} assigned), confident {_fmt(r['confident_accuracy'])}")
    _log(f"done in {elapsed:.0f} s; wrote {out}/results.md")
    return 0
