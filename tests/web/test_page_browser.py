"""The companion page in a real browser: Debian's Chromium, headless, on a phone-sized screen,
driven by Selenium through Debian's chromedriver, against ``zeropin web serve``.

Each page is loaded after logging in through the form, checked for what it shows and for fitting
the screen (no sideways scrolling), and saved as a screenshot: under the test's own folder, and
also in $PAGE_SCREENSHOTS when that is set (to look at them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from web.conftest import CHROMEDRIVER, CHROMIUM, TOKEN, PageServer

PHONE = {"width": 390, "height": 844, "pixelRatio": 2.0}  # a common phone, in CSS pixels


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{', '.join(missing)} missing: ./dev test installs chromium and its driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # The flags keep Chromium from calling home: this machine has no internet to reach.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--disable-quic",
                 f"--user-data-dir={tmp_path / 'chromium'}"):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: object, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    # the whole page, not only the first screenful: Chromium's DevTools capture beyond the view
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE["width"], "height": max(PHONE["height"], height),
         "deviceScaleFactor": PHONE["pixelRatio"], "mobile": True},
    )  # fmt: skip
    assert driver.save_screenshot(str(path)), path  # type: ignore[attr-defined]
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]
    keep = os.environ.get("PAGE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def _wait(driver: object):  # noqa: ANN202 - a WebDriverWait
    """A wait that polls through a page being replaced: a find while a form's answer loads is
    refused with "aborted by navigation", which is not an answer yet."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,))


def _fits_the_phone(driver: object) -> None:
    wide, view = driver.execute_script(  # type: ignore[attr-defined]
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert wide <= view, f"the page is {wide} px wide on a {view} px screen"


def test_each_page_on_a_phone(page_server: PageServer, browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import (
        title_is,
        visibility_of_element_located,
    )

    driver = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    find = driver.find_element  # type: ignore[attr-defined]
    driver.get(page_server.url + "/turns")  # type: ignore[attr-defined]
    assert driver.title == "Log in · ZeroPin"  # type: ignore[attr-defined]
    find(By.ID, "token").send_keys("not-the-token")
    find(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = _wait(driver).until(visibility_of_element_located((By.ID, "refused")))
    assert "That is not the token" in alert.text
    _screenshot(driver, shots, "0-login-refused")
    find(By.ID, "token").send_keys(TOKEN)
    find(By.CSS_SELECTOR, "button[type=submit]").click()

    # back where the visitor was going: the turns, each drawn as a waterfall of its stages
    _wait(driver).until(title_is("Turns · ZeroPin"))
    charts = driver.find_elements(By.CSS_SELECTOR, "svg.waterfall")  # type: ignore[attr-defined]
    assert len(charts) == 3
    bars = [c.find_elements(By.TAG_NAME, "rect") for c in charts]
    # the cloud question (newest, first) waited through five stages; the local ones four
    assert [len(b) for b in bars] == [5, 4, 4]
    assert all(b.size["width"] > 0 for row in bars for b in row)
    assert "first cloud token" in find(By.ID, "stage-figures").text
    _fits_the_phone(driver)
    _screenshot(driver, shots, "2-turns")

    expected = {
        "/": ("1-status", "privacy-indicator", "nothing is leaving the device"),
        "/notes": ("3-notes", "", "buy"),
        "/privacy": ("4-privacy", "ledger", "127.0.0.1"),
        "/wake": ("5-wake", "calibration", "zeropin wakeword calibrate"),
        "/settings": ("6-settings", "merged", "[providers.homelab]"),
    }
    for path, (name, element, words) in expected.items():
        driver.get(page_server.url + path)  # type: ignore[attr-defined]
        shown = find(By.ID, element).text if element else find(By.TAG_NAME, "main").text
        assert words in shown, (path, shown)
        _fits_the_phone(driver)
        _screenshot(driver, shots, name)

    # a setting typed on the phone: refused with the daemon's own words, then saved
    find(By.ID, "name").send_keys("tts.rate_wpm")
    find(By.ID, "value").send_keys("fast")
    find(By.CSS_SELECTOR, "button[value=save]").click()
    error = _wait(driver).until(visibility_of_element_located((By.ID, "error")))
    assert 'rate_wpm: expected an integer, got "fast"' in error.text
    _screenshot(driver, shots, "7-settings-refused")
    value = find(By.ID, "value")
    value.clear()
    value.send_keys("150")
    find(By.CSS_SELECTOR, "button[value=save]").click()
    saved = _wait(driver).until(visibility_of_element_located((By.ID, "message")))
    assert "[tts] rate_wpm = 150 saved" in saved.text
    assert "rate_wpm = 150  # " + str(page_server.page_file) in find(By.ID, "merged").text
    _screenshot(driver, shots, "8-settings-saved")
    assert len(list(shots.glob("*.png"))) == 9
