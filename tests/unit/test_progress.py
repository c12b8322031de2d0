"""Progress lines in a log (not a terminal): one when a step starts, one when it ends."""

from __future__ import annotations

import io

import pytest

from bench.progress import Progress


def test_a_step_in_a_log_is_two_lines_and_the_detail_only_in_the_first() -> None:
    out = io.StringIO()
    progress = Progress(out, live=False)
    with progress.step("[3/54] vm cpu", "(about 2m00s left)"):
        pass
    start, end = out.getvalue().splitlines()
    assert start == "  ... [3/54] vm cpu (about 2m00s left)"
    assert end.startswith("    done [3/54] vm cpu (") and "left" not in end


def test_a_failed_step_says_so_and_quiet_says_nothing() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress(out, live=False).step("build"):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].startswith("  failed build (")
    interrupted = io.StringIO()
    with pytest.raises(KeyboardInterrupt), Progress(interrupted, live=False).step("[4/9] vm cpu"):
        raise KeyboardInterrupt
    assert interrupted.getvalue().splitlines()[-1].startswith("  aborted [4/9] vm cpu (")  # as its record says
    quiet = io.StringIO()
    with Progress(quiet, live=False, quiet=True).step("build"):
        pass
    assert quiet.getvalue() == ""
