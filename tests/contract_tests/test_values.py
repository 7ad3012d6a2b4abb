"""Property values from schema keywords: accepted values pass the spec, rule breakers fail it."""
from __future__ import annotations

import pytest

from t2i_contract.contract_tests.generation import draw, is_valid
from t2i_contract.contract_tests.values import rule_breakers, value_strategy, violation_strategy
from t2i_contract.spec import load_spec

SPEC = load_spec()
BASE = {"key": "k", "model_id": "m", "prompt": "p"}
PROPERTIES = {item.name: item.schema for item in SPEC.request_fields("text2img")}


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_value_strategy_values_are_accepted(name: str) -> None:
    values = draw(value_strategy(PROPERTIES[name], SPEC.wire_booleans), 25, seed=1)
    assert values
    if name in ("lora_strength",):  # strengths only make sense with as many LoRAs
        values = [v for v in values if v is None]
    for value in values:
        assert is_valid(BASE | {name: value}, SPEC), (name, value)


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_every_rule_breaker_is_rejected(name: str) -> None:
    breakers = rule_breakers(PROPERTIES[name])
    assert breakers
    for value in breakers:
        assert not is_valid(BASE | {name: value}, SPEC), (name, value)


def test_violations_are_mostly_rejected_and_the_oracle_sorts_the_rest() -> None:
    """Wire leniency means a violation can still be valid (``"12px"`` is not, ``True`` for a string is)."""
    width = draw(violation_strategy(PROPERTIES["width"]), 40, seed=2)
    assert sum(not is_valid(BASE | {"width": v}, SPEC) for v in width) >= 30
    assert any(isinstance(v, str) for v in width) and any(isinstance(v, int) and v > 1024 for v in width)


def test_boolean_wire_words_come_from_the_spec() -> None:
    values = draw(value_strategy(PROPERTIES["base64"], {"oui": True, "non": False}), 60, seed=3)
    words = {v for v in values if isinstance(v, str)}
    assert words and words <= {"oui", "Oui", "OUI", "non", "Non", "NON"}
