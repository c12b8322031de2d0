"""The lines the guest side writes: markers from the launcher and the initramfs init."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

MARK = "@@BENCH "
READY = MARK + "READY "
RESULT = MARK + "RESULT "
PROBE = MARK + "PROBE "
PHASE = MARK + "PHASE "  # "@@BENCH PHASE <name> <guest uptime>": a start phase inside the instance
INIT = MARK + "INIT"  # the initramfs init's first line
INIT_FAILED = MARK + "INIT-FAILED "
TREE = MARK + "TREE "  # "@@BENCH TREE <sha256> <entries>": the tree probe's hash of the user space
TREE_FAILED = MARK + "TREE-FAILED "


@dataclass(frozen=True)
class TreeLine:
    sha256: str
    entries: int

    @classmethod
    def parse(cls, line: str) -> TreeLine:
        words = line[len(TREE):].split()
        if len(words) != 2 or len(words[0]) != 64 or not words[1].isdigit() or \
                any(c not in "0123456789abcdef" for c in words[0]):
            raise ResultLineError(f"TREE line is not '<sha256> <entries>': {line[:120]!r}")
        return cls(words[0], int(words[1]))


class ResultLineError(Exception):
    """A RESULT line that cannot be read: the trial fails with this reason."""


@dataclass(frozen=True)
class GuestResult:
    workload: str
    exit_code: int
    guest_seconds: float  # the command's wall time by the guest's own clock
    output: str

    @classmethod
    def parse(cls, line: str) -> GuestResult:
        payload = line[len(RESULT):] if line.startswith(RESULT) else line
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as e:
            raise ResultLineError(f"RESULT line is not JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(data, dict):
            raise ResultLineError("RESULT line is not a JSON object")
        if "error" in data:
            raise ResultLineError(f"launcher: {data['error']}")
        try:
            workload = data["workload"]
            exit_code = data["exit_code"]
            started, ended = data["started_ns"], data["ended_ns"]
            output = base64.b64decode(data["output_b64"], validate=True).decode(errors="replace")
        except KeyError as e:
            raise ResultLineError(f"RESULT line lacks {e.args[0]!r}") from None
        except (binascii.Error, TypeError):
            raise ResultLineError("RESULT line's output_b64 is not base64") from None
        if not isinstance(workload, str) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                    for v in (exit_code, started, ended)):
            raise ResultLineError("RESULT line has a field of the wrong type")
        return cls(workload, exit_code, (ended - started) / 1e9, output)
