"""A real headless Chromium driven by Selenium. Debian's `chromium` and `chromium-driver` are
installed here when missing (as root, where apt works); elsewhere these tests are skipped with
a message that says what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

PACKAGES = ["chromium", "chromium-driver"]
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
]


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, timeout=900, check=False
    )


def _install() -> str:
    """Installs the packages with apt (refreshing its lists once if the first try fails);
    what went wrong, where it did."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "not root, or no apt-get"
    done = _apt("install", "-y", *PACKAGES)
    if done.returncode != 0:
        _apt("update")
        done = _apt("install", "-y", *PACKAGES)
    return done.stderr.strip()[-300:] or "installed"


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """The paths of chromium and chromedriver, installed first where they are missing."""
    pytest.importorskip("selenium", reason="pip install selenium (the test extra) to run these")
    browser, driver = _binaries()
    if browser is None or driver is None:
        why = _install()
        browser, driver = _binaries()
        if browser is None or driver is None:
            pytest.skip(
                f"headless Chromium is missing and could not be installed ({why}): "
                f"apt-get install -y {' '.join(PACKAGES)}"
            )
    return browser, driver


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromium[1]), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
