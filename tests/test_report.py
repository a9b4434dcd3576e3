"""conformap report: a self-contained HTML page, checked in a real browser (Chromium)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from particle_sets import blob_images, blob_rectangle_images, write_star31

from conformap.cli import main
from conformap.io import write_csv
from conformap.particles import write_particle_set

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    imgs, ang = blob_images(40)
    star = write_star31(d, imgs, ang)
    from conformap.particles import read_particle_table

    names = read_particle_table(star).names
    order = {f"{i // 3 + 1:06d}@Stacks/s{i % 3 + 1}.mrcs": i for i in range(40)}
    write_csv(d / "truth.csv", ["name", "angle", "label"],
              [[n, f"{ang[order[n]]:.3f}", "x"] for n in names])
    assert main(["embed", str(star), "--out", str(d / "emb"), "--quiet",
                 "--color-by", f"{d / 'truth.csv'}:angle", "--cyclic"]) == 0
    assert main(["report", str(d / "emb.npz"), "--out", str(d / "report.html")]) == 0
    prod = write_particle_set(blob_rectangle_images(), d / "prod", rng=1)
    # 200 toy images hold one product triplet: too little for --factors auto (issue 12), so
    # the page of a two-factor result is asked for explicitly
    assert main(["factorize", str(prod), "--out", str(d / "fac"), "-N", "10",
                 "--pca", "4", "--standardize", "--factors", "2"]) == 0
    assert main(["report", str(d / "fac.npz"), "--out", str(d / "fac.html"),
                 "--input", str(prod)]) == 0
    return d


def test_page_is_self_contained(reports):
    page = (reports / "report.html").read_text()
    assert "<script src" not in page and "<link" not in page  # everything inline
    payload = page.split('id="payload"')[1]
    assert payload.count("data:image/png;base64,") == 40  # one thumbnail per item (n < cap)
    assert "rlnDefocusU" in page and "angle" in page  # STAR and CSV columns in the menu
    for section in ("Eigenvalue spectrum", "Bandwidth diagnostics", "Parameters of the run"):
        assert section in page
    assert 3 < (reports / "report.html").stat().st_size / 2**20 < 12


def test_caps_are_stated(reports, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(reports / "emb.npz"), "--out", str(out), "--max-points", "25",
                 "--max-thumbnails", "5"]) == 0
    page = out.read_text()
    assert "random subsample of 25 of 40 items" in page
    assert page.split('id="payload"')[1].count("data:image/png;base64,") == 5
    assert "5 of 40 items" in page
    assert main(["report", str(reports / "emb.npz"), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, path):
    """A page with the network cut off: every request other than file:/data:/blob: fails."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    external, errors = [], []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            external.append(url)
            r.abort()
    page.route("**/*", route)
    page.on("request", lambda req: None if req.url.startswith(("file:", "data:", "blob:"))
            else external.append(req.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(Path(path).as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    return context, page, external, errors


def test_report_in_chromium(browser, reports, tmp_path):
    context, page, external, errors = _open(browser, reports / "report.html")
    try:
        assert page.locator("#main .scatterlayer .point").count() == 40  # the plot is drawn
        assert page.locator("#spectrum .bars .point").count() == 3
        assert page.locator("#bandwidth .scatterlayer .trace").count() >= 2
        # hover: name and thumbnail
        box = page.locator("#main .scatterlayer .point").nth(5).bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#hovercard", state="visible", timeout=5000)
        assert "@Stacks/s" in page.inner_text("#hovername")
        assert page.get_attribute("#hoverimg", "src").startswith("data:image/png;base64,")
        # colour menu: switch to a STAR column, a colour bar with its title appears
        page.select_option("#csel", "rlnDefocusU")
        assert page.locator("#main .colorbar .cbtitle").text_content() == "rlnDefocusU"
        # the axis menus switch coordinates
        page.select_option("#xsel", "psi2")
        with np.load(reports / "emb.npz") as z:
            psi2 = z["embedding"][:, 1]
        xs = page.evaluate("() => Array.from(document.getElementById('main').data[0].x)")
        np.testing.assert_allclose(xs, psi2, rtol=1e-5)
        assert page.locator("#main .xtitle").text_content() == "psi2"
        page.select_option("#xsel", "psi1")
        # a box selection over the upper-right quarter downloads exactly those rows
        geo = page.evaluate("""() => {
            const gd = document.getElementById('main'), L = gd._fullLayout;
            const r = gd.getBoundingClientRect(), xa = L.xaxis, ya = L.yaxis;
            Plotly.relayout(gd, {dragmode: 'select'});
            const x0 = r.left + xa._offset + xa._length / 2, y0 = r.top + ya._offset + ya._length / 2;
            return {x0, y0, x1: r.left + xa._offset + xa._length - 2, y1: r.top + ya._offset + 2,
                    xc: xa.p2d(xa._length / 2), yc: ya.p2d(ya._length / 2)};
        }""")
        with page.expect_download(timeout=10_000) as info:
            page.mouse.move(geo["x0"], geo["y0"])
            page.mouse.down()
            page.mouse.move((geo["x0"] + geo["x1"]) / 2, (geo["y0"] + geo["y1"]) / 2, steps=5)
            page.mouse.move(geo["x1"], geo["y1"], steps=5)
            page.mouse.up()
        download = info.value
        assert download.suggested_filename == "selection.txt"
        text = Path(download.path()).read_text()
        assert text.startswith("# conformap selection:")
        got = [int(v) for v in text.splitlines()[1:]]
        with np.load(reports / "emb.npz") as z:
            emb = z["embedding"]
        want = np.flatnonzero((emb[:, 0] > geo["xc"]) & (emb[:, 1] > geo["yc"])).tolist()
        assert got == want and len(want) > 0
        assert re.search(rf"{len(want)} selected", page.inner_text("#selcount"))
        # the download is what export takes
        sel = tmp_path / "selection.txt"
        shutil.copy(download.path(), sel)
        out = tmp_path / "sel.star"
        assert main(["export", str(reports / "emb.npz"), "--star",
                     str(reports / "particles.star"), "--out", str(out), "--indices",
                     str(sel)]) == 0
        import starfile

        assert len(starfile.read(out)["particles"]) == len(want)
    finally:
        context.close()
    assert external == [], f"the page made external requests: {external}"
    assert errors == [], f"console errors: {errors}"


def test_factorize_report_in_chromium(browser, reports):
    context, page, external, errors = _open(browser, reports / "fac.html")
    try:
        assert page.locator("#factors .js-plotly-plot").count() == 2  # per-factor embeddings
        assert page.locator("#factors .scatterlayer .point").count() == 2 * 200
        assert page.locator("#main .scatterlayer .point").count() == 200
        assert page.locator("#spectrum .bars .point").count() == 11
        assert "factor 1" in page.inner_text("#factorsec")
    finally:
        context.close()
    assert external == [] and errors == []
