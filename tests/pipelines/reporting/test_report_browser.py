"""The report in a real browser: its first screen holds the answer (the model per label, its
figure, the corpus and what to conclude). Headless Chromium from the Debian packages, driven
by Selenium through ``/usr/bin/chromedriver``; skipped, with the reason, where none is
installed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from soundtrack_emotion.core.families import model_display_name
from soundtrack_emotion.core.vocabulary import VAD_LABELS
from soundtrack_emotion.pipelines.reporting.nodes import (
    build_html_report,
    build_results_table,
    describe_report,
)

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'"
)
from selenium.webdriver.common.by import By  # noqa: E402

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

# A laptop's screen.
WINDOW = (1400, 933)


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                 f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def test_the_first_screen_shows_the_demo_banner_and_the_model_per_label(
    browser, tmp_path, model_metrics, soundtracks
):
    metrics = model_metrics.assign(r2_ci_low=-0.05, r2_ci_high=0.3, baseline_r2=-0.01)
    table = build_results_table(metrics, levels=["frame", "song"])
    stale = pd.DataFrame(columns=["feature", "network", "target", "corpus_kind", "reason"])
    context = describe_report(metrics, stale, soundtracks, True,
                              {"frame_seconds": 15, "seed": 1, "networks": {}})  # fmt: skip
    dataset_report = {"counts": {"crawled": 40, "kept": 30}, "lexicon_words": 200}
    page = tmp_path / "report.html"
    page.write_text(build_html_report(table, dataset_report, title="Report", context=context))

    browser.get(page.as_uri())

    answer = browser.find_element(By.ID, "answer")
    height = browser.execute_script("return window.innerHeight")
    assert answer.rect["y"] + answer.rect["height"] <= height, "the answer runs off the screen"
    rows = answer.find_elements(By.CSS_SELECTOR, "tbody tr")
    chosen = table[(table["level"] == "song") & table["best"]]
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == [
        model_display_name(row.feature, row.network, row.target)
        for row in chosen.set_index("emotion").loc[list(VAD_LABELS)].itertuples()
    ]
    banner = answer.find_element(By.CLASS_NAME, "banner")
    assert banner.is_displayed() and "DEMO" in banner.text
    assert banner.rect["y"] < rows[0].rect["y"]
