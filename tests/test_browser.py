"""The dashboard in a real browser: Playwright driving Debian's Chromium against `streamlit run` on loopback.

Screenshots of each page go to tests/artifacts/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
WAIT_MS = 90_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(home: Path, downloads: Path, model: str, log: Path) -> Iterator[str]:
    """`streamlit run streamlit_app.py` on a free 127.0.0.1 port over a FlixRec home; yields its base URL."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLIXREC_", "TRAKT_"))}
    env.update(FLIXREC_HOME=str(home), FLIXREC_DOWNLOADS=str(downloads),
               FLIXREC_MODEL=model, OPENBLAS_NUM_THREADS="1")
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def server(demo_settings, tmp_path_factory) -> Iterator[str]:
    """The dashboard over the demo catalogue."""
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server(demo_settings.home, demo_settings.downloads_dir, demo_settings.model, log) as base:
        yield base


@pytest.fixture(scope="module")
def browser_page(server):
    """A Chromium page (Debian's binary, driven by Playwright; never `playwright install`)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Chromium is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1300})
        page.set_default_timeout(WAIT_MS)
        try:
            yield page
        finally:
            browser.close()


RANKED_CARDS_RATED_7_OR_MORE = """() => {
    const ranked = [...document.querySelectorAll('.fx-card')].filter(card => card.querySelector('.fx-score'));
    return ranked.length > 0 && ranked.every(card => {
        const rating = card.innerText.match(/★ (\\d+(?:\\.\\d)?)/);
        return rating && parseFloat(rating[1]) >= 7;
    });
}"""
"""True once every ranked result on the page is rated 7 or more (the similar titles' cards carry a score)."""


def settle(page, text: str) -> None:
    """Wait until `text` is on the page and the script has finished its run (no sleeps)."""
    page.get_by_text(text).first.wait_for(state="visible")
    page.wait_for_selector(IDLE)
    page.wait_for_function(  # nothing left greyed out from the previous run
        "() => !document.querySelector('[data-stale=\"true\"]')"
    )


def shoot(page, name: str) -> Path:
    """A full-page screenshot under tests/artifacts/."""
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def open_landing_page(page, server: str) -> list[str]:
    """Open the app and wait for the landing page; returns the list that collects page errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server)
    settle(page, "Find similar movies and shows")
    return errors


def test_search_pick_filter_switch_pages(browser_page, server):
    page = browser_page
    errors = open_landing_page(page, server)
    page.get_by_role("button", name="Interstellar").wait_for()
    shoot(page, "0_landing.png")

    search = page.get_by_placeholder("Type a movie or show")
    search.fill("Batman")
    search.press("Enter")
    settle(page, "2 titles are called")
    assert page.locator(".st-key-pick-tmdb-movie-2661").count() == 1
    shoot(page, "1_find_similar_disambiguation.png")

    page.locator(".st-key-pick-tmdb-movie-268 button").first.click()
    settle(page, "Similar titles (20)")
    page.get_by_text("Same franchise").first.wait_for()
    assert re.search(r"title=tmdb-movie-268", page.url)
    assert re.fullmatch(r"\d{1,3}%.*", page.locator(".fx-score").first.inner_text())  # the score as a percentage
    shoot(page, "2_find_similar_results.png")
    page.set_viewport_size({"width": 1440, "height": 3200})  # Streamlit scrolls inside its own container
    settle(page, "Similar titles (20)")
    shoot(page, "2b_find_similar_full_list.png")
    page.set_viewport_size({"width": 1440, "height": 1300})

    thumb = page.locator('.st-key-rating input[type="range"]')
    thumb.focus()
    for _ in range(14):  # 0.0 -> 7.0 in steps of 0.5
        thumb.press("ArrowRight")
    settle(page, "Filtered by the sidebar")
    page.wait_for_function("() => window.location.search.includes('rating=7')")  # the bound widget's parameter
    page.wait_for_timeout(500)  # the key presses' reruns are quick now (cached views): let the last one start
    settle(page, "Filtered by the sidebar")
    page.wait_for_function(RANKED_CARDS_RATED_7_OR_MORE)  # the server has run with the last value, not only the URL
    assert "title=tmdb-movie-268" in page.url
    assert page.get_by_text("Batman (1989)").count() >= 1  # the seed survived its own filter

    page.locator('[data-testid="stSidebar"] a', has_text="Similarity charts").click()
    settle(page, "Top-20 cut-off")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] canvas, "
                           "[data-testid=\"stVegaLiteChart\"] svg.marks').length >= 3")
    assert "rating=7" in page.url and "title=tmdb-movie-268" in page.url
    shoot(page, "3_similarity_charts.png")

    page.locator('[data-testid="stSidebar"] a', has_text="Explore the catalogue").click()
    settle(page, "Titles passing the filters")
    assert page.locator(".st-key-rating input[type='range']").get_attribute("aria-valuetext") == "7.0"
    page.wait_for_selector('[data-testid="stDataFrame"]')
    shoot(page, "4_explore_catalogue.png")
    page.get_by_role("tab", name="By genre").click()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
                           ".some(el => el.offsetParent !== null && el.querySelector('canvas, svg.marks'))")
    shoot(page, "4b_explore_by_genre.png")

    page.locator('[data-testid="stSidebar"] a', has_text="Data & index").click()
    settle(page, "Catalogue and index agree")
    page.get_by_text("python -m ingest check").first.wait_for()
    shoot(page, "5_data_and_index.png")

    page.locator('[data-testid="stSidebar"] a', has_text="Find similar").click()
    settle(page, "Similar titles (20)")
    assert page.get_by_text("Batman (1989)").count() >= 1

    # a row picked in the Explore table becomes the chosen title
    page.locator('[data-testid="stSidebar"] a', has_text="Explore the catalogue").click()
    settle(page, "Titles passing the filters")
    grid = page.locator('[data-testid="stDataFrame"]')
    grid.wait_for()
    grid.click(position={"x": 16, "y": 52})  # the first row's selection box (the grid is a canvas)
    settle(page, "Find titles similar to The Shawshank Redemption (1994)")  # best weighted rating first
    page.get_by_role("link", name="Find titles similar to The Shawshank Redemption (1994)").click()
    settle(page, "The Shawshank Redemption (1994)")
    page.get_by_text("Similar titles (20)").first.wait_for()
    assert "title=tmdb-movie-278" in page.url
    assert not errors, errors


def seed_heading(page) -> str:
    """The chosen title's heading (the first subheading of the results)."""
    return page.locator('[data-testid="stHeading"] h3').first.inner_text()


def wait_for_heading(page, label: str) -> None:
    """Wait until the chosen title's heading starts with `label`."""
    page.wait_for_function(
        "label => document.querySelector('[data-testid=\"stHeading\"] h3')?.innerText.startsWith(label)", arg=label
    )


def test_back_and_forward_move_through_the_searches(browser_page, server):
    page = browser_page
    errors = open_landing_page(page, server)
    search = page.get_by_placeholder("Type a movie or show")
    for name, label in (("Interstellar", "Interstellar (2014)"), ("Inception", "Inception (2010)")):
        search.fill(name)
        search.press("Enter")
        settle(page, "Similar titles (20)")
        wait_for_heading(page, label)
    inception_url = page.url
    assert "title=tmdb-movie-27205" in inception_url and "q=Inception" in inception_url

    page.go_back()  # one history entry per search: Back shows the previous title, and it stays there
    wait_for_heading(page, "Interstellar (2014)")
    settle(page, "Similar titles (20)")
    page.wait_for_timeout(2000)  # give the app time to (wrongly) write Inception back into the URL
    assert seed_heading(page).startswith("Interstellar (2014)")
    assert "tmdb-movie-27205" not in page.url and "q=Interstellar" in page.url
    assert page.locator(".st-key-query input").input_value() == "Interstellar"
    shoot(page, "8_back_to_interstellar.png")

    page.go_forward()
    wait_for_heading(page, "Inception (2010)")
    settle(page, "Similar titles (20)")
    page.wait_for_timeout(1000)
    assert seed_heading(page).startswith("Inception (2010)") and page.url == inception_url
    assert page.locator(".st-key-query input").input_value() == "Inception"
    assert not errors, errors


def test_find_by_description(browser_page, server):
    page = browser_page
    errors = open_landing_page(page, server)
    page.locator(".st-key-search_mode button", has_text="By description").click()
    settle(page, "Try one of these")
    page.locator(".st-key-description textarea").fill(
        "Ein Dieb, der in das Unterbewusstsein seiner Opfer eindringt, um Firmengeheimnisse zu stehlen, "
        "soll einem Menschen eine fremde Idee einpflanzen.")
    page.get_by_role("button", name="Find matching titles").click()
    settle(page, "Titles matching your description (20)")
    page.wait_for_function("() => window.location.search.includes('mode=text')")
    assert page.locator(".st-key-similar-tmdb-movie-27205").count() == 1  # Inception, from a German plot
    shoot(page, "7_find_by_description.png")
    page.locator(".st-key-similar-tmdb-movie-27205 button").first.click()
    settle(page, "Similar titles (20)")
    assert "title=tmdb-movie-27205" in page.url and "mode=text" not in page.url
    assert not errors, errors


def test_no_index_page_in_the_browser(tmp_path, browser_page):
    page = browser_page
    with streamlit_server(tmp_path / "empty-home", tmp_path / "downloads", "use-multilingual", tmp_path / "log") as base:
        page.goto(base)
        settle(page, "Welcome to FlixRec")
        page.get_by_text("python -m ingest build-demo").first.wait_for()
        build = page.get_by_role("button", name="Build the demo catalogue")
        build.wait_for()  # the last element of the run: the idle flag can show before the page is complete
        assert build.count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
        shoot(page, "6_no_index.png")


def card_names(page) -> list[str]:
    """The result cards' names ('1. Prometheus (2012)'), in rank order."""
    return page.locator(".fx-title").all_inner_texts()


def visible_cards(page) -> int:
    """How many result cards show the first line of their name inside the window (a long name may wrap below)."""
    return page.evaluate("() => [...document.querySelectorAll('.fx-title')].filter(a => { const r = "
                         "a.getBoundingClientRect(); const text = document.createRange(); text.selectNodeContents(a); "
                         "const line = text.getClientRects()[0]; "
                         "return r.top >= 0 && line && line.bottom <= window.innerHeight; }).length")


def test_results_lead_on_and_back_goes_back_through_them(browser_page, server):
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/?title=tmdb-movie-157336")  # a title-only link: the box shows its name
    settle(page, "Similar titles (20)")
    wait_for_heading(page, "Interstellar (2014)")
    page.wait_for_function("() => document.querySelector('.st-key-query input')?.value === 'Interstellar'")
    first = card_names(page)[0].split(". ", 1)[1]
    page.locator('[class*="st-key-similar-"] button').first.click()  # More like this: a history entry
    wait_for_heading(page, first)
    settle(page, "Similar titles (20)")
    second = card_names(page)[0].split(". ", 1)[1]
    page.locator(".fx-title").first.click()  # the name is a link to ?title=…
    wait_for_heading(page, second)
    settle(page, "Similar titles (20)")
    assert page.locator(".fx-poster").count() >= 21
    page.go_back()
    wait_for_heading(page, first)
    settle(page, "Similar titles (20)")
    page.go_back()
    wait_for_heading(page, "Interstellar (2014)")
    settle(page, "Similar titles (20)")
    assert "title=tmdb-movie-157336" in page.url
    assert not errors, errors


def test_screenshots_of_every_page_on_desktop_and_phone(browser_page, server):
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(server)
    settle(page, "Find similar movies and shows")
    shoot(page, "ux_landing.png")
    page.goto(f"{server}/?title=tmdb-movie-157336")
    settle(page, "Similar titles (20)")
    assert visible_cards(page) >= 6
    page.screenshot(path=str(ARTIFACTS / "ux_results_desktop.png"))
    page.goto(f"{server}/Similarity_charts?title=tmdb-movie-157336")
    settle(page, "Top-20 cut-off")
    shoot(page, "ux_charts.png")
    page.goto(f"{server}/Explore_catalogue")
    settle(page, "Titles passing the filters")
    page.wait_for_selector('[data-testid="stDataFrame"]')
    shoot(page, "ux_explore.png")
    page.goto(f"{server}/Data_and_index")
    settle(page, "Catalogue and index agree")
    shoot(page, "ux_data.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/?title=tmdb-movie-157336")
    settle(page, "Similar titles (20)")
    page.locator(".fx-title").first.scroll_into_view_if_needed()
    assert visible_cards(page) >= 2
    page.screenshot(path=str(ARTIFACTS / "ux_results_phone.png"))
    page.set_viewport_size({"width": 1440, "height": 1300})
