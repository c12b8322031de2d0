from __future__ import annotations

import base64
import json

import pytest

from bench.guest.protocol import GuestResult, RESULT, ResultLineError


def result_line(**fields: object) -> str:
    data = {"workload": "hello", "exit_code": 0, "started_ns": 1_000_000_000,
            "ended_ns": 3_500_000_000, "output_b64": base64.b64encode(b"abc  /f\n").decode()}
    data.update(fields)
    return RESULT + json.dumps({k: v for k, v in data.items() if v is not None})


def test_parses_a_well_formed_line() -> None:
    result = GuestResult.parse(result_line())
    assert result == GuestResult("hello", 0, 2.5, "abc  /f\n")


@pytest.mark.parametrize("line, message", [
    (RESULT + "{not json", "not JSON"),
    (RESULT + "[1, 2]", "not a JSON object"),
    (result_line(exit_code=None), "lacks 'exit_code'"),
    (result_line(output_b64="***"), "not base64"),
    (result_line(exit_code="0"), "wrong type"),
    (result_line(started_ns=True), "wrong type"),
    (RESULT + '{"workload": "x", "error": "no such workload in this image"}',
     "launcher: no such workload in this image"),
])
def test_malformed_lines_are_trial_failures(line: str, message: str) -> None:
    with pytest.raises(ResultLineError, match=message):
        GuestResult.parse(line)
