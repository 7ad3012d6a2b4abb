"""A prompt the model's tokenizer cannot encode is the request's fault: a 400 naming ``prompt``, not a 500."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from t2i_contract.reference_backend.errors import GenerationError, UnsupportedError
from t2i_contract.spec import parse_text2img

from .support import text2img_body

if TYPE_CHECKING:
    from t2i_contract.reference_backend import Generator

MARK = "unencodable"


class Refusing:
    """The model's own tokenizer, except that a prompt with MARK cannot be encoded (or, with ``error``, fails)."""

    def __init__(self, tokenizer: Any, error: type[Exception] | None = None) -> None:
        self._tokenizer, self._error = tokenizer, error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)

    def __call__(self, text: Any, *args: Any, **kwargs: Any) -> Any:
        if MARK in str(text):
            if self._error is not None:
                raise self._error("tokenizer broke")
            raise UnicodeEncodeError("utf-8", MARK, 0, 1, "cannot be encoded")
        return self._tokenizer(text, *args, **kwargs)


@pytest.mark.parametrize(("error", "expected", "status"), [(None, UnsupportedError, 400),
                                                           (RuntimeError, GenerationError, 500)],
                         ids=["encoding", "other-failure"])
def test_a_prompt_the_tokenizer_cannot_encode_is_a_400_naming_prompt(
        tiny_generator: Generator, monkeypatch: pytest.MonkeyPatch, error: type[Exception] | None,
        expected: type[Exception], status: int) -> None:
    pipe = tiny_generator._model("tiny-sd").pipe  # type: ignore[attr-defined]
    monkeypatch.setattr(pipe, "tokenizer", Refusing(pipe.tokenizer, error))
    request = parse_text2img(text2img_body(prompt=f"a {MARK} lighthouse", num_inference_steps=1))
    with pytest.raises(expected) as caught:
        tiny_generator.generate(request, 1)
    assert caught.value.status == status  # type: ignore[attr-defined]
    if status == 400:
        assert caught.value.field == "prompt" and MARK in caught.value.value  # type: ignore[attr-defined]
