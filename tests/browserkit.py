"""A real browser for the tests that need one: Debian's chromium, headless, driven by Selenium
through Debian's chromium-driver (`replaybook doctor --fix --tests`, which `make test` runs,
installs both). Both are found on PATH as the doctor finds them, and both paths are given to
Selenium, so Selenium Manager has nothing to look for (SE_OFFLINE forbids it the network)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--window-size=1400,1000", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-default-apps")


@contextmanager
def headless_chromium(log: str) -> Iterator[Any]:
    """A headless chromium whose ``log`` log (``performance``: every request; ``browser``: the
    console) is kept for the test; quit on the way out."""
    assert CHROMIUM and CHROMEDRIVER, \
        "Debian's chromium and chromium-driver are needed: `replaybook doctor --fix --tests` installs them"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {log: "ALL"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        browser = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield browser
    finally:
        browser.quit()
