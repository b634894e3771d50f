"""The review page in a real browser: a person's path through it, in headless Chromium."""

import csv
import io
import json
import time

import cv2
import numpy as np
import pytest

from sklearn_pillars import make_pillar_arrays, read_labels
from sklearn_pillars.cli import main
from sklearn_pillars.report._review import write_review_array, write_review_page

from .test_report_browser import CHROMIUM_FLAGS, chromium, sync_playwright


@pytest.fixture(scope="module")
def browser():
    playwright_context = sync_playwright()
    executable = chromium()
    with playwright_context() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, url, problems, requests=None):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url.rsplit("/", 1)[-1]))
    page.goto(url, wait_until="load")
    page.wait_for_function("document.querySelectorAll('#sites .site').length > 0")
    page.wait_for_function("document.querySelectorAll('#gallery canvas').length >= 0")
    return context, page


def report_of(tmp_path, image_paths):
    out = tmp_path / "report"
    assert main(["inspect", *map(str, image_paths), "--out", str(out), "-q"]) == 0
    return out


def sites_of(page):
    """(row, col, model's class) of every site on the map, from their titles."""
    titles = page.eval_on_selector_all("#sites .site", "els => els.map(e => e.title)")
    out = []
    for title in titles:
        where, label = title.split(": ")
        row, col = where.split(",")
        out.append((int(row), int(col), label))
    return out


def review_path(browser, out, array):
    """Click a Good site and a defect, correct both with keys, reload, download."""
    problems = []
    context, page = open_page(browser, (out / "review.html").as_uri(), problems)
    try:
        sites = sites_of(page)
        good = next(i for i, s in enumerate(sites) if s[2] == "Good")
        defect = next(i for i, s in enumerate(sites) if s[2] != "Good")
        page.click(f"#sites .site >> nth={good}")
        assert f"row {sites[good][0]}, col {sites[good][1]}" in page.inner_text("#where")
        page.keyboard.press("1")  # Missing
        page.fill("#note", 'looks empty, with a "quote", and a comma')
        page.press("#note", "Tab")
        page.click(f"#sites .site >> nth={defect}")
        page.keyboard.press("3")  # Stitching ...
        page.keyboard.press("f")  # ... a write-field line
        page.keyboard.press("u")  # unsure
        assert page.inner_text("#status") == "2 site(s) reviewed"
        page.reload(wait_until="load")
        page.wait_for_function("document.querySelectorAll('#sites .site').length > 0")
        assert page.inner_text("#status") == "2 site(s) reviewed"  # kept over the reload
        marked = page.eval_on_selector_all(
            "#sites .site.reviewed", "els => els.map(e => +e.dataset.i)"
        )
        assert sorted(marked) == sorted([good, defect])
        with page.expect_download() as download:
            page.click("#download")
        text = download.value.path().read_text(encoding="utf-8")
        assert download.value.suggested_filename == "labels.csv"
        shot = page.screenshot()
    finally:
        context.close()
    assert problems == []
    picture = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert picture.std() > 20 and len(np.unique(picture.reshape(-1, 3), axis=0)) > 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["array", "row", "col", "label", "confidence", "stitch_type", "note"]
    (r1, c1, _), (r2, c2, _) = sites[good], sites[defect]
    by_site = {(int(r["row"]), int(r["col"])): r for r in rows}
    assert by_site[(r1, c1)]["note"] == 'looks empty, with a "quote", and a comma'
    assert by_site[(r1, c1)]["confidence"] == "high"
    assert by_site[(r2, c2)]["confidence"] == "low"
    return text, {(array, r1, c1): ("Missing", ""), (array, r2, c2): ("Stitching", "field")}


def round_trip(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    return read_labels(path)


@pytest.mark.slow
def test_a_person_reviews_the_real_array_1(browser, shared_array_paths, tmp_path):
    out = report_of(tmp_path, shared_array_paths[:1])
    text, expected = review_path(browser, out, "Array_1Crop")
    assert round_trip(tmp_path, text) == expected


@pytest.mark.slow
def test_a_person_reviews_synthetic_arrays(browser, tmp_path):
    tiles = make_pillar_arrays(n_arrays=2, grid_size=9, random_state=2)
    paths = []
    for name, image in zip(tiles.array_names, tiles.array_images, strict=True):
        paths.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(paths[-1]), image)
    out = report_of(tmp_path, paths)
    text, expected = review_path(browser, out, "synthetic_0")
    assert round_trip(tmp_path, text) == expected


