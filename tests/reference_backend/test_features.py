"""upscale, highres_fix, enhance_prompt, multi_lingual and ip_adapter_*: done, noted, or refused."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.features import UPSCALE_RESAMPLER

from .support import decode_png, differ, pixels

if TYPE_CHECKING:
    from .support import Server


def test_upscale_doubles_the_size_with_the_documented_resampler(tiny_server: Server) -> None:
    body = tiny_server.text2img(upscale=True, width=256, height=320, base64=True).json()
    image = decode_png(body["output"][0])
    assert image.size == (512, 640)
    assert body["meta"]["upscaler"] == f"Pillow {UPSCALE_RESAMPLER} 2x"


def test_upscaled_image_is_the_plain_image_enlarged(tiny_server: Server) -> None:
    import numpy as np
    from PIL import Image

    plain = pixels(tiny_server)[0]
    big = pixels(tiny_server, upscale="yes")[0]
    shrunk = np.asarray(Image.fromarray(big.astype("uint8")).resize((256, 256), Image.Resampling.BOX),
                        dtype=np.float32)
    other = pixels(tiny_server, seed=7)[0]
    assert differ(shrunk, plain) < 5.0 < differ(shrunk, other)


def test_enhance_prompt_is_noted_not_ignored(tiny_server: Server) -> None:
    on = tiny_server.text2img(enhance_prompt=True).json()
    off = tiny_server.text2img(enhance_prompt=False).json()
    assert any(n.startswith("enhance_prompt:") for n in on["meta"]["notes"])
    assert not any(n.startswith("enhance_prompt:") for n in off["meta"]["notes"])


def test_multi_lingual_is_noted(tiny_server: Server) -> None:
    body = tiny_server.text2img(multi_lingual="yes").json()
    assert any(n.startswith("multi_lingual:") for n in body["meta"]["notes"])


@pytest.mark.parametrize(("sent", "missing"), [
    ({"ip_adapter_id": "ip-adapter_sd15"}, "ip_adapter_image"),
    ({"ip_adapter_image": "https://example.com/face.png"}, "ip_adapter_id"),
    ({"ip_adapter_scale": 0.5}, "ip_adapter_id"),
], ids=["id-without-image", "image-without-id", "scale-without-id"])
def test_an_ip_adapter_field_without_its_partner_is_refused_naming_the_missing_one(
        tiny_server: Server, sent: dict[str, object], missing: str) -> None:
    response = tiny_server.text2img(**sent)
    assert response.status_code == 400
    body = response.json()
    assert missing in body["message"]
    assert body["errors"][0]["field"] == missing


def test_highres_fix_costs_a_second_pass_and_is_reproducible(tiny_server: Server) -> None:
    first = pixels(tiny_server, highres_fix=True)[0]
    assert differ(pixels(tiny_server, highres_fix=True)[0], first) == 0.0
