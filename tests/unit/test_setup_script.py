"""The host set-up script, on a distribution it does not know: it says what to install and
stops before touching anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
