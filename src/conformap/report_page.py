"""The HTML/JavaScript page of :func:`conformap.report.build_report` (``@@NAME@@`` slots)."""

from __future__ import annotations

__all__ = ["PAGE"]

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@TITLE@@</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 1.2em 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: .85em; }
th, td { text-align: left; padding: 2px 10px 2px 0; vertical-align: top; }
th { color: #555; font-weight: 600; }
td { font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
.controls { display: flex; gap: 1.2em; align-items: center; flex-wrap: wrap; margin: .6em 0; }
.controls label { font-size: .9em; }
#hovercard { position: fixed; display: none; pointer-events: none; background: #fff;
             border: 1px solid #999; padding: 4px; box-shadow: 0 2px 6px rgba(0,0,0,.25);
             font-size: .8em; z-index: 10; max-width: 260px; }
#hovercard img { display: block; width: 128px; height: 128px; object-fit: contain;
                image-rendering: pixelated; }
.note { color: #555; font-size: .9em; }
button { font-size: .9em; }
</style>
</head>
<body>
<h1>@@TITLE@@</h1>
<table>@@FACTS@@</table>
<ul class="note">@@NOTES@@</ul>

<h2>Embedding</h2>
<div class="controls">
  <label>x <select id="xsel"></select></label>
  <label>y <select id="ysel"></select></label>
  <label>colour by <select id="csel"></select></label>
  <span id="selcount" class="note">Lasso or box-select points (tools at the top right of the
  plot) to download their row indices as selection.txt for
  <code>conformap export --indices</code>.</span>
  <button id="dl" disabled>download selection again</button>
</div>
<div id="main"></div>

<div id="factorsec" style="display: @@FACTOR_DISPLAY@@">
<h2>Factors</h2>
<p class="note">Factor bins: the Laplacian eigenvectors (column indices, 0 = constant) that
belong to each factor; products are eigenvectors explained as products of two others.</p>
<table>@@FACTOR_ROWS@@</table>
<div id="factors"></div>
</div>

<h2>Eigenvalue spectrum</h2>
<div id="spectrum"></div>

<h2>Bandwidth diagnostics</h2>
<p class="note">@@BW_NOTE@@</p>
<div id="bandwidth"></div>

<h2>Parameters of the run</h2>
<table>@@PARAMS@@</table>

<div id="hovercard"><div id="hovername"></div><img id="hoverimg" alt=""></div>

<script>@@PLOTLYJS@@</script>
<script type="application/json" id="payload">@@PAYLOAD@@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("payload").textContent);
const CONFIG = {displaylogo: false, responsive: true};
const scatterDivs = [];
let selection = [];

function addOptions(sel, values, chosen) {
  for (const v of values) {
    const o = document.createElement("option");
    o.value = v; o.textContent = v === "" ? "(none)" : v;
    if (v === chosen) o.selected = true;
    sel.appendChild(o);
  }
}

function download(indices) {
  const text = "# conformap selection: " + indices.length + " of " + D.n +
    " items, 0-based row indices into " + D.source +
    " (conformap export " + D.source + " --indices selection.txt ...)\n" +
    indices.join("\n") + "\n";
  const url = URL.createObjectURL(new Blob([text], {type: "text/plain"}));
  const a = document.createElement("a");
  a.href = url; a.download = "selection.txt";
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function onSelected(ev) {
  if (!ev || !ev.points) return;
  const seen = new Set(ev.points.map(p => p.customdata));
  selection = Array.from(seen).sort((a, b) => a - b);
  document.getElementById("selcount").textContent =
    selection.length + " selected; downloaded selection.txt";
  document.getElementById("dl").disabled = selection.length === 0;
  if (selection.length) download(selection);
}

const card = document.getElementById("hovercard");
function onHover(ev) {
  const p = ev.points[0];
  document.getElementById("hovername").textContent = p.text;
  const img = document.getElementById("hoverimg");
  const src = D.thumbs[String(p.customdata)];
  if (src) { img.src = src; img.style.display = "block"; } else { img.style.display = "none"; }
  const e = ev.event || {clientX: 0, clientY: 0};
  card.style.display = "block";  // above the cursor: plotly's own label sits beside the point
  card.style.left = Math.max(0, e.clientX - 70) + "px";
  const above = e.clientY - card.offsetHeight - 42;
  card.style.top = (above >= 0 ? above : e.clientY + 24) + "px";
}

function applyColor(name) {
  const vals = name ? D.colors[name] : null;
  for (const gd of scatterDivs) {
    if (!vals) {
      Plotly.restyle(gd, {"marker.color": ["#1f77b4"], "marker.showscale": [false]});
    } else {
      Plotly.restyle(gd, {"marker.color": [vals], "marker.showscale": [true],
                          "marker.colorscale": [name === D.cyclic ? D.cyclic_scale : "Viridis"],
                          "marker.colorbar": [{title: {text: name, side: "right"}}]});
    }
  }
}

function setAxes() {
  const xs = document.getElementById("xsel"), ys = document.getElementById("ysel");
  const gd = document.getElementById("main");
  const i = xs.selectedIndex, j = ys.selectedIndex;
  const coord = k => D.colors["psi" + (k + 1)];
  Plotly.restyle(gd, {x: [coord(i)], y: [coord(j) || gd.data[0].y],
                      hovertemplate: ["%{text}<br>" + xs.value + " = %{x:.4g}<br>" + ys.value +
                                      " = %{y:.4g}<extra></extra>"]});
  Plotly.relayout(gd, {"xaxis.title.text": xs.value, "yaxis.title.text": ys.value});
}

async function main() {
  const mainDiv = document.getElementById("main");
  await Plotly.newPlot(mainDiv, D.main.data, D.main.layout, CONFIG);
  scatterDivs.push(mainDiv);
  for (const fig of D.factors) {
    const div = document.createElement("div");
    document.getElementById("factors").appendChild(div);
    await Plotly.newPlot(div, fig.data, fig.layout, CONFIG);
    scatterDivs.push(div);
  }
  await Plotly.newPlot("spectrum", D.spectrum.data, D.spectrum.layout, CONFIG);
  if (D.bandwidth) await Plotly.newPlot("bandwidth", D.bandwidth.data, D.bandwidth.layout, CONFIG);
  for (const gd of scatterDivs) {
    gd.on("plotly_selected", onSelected);
    gd.on("plotly_hover", onHover);
    gd.on("plotly_unhover", () => { card.style.display = "none"; });
  }
  const coordNames = Array.from({length: D.n_coords}, (_, k) => "psi" + (k + 1));
  addOptions(document.getElementById("xsel"), coordNames, "psi1");
  addOptions(document.getElementById("ysel"), coordNames, coordNames.length > 1 ? "psi2" : "");
  if (coordNames.length < 2) document.getElementById("ysel").disabled = true;
  const names = [""].concat(Object.keys(D.colors));
  const first = D.first_color || "";
  addOptions(document.getElementById("csel"), names, first);
  document.getElementById("csel").addEventListener("change", e => applyColor(e.target.value));
  document.getElementById("xsel").addEventListener("change", setAxes);
  document.getElementById("ysel").addEventListener("change", setAxes);
  document.getElementById("dl").addEventListener("click", () => download(selection));
  if (first) applyColor(first);
  document.body.dataset.ready = "1";
}
main();
</script>
</body>
</html>
"""
