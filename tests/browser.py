"""A real headless browser for the page tests: Debian's chromium driven through its chromedriver."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


def chrome() -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (./dev.sh test installs them as root)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,1400"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: object) -> list[str]:
    """The page's console errors (and failed loads) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")  # type: ignore[attr-defined]
            if entry["level"] == "SEVERE"]


def screenshot(driver: object, path: Path) -> Path:
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    assert path.stat().st_size > 10_000, "the screenshot is empty"
    return path
