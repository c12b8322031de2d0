from __future__ import annotations

import threading
import time

import pytest

from bench.guest.console import Console, ConsoleClosed


def test_lines_split_across_chunks_and_crlf() -> None:
    console = Console()
    console.feed(b"[ 0.1] boot\r\n@@BENCH RE")
    console.feed(b"ADY hello\r\nrest")
    index, line = console.wait_for("@@BENCH READY", 0.1)
    assert (index, line.text) == (1, "@@BENCH READY hello")
    console.close()
    assert console.tail(1) == ["rest"]


def test_wait_from_a_later_index_and_any_of_several_prefixes() -> None:
    console = Console()
    console.feed(b"A 1\nB 2\nA 3\n")
    assert console.wait_for("A", 0.1, start=1)[1].text == "A 3"
    assert console.wait_for(("C", "B"), 0.1)[1].text == "B 2"


def test_line_times_are_when_the_harness_saw_them() -> None:
    console = Console()
    before = time.monotonic_ns()
    threading.Timer(0.05, console.feed, args=(b"@@BENCH READY x\n",)).start()
    _, line = console.wait_for("@@BENCH READY", 2)
    assert line.t_ns - before >= 40_000_000
    assert console.first_byte_ns == line.t_ns


def test_timeout_and_closed_are_distinct() -> None:
    console = Console()
    with pytest.raises(TimeoutError, match="no '@@BENCH READY' line within 0.05 s"):
        console.wait_for("@@BENCH READY ", 0.05)
    console.close("domain ended")
    with pytest.raises(ConsoleClosed, match="domain ended"):
        console.wait_for("@@BENCH READY", 5)


def test_phase_lines_are_timed_where_the_harness_saw_them() -> None:
    console = Console()
    console.feed(b"@@BENCH PHASE engine_starting 2.79\nkernel noise\n")
    first = time.monotonic_ns()
    console.feed(b"@@BENCH PHASE engine_ready 10.37\n@@BENCH PHASE engine_ready 11\n@@BENCH PHASE\n")
    phases = console.phases()
    assert list(phases) == ["engine_starting", "engine_ready"]  # the first of a repeated name; none unnamed
    assert phases["engine_starting"] < first <= phases["engine_ready"]
