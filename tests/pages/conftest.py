"""A real headless Chromium for the page tests, driven by selenium, and where screenshots go.

The browser is Debian's ``chromium`` with its ``chromedriver``, installed by
``scripts/install-test-services.sh`` (``make test`` runs it first). When they are
missing this fixture runs that script itself, which installs them as root or says
why it cannot; a test never skips for want of a browser, it fails and says how to
get one.

Selenium is handed the driver's path, so Selenium Manager never looks for (or
downloads) a driver. The browser only ever reaches loopback: every other address
goes to a proxy on port 9 of 127.0.0.1, where nothing listens (Chromium never sends
loopback traffic to a proxy), and its background services are off.

Screenshots go to ``tests/artifacts/`` on every run (ignored by git). The committed
copies the README shows, ``docs/screenshots/``, are written when missing or when
``UPDATE_SCREENSHOTS=1`` is set, so a test run leaves the working tree clean.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.conftest import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
INSTALL = ROOT / "scripts" / "install-test-services.sh"
WAIT = 60.0  # generous: two shared cores, and a diffusers generation behind the backend's page


def _programs() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="session")
def browser_programs() -> tuple[str, str]:
    chromium, driver = _programs()
    if chromium is None or driver is None:
        ran = subprocess.run(["sh", str(INSTALL)], capture_output=True, text=True, check=False)
        print(ran.stdout, ran.stderr)
        chromium, driver = _programs()
        assert chromium and driver, f"no chromium/chromedriver and {INSTALL.name} could not install them:\n" \
                                    f"{ran.stdout}{ran.stderr}"
    return chromium, driver


@pytest.fixture
def browser(browser_programs: tuple[str, str]) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_programs
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1100", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps",
                     "--disable-extensions", "--proxy-server=http://127.0.0.1:9"):
        options.add_argument(argument)
    web = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield web
    finally:
        web.quit()


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    """Save the browser's view as ``<name>.png`` in tests/artifacts/ and docs/screenshots/."""

    def save(web: object, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        assert web.save_screenshot(str(path)), f"no screenshot of {name}"  # type: ignore[attr-defined]
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        kept = SCREENSHOTS / f"{name}.png"
        if not kept.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(path, kept)
        return path

    return save
