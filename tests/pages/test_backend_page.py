"""The reference backend's page at ``/``, in headless Chromium, on the tiny diffusers models.

The page must offer every field of the spec's text2img request, list the models, LoRAs
and VAEs the server holds (``GET /models``), show the job's progress while it runs, and
then its images. The server is ``create_app`` on a real ``DiffusersGenerator`` over
the tiny random-weight models, on a free loopback port.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from t2i_contract.reference_backend import Generator, TinyModel, make_tiny_model
from t2i_contract.spec import load_spec
from tests.reference_backend.support import KeepOpen, Server, serve

from .conftest import WAIT
from .test_mock_page import _loaded_image, _wait


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    return make_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def generator(tiny_models: TinyModel) -> Iterator[Generator]:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    made = DiffusersGenerator(models_dir=tiny_models.models_dir, loras_dir=tiny_models.loras_dir,
                              vaes_dir=tiny_models.vaes_dir, torch_threads=1)
    yield made
    made.close()


@pytest.fixture
def backend(generator: Generator, tiny_models: TinyModel, tmp_path: Path) -> Iterator[Server]:
    with serve(KeepOpen(generator), tmp_path, models_dir=tiny_models.models_dir, loras_dir=tiny_models.loras_dir,
               vaes_dir=tiny_models.vaes_dir) as server:
        yield server


def test_models_lists_what_the_folders_hold(backend: Server) -> None:
    held = requests.get(backend.url + "/models", timeout=WAIT).json()
    assert "tiny-sd" in held["models"] and "tiny-sd-single" in held["models"]
    assert not any(name.endswith(".config") for name in held["models"]), held["models"]
    assert {"tiny-style", "tiny-detail", "tiny-kohya"} <= set(held["loras"])
    assert held["vaes"] == ["tiny-vae"]


def test_the_page_offers_every_field_and_shows_progress_then_the_images(
        browser: Any, backend: Server, screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(backend.url + "/")
    assert browser.title == "t2i reference backend"
    offered = {e.get_attribute("name") for e in browser.find_elements(By.CSS_SELECTOR, "#fields [name]")}
    assert offered == {field.name for field in load_spec().request_fields("text2img")}
    _wait(browser, lambda b: "tiny-kohya" in b.find_element(By.ID, "loras").text, "the LoRAs listed")
    assert "tiny-sd" in browser.find_element(By.ID, "models").text
    assert "tiny-vae" in browser.find_element(By.ID, "vaes").text

    def fill(name: str, value: str) -> None:
        box = browser.find_element(By.CSS_SELECTOR, f"#fields [name={name}]")
        box.clear()
        box.send_keys(value)

    fill("model_id", "tiny-sd")
    fill("negative_prompt", "blurry")
    fill("samples", "2")
    fill("vae", "tiny-vae")
    fill("seed", "7")
    fill("lora_strength", "0.6")
    Select(browser.find_element(By.CSS_SELECTOR, "#fields [name=scheduler]")).select_by_visible_text(
        "EulerDiscreteScheduler")
    browser.find_element(By.XPATH, "//button[text()='+ tiny-style']").click()
    assert browser.find_element(By.CSS_SELECTOR, "#fields [name=lora_model]").get_attribute("value") == "tiny-style"
    browser.find_element(By.CSS_SELECTOR, "#form button[type=submit]").click()

    _wait(browser, lambda b: "success" in b.find_element(By.ID, "state").text, "success")
    state = browser.find_element(By.ID, "state").text
    assert state.startswith("HTTP 200: processing (eta"), f"no progress was shown: {state}"
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#images img")) == 2, "two images")
    image = _wait(browser, lambda b: _loaded_image(b, "#images img"), "a decoded image")
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 256
    answer = json.loads(browser.find_element(By.ID, "answer").get_attribute("textContent"))
    meta = answer["meta"]
    assert (meta["negative_prompt"], meta["vae"], meta["seed"]) == ("blurry", "tiny-vae", 7)
    assert meta["scheduler"] == "EulerDiscreteScheduler" and meta["lora_model"] == ["tiny-style"], meta
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "backend-page")


def test_an_invalid_field_shows_the_servers_error_naming_it(browser: Any, backend: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(backend.url + "/")
    box = browser.find_element(By.CSS_SELECTOR, "#fields [name=width]")
    box.clear()
    box.send_keys("250")
    browser.find_element(By.CSS_SELECTOR, "#form button[type=submit]").click()
    _wait(browser, lambda b: "HTTP 400" in b.find_element(By.ID, "state").text, "the 400")
    assert "width" in browser.find_element(By.ID, "errors").text
