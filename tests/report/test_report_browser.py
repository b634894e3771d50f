"""The report page in a real browser: headless Chromium opens index.html from disk."""

import os
import shutil

import cv2
import numpy as np
import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run should have installed it")
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    return path


def sync_playwright():
    """Playwright's sync API; on CI (``CI`` set) its absence fails instead of skipping."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed: the [test] extra should have installed it")
        pytest.skip("playwright is not installed (pip install 'sklearn-pillars[test]')")
    return sync_playwright


@pytest.mark.slow
def test_report_page_loads_every_image_without_errors(demo_report):
    playwright_context = sync_playwright()
    code, out = demo_report
    assert code == 0
    executable = chromium()
    problems = []
    with playwright_context() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            page.goto((out / "index.html").as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])"
            )
            shot = page.screenshot()
        finally:
            browser.close()
    assert problems == []
    assert len(images) >= 3 + 4 + 2  # maps, stages, most/least inconsistent
    for src, complete, width in images:
        assert complete and width > 0, f"{src} did not load"
    picture = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[:2] == (900, 1280)
    assert picture.std() > 20, "the screenshot looks blank"
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 200  # text, tables, a map
