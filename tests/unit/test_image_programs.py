"""The harness's static programs for users' images, built for real: the tree probe agrees with the
host's hash, and the launcher runs a spec's argv in a chroot that holds nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from bench import config
from bench.guest import static
from bench.guest.protocol import READY, RESULT, TREE, GuestResult, TreeLine
from bench.guest.spec import LauncherSpec
from bench.images.treehash import tree_hash

HARNESS = config.IMAGE_HARNESS_DIR.lstrip("/")


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("programs")
    static.build_image_programs(directory / "bin", directory / "work")
    return directory / "bin"


def fixture_tree(root: Path) -> Path:
    """Every kind of entry the hash records, and what it leaves out."""
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"\x7fELF tool")
    (root / "usr/bin/tool").chmod(0o4755)
    (root / "usr/sbin").symlink_to("bin")
    (root / "usr/bin/same").hardlink_to(root / "usr/bin/tool")
    (root / "etc").mkdir()
    (root / "etc/hosts").write_text("injected by engines\n")
    (root / "etc/app.conf").write_text("x = 1\n")
    (root / "etc/app.conf").chmod(0o600)
    (root / "var/empty").mkdir(parents=True)  # a directory with nothing in it: left out
    (root / "var/spool").mkdir()
    os.mkfifo(root / "var/spool/pipe")
    for mount in ("proc", "sys", "dev", "tmp", HARNESS):
        (root / mount).mkdir()
    (root / "tmp/scratch").write_text("left out")
    (root / "name with\ttab \u00e9").write_text("odd names hash too")
    if os.geteuid() == 0:
        os.chown(root / "etc/app.conf", 1000, 1001)
        os.lchown(root / "usr/sbin", 7, 8)
    return root


def probe(programs: Path, root: Path) -> TreeLine:
    line = subprocess.run([programs / "treehash", root], capture_output=True, text=True, check=True).stdout
    return TreeLine.parse(line.strip())


def test_the_tree_probe_and_the_host_hash_agree(programs: Path, tmp_path: Path) -> None:
    root = fixture_tree(tmp_path / "root")
    host = tree_hash(root)
    assert probe(programs, root) == TreeLine(host.sha256, host.entries)
    # What the hash leaves out: the mount points, the harness's directory, the empty directory, /etc/hosts.
    assert host.entries == 11, host  # usr, bin, same, tool, sbin, etc, app.conf, var, spool, pipe, the odd name
    (root / "etc/hosts").write_text("another engine's\n")
    (root / HARNESS / "launcher").write_text("the harness's own")
    assert tree_hash(root) == host


@pytest.mark.parametrize("change", ["content", "mode", "link", "new file", "removed"])
def test_any_change_of_the_user_space_changes_both_hashes(programs: Path, tmp_path: Path, change: str) -> None:
    root = fixture_tree(tmp_path / "root")
    before = tree_hash(root)
    if change == "content":
        (root / "etc/app.conf").write_text("x = 2\n")
    elif change == "mode":
        (root / "usr/bin/tool").chmod(0o755)
    elif change == "link":
        (root / "usr/sbin").unlink()
        (root / "usr/sbin").symlink_to("/usr/bin")
    elif change == "new file":
        (root / "var/empty/now").write_text("")
    else:
        (root / "var/spool/pipe").unlink()
    after = tree_hash(root)
    assert after.sha256 != before.sha256
    assert probe(programs, root) == TreeLine(after.sha256, after.entries)


def chroot_with(programs: Path, root: Path, spec: str) -> Path:
    """A root holding only the harness's directory and the static busybox as the 'image'."""
    harness = root / HARNESS
    (harness / "workloads/w").mkdir(parents=True)
    for name in ("launcher", "treehash"):
        (harness / name).write_bytes((programs / name).read_bytes())
        (harness / name).chmod(0o755)
    (harness / "workloads/w/spec").write_text(spec)
    (root / "bin").mkdir()
    (root / "bin/busybox").write_bytes(Path("/bin/busybox").read_bytes())
    (root / "bin/busybox").chmod(0o755)
    return root


SPEC = ("user 4242:4343\nworkdir /bin\nenv PATH=/bin\nenv GREETING=hello there\narg busybox\narg sh\narg -c\n"
        "arg echo \"$GREETING\" {seconds}s $BENCH_SECONDS $BENCH_LISTEN ${LEAK:-clean}; busybox id -u; busybox id -g; busybox pwd; "
        "echo to-stderr >&2; exit 3\nseconds 9\n")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root (make test runs the suite as root)")


