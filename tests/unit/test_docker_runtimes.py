"""daemon.json: the runtimes vmct-bench registers are merged in, keeping everything else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.host import docker_runtimes
from bench.host.docker_runtimes import RUNTIMES, update

WANTED = {"crun": {"path": "/usr/bin/crun"}}


def test_unrelated_keys_and_runtimes_stay_and_a_second_merge_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    mine = {"log-driver": "journald", "storage-driver": "overlay2",
            "runtimes": {"kata": {"path": "/opt/kata/bin/kata-runtime"}}}
    path.write_text(json.dumps(mine))
    assert update(path, RUNTIMES) is True
    after = json.loads(path.read_text())
    assert after == {**mine, "runtimes": {**mine["runtimes"], **RUNTIMES}}
    text = path.read_text()
    assert update(path, RUNTIMES) is False and path.read_text() == text  # idempotent, not rewritten


def test_a_runtime_the_user_registered_under_our_name_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps({"runtimes": {"runsc": {"path": "/usr/local/bin/runsc", "runtimeArgs": ["--debug"]}}}))
    update(path, RUNTIMES)
    assert json.loads(path.read_text())["runtimes"]["runsc"] == {"path": "/usr/local/bin/runsc",
                                                                 "runtimeArgs": ["--debug"]}


def test_a_missing_file_is_made_only_when_there_is_something_to_register(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "daemon.json"
    assert update(path, {}) is False and not path.exists()
    assert update(path, WANTED) is True and json.loads(path.read_text()) == {"runtimes": WANTED}


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON (line 1: "),
    ("[1, 2]", "not a JSON object"),
    ('{"runtimes": []}', '"runtimes" is not an object'),
])
def test_a_bad_daemon_json_is_one_line_exit_2_and_untouched(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "daemon.json"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "bench.host.docker_runtimes", str(path)], capture_output=True,
                          text=True, cwd=Path(docker_runtimes.__file__).parents[2])
    assert proc.returncode == 2 and proc.stderr.startswith(f"{path}: {message}") and proc.stderr.count("\n") == 1
    assert path.read_text() == text and [p.name for p in tmp_path.iterdir()] == ["daemon.json"]


def test_the_set_up_runs_it_with_the_standard_library_alone() -> None:
    """No import of the project's dependencies: the set-up runs it before .venv exists."""
    source = Path(docker_runtimes.__file__).read_text()
    imported = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imported <= {"__future__", "json", "os", "sys", "tempfile", "pathlib", "typing"}
