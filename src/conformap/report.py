"""One self-contained, interactive HTML page for an embedding (``conformap report``).

The page inlines plotly.js (no network needed, nothing is fetched when it opens) and shows:

* the embedding (any two coordinates) as a scatter plot coloured by a metadata column chosen in
  a drop-down (the coordinates, the kernel degree, every numeric column of ``--color-by`` CSV
  files and, for a particle set, every numeric column of the STAR / ``.cs`` file);
* on hover, the item's name and a thumbnail (the image, or the central z-section of a map) for
  the items that have one: ``conformap embed`` stores thumbnails of a capped random subsample
  (:mod:`conformap.diagnostics`), or ``--input`` reads the items again;
* the eigenvalue spectrum, the bandwidth diagnostics (kernel-sum curve with the sigma of every
  rule and the one used; the distribution of kernel degrees);
* for ``conformap factorize`` output, the factor bins (which eigenvectors belong to which factor,
  which are products) and the per-factor embeddings;
* the run's parameters.

A lasso or box selection on any scatter plot downloads ``selection.txt``: a ``#`` comment line,
then one 0-based embedding row index a line, ready for ``conformap export --indices``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EmbeddingFile", "build_report", "load_embedding", "metadata_columns"]

#: Above this many items the scatter plots show a random subsample (said on the page).
MAX_POINTS = 100_000
#: Above this many shown points the scatter plots use WebGL (SVG gets slow).
WEBGL_POINTS = 20_000


def _error(msg: str):
    from .io import InputError

    return InputError(msg)


@dataclass
class EmbeddingFile:
    """What ``conformap embed`` or ``conformap factorize`` wrote, read back.

    ``embedding`` is (n, K): the diffusion coordinates (embed), or the non-trivial Laplacian
    eigenvectors (factorize; column k - 1 is eigenvector k, so ``psiK`` means the same in both).
    """

    path: Path
    kind: str
    embedding: np.ndarray
    names: list[str]
    eigenvalues: np.ndarray
    params: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    summary: dict | None = None
    inputs: list[str] = field(default_factory=list)
    datadir: str | None = None


def load_embedding(path) -> EmbeddingFile:
    """Read ``EMB.npz`` from ``conformap embed`` (or ``FAC.npz`` + ``FAC.json`` of factorize)."""
    path = Path(path)
    if not path.is_file():
        raise _error(f"{path}: no such file; pass the .npz that conformap embed wrote")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise _error(f"{path}: not a readable .npz file ({exc})") from exc
    if "names" not in arrays:
        raise _error(f"{path}: holds no item names; expected the .npz of conformap embed or "
                     "conformap factorize")
    names = [str(n) for n in arrays.pop("names")]
    params = json.loads(str(arrays.pop("params"))) if "params" in arrays else {}
    summary = None
    if "embedding" in arrays:
        kind, emb = "embed", arrays.pop("embedding")
    elif "eigenvectors" in arrays and "separability" in arrays:
        kind, emb = "factorize", arrays["eigenvectors"][:, 1:]
        side = path.with_suffix(".json")
        if side.is_file():
            summary = json.loads(side.read_text())
            params = summary.get("params", params)
    else:
        raise _error(f"{path}: holds neither 'embedding' (conformap embed) nor 'eigenvectors' "
                     "and 'separability' (conformap factorize)")
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != len(names):
        raise _error(f"{path}: embedding of shape {emb.shape} does not match {len(names)} names")
    inputs = json.loads(str(arrays.pop("inputs"))) if "inputs" in arrays else []
    if not inputs and summary is not None:
        inputs = [str(Path(i).absolute()) for i in summary.get("inputs", [])]
    datadir = str(arrays.pop("datadir")) if "datadir" in arrays else None
    return EmbeddingFile(path=path, kind=kind, embedding=emb, names=names,
                         eigenvalues=np.asarray(arrays.get("eigenvalues", [])), params=params,
                         arrays=arrays, summary=summary, inputs=inputs, datadir=datadir or None)


def _numeric(values) -> np.ndarray | None:
    try:
        out = np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out).any() else None


def metadata_columns(spec: str, names: list[str]) -> tuple[dict[str, np.ndarray], str | None]:
    """Numeric columns of ``FILE.csv[:COLUMN]`` for each item, and the column asked for.

    A bare ``FILE.csv`` gives every numeric column; the reader is
    :func:`conformap.io.read_metadata_table`.
    """
    from .io import read_metadata_table

    file, column = spec, None
    if not Path(spec).is_file() and ":" in spec:
        file, column = spec.rsplit(":", 1)
    if not Path(file).is_file():
        raise _error(f"--color-by {spec!r}: no such CSV file")
    return read_metadata_table(file, names, column), column


def particle_metadata(emb: EmbeddingFile) -> dict[str, np.ndarray]:
    """Numeric columns of the STAR / ``.cs`` file the embedding was computed from (if any)."""
    from .io import match_rows
    from .particles import PARTICLE_SUFFIXES, particle_block_name, read_cs, read_star_blocks

    if len(emb.inputs) != 1 or Path(emb.inputs[0]).suffix.lower() not in PARTICLE_SUFFIXES:
        return {}
    src = Path(emb.inputs[0])
    if not src.is_file():
        return {}
    if src.suffix.lower() == ".cs":
        from .particles import cs_names

        arr = read_cs(src)
        keys = cs_names(arr)
        cols = {f: np.asarray(arr[f], dtype=float) for f in arr.dtype.names
                if arr[f].ndim == 1 and np.issubdtype(arr[f].dtype, np.number)
                and f not in ("uid", "blob/idx")}
    else:
        blocks = read_star_blocks(src)
        df = blocks[particle_block_name(blocks, src)]
        keys = [str(v) for v in df["rlnImageName"]]
        cols = {}
        for c in df.columns:
            if c != "rlnImageName":
                vals = _numeric(df[c])
                if vals is not None:
                    cols[c] = vals
    try:
        order = match_rows(keys, emb.names, src)
    except ValueError:
        return {}
    return {k: v[order] for k, v in cols.items()}


def _png_data_url(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _thumbnails(emb: EmbeddingFile, input_override, max_thumbnails: int, seed: int):
    """{row index: PNG data URL}, and where they came from."""
    from .diagnostics import make_thumbnails

    if input_override is not None:
        from .io import read_stack

        stack = read_stack(input_override, densities=False, datadir=emb.datadir)
        if len(stack.names) != len(emb.names):
            raise _error(f"--input: holds {len(stack.names)} items but the embedding has "
                         f"{len(emb.names)}; pass the inputs that were embedded")
        rng = np.random.default_rng(seed)
        n = len(stack.names)
        pick = np.sort(rng.choice(n, size=min(n, max_thumbnails), replace=False))
        thumbs = make_thumbnails(stack.data, pick)
        where = "read again from --input"
    elif "thumbnails" in emb.arrays:
        thumbs = emb.arrays["thumbnails"][:max_thumbnails]
        pick = emb.arrays["thumbnail_index"][:max_thumbnails]
        where = f"stored in {emb.path.name}"
    else:
        return {}, "no thumbnails (pass --input to read the items again)"
    if thumbs is None:
        return {}, "no thumbnails (1-D items)"
    urls = {int(i): _png_data_url(t) for i, t in zip(pick, thumbs, strict=True)}
    return urls, f"{len(urls)} of {len(emb.names)} items ({where})"


def _cyclic_scale() -> list:
    """plotly's Twilight as an explicit scale (plotly.js has no cyclic scale built in)."""
    from plotly.colors import cyclical

    cols = cyclical.Twilight
    return [[i / (len(cols) - 1), c] for i, c in enumerate(cols)]