def test_review_next_visits_the_least_sure_site_first(browser, tmp_path):
    tiles = make_pillar_arrays(n_arrays=1, grid_size=9, random_state=2)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), tiles.array_images[0])
    out = report_of(tmp_path, [path])
    js = (out / "review_a.js").read_text(encoding="utf-8")
    first = int(js.split('"order":[', 1)[1].split(",", 1)[0].rstrip("]"))
    problems = []
    context, page = open_page(browser, (out / "review.html").as_uri(), problems)
    try:
        page.click("#next")
        selected = page.eval_on_selector_all(
            "#sites .site.selected", "els => els.map(e => +e.dataset.i)"
        )
        page.keyboard.press("5")
        page.keyboard.press("n")  # the next one not yet reviewed
        after = page.eval_on_selector_all(
            "#sites .site.selected", "els => els.map(e => +e.dataset.i)"
        )
    finally:
        context.close()
    assert problems == []
    second = int(js.split('"order":[', 1)[1].split(",", 2)[1].rstrip("]"))
    assert selected == [first] and after == [second]


def test_a_thousand_array_review_page_loads_one_array_at_a_time(browser, tmp_path):
    tiles = make_pillar_arrays(n_arrays=1, grid_size=5, random_state=0)
    image, n = tiles.array_images[0], len(tiles)
    labels, kinds = np.full(n, "Good"), np.full(n, "")
    classes = ["Missing", "Collapsed", "Stitching", "Irregular", "Good"]
    arrays = []
    for k in range(1000):
        slug = f"wafer_{k:04d}"
        write_review_array(tmp_path, slug, slug, image, tiles.positions[:, 1:], tiles.boxes,
                           labels, kinds, np.zeros(n), classes)  # fmt: skip
        arrays.append((slug, slug, n, 0))
    write_review_page(tmp_path, "1,000 arrays", arrays, classes)
    problems, requests = [], []
    start = time.perf_counter()
    context, page = open_page(browser, (tmp_path / "review.html").as_uri(), problems, requests)
    try:
        opened = time.perf_counter() - start
        options = page.eval_on_selector_all("#array option", "els => els.length")
        page.select_option("#array", "wafer_0999")
        page.wait_for_function("document.querySelector('#image').src.endsWith('wafer_0999.jpg')")
        page.click("#sites .site >> nth=3")
    finally:
        context.close()
    assert problems == [] and options == 1000
    scripts = sorted(r for r in requests if r.endswith(".js"))
    assert scripts == ["review_arrays.js", "review_wafer_0000.js", "review_wafer_0999.js"]
    assert opened < 10, opened  # measured about 0.3 s here; bound loose for a busy machine


@pytest.mark.parametrize("model", [False, True])
def test_a_click_on_a_gallery_tile_opens_it_on_the_review_page(browser, tmp_path, model):
    tiles = make_pillar_arrays(n_arrays=2, grid_size=9, random_state=2)
    paths = []
    for name, image in zip(tiles.array_names, tiles.array_images, strict=True):
        paths.append(tmp_path / f"{name}.png")
        cv2.imwrite(str(paths[-1]), image)
    options = []
    if model:  # the streamed report of a saved model
        assert main(["fit", *map(str, paths), "--model", str(tmp_path / "m.skops"), "-q"]) == 0
        options = ["--model", str(tmp_path / "m.skops")]
    out = tmp_path / "report"
    assert main(["inspect", *map(str, paths), *options, "--out", str(out), "-q"]) == 0
    problems = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto((out / "index.html").as_uri(), wait_until="load")
        gallery = page.locator('img.cells[alt="Good tiles"]')
        cells = json.loads(gallery.get_attribute("data-cells"))
        x, y, w, h, slug, row, col = cells[3]
        scale = gallery.evaluate("img => img.clientWidth / img.naturalWidth")
        gallery.click(position={"x": (x + w / 2) * scale, "y": (y + h / 2) * scale})
        page.wait_for_url("**/review.html#*")
        page.wait_for_function("document.querySelectorAll('#sites .site.selected').length == 1")
        where = page.inner_text("#where")
        array = page.input_value("#array")
    finally:
        context.close()
    assert problems == []
    assert array == slug and f"row {row}, col {col}" in where
    assert tiles.array_names[int(slug[-1])] in where
