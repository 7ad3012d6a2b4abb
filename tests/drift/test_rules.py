"""Rule tables: a level is stated once, where the rule registers, and nothing reports an unregistered rule."""
from __future__ import annotations

import pytest

from t2i_contract.drift.observe import DRIFT_RULES, Observer
from t2i_contract.drift.rules import RuleTable
from t2i_contract.spec import load_spec


def test_a_rule_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="'x' is registered twice"):
        RuleTable("demo", [("x", "info", "one"), ("x", "error", "two")])


def test_findings_take_the_registered_level() -> None:
    table = RuleTable("demo", [("x", "warn", "one")])
    assert table.finding("x", "/a", "m").level == "warn"
    with pytest.raises(LookupError, match="demo rule 'y' is not registered"):
        table.finding("y", "/a", "m")


def test_the_observer_refuses_an_unregistered_rule() -> None:
    with pytest.raises(LookupError, match="not registered"):
        Observer(load_spec()).problem("made-up", "/", "m")


def test_observer_findings_carry_the_levels_of_the_drift_table() -> None:
    spec = load_spec()
    observer = Observer(spec)
    pointer = spec.responses.operation_pointer("text2img")
    observer.record(pointer, 200, {"status": "success", "id": "7", "output": [], "surprise": 1}, "POST /x")
    observer.record(pointer, 418, {}, "POST /x")
    found = observer.findings()
    assert {f.rule for f in found} >= {"type-mismatch", "undocumented-field", "undocumented-status", "field-never-seen"}
    assert all(f.level == DRIFT_RULES[f.rule].level for f in found)
    assert DRIFT_RULES["undocumented-field"].level == "warn"
