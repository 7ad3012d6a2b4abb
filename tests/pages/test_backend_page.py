"""The reference backend's page at ``/``, in headless Chromium, on the tiny diffusers models.

The page has a tab per operation of the API (text2img, img2img, inpaint,
model_reload), each with every field of its request; a model picker filled from
``GET /models`` and LoRA buttons of the chosen model's family; the Generate button
in view however long the form; and the result beside the form. Each operation is
driven here through the browser as a user would: an img2img from the URL of a
text2img result, an inpaint from an uploaded file with a mask drawn by real
pointer actions on the canvas, a model reload. The server is ``create_app`` on the
session's real ``DiffusersGenerator`` over the tiny random-weight models, on a free
loopback port; a thin wrapper records what each generation was handed, so the
tests check the mask the server got, not only what the page shows.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import requests
from PIL import Image

from t2i_contract.reference_backend import Generator, TinyModel
from t2i_contract.spec import load_spec
from tests.reference_backend.support import KeepOpen, Server, serve

from .conftest import WAIT
from .test_mock_page import _loaded_image, _wait

TABS = {"text2img": "text2img", "img2img": "img2img", "inpaint": "inpaint", "model_reload": "modelReload"}


class Recording(KeepOpen):
    """The shared generator, noting each generation's request and input images (init_image, mask_image)."""

    def __init__(self, inner: Generator) -> None:
        super().__init__(inner)
        self.seen: list[tuple[Any, dict[str, Image.Image]]] = []

    def generate(self, request: Any, seed: int, *inputs: Any) -> Any:
        self.seen.append((request, dict(inputs[0] or {}) if inputs else {}))
        return self.inner.generate(request, seed, *inputs)


@pytest.fixture
def recording(tiny_generator: Generator) -> Recording:
    return Recording(tiny_generator)


@pytest.fixture
def backend(recording: Recording, tiny: TinyModel, tmp_path: Path) -> Iterator[Server]:
    with serve(recording, tmp_path, models_dir=tiny.models_dir, loras_dir=tiny.loras_dir,
               vaes_dir=tiny.vaes_dir) as server:
        yield server


def _in(browser: Any, operation: str, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f"#op-{operation} {selector}")


def _fill(browser: Any, operation: str, name: str, value: str) -> None:
    box = _in(browser, operation, f"[name={name}]")
    box.clear()
    box.send_keys(value)


def _pick_model(browser: Any, operation: str, model_id: str) -> None:
    from selenium.webdriver.support.ui import Select

    _wait(browser, lambda b: _in(b, operation, f"[name=model_id] option[value='{model_id}']"), "the models")
    Select(_in(browser, operation, "[name=model_id]")).select_by_value(model_id)


def _loras_offered(browser: Any, operation: str) -> set[str]:
    from selenium.webdriver.common.by import By

    buttons = browser.find_elements(By.CSS_SELECTOR, f"#op-{operation} .chips button")
    return {b.get_attribute("data-lora") for b in buttons}


