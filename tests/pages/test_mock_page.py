"""The mock's page at ``/``, in headless Chromium: send a request, see the image, set a behaviour.

The mock runs in this process on a free loopback port (``ServerThread``, the same app
``t2i mock`` serves); the browser is real. The screenshot the README shows is taken
here, with a few requests in the journal.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from tests.support import ServerThread

from .conftest import WAIT

KEY = "page-admin-key"


@pytest.fixture
def mock_url(tmp_path: Path) -> Iterator[str]:
    app = create_app(MockConfig(db_path=tmp_path / "mock.sqlite3"))
    with ServerThread(app) as server:
        yield server.url
    app.extensions[EXTENSION].close()


def _wait(browser: Any, condition: Callable[[Any], Any], what: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the journal is redrawn as it refreshes: an element found a moment ago may be gone, so look again
    return WebDriverWait(browser, WAIT, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
                         ).until(condition, message=f"waited for {what}")


def _loaded_image(browser: Any, selector: str) -> Any:
    """The first image matching ``selector`` once the browser has decoded it, or False."""
    from selenium.webdriver.common.by import By

    for img in browser.find_elements(By.CSS_SELECTOR, selector):
        if browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img):
            return img
    return False


def _send(browser: Any, **fields: str) -> None:
    from selenium.webdriver.common.by import By

    for name, value in fields.items():
        box = browser.find_element(By.CSS_SELECTOR, f"#try [name={name}]")
        box.clear()
        box.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#try button[type=submit]").click()


def test_the_page_sends_a_request_and_shows_its_image_and_the_journal(browser: Any, mock_url: str,
                                                                       screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(mock_url + "/")
    assert browser.title == "t2i mock"
    assert browser.find_element(By.ID, "api-base").text == mock_url + "/api/v6/images/"
    _send(browser, prompt="a red fox in the snow", width="320")
    image = _wait(browser, lambda b: _loaded_image(b, "#try-images img"), "the generated image")
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 320
    entry = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#journal .entry"), "a journal entry")[0]
    assert "/api/v6/images/text2img" in entry.text and "200" in entry.text
    thumb = _wait(browser, lambda b: _loaded_image(b, "#journal .thumbs img"), "the journal's thumbnail")
    assert browser.execute_script("return arguments[0].naturalWidth", thumb) == 320
    _send(browser, width="250")
    _wait(browser, lambda b: "HTTP 400" in b.find_element(By.ID, "try-status").text, "the 400")
    assert "width" in browser.find_element(By.ID, "try-status").text
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#journal .entry")) == 2, "two entries")
    _wait(browser, lambda b: "400" in b.find_elements(By.CSS_SELECTOR, "#journal .entry")[0].text,
          "the journal listing the newest (the 400) first")
    _wait(browser, lambda b: any(e.text.startswith("width: width must be")
                                 for e in b.find_elements(By.CSS_SELECTOR, "#journal .entry .errors li")[:1]),
          "the width error in the journal")
    _send(browser, width="256", samples="2", prompt="two lighthouses")
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#try-images img")) == 2, "two images")
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#journal .entry")) == 3
          and b.find_elements(By.CSS_SELECTOR, "#journal details")[0].click() is None, "the newest entry opened")
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "mock-page")


def test_the_behaviour_form_forces_an_error_until_reset(browser: Any, mock_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(mock_url + "/")
    Select(browser.find_element(By.CSS_SELECTOR, "#behaviour [name=code]")).select_by_value("503")
    browser.find_element(By.CSS_SELECTOR, "#behaviour button[type=submit]").click()
    _wait(browser, lambda b: "code=503" in b.find_element(By.ID, "behaviour-now").text, "the behaviour shown")
    assert requests.get(mock_url + "/__mock/behaviour", timeout=WAIT).json()["code"] == 503
    _send(browser, prompt="will fail")
    _wait(browser, lambda b: "HTTP 503" in b.find_element(By.ID, "try-status").text, "the forced 503")
    _wait(browser, lambda b: "behaviour: code=503" in b.find_element(By.ID, "journal").text,
          "the journal naming the behaviour")
    browser.find_element(By.ID, "reset-behaviour").click()
    _wait(browser, lambda b: "none" in b.find_element(By.ID, "behaviour-now").text, "the reset")
    _send(browser, prompt="works again")
    _wait(browser, lambda b: _loaded_image(b, "#try-images img"), "an image again")


def test_the_filters_hide_what_does_not_match(browser: Any, mock_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    body = {"key": "k", "model_id": "m", "prompt": "p", "width": 256, "height": 256}
    assert requests.post(mock_url + "/api/v6/images/text2img", json=body, timeout=WAIT).status_code == 200
    assert requests.post(mock_url + "/api/v6/images/fetch/999999", json={"key": "k"}, timeout=WAIT).status_code == 404
    browser.get(mock_url + "/")
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#journal .entry")) == 2, "both entries")
    Select(browser.find_element(By.CSS_SELECTOR, "#filters [name=status]")).select_by_value("4xx")
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#journal .entry")) == 1, "the filtered list")
    assert "/fetch/999999" in browser.find_element(By.CSS_SELECTOR, "#journal .entry").text


def test_a_job_still_processing_shows_a_placeholder_not_a_broken_image(browser: Any, mock_url: str,
                                                                        screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.by import By

    # processing for ten minutes: the placeholders stay while the test looks (the page polls, the job is not done)
    assert requests.post(mock_url + "/__mock/behaviour", json={"status": "processing", "eta": 600},
                         timeout=WAIT).status_code == 200
    browser.get(mock_url + "/")
    _send(browser, prompt="slow to come", samples="2")
    _wait(browser, lambda b: "processing" in b.find_element(By.ID, "try-status").text, "the processing answer")
    shown = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#try-images .placeholder"), "placeholders")
    assert len(shown) == 2 and "processing" in shown[0].text
    assert not browser.find_elements(By.CSS_SELECTOR, "#try-images img")
    entry = _wait(browser, lambda b: [e for e in b.find_elements(By.CSS_SELECTOR, "#journal .entry")
                                      if "/text2img" in e.text and e.find_elements(By.CSS_SELECTOR, ".placeholder")],
                  "the journal entry's placeholders")[0]
    assert "processing" in entry.text
    assert not entry.find_elements(By.CSS_SELECTOR, "img"), "an image of a job still processing (it would be broken)"
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "mock-processing")


def test_each_error_is_printed_once(browser: Any, mock_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(mock_url + "/")
    _send(browser, width="250")
    _wait(browser, lambda b: "HTTP 400" in b.find_element(By.ID, "try-status").text, "the 400")
    entry = _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#journal .entry .errors li"), "the errors")
    assert [li.text for li in entry] == ["width: width must be at least 256, got 250",
                                        "width: width must be a multiple of 8, got 250"]
    page = browser.find_element(By.TAG_NAME, "main").text
    for message in ("width must be at least 256, got 250", "width must be a multiple of 8, got 250"):
        # once in the answer to the form, once in the journal: never twice in either
        assert browser.find_element(By.ID, "try-status").text.count(message) == 1
        assert browser.find_element(By.ID, "journal").text.count(message) == 1, message
        assert page.count(message) == 2
