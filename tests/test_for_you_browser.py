"""The For-you page in a real browser (issue 14): a Letterboxd export uploaded, the cards, one screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, WAIT_MS, settle, shoot, streamlit_server
from test_for_you_app import LETTERBOXD_RATINGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_for_you_page_with_an_uploaded_export(demo_settings, tmp_path):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    export = tmp_path / "ratings.csv"
    export.write_text(LETTERBOXD_RATINGS)
    ARTIFACTS.mkdir(exist_ok=True)
    log = tmp_path / "server.log"
    with streamlit_server(demo_settings.home, demo_settings.downloads_dir, demo_settings.model, log) as base, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1300})
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/For_you?type=movie")
            settle(page, "Import an IMDb or Letterboxd export")
            page.locator('input[type="file"]').set_input_files(str(export))
            settle(page, "Recommended for you")
            assert page.get_by_text("Because you liked Alien (1979)").count() >= 1
            assert page.get_by_text("Because you liked Notting Hill (1999)").count() >= 1
            assert "Alien" not in page.url and "ratings" not in page.url  # the profile never reaches the URL
            shoot(page, "for_you.png")
            assert not errors, errors
        finally:
            browser.close()
