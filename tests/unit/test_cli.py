"""The command line's handling of bad input: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main
from tests.conftest import write_workload


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["doctor", "--kvm-deadline", "-3"], "must be more than 0 seconds"),
    (["doctor", "--kvm-deadline", "soon"], "not a number of seconds"),
    (["launch", "hello", "--platform", "kata"], "unknown platform 'kata' (known: native, "),
    (["launch", "hello", "--platform", "docker:bad/name"], "unknown platform 'docker:bad/name': a runtime's name is"),
    (["launch", "hello"], "the following arguments are required: --platform"),
    (["images", "build", "--workloads", ","], "expected a comma-separated list"),
    ([], "the following arguments are required: command"),
])
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert err.startswith("bench: error: ") and err.count("\n") == 1
    assert out == ""


def test_unknown_workload_before_anything_is_built(capsys: pytest.CaptureFixture[str],
                                                   workloads_dir: Path, tmp_path: Path) -> None:
    write_workload(workloads_dir, "cpu")
    cache = tmp_path / "cache"
    code, _, err = run(capsys, "--cache-dir", str(cache), "images", "build", "--workloads", "cpu,nope")
    assert code == 2
    assert err == f"bench: error: unknown workload 'nope' (known in {workloads_dir}: cpu)\n"
    assert not cache.exists()


def test_malformed_workload_file(capsys: pytest.CaptureFixture[str], workloads_dir: Path,
                                 tmp_path: Path) -> None:
    path = write_workload(workloads_dir, "bad", 'name = "bad"\ndescription = "x"\n')
    code, _, err = run(capsys, "--cache-dir", str(tmp_path / "c"), "images", "build")
    assert code == 2
    assert err == f"bench: error: {path}: command: missing\n"
    assert not (tmp_path / "c").exists()


def test_launch_without_images(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--cache-dir", str(tmp_path), "launch", "hello", "--platform", "native")
    assert code == 2
    assert err == "bench: error: no images built yet: run `bench images build`\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("vmct-bench ")
