"""Consolidation scenarios: parsed from text or TOML, costed with a run's measured overheads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main
from bench.errors import BenchError
from bench.report import scenario
from bench.rundir import runs
from tests.unit.synthetic_runs import baseline_values, write_run
from tests.unit.test_report import parse

ENGINES = {"engines_memory": {"docker": {"pss_mib": 120.0}, "libvirt": {"pss_mib": 25.0}}}


def test_the_one_line_forms() -> None:
    every = scenario.parse("9 vm x 8GiB")
    assert (every.vms, every.keep_vms, every.containers, every.container_memory_bytes) == (9, 0, 9, 8 * 2**30)
    some = scenario.parse("9 VMs x 8GiB -> 4 vm + 20 containers x 1GiB")
    assert (some.keep_vms, some.containers, some.container_memory_bytes) == (4, 20, 2**30)


@pytest.mark.parametrize("text, message", [
    ("9 vms", "not a TOML file or 'N vm x SIZE"),
    ("9 vm x 8XB", "not a size like 64GiB"),
    ("2 vm x 8GiB -> 3 vm + 1 containers", "keeps 3 VMs of 2"),
    ("no-such.toml", "no-such.toml: no such file"),
])
def test_bad_scenarios_are_one_line(text: str, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        scenario.parse(text)


def test_a_bad_scenario_on_the_command_line_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = write_run(tmp_path, "one", baseline_values())
    code = main(["report", str(run_dir), "--scenario", "nine vms"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "scenario 'nine vms': not a TOML file" in err
    assert not (run_dir / "index.html").exists()


def test_the_shipped_example_is_the_seeds(tmp_path: Path) -> None:
    (nine,) = scenario.shipped()
    assert (nine.vms, nine.keep_vms, nine.containers) == (9, 4, 20)
    assert nine.source == "examples/scenarios/nine-large-vms.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nvms = 9\nvm_memory = "8GiB"\nkeep_vms = 4\ncontainers = 20\n'
                   'container_memory = "1GiB"\ncpus = 3\n')
    with pytest.raises(BenchError, match="cpus: unknown key"):
        scenario.parse(str(bad))


def test_costs_add_up_from_the_measured_overheads(tmp_path: Path) -> None:
    run = runs.load(write_run(tmp_path, "one", baseline_values(), extra_info=ENGINES))
    costed = scenario.cost(run, scenario.parse("9 vm x 8GiB -> 4 vm + 20 containers x 1GiB"))
    vm = 8192 + 30.0  # RAM + the measured VMM overhead
    container = 1024 + 13.8  # working set + the measured idle container's PSS
    assert costed.before_mib == pytest.approx(9 * vm + 25.0)
    assert costed.after_mib == pytest.approx(4 * vm + 25.0 + 20 * container + 120.0)
    assert costed.freed_mib == pytest.approx(5 * vm - 20 * container - 120.0)
    assert any("TCG" in note for note in costed.notes)
    assert "freed" in costed.summary()


def test_a_run_without_engine_figures_says_so(tmp_path: Path) -> None:
    run = runs.load(write_run(tmp_path, "old", baseline_values()))
    costed = scenario.cost(run, scenario.parse("9 vm x 8GiB"))
    assert any("did not record the engines' own memory" in note for note in costed.notes)


def test_the_report_renders_the_seeds_example_by_default(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, "one", baseline_values(), extra_info=ENGINES)
    assert main(["-q", "report", str(run_dir)]) == 0
    text = " ".join(parse(run_dir / "index.html").text)
    assert "Scenario: Nine large VMs" in text and "freed" in text
    assert main(["-q", "report", str(run_dir), "--scenario", "3 vm x 2GiB"]) == 0
    text = " ".join(parse(run_dir / "index.html").text)
    assert "Scenario: 3 vm x 2GiB" in text and "Nine large VMs" not in text