@needs_root
def test_the_launcher_runs_the_spec_as_its_user_with_its_environment(programs: Path, tmp_path: Path) -> None:
    root = chroot_with(programs, tmp_path / "root", SPEC)
    done = subprocess.run(["chroot", root, f"/{HARNESS}/launcher", "w@2"], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "BENCH_LISTEN": "10.0.0.7", "LEAK": "not passed on"},
                          timeout=30)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[0].startswith(f"{READY}w ") and lines[-1].startswith(RESULT), done
    result = GuestResult.parse(lines[-1])
    # {seconds} filled from NAME@SECONDS, the image's user and working directory, exit code kept.
    assert result.exit_code == 3 and result.output.splitlines() == [
        "hello there 2s 2 10.0.0.7 clean", "4242", "4343", "/bin", "to-stderr"]
    assert lines[1:-1] == result.output.splitlines()  # echoed as it came, too
    assert 0 < result.guest_seconds < 10
    own = subprocess.run(["chroot", root, f"/{HARNESS}/launcher", "w"], capture_output=True, text=True, timeout=30)
    assert GuestResult.parse(own.stdout.splitlines()[-1]).output.startswith("hello there 9s 9 0.0.0.0 clean")


@needs_root
def test_a_script_of_several_lines_and_backslashes_arrives_as_written(programs: Path, tmp_path: Path) -> None:
    script = "echo one\necho 'two\\three'\n\necho four"
    spec = LauncherSpec(0, 0, "/", ("PATH=/bin",), ("busybox", "sh", "-c", script), as_root=True).text("w")
    assert len(spec.splitlines()) == 8  # one line per key: the script's newlines are escaped
    root = chroot_with(programs, tmp_path / "root", spec)
    done = subprocess.run(["chroot", root, f"/{HARNESS}/launcher", "w"], capture_output=True, text=True, timeout=30)
    assert GuestResult.parse(done.stdout.splitlines()[-1]).output == "one\ntwo\\three\nfour"


@needs_root
def test_a_missing_workload_or_program_is_told_on_the_result_line(programs: Path, tmp_path: Path) -> None:
    root = chroot_with(programs, tmp_path / "root", "user 1:1\narg /no/such/program\n")
    missing = subprocess.run(["chroot", root, f"/{HARNESS}/launcher", "other"], capture_output=True, text=True)
    assert missing.stdout.strip() == f'{RESULT}{{"workload":"other","error":"no such workload in this image"}}'
    assert missing.returncode == 2
    failed = subprocess.run(["chroot", root, f"/{HARNESS}/launcher", "w"], capture_output=True, text=True)
    result = GuestResult.parse(failed.stdout.splitlines()[-1])
    assert result.exit_code == 127 and "cannot run /no/such/program: No such file or directory" in result.output


@needs_root
def test_with_tree_the_probe_runs_after_result_only_once_the_host_says_so(programs: Path, tmp_path: Path) -> None:
    root = chroot_with(programs, tmp_path / "root", "user 1:1\nenv PATH=/bin\narg busybox\narg true\n")
    expected = tree_hash(root)
    proc = subprocess.Popen(["chroot", root, f"/{HARNESS}/launcher", "--hold", "w+tree"], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(READY) and proc.stdout.readline().startswith(RESULT)
        os.kill(proc.pid, signal.SIGUSR1)
        line = proc.stdout.readline()
        assert TreeLine.parse(line.strip()) == TreeLine(expected.sha256, expected.entries)
        assert proc.poll() is None  # --hold: it stays until the host removes it
    finally:
        proc.kill()
        proc.wait()


@needs_root
def test_a_server_that_never_ends_is_hashed_while_it_serves(programs: Path, tmp_path: Path) -> None:
    """"tree" typed on standard input (a VM's console) is the other way to say go."""
    root = chroot_with(programs, tmp_path / "root",
                       "user 1:1\nenv PATH=/bin\narg busybox\narg sh\narg -c\narg echo serving; exec busybox sleep 600\n")
    proc = subprocess.Popen(["chroot", root, f"/{HARNESS}/launcher", "w+tree"], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().startswith(READY) and proc.stdout.readline() == "serving\n"
        proc.stdin.write("tree\n")
        proc.stdin.flush()
        assert proc.stdout.readline().startswith(TREE)
    finally:
        proc.kill()
        proc.wait()