def _generate_and_wait(browser: Any, images: int = 1) -> Any:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "generate").click()
    _wait(browser, lambda b: "success" in b.find_element(By.ID, "state").text
          or "error" in b.find_element(By.ID, "state").text, "the job's end")
    state = browser.find_element(By.ID, "state").text
    assert "success" in state, f"{state}: {browser.find_element(By.ID, 'side').text}"
    _wait(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#images img")) == images, f"{images} image(s)")
    return _wait(browser, lambda b: _loaded_image(b, "#images img"), "a decoded image")


def _answer(browser: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    return json.loads(browser.find_element(By.ID, "answer").get_attribute("textContent"))


def test_models_lists_what_the_folders_hold_with_each_family(backend: Server) -> None:
    held = requests.get(backend.url + "/models", timeout=WAIT).json()
    assert "tiny-sd" in held["models"] and "tiny-sd-single" in held["models"]
    assert not any(name.endswith(".config") for name in held["models"]), held["models"]
    assert {"tiny-style", "tiny-detail", "tiny-kohya"} <= set(held["loras"])
    assert held["vaes"] == ["tiny-vae"]
    families = held["families"]
    assert set(families["models"]) == set(held["models"]) and set(families["loras"]) == set(held["loras"])
    assert (families["models"]["tiny-sd"], families["models"]["tiny-sd-single"], families["models"]["tiny-sdxl"],
            families["models"]["tiny-flux"]) == ("sd1", "sd1", "sdxl", "flux")
    assert (families["loras"]["tiny-style"], families["loras"]["tiny-sdxl-style"],
            families["loras"]["tiny-flux-peft"]) == ("sd1", "sdxl", "flux")
    assert families["loras"]["tiny-kohya"] is None  # no metadata, and a width (32) no real family has


def test_a_tab_per_operation_each_with_every_field_of_its_request(browser: Any, backend: Server) -> None:
    from selenium.webdriver.common.by import By

    spec = load_spec()
    browser.get(backend.url + "/")
    assert browser.title == "t2i reference backend"
    tabs = [tab.text for tab in browser.find_elements(By.CSS_SELECTOR, "#tabs [role=tab]")]
    assert tabs == list(TABS), tabs
    for tab, operation in TABS.items():
        browser.find_element(By.ID, f"tab-{tab}").click()
        shown = browser.find_element(By.ID, f"op-{operation}")
        assert shown.is_displayed() and shown.get_attribute("hidden") is None
        assert browser.find_element(By.ID, "api").text.endswith(f"/api/v6/images/{tab}")
        offered = {e.get_attribute("name") for e in shown.find_elements(By.CSS_SELECTOR, "[name]")}
        masks = {e.get_attribute("data-mask") for e in shown.find_elements(By.CSS_SELECTOR, "canvas[data-mask]")}
        assert offered | masks == {field.name for field in spec.request_fields(operation)}, operation
        assert masks == ({"mask_image"} if tab == "inpaint" else set()), masks
        assert [e for e in browser.find_elements(By.CSS_SELECTOR, "#forms fieldset") if e.is_displayed()] == [shown]


def test_generate_stays_in_view_and_the_result_is_beside_the_form(browser: Any, backend: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(1280, 700)
    browser.get(backend.url + "/")
    inner = browser.execute_script("return window.innerHeight")
    form = browser.find_element(By.ID, "form")
    assert form.rect["height"] > inner, "the form fits the window: this test would prove nothing"
    for where in ("0", "document.body.scrollHeight / 2", "document.body.scrollHeight"):
        browser.execute_script(f"window.scrollTo(0, {where})")
        box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()",
                                     browser.find_element(By.ID, "generate"))
        assert 0 <= box["top"] and box["bottom"] <= inner, f"Generate out of view at scroll {where}: {box}"
    side = browser.find_element(By.ID, "result")
    assert side.rect["x"] >= form.rect["x"] + form.rect["width"], "the result is not beside the form"


def test_text2img_with_a_model_from_the_list_and_a_lora_of_its_family(
        browser: Any, backend: Server, recording: Recording, screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(backend.url + "/")
    _wait(browser, lambda b: "tiny-kohya" in b.find_element(By.ID, "loras").text, "the LoRAs listed")
    assert "tiny-sd (sd1)" in browser.find_element(By.ID, "models").text
    assert "tiny-vae" in browser.find_element(By.ID, "vaes").text
    _pick_model(browser, "text2img", "tiny-sdxl")
    offered = _loras_offered(browser, "text2img")
    assert {"tiny-sdxl-style", "tiny-sdxl-kohya", "tiny-kohya"} <= offered, offered
    assert not offered & {"tiny-style", "tiny-detail", "tiny-flux-peft"}, offered
    _pick_model(browser, "text2img", "tiny-sd")
    offered = _loras_offered(browser, "text2img")
    assert {"tiny-style", "tiny-detail", "tiny-kohya"} <= offered, offered
    assert not offered & {"tiny-sdxl-style", "tiny-flux-peft", "tiny-flux-kohya"}, offered

    _fill(browser, "text2img", "negative_prompt", "blurry")
    _fill(browser, "text2img", "samples", "2")
    _fill(browser, "text2img", "vae", "tiny-vae")
    _fill(browser, "text2img", "seed", "7")
    _fill(browser, "text2img", "lora_strength", "0.6")
    Select(_in(browser, "text2img", "[name=scheduler]")).select_by_visible_text("EulerDiscreteScheduler")
    _in(browser, "text2img", "[data-lora='tiny-style']").click()
    assert _in(browser, "text2img", "[name=lora_model]").get_attribute("value") == "tiny-style"
    image = _generate_and_wait(browser, images=2)
    state = browser.find_element(By.ID, "state").text
    assert state.startswith("HTTP 200: processing (eta"), f"no progress was shown: {state}"
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 256
    meta = _answer(browser)["meta"]
    assert (meta["model_id"], meta["negative_prompt"], meta["vae"], meta["seed"]) == (
        "tiny-sd", "blurry", "tiny-vae", 7)
    assert meta["scheduler"] == "EulerDiscreteScheduler" and meta["lora_model"] == ["tiny-style"], meta
    assert [request.model_id for request, _ in recording.seen] == ["tiny-sd"]
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "backend-page")


def test_img2img_from_the_url_of_a_result(browser: Any, backend: Server, recording: Recording,
                                          screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(backend.url + "/")
    _pick_model(browser, "text2img", "tiny-sd")
    _generate_and_wait(browser)
    first = _answer(browser)["output"][0]
    assert first.startswith(backend.url + "/images/"), first
    browser.find_element(By.CSS_SELECTOR, "#images [data-use-in=img2img]").click()
    assert browser.find_element(By.ID, "op-img2img").is_displayed()
    assert _in(browser, "img2img", "[name=init_image]").get_attribute("value") == first
    _wait(browser, lambda b: _loaded_image(b, "#op-img2img .preview img"), "the init image's preview")
    _pick_model(browser, "img2img", "tiny-sd")
    _fill(browser, "img2img", "prompt", "the same lighthouse at night")
    _fill(browser, "img2img", "strength", "0.5")
    image = _generate_and_wait(browser)
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 256
    request, inputs = recording.seen[-1]
    assert request.OPERATION == "img2img" and request.init_image == first, request
    assert inputs["init_image"].size == (256, 256)
    assert _answer(browser)["output"][0] != first
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "backend-img2img")


def _init_png(path: Path) -> np.ndarray:
    """A 256x320 gradient PNG (not square, so a mask of the wrong orientation would show)."""
    y, x = np.mgrid[0:320, 0:256]
    pixels = np.stack([x, y * 255 // 319, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    Image.fromarray(pixels, "RGB").save(path)
    return pixels


def test_inpaint_sends_the_uploaded_image_and_a_mask_drawn_on_it(
        browser: Any, backend: Server, recording: Recording, tmp_path: Path,
        screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    pixels = _init_png(tmp_path / "init.png")
    browser.get(backend.url + "/#inpaint")
    assert browser.find_element(By.ID, "op-inpaint").is_displayed()
    _pick_model(browser, "inpaint", "tiny-sd-inpaint")
    _fill(browser, "inpaint", "prompt", "a window in the wall")
    browser.find_element(By.ID, "generate").click()  # nothing drawn yet: the page says so and sends nothing
    _wait(browser, lambda b: "not sent" in b.find_element(By.ID, "state").text, "the page's own refusal")
    assert "init_image" in browser.find_element(By.ID, "message").text

    _in(browser, "inpaint", "input[type=file][data-upload=init_image]").send_keys(str(tmp_path / "init.png"))
    canvas = _wait(browser, lambda b: (lambda c: c.is_displayed() and c.get_attribute("width") == "256" and c)(
        _in(b, "inpaint", "canvas[data-mask=mask_image]")), "the mask canvas over the uploaded image")
    assert canvas.get_attribute("height") == "320"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    shown = canvas.rect
    assert (shown["width"], shown["height"]) == (256, 320), shown  # drawn at its own size, one pixel per pixel
    # a stroke in the upper left quadrant, by real pointer actions (offsets from the canvas' centre)
    ActionChains(browser).move_to_element_with_offset(canvas, -70, -100).click_and_hold() \
        .move_by_offset(40, 0).move_by_offset(0, 40).release().perform()
    image = _generate_and_wait(browser)
    assert (browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image)
            == [256, 320])

    request, inputs = recording.seen[-1]
    assert request.OPERATION == "inpaint" and request.model_id == "tiny-sd-inpaint", request
    for sent in (request.init_image, request.mask_image):  # the upload and the drawing, both in base64
        assert sent.startswith("data:image/png;base64,"), sent[:40]
    assert np.array_equal(np.asarray(inputs["init_image"].convert("RGB")), pixels), "the upload is not the file"
    mask = np.asarray(inputs["mask_image"].convert("L"))
    assert mask.shape == (320, 256)
    white = mask > 127
    assert 0.01 < white.mean() < 0.2, f"{white.mean():.3f} of the mask is white"
    rows, cols = np.nonzero(white)
    # the stroke ran from (58, 60) to (98, 60) to (98, 100), with a brush 24 pixels wide
    assert (cols.min(), rows.min()) >= (58 - 14, 60 - 14) and (cols.max(), rows.max()) <= (98 + 14, 100 + 14), \
        (cols.min(), rows.min(), cols.max(), rows.max())
    assert white[60, 75] and white[80, 98] and not white[200, 200]
    assert set(np.unique(mask[~white])) <= set(range(0, 128)) and mask[300, 10] == 0
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "backend-inpaint")


def test_model_reload_loads_the_chosen_model(browser: Any, backend: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(backend.url + "/")
    browser.find_element(By.ID, "tab-model_reload").click()
    assert browser.find_element(By.ID, "generate").text == "Reload model"
    _pick_model(browser, "modelReload", "tiny-sd-single")
    browser.find_element(By.ID, "generate").click()
    _wait(browser, lambda b: "success" in b.find_element(By.ID, "state").text
          or "error" in b.find_element(By.ID, "state").text, "the reload's end")
    assert "success" in browser.find_element(By.ID, "state").text
    assert browser.find_element(By.ID, "message").text.startswith("Model tiny-sd-single is loaded")


def test_an_invalid_field_shows_the_servers_error_naming_it_once(browser: Any, backend: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(backend.url + "/")
    _fill(browser, "text2img", "width", "250")
    browser.find_element(By.ID, "generate").click()
    _wait(browser, lambda b: "HTTP 400" in b.find_element(By.ID, "state").text, "the 400")
    errors = browser.find_element(By.ID, "errors").text
    assert "width" in errors
    assert browser.find_element(By.ID, "side").text.count("width must be at least 256") == 1