def _fig_json(fig) -> str:
    import plotly.io as pio

    return pio.to_json(fig, validate=False).replace("</", "<\\/")


def _scatter(x, y, idx, names, title, xlab, ylab, gl: bool):
    import plotly.graph_objects as go

    trace = (go.Scattergl if gl else go.Scatter)(
        x=x, y=y, mode="markers", customdata=[int(i) for i in idx], text=names,
        marker={"size": 6, "color": "#1f77b4", "colorscale": "Viridis", "showscale": False},
        hovertemplate="%{text}<br>" + xlab + " = %{x:.4g}<br>" + ylab + " = %{y:.4g}"
        "<extra></extra>",
    )
    fig = go.Figure(trace)
    fig.update_layout(title={"text": title, "x": 0.02}, xaxis_title=xlab, yaxis_title=ylab,
                      dragmode="lasso", template="simple_white", height=520,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def _spectrum(emb: EmbeddingFile):
    import plotly.graph_objects as go

    ev = np.asarray(emb.eigenvalues, dtype=float)
    k = np.arange(len(ev))
    colors, labels = ["#888"] * len(ev), ["trivial" if i == 0 else "" for i in k]
    if emb.summary is not None:
        palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        for f, members in enumerate(emb.summary.get("factors", [])):
            for m in members:
                if m < len(ev):
                    colors[m], labels[m] = palette[f % len(palette)], f"factor {f + 1}"
        for m in emb.summary.get("products", []):
            if m < len(ev):
                colors[m], labels[m] = "#bbb", "product"
    ylab = "Laplacian eigenvalue" if emb.kind == "factorize" else "Markov eigenvalue μ_k"
    fig = go.Figure(go.Bar(x=k, y=ev, marker_color=colors, text=labels,
                           hovertemplate="k = %{x}<br>%{y:.5g}<br>%{text}<extra></extra>"))
    title = "Eigenvalue spectrum" + (" (colour: factor bins)" if emb.summary else "")
    fig.update_layout(title={"text": title, "x": 0.02}, xaxis_title="index k",
                      yaxis_title=ylab, template="simple_white", height=360,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def _bandwidth(emb: EmbeddingFile):
    """Kernel-sum curve with the rules' sigmas, and the kernel-degree histogram (or None)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    a = emb.arrays
    used = a.get("bandwidth")
    if used is None and emb.summary is not None:
        used = emb.summary.get("bandwidth")
    has_curve = "bw_sigmas" in a and len(a["bw_sigmas"])
    has_deg = "kernel_degrees" in a
    if not (has_curve or has_deg):
        return None, f"bandwidth used: {float(used):.4g}" if used is not None else ""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=(
        "kernel sum S(σ) (subsample)", "kernel degree q_i of each item"))
    note = ""
    if has_curve:
        rules = json.loads(str(a["bw_rules"]))
        fig.add_trace(go.Scatter(x=a["bw_sigmas"], y=a["bw_log_kernel_sum"], mode="lines",
                                 name="log S(σ)", showlegend=False), row=1, col=1)
        marks = [(r, v) for r, v in rules.items() if r != "n_items" and np.isfinite(v)]
        if used is not None:
            marks.append(("used", float(used)))
        merged: list[tuple[str, float]] = []  # one line (and label) per distinct sigma
        for rule, v in sorted(marks, key=lambda m: m[1]):
            if merged and abs(v - merged[-1][1]) <= 0.01 * merged[-1][1]:
                merged[-1] = (merged[-1][0] + " = " + rule, merged[-1][1])
            else:
                merged.append((rule, v))
        marks = merged
        lo, hi = float(np.min(a["bw_log_kernel_sum"])), float(np.max(a["bw_log_kernel_sum"]))
        for j, (rule, v) in enumerate(marks):  # lines as traces: shapes misplace on log axes
            used_rule = rule.endswith("used")
            fig.add_trace(go.Scatter(
                x=[v, v], y=[lo, hi], mode="lines+text", showlegend=False,
                text=["", f"{rule} {v:.3g}"], textposition="top right" if j % 2 else
                "bottom right", textfont={"size": 10},
                line={"color": "#d62728" if used_rule else "#777",
                      "dash": "solid" if used_rule else "dot", "width": 2 if used_rule else 1},
                hovertemplate=f"{rule}: σ = {v:.4g}<extra></extra>"), row=1, col=1)
        fig.update_xaxes(type="log", title_text="σ", row=1, col=1)
        fig.update_yaxes(title_text="log S(σ)", row=1, col=1)
        note = (f"Kernel sum on a random subsample of {rules.get('n_items')} items; its slope "
                "in log σ is the dimension the data show at scale σ. ")
    if has_deg:
        counts, edges = np.histogram(a["kernel_degrees"], bins=40)  # 40 bars, not n values
        fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts,
                             width=float(edges[1] - edges[0]), showlegend=False,
                             marker_color="#1f77b4", hovertemplate="q ≈ %{x:.4g}: %{y} items"
                             "<extra></extra>"), row=1, col=2)
        fig.update_xaxes(title_text="q_i", row=1, col=2)
        fig.update_yaxes(title_text="items", row=1, col=2)
        note += "Items with a degree far below the rest are isolated at this bandwidth."
    fig.update_layout(template="simple_white", height=380,
                      margin={"l": 60, "r": 20, "t": 60, "b": 50})
    return fig, note


def build_report(emb: EmbeddingFile, out, *, color_by=(), input_override=None,
                 max_thumbnails: int = 500, max_points: int = MAX_POINTS, seed: int = 0,
                 overwrite: bool = False) -> Path:
    """Write the HTML report for ``emb`` to ``out`` atomically; see the module docstring.

    Parameters
    ----------
    emb : EmbeddingFile
    out : path
    color_by : sequence of str
        ``FILE.csv[:COLUMN]``: every numeric column is offered; COLUMN is shown first.
    input_override : path or list, optional
        Read the items again for thumbnails (instead of the stored ones).
    max_thumbnails, max_points : int
        Caps that keep the page small for large n (both said on the page).
    seed : int
        For the subsamples.
    overwrite : bool
        Replace an existing ``out`` (else :class:`conformap.io.OutputError`).
    """
    import plotly.offline

    from .io import atomic_path, check_output_files
    from .report_page import PAGE

    (out,) = check_output_files([out], overwrite=overwrite)  # before any work
    n, k_dim = emb.embedding.shape
    colors: dict[str, np.ndarray] = {}
    first = None
    for spec in color_by:
        cols, col = metadata_columns(spec, emb.names)
        colors.update(cols)
        first = first or col or next(iter(cols), None)
    colors.update({c: v for c, v in particle_metadata(emb).items() if c not in colors})
    for k in range(min(k_dim, 10)):
        colors[f"psi{k + 1}"] = emb.embedding[:, k]
    if "kernel_degrees" in emb.arrays:
        colors["kernel degree"] = emb.arrays["kernel_degrees"]
    thumbs, thumb_note = _thumbnails(emb, input_override, max_thumbnails, seed)
    rng = np.random.default_rng(seed)
    shown = np.arange(n) if n <= max_points else np.sort(rng.choice(n, max_points, False))
    gl = len(shown) > WEBGL_POINTS
    names = [emb.names[i] for i in shown]
    scatters = []
    if emb.kind == "factorize":
        for f in range(len([key for key in emb.arrays if key.endswith("_embedding")])):
            e2 = emb.arrays[f"factor{f}_embedding"]
            members = (emb.summary or {}).get("factors", [[]] * (f + 1))[f]
            title = f"factor {f + 1} embedding (eigenvectors {members[:2]})"
            two = e2.ndim == 2 and e2.shape[1] > 1  # a one-eigenvector factor: against the index
            scatters.append(_scatter(e2[shown, 0], e2[shown, 1] if two else shown.astype(float),
                                     shown, names, title, "coordinate 1",
                                     "coordinate 2" if two else "item", gl))
    main = _scatter(emb.embedding[shown, 0],
                    emb.embedding[shown, 1] if k_dim > 1 else shown.astype(float), shown, names,
                    "Embedding", "psi1", "psi2" if k_dim > 1 else "item", gl)
    spectrum = _spectrum(emb)
    bw_fig, bw_note = _bandwidth(emb)
    notes = []
    if len(shown) < n:
        notes.append(f"The scatter plots show a random subsample of {len(shown)} of {n} items; "
                     "a selection lists only shown items.")
    notes.append(f"Thumbnails on hover: {thumb_note}.")
    facts = {
        "file": str(emb.path), "kind": emb.kind, "items": n, "coordinates": k_dim,
        "metric": str(emb.arrays.get("metric", emb.params.get("metric", ""))),
        "bandwidth": f"{float(emb.arrays['bandwidth']):.4g}" if "bandwidth" in emb.arrays
        else (emb.summary or {}).get("bandwidth"),
        "inputs": emb.inputs,
    }
    factor_rows = []
    if emb.summary is not None:
        for f, members in enumerate(emb.summary.get("factors", [])):
            factor_rows.append((f"factor {f + 1}", members))
        factor_rows.append(("products", emb.summary.get("products", [])))
        factor_rows.append(("unassigned", emb.summary.get("unassigned", [])))
    payload = {
        "main": json.loads(_fig_json(main)),
        "factors": [json.loads(_fig_json(s)) for s in scatters],
        "spectrum": json.loads(_fig_json(spectrum)),
        "bandwidth": json.loads(_fig_json(bw_fig)) if bw_fig is not None else None,
        "colors": {c: [float(f"{v:.6g}") if np.isfinite(v) else None for v in vals[shown]]
                   for c, vals in colors.items()},
        "first_color": first,
        "cyclic": first if emb.params.get("cyclic") else None,
        "cyclic_scale": _cyclic_scale(),
        "n_coords": min(k_dim, 10),  # coordinates psi1..psi10 are in "colors"
        "thumbs": {str(i): u for i, u in thumbs.items()},
        "n": n,
        "source": emb.path.name,
    }
    fill = dict(
        title=html.escape(f"conformap report: {emb.path.name}"),
        payload=json.dumps(payload, allow_nan=False).replace("</", "<\\/"),
        facts="".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                      for k, v in facts.items()),
        params="".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in sorted(emb.params.items())),
        notes="".join(f"<li>{html.escape(s)}</li>" for s in notes),
        bw_note=html.escape(bw_note),
        factor_rows="".join(f"<tr><th>{html.escape(a)}</th><td>{html.escape(str(b))}</td></tr>"
                            for a, b in factor_rows),
        factor_display="block" if emb.kind == "factorize" else "none",
    )
    page = PAGE
    for key, value in fill.items():
        page = page.replace(f"@@{key.upper()}@@", value)
    page = page.replace("@@PLOTLYJS@@", plotly.offline.get_plotlyjs())  # last: it is 4.8 MB
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
