"""Finding output (text and JSON) and the --fail-on exit status."""
from __future__ import annotations

import json

import pytest

from t2i_contract.drift.findings import Finding, exit_code, normalise_level, render

FINDINGS = [Finding("b-rule", "info", "/b", "later"), Finding("a-rule", "error", "/a", "first")]


def test_json_output_has_the_documented_shape_most_severe_first() -> None:
    data = json.loads(render(FINDINGS, "json"))
    assert data == {"findings": [
        {"rule": "a-rule", "level": "error", "path": "/a", "message": "first"},
        {"rule": "b-rule", "level": "info", "path": "/b", "message": "later"},
    ]}


def test_text_output_uses_the_sarif_level_words_and_counts() -> None:
    text = render(FINDINGS + [Finding("c-rule", "warn", "/c", "middle")], "text")
    assert [line.split()[0] for line in text.splitlines()[0:6:2]] == ["error", "warning", "note"]
    assert text.endswith("3 findings: 1 error, 1 warning, 1 note")
    assert not any(word in text.split() for word in ("ERR", "WARN", "INFO", "warn", "info"))
    assert render([], "text") == "no findings"


@pytest.mark.parametrize(("fail_on", "status"), [("error", 1), ("warn", 1), ("info", 1)])
def test_exit_code_fails_at_or_above_the_threshold(fail_on: str, status: int) -> None:
    assert exit_code(FINDINGS, normalise_level(fail_on)) == status


def test_exit_code_passes_below_the_threshold() -> None:
    assert exit_code([Finding("r", "warn", "", "m")], "error") == 0
    assert exit_code([], "info") == 0


def test_levels_accept_the_shown_words_the_data_words_and_diff_spellings_and_reject_others() -> None:
    assert [normalise_level(v) for v in ("error", "warning", "note", "ERR", "Warn", "INFO", "NOTE")] == \
        ["error", "warn", "info", "error", "warn", "info", "info"]
    with pytest.raises(ValueError, match="got 'fatal'"):
        normalise_level("fatal")
    with pytest.raises(ValueError):
        Finding("r", "fatal", "", "m")  # type: ignore[arg-type]
