"""When the harness's figure disagrees with an independent tool's timing of the same thing.

Each round measures both, one right after the other, so both see the host in the same state. The
decision rests on the 95% CI of the median ratio harness ÷ tool over the rounds so far
(`stats.paired_ratio_ci`), not on two medians:
- they disagree when the whole interval lies outside 1 ± BOUND: evidence of an offset;
- they agree when the whole interval lies inside it;
- otherwise it is undecided, and another round narrows the interval, up to MAX_ROUNDS; still
  undecided then, noise has hidden any offset, and noise alone never fails the check.
BOUND leaves room for what timing from the same event does not remove: between create and start
the CLI (Go) makes its own API calls (attach, wait) and the harness (Python) its own. On a quiet
host of this kind the ratio's median was 0.92 to 1.0; with two CPU-bound processes beside the
test it reached 1.2. How often a 30% offset fails and no offset passes, for the spread seen here,
is stated in tests/unit/test_agreement.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis import stats

BOUND = 0.15
MIN_ROUNDS, MAX_ROUNDS = 7, 20


@dataclass(frozen=True)
class Judgement:
    verdict: str  # "agree", "disagree" or "undecided"
    ci: stats.Interval
    rounds: int

    def __str__(self) -> str:
        return (f"{self.verdict}: harness ÷ tool {self.ci.low:.3f}–{self.ci.high:.3f} (95% CI, {self.rounds} rounds; "
                f"agreement is 1 ± {BOUND:.0%})")


def judge(harness: list[float], tool: list[float], bound: float = BOUND, seed: int = 0) -> Judgement:
    ci = stats.paired_ratio_ci(harness, tool, seed)
    if ci.low > 1 + bound or ci.high < 1 - bound:
        verdict = "disagree"
    elif ci.low >= 1 - bound and ci.high <= 1 + bound:
        verdict = "agree"
    else:
        verdict = "undecided"
    return Judgement(verdict, ci, len(harness))


def settled(harness: list[float], tool: list[float]) -> Judgement | None:
    """The judgement once the rounds so far decide it (or reach MAX_ROUNDS), else None."""
    if len(harness) < MIN_ROUNDS:
        return None
    judgement = judge(harness, tool)
    return judgement if judgement.verdict != "undecided" or len(harness) >= MAX_ROUNDS else None
