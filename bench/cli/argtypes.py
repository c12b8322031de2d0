"""Command-line argument types (each turns bad text into a one-line argparse error), and the
arguments several commands share."""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported at start: the judgement brings in scipy
    from bench.analysis.judgement import GateReport

LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def names(text: str) -> list[str]:
    found = [n.strip() for n in text.split(",") if n.strip()]
    if not found:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return found


def number(text: str, what: str, low: float, high: float = float("inf"), unit: str = "") -> float:
    """A float strictly between low and high, or a one-line argparse error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
    if not low < value < high:
        bound = f"more than {low:g}{unit}" if high == float("inf") else f"between {low:g}{unit} and {high:g}{unit}"
        raise argparse.ArgumentTypeError(f"must be {bound}: {text!r}")
    return value


def platform(text: str) -> str:
    """A registered platform or docker:RUNTIME."""
    from bench.errors import BenchError
    from bench.model import registry

    try:
        return registry.get(text).name
    except BenchError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def host_profile(text: str) -> Any:
    """A host profile's name: hosts/NAME.toml, read and checked."""
    from bench.definitions import hostprofile
    from bench.errors import BenchError

    try:
        return hostprofile.load(text)
    except BenchError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--host {text}: ")) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def seconds(text: str) -> float:
    return number(text, "a number of seconds", 0, unit=" seconds")


def scenario(text: str) -> Any:
    """A consolidation scenario: a TOML file or 'N vm x SIZE [-> M vm + C containers [x SIZE]]'."""
    from bench.errors import BenchError
    from bench.report.scenario import parse

    try:
        return parse(text)
    except BenchError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def size(text: str) -> int:
    from bench.model.units import parse_size

    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def percent(text: str) -> float:
    return number(text.strip().removesuffix("%"), "a percentage like 10%", 0, 1000, unit="%") / 100


def probability(text: str) -> float:
    return number(text, "a probability", 0, 1)


def label(text: str) -> tuple[str, str]:
    """KEY=VALUE: a free-form label of a run (commit=abc123, branch=main)."""
    key, sep, value = text.partition("=")
    if not sep or not LABEL_KEY_RE.match(key):
        raise argparse.ArgumentTypeError(f"not KEY=VALUE (KEY: letters, digits, _ . -): {text!r}")
    return key, value


def moment(text: str) -> str:
    """A date or time (ISO 8601; UTC unless it says otherwise) as the history stores times."""
    from bench.history.ingest import utc_iso

    try:
        return utc_iso(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2026-11-26 or 2026-11-26T08:00:00+01:00: {text!r}") from None


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """What every regression gate takes: the threshold, alpha, and its output's shape."""
    parser.add_argument("--threshold", type=percent, default=0.10, metavar="PCT",
                        help="a change of the median smaller than this is never a regression (default: 10%%)")
    parser.add_argument("--alpha", type=probability, default=0.01,
                        help="significance level of the one-sided rank test (default: 0.01)")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--markdown", action="store_true", help="a markdown table (for a CI job summary)")
    shape.add_argument("--json", action="store_true", help="machine-readable output")


def print_gate(outcome: GateReport, args: argparse.Namespace) -> int:
    """A gate's outcome in the shape add_gate_arguments asked for; the exit code: 1 on a regression."""
    if args.json:
        print(json.dumps(outcome.to_json(), indent=2))
    elif args.markdown:
        print(outcome.markdown())
    else:
        print(outcome.text())
    return 1 if outcome.regressions else 0
