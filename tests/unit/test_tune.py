"""`bench tune` on a recorded tree of /sys and /proc (the real host's is tested in
tests/integration/test_noise.py): the state saved before anything changes, each knob set, a
knob the host lacks or refuses said in one line, `--reset` putting back exactly what was saved,
and a crashed run's tuning found by `bench clean`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.definitions.hostprofile import TuneChoice
from bench.errors import BenchError
from bench.operations import tune
from tests.unit.test_noise_sources import tree

DESKTOP = {
    "sys/devices/system/cpu/online": "0-3",
    "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor": "powersave",
    "sys/devices/system/cpu/cpufreq/boost": "1",
    "proc/irq/24/smp_affinity_list": "0-3",
    "proc/irq/25/smp_affinity_list": "3",
    "proc/irq/26/smp_affinity_list": "0-2",
}


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tune.noise, "irqbalance_pids", lambda: [])


def values(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text().strip() for p in sorted(root.rglob("*")) if p.is_file()}


def test_tune_saves_first_sets_each_knob_and_reset_restores_exactly(tmp_path: Path) -> None:
    root = tmp_path / "host"
    files = tree(root, DESKTOP)
    before = values(root)
    state, lines = tune.apply((3,), "bench tune", files=files)
    now = values(root)
    assert now["sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"] == "performance"
    assert now["sys/devices/system/cpu/cpufreq/boost"] == "0"
    assert (now["proc/irq/24/smp_affinity_list"], now["proc/irq/25/smp_affinity_list"],
            now["proc/irq/26/smp_affinity_list"]) == ("0,1,2", "0,1,2", "0-2")
    assert "set governor cpu3: powersave → performance" in lines and "set boost: 1 → 0" in lines
    assert "irqbalance: not running: nothing to pause" in lines
    saved = json.loads(tune.state_path().read_text())
    assert {k["name"]: k["prior"] for k in saved["knobs"]} == {
        "governor cpu3": "powersave", "boost": "1", "irq 24 affinity": "0-3", "irq 25 affinity": "3"}
    assert state.applied()["boost"] == "0"

    with pytest.raises(BenchError, match="tuned already"):
        tune.apply((3,), "bench tune", files=files)
    restored = tune.reset()
    assert values(root) == before
    assert len([line for line in restored if line.startswith("restored")]) == 4
    assert not tune.state_path().exists()
    assert tune.reset() == ["the host is not tuned by vmct-bench: nothing to reset"]


def test_a_host_without_the_knobs_is_told_and_nothing_is_an_error(tmp_path: Path) -> None:
    files = tree(tmp_path / "vm", {"sys/devices/system/cpu/online": "0"})
    with pytest.raises(BenchError) as caught:
        tune.apply((0,), "bench tune", files=files)
    text = str(caught.value)
    assert "nothing could be set" in text and "no cpufreq" in text and "no boost control" in text
    assert "no CPU outside 0 to move IRQs to" in text
    assert not tune.state_path().exists()


def test_a_refused_knob_is_one_line_and_the_rest_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the kernel refuses a per-CPU interrupt's affinity (EIO), even to root."""
    root = tmp_path / "host"
    files = tree(root, DESKTOP)
    refused = root / "proc/irq/25/smp_affinity_list"
    write = Path.write_text

    def kernel_write(path: Path, text: str) -> int:
        if path == refused:
            raise OSError(5, "Input/output error")
        return write(path, text)
    monkeypatch.setattr(Path, "write_text", kernel_write)
    state, lines = tune.apply((3,), "bench tune", files=files)
    assert "irq 25 affinity: not set (Input/output error): left at 3" in lines
    assert "irq 25 affinity" not in {k.name for k in state.knobs}
    tune.reset()


def test_a_profile_chooses_the_knobs(tmp_path: Path) -> None:
    files = tree(tmp_path / "host", DESKTOP)
    knobs, _ = tune.plan((3,), TuneChoice(governor=True, boost=False, irqs=False), files)
    assert [k.name for k in knobs] == ["governor cpu3"]


def test_a_crashed_runs_tuning_is_a_leftover_a_live_one_or_bench_tunes_is_not(tmp_path: Path) -> None:
    files = tree(tmp_path / "host", DESKTOP)
    tune.apply((3,), "run", files=files)
    assert tune.crashed() is None  # this process, alive
    data = json.loads(tune.state_path().read_text())
    data["pid"] = 2**22 + 1  # no such process
    tune.state_path().write_text(json.dumps(data))
    crashed = tune.crashed()
    assert crashed is not None and crashed.owner == "run"
    data["owner"] = "bench tune"
    tune.state_path().write_text(json.dumps(data))
    assert tune.crashed() is None
    tune.reset()
