"""Screenshots of the report's first screen (and, when asked, of the catalogue page) for the
docs, from a finished run, in headless Chromium (the Debian packages ``chromium`` and
``chromium-driver``, as the browser tests use; ``make browser`` installs them).

    kedro run --pipelines=offline --env demo
    python docs/make_screenshots.py                      # docs/images/report_first_screen.png
    python docs/make_screenshots.py --catalogue data/08_reporting/inference/catalogue.html

The report's shot is the first screen a reader sees (the window, not the whole page): the
answer box, and whatever else fits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
# A laptop's screen, as the catalogue page's screenshots.
WINDOW = (1400, 933)
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = (
    os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
)


def _browser(profile: Path) -> Any:  # selenium: an optional (test) dependency
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                 f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def screenshot(page: Path, out: Path) -> Path:
    """The first screen of ``page`` (an HTML file) as a PNG at ``out``."""
    if not page.is_file():
        raise SystemExit(f"{page} does not exist: run the pipeline that writes it first")
    with tempfile.TemporaryDirectory() as profile:
        driver = _browser(Path(profile))
        try:
            driver.get(page.resolve().as_uri())
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, default=ROOT / "data/08_reporting/report.html")
    parser.add_argument("--catalogue", type=Path, default=None,
                        help="also shoot this catalogue page (catalogue.html)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=IMAGES)
    args = parser.parse_args(argv)
    print(screenshot(args.report, args.out / "report_first_screen.png"))
    if args.catalogue:
        print(screenshot(args.catalogue, args.out / "catalogue_page.png"))


if __name__ == "__main__":
    main()
