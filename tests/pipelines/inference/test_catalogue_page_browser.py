"""The catalogue page in a real browser: headless Chromium from the Debian packages
(``make browser`` installs ``chromium`` and ``chromium-driver``), driven by Selenium through
``/usr/bin/chromedriver``; nothing is downloaded at test time. Skipped, with the reason, where
no browser or driver is installed."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from soundtrack_emotion.pipelines.inference.page import (
    build_catalogue_page,
    catalogue_page_data,
    render_catalogue_page,
)

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'"
)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

# Another build: CHROMIUM=/path/to/chromium CHROMEDRIVER=/path/to/its/chromedriver pytest ...
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = (
    os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
)
if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
    pytest.skip(
        f"no headless browser: {CHROMIUM} or {CHROMEDRIVER} is missing (make browser installs "
        "the Debian packages chromium and chromium-driver, as root)",
        allow_module_level=True,
    )

WINDOW = (1400, 933)
HOSTILE_TITLE = "</script><script>window.pwned = 1</script> & <b>bold</b>"
N_MOVIES = 60
PAGE_SIZE = 50


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with a fresh profile, offline flags and the console log kept."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--window-size={WINDOW[0]},{WINDOW[1]}",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def outputs(catalogue_outputs, demo_like_movies):
    """A demo-like catalogue run of ``N_MOVIES`` movies (the first with a hostile title),
    with intervals: ``(catalogue_table, movie_track_vad, movie_arcs)``."""
    movies = demo_like_movies(N_MOVIES)
    movies[0]["title"] = HOSTILE_TITLE
    return catalogue_outputs(movies, intervals=True)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, outputs):
    """The page of ``outputs`` written to a file: ``(path, catalogue_table)``."""
    path = tmp_path_factory.mktemp("page") / "catalogue.html"
    path.write_text(build_catalogue_page(*outputs), encoding="utf-8")
    return path, outputs[0]


def _open(driver, path: Path, fragment: str = "") -> None:
    driver.get(path.as_uri() + fragment)
    for _ in range(100):
        if driver.execute_script("return document.body.getAttribute('data-ready')") == "true":
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never became ready: {driver.get_log('browser')}")


def _severe(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _row_ids(driver) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#movies tbody tr[data-id]")
    return [row.get_attribute("data-id") for row in rows]


def test_the_page_loads_without_console_errors_and_shows_names_as_text(browser, catalogue):
    path, table = catalogue
    _open(browser, path)

    assert _severe(browser) == []
    assert len(_row_ids(browser)) == PAGE_SIZE
    assert browser.find_element(By.ID, "count").text == f"{N_MOVIES} of {N_MOVIES} movies"
    assert browser.find_element(By.ID, "demo-banner").is_displayed()
    assert browser.execute_script("return window.pwned") is None
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#movies tbody td a")]
    assert HOSTILE_TITLE in links
    scored = table["valence_mean"].notna().sum()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#va-map circle.point")) == scored


def test_typing_in_the_filter_reduces_the_rows(browser, catalogue):
    path, table = catalogue
    _open(browser, path)
    word = table["title"].iloc[5].split()[0]
    expected = {str(m) for m, t in zip(table["movie_id"], table["title"], strict=True)
                if word.lower() in t.lower()}  # fmt: skip

    browser.find_element(By.ID, "filter").send_keys(word)

    assert set(_row_ids(browser)) == expected and len(expected) < N_MOVIES
    shown = browser.find_elements(By.CSS_SELECTOR, "#va-map circle.point:not(.dim)")
    scored = set(table.loc[table["valence_mean"].notna(), "movie_id"].astype(str))
    assert {p.get_attribute("data-id") for p in shown} == expected & scored
    browser.find_element(By.ID, "filter").send_keys("zzz-no-such-movie")
    assert _row_ids(browser) == []
    assert "No movie matches the filter." in browser.find_element(By.ID, "movies").text


def test_clicking_a_column_header_reorders_the_rows(browser, catalogue):
    path, table = catalogue
    _open(browser, path)
    valence = table.set_index("movie_id")["valence_mean"].dropna().sort_values(kind="stable")
    header = browser.find_element(By.CSS_SELECTOR, 'th[data-key="valence_mean"]')

    header.click()
    ascending = _row_ids(browser)
    assert header.get_attribute("aria-sort") == "ascending"
    assert [valence[m] for m in ascending[:10]] == sorted(valence)[:10]

    header.click()
    descending = _row_ids(browser)
    assert header.get_attribute("aria-sort") == "descending"
    assert [valence[m] for m in descending[:10]] == sorted(valence, reverse=True)[:10]
    assert ascending != descending


def test_hovering_a_map_point_shows_the_movie_and_clicking_opens_it(browser, catalogue):
    path, table = catalogue
    _open(browser, path)
    scored = table.dropna(subset=["valence_mean"])
    va = scored[["valence_mean", "arousal_mean"]].to_numpy()
    # The flagged movie farthest from any other point, so that no circle covers its own.
    nearest = [np.sort(np.hypot(*(va - point).T))[1] for point in va]
    movie = (
        scored.assign(nearest=nearest)[scored["n_out_of_domain"] > 0]
        .sort_values("nearest")
        .iloc[-1]
    )
    point = browser.find_element(By.CSS_SELECTOR, f'#va-map circle[data-id="{movie.movie_id}"]')

    ActionChains(browser).move_to_element(point).perform()
    tooltip = browser.find_element(By.ID, "tooltip")
    assert tooltip.is_displayed() and movie.title in tooltip.text
    assert f"valence: {movie.valence_mean:.2f}" in tooltip.text

    point.click()
    assert browser.find_element(By.ID, "movie-view").is_displayed()
    assert not browser.find_element(By.ID, "list-view").is_displayed()
    assert browser.find_element(By.ID, "movie-title").text.startswith(movie.title)
    tracks = browser.find_elements(By.CSS_SELECTOR, "#tracks tbody tr")
    assert len(tracks) == movie.n_tracks
    assert len(browser.find_elements(By.CSS_SELECTOR, ".big-arc .band")) > 0
    marks = browser.find_elements(By.CSS_SELECTOR, ".big-arc .ood-mark")
    assert len(marks) == movie.n_out_of_domain
    flagged_rows = browser.find_elements(By.CSS_SELECTOR, "#tracks td.ood")
    assert len(flagged_rows) == movie.n_out_of_domain
    # an out-of-domain track's intervals say so beside them, one per label
    flagged_intervals = browser.find_elements(By.CSS_SELECTOR, "#tracks div.ci.ood")
    assert len(flagged_intervals) == 3 * movie.n_out_of_domain
    assert all(i.text.endswith("!") for i in flagged_intervals)
    assert "90% prediction interval" in browser.find_element(By.CSS_SELECTOR, ".legend").text
    browser.find_element(By.ID, "back").click()
    assert browser.find_element(By.ID, "list-view").is_displayed()
    assert _severe(browser) == []


def test_a_screenshot_renders(browser, catalogue):
    from PIL import Image

    path, _ = catalogue
    _open(browser, path)
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")

    assert image.size[0] >= WINDOW[0] - 50 and image.size[1] >= 600
    colours = image.getcolors(maxcolors=1 << 20)
    white = max(colours)[0] / (image.size[0] * image.size[1])
    assert len(colours) > 100 and white < 0.9  # text, map and arcs drawn, not a blank page


def test_an_empty_catalogue_says_so(browser, tmp_path, catalogue_outputs):
    path = tmp_path / "empty.html"
    path.write_text(build_catalogue_page(*catalogue_outputs([])), encoding="utf-8")
    _open(browser, path)

    assert _severe(browser) == []
    assert "No movie in this catalogue." in browser.find_element(By.ID, "movies").text
    assert browser.find_element(By.ID, "count").text == "0 of 0 movies"


def test_thousands_of_movies_open_quickly(browser, outputs, tmp_path):
    """3,000 movies: only the visible page of the table is built, so it opens in seconds."""
    data = catalogue_page_data(*outputs)
    copies = 3000 // N_MOVIES
    data["movies"] = [[f"{row[0]}-{i}", *row[1:]] for i in range(copies) for row in data["movies"]]
    data["tracks"] = {f"{k}-{i}": v for i in range(copies) for k, v in data["tracks"].items()}
    data["arcs"] = {f"{k}-{i}": v for i in range(copies) for k, v in data["arcs"].items()}
    big = tmp_path / "big.html"
    big.write_text(render_catalogue_page(data), encoding="utf-8")

    started = time.perf_counter()
    _open(browser, big)
    browser.find_element(By.ID, "filter").send_keys("a")
    elapsed = time.perf_counter() - started

    assert len(_row_ids(browser)) == PAGE_SIZE
    assert browser.find_element(By.ID, "count").text.endswith("of 3000 movies")
    assert elapsed < 20, elapsed
    assert _severe(browser) == []
