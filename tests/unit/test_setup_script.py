"""The host set-up script, on a distribution it does not know: it says what to install and
stops before touching anything. And `make test`'s test step as a user other than root."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.config import PROJECT_ROOT


def test_non_debian_host_gets_the_list_and_nothing_is_run(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('ID=fedora\nID_LIKE="rhel centos"\n')
    proc = subprocess.run(["sh", str(PROJECT_ROOT / "scripts/setup-host.sh")], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "OS_RELEASE": str(release)})
    assert proc.returncode == 1
    assert "knows Debian and Ubuntu only (found: fedora rhel centos)" in proc.stderr
    for needed in ("Docker engine", "mmdebstrap", "busybox", "Python >= 3.11", "PostgreSQL's server programs"):
        assert needed in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_an_unknown_option_is_refused_before_anything_is_run() -> None:
    proc = subprocess.run(["sh", str(PROJECT_ROOT / "scripts/setup-host.sh"), "--everything"], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2 and proc.stderr.strip().endswith("setup-host.sh [--test]") and proc.stdout == ""


@pytest.fixture
def bin_dir() -> Iterator[Path]:
    """A directory another user can read, for stand-ins of sudo (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="vmctb-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def suite_as_nobody(bin_dir: Path, sudo: str | None) -> subprocess.CompletedProcess[str]:
    """`make test`'s test step run by an unprivileged user, with `sudo` standing in as given."""
    for tool in ("id", "dirname"):  # what the script needs, and no sudo but the stand-in
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    if sudo is not None:
        (bin_dir / "sudo").write_text(f"#!/bin/sh\n{sudo}\n")
        (bin_dir / "sudo").chmod(0o755)
    return subprocess.run([shutil.which("setpriv") or "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           "/bin/sh", str(PROJECT_ROOT / "scripts/run-tests.sh"), "tests/unit/test_units.py"],
                          capture_output=True, text=True, env={"PATH": str(bin_dir)}, stdin=subprocess.DEVNULL)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to be another user")
def test_as_a_user_without_sudo_the_tests_fail_in_one_line(bin_dir: Path) -> None:
    proc = suite_as_nobody(bin_dir, None)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == ("make test: the integration tests need root: run it as root, or as a user who may use sudo\n")
    refused = suite_as_nobody(bin_dir, '[ "$1" = -v ] && { echo "Sorry, user nobody may not run sudo" >&2; exit 1; }; exit 0')
    assert refused.returncode == 1  # sudo is there, but not for this user
    assert refused.stderr == "make test: the integration tests need root: run it as root, or as a user who may use sudo\n"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to be another user")
def test_as_a_user_with_sudo_the_whole_suite_runs_through_it(bin_dir: Path) -> None:
    proc = suite_as_nobody(bin_dir, '[ "$1" = -v ] && exit 0; echo "sudo $*"')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("sudo -- env PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -p no:cacheprovider "
                           "--benchmark-storage=file:///tmp/vmct-bench-benchmarks tests/unit/test_units.py\n")
