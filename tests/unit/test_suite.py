"""Suite files: a valid one loads; every kind of mistake is one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli.main import main
from bench.definitions import suite as suites
from bench.definitions.workload import load as load_workload
from bench.errors import BenchError
from tests.conftest import write_workload

VALID = """\
name = "mine"
platforms = ["native", "docker"]
workloads = ["cpu"]
repetitions = 3
warmup = 0
cpus = 1
memory_mib = 256
seed = 9
"""


@pytest.fixture
def suite_file(tmp_path: Path, workloads_dir: Path) -> Path:
    write_workload(workloads_dir, "cpu")
    path = tmp_path / "mine.toml"
    path.write_text(VALID)
    return path


def test_a_valid_suite_loads_with_defaults(suite_file: Path) -> None:
    s = suites.load(str(suite_file))
    assert (s.name, s.platforms, s.workloads, s.repetitions, s.warmup) == ("mine", ("native", "docker"), ("cpu",), 3, 0)
    assert (s.cpus, s.memory_mib, s.seed, s.timeout_s) == (1, 256, 9, None)
    assert s.sampling == suites.Sampling(4.0, 4)
    assert suites.Suite.from_json(s.to_json()) == s


def test_the_shipped_default_suite_is_valid() -> None:
    s = suites.load(None)
    assert s.name == "default"
    assert set(s.platforms) == {"native", "docker", "docker-app", "gvisor", "vm", "vm-os"} and set(s.workloads) == {"boot", "cpu", "idle", "hello", "exposure"}
    # The full-OS profile only boots: everything else it would measure is vm-minimal's.
    assert [w for w in s.workloads if s.runs("vm-os", w)] == ["boot"]
    assert (s.repetitions, s.warmup, s.warmup_workloads) == (3, 1, ("boot",))
    assert s.precision is not None and s.precision.max_repetitions > s.repetitions
    fixed = suites.load("default-fixed")  # the same suite with fixed repetitions: the rule's reference
    assert (fixed.platforms, fixed.workloads, fixed.only) == (s.platforms, s.workloads, s.only)
    assert (fixed.repetitions, fixed.warmup, fixed.warmup_workloads, fixed.precision) == (5, 1, (), None)
    for name in suites.shipped():
        suites.load(name)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace('"docker"]', '"kata"]'), "platforms: unknown platform 'kata' (known: native, docker, docker-volume, docker-app, docker-hostnet, gvisor, podman, lxc, vm, vm-docker, vm-os, vm-qemu, vm-micro, docker:RUNTIME or vm:OPTIONS (vm:q35, vm:uefi, vm:vmdk, ...))"),
    (lambda t: t.replace('["cpu"]', '["cpu", "nope"]'), "workloads: unknown workload 'nope' (known: cpu)"),
    (lambda t: t.replace("repetitions = 3", "repetitions = 0"), "repetitions: must be at least 1, got 0"),
    (lambda t: t.replace("repetitions = 3", "repetitions = -2"), "repetitions: must be at least 1, got -2"),
    (lambda t: t.replace("repetitions = 3", "repetitions = 2.5"), "repetitions: must be a whole number"),
    (lambda t: t.replace("warmup = 0", "warmup = -1"), "warmup: must be at least 0"),
    (lambda t: t.replace('platforms = ["native", "docker"]\n', ""), "platforms: missing"),
    (lambda t: t.replace('workloads = ["cpu"]\n', ""), "workloads: missing"),
    (lambda t: t.replace('name = "mine"\n', ""), "name: missing"),
    (lambda t: t.replace("platforms = [", "platforms = [\"native\", "), "platforms: names a value twice"),
    (lambda t: t.replace('"docker"]', '"docker:crun", "docker:crun"]'), "platforms: names a value twice"),
    (lambda t: t.replace('"docker"]', '"docker:"]'), "platforms: unknown platform 'docker:': a runtime's name is"),
    (lambda t: t.replace('"docker"]', '"docker:a b"]'), "platforms: unknown platform 'docker:a b': a runtime's"),
    (lambda t: t.replace('["cpu"]', "[]"), "workloads: must not be empty"),
    (lambda t: t.replace("cpus = 1", "cpus = 4096"), "cpus: 4096 asked for, this host offers"),
    (lambda t: t + "repetitons = 4\n", "repetitons: unknown key"),
    (lambda t: t + "[sampling]\nhz = 0\n", "sampling.hz: must be greater than 0"),
    (lambda t: t + "timeout_s = \"long\"\n", "timeout_s: must be a number"),
    (lambda t: t.replace("seed = 9", "seed = [9"), "not valid TOML"),
    (lambda t: t + "[only]\nvm = [\"cpu\"]\n", "only.vm: is not one of this suite's platforms (native, docker)"),
    (lambda t: t + "[only]\ndocker = [\"disk\"]\n", "only.docker: unknown workload 'disk' (known: cpu)"),
    (lambda t: t + "[adaptive]\ncv = 0.03\n", "adaptive: was replaced by [precision]"),
    (lambda t: t + "[precision]\ntime = 3\n", "precision.time: is a fraction of the figure (0.03 for 3%), got 3"),
    (lambda t: t + "[precision]\nmax_repetitions = 2\n", "precision.max_repetitions: must be at least 3"),
    (lambda t: t + "[precision]\ncv = 0.05\n", "precision.cv: unknown key"),
    (lambda t: t + 'warmup_workloads = ["boot"]\n', "warmup_workloads: unknown workload 'boot' (known: cpu)"),
])
def test_suite_mistakes_are_one_line(suite_file: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    suite_file.write_text(change(VALID))
    with pytest.raises(BenchError) as caught:
        suites.load(str(suite_file))
    assert str(caught.value).startswith(f"{suite_file}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bench_run_with_a_bad_suite_exits_2(suite_file: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    suite_file.write_text(VALID.replace("repetitions = 3", "repetitions = 0"))
    code = main(["run", str(suite_file), "--output-dir", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("bench: error: ") and err.count("\n") == 1 and "repetitions" in err
    assert not (tmp_path / "runs").exists()  # nothing half-written


def test_a_suite_that_is_not_utf8_is_one_line_and_exit_2(suite_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    suite_file.write_bytes(VALID.replace('"mine"', '"caf\xe9"').encode("latin-1"))
    code = main(["run", str(suite_file), "--output-dir", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"bench: error: {suite_file}: not UTF-8 text (byte 0xe9 at offset 11); TOML files must be UTF-8\n"
    assert not (tmp_path / "runs").exists()


def test_unknown_suite_name(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "nosuchsuite"])
    _, err = capsys.readouterr()
    assert code == 2 and "unknown suite 'nosuchsuite' (shipped: apps, default" in err


def test_suite_and_resume_together_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["run", "default", "--resume", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and "not both" in err


def test_precision_defaults_and_round_trip(suite_file: Path) -> None:
    suite_file.write_text(VALID + 'warmup_workloads = ["cpu"]\n[precision]\n')
    s = suites.load(str(suite_file))
    assert s.precision == suites.Precision(max_repetitions=8, throughput=0.03, memory=0.03, time=0.10)
    assert s.warmup_workloads == ("cpu",)
    assert suites.Suite.from_json(s.to_json()) == s
    assert (s.precision.target("s", "lower"), s.precision.target("MiB", "lower"),
            s.precision.target("events/s", "higher"), s.precision.target("sha256", "equal")) == (0.10, 0.03, 0.03, None)


def test_dry_run_prints_the_plan_and_starts_nothing(suite_file: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(suite_file), "--dry-run", "--accel", "tcg", "--output-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("suite mine: 6 trials") and len(out) == 8
    assert out[-1].startswith("estimated total: ") and not (tmp_path / "r").exists()


def test_dry_run_refuses_what_the_run_would_refuse(suite_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A runtime the engine lacks stops the dry run as it stops the run: one line, exit 2."""
    from bench.host import engines

    class Engine:
        def info(self) -> dict:
            return {"Runtimes": {"runc": {"path": "runc"}}, "DefaultRuntime": "runc"}

    monkeypatch.setattr(engines, "docker_client", lambda: Engine())
    suite_file.write_text(VALID.replace('"docker"]', '"docker:no-such-runtime"]'))
    assert main(["run", str(suite_file), "--dry-run", "--accel", "tcg"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [
        "bench: error: platform docker:no-such-runtime: the Docker engine has no runtime 'no-such-runtime' (it has: runc); "
        "register it under \"runtimes\" in /etc/docker/daemon.json and reload dockerd (SIGHUP)"]


def test_density_instances_must_be_at_least_one(suite_file: Path) -> None:
    suite_file.write_text(VALID + "[density]\ninstances = 0\n")
    with pytest.raises(BenchError, match=r"density.instances: must be at least 1, got 0"):
        suites.load(str(suite_file))


def test_interference_placement_defaults_to_same_cpu_and_a_small_host_refuses_other_cpu(
        suite_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert suites.load(str(suite_file)).placement == "same-cpu"
    suite_file.write_text(VALID + '[interference]\nplacement = "other-cpu"\n')
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert suites.load(str(suite_file)).placement == "other-cpu"
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    with pytest.raises(BenchError) as err:
        suites.load(str(suite_file))
    assert str(err.value) == (f"{suite_file}: interference.placement: other-cpu needs 3 CPUs (1 for the victim, "
                              "1 for the neighbour, 1 for the harness); this host offers 2: use same-cpu here")
    suite_file.write_text(VALID + '[interference]\nplacement = "next-door"\n')
    with pytest.raises(BenchError, match="interference.placement: 'next-door' is not a placement: one of same-cpu, other-cpu"):
        suites.load(str(suite_file))


SERVED = """\
name = "srv"
description = "a server"
packages = []
network = true
command = ["srv"]
timeout_s = 60
expected_s = 30

[client]
tools = { "sh" = "dash" }
port = 7000
ready = ["sh", "-c", "true {address}"]
command = ["sh", "-c", "echo ops {value} {address}"]
values = [1, 10, 50]
suffix = "c"

[metrics.ops]
regex = 'ops ([0-9]+)'
unit = "ops/s"
better = "higher"
"""


@pytest.fixture
def served_suite(tmp_path: Path, workloads_dir: Path) -> Path:
    write_workload(workloads_dir, "cpu")
    write_workload(workloads_dir, "srv", SERVED)
    path = tmp_path / "srv.toml"
    path.write_text(VALID.replace('["cpu"]', '["cpu", "srv"]') + '\n[values.all]\nsrv = [10]\n[values.docker]\nsrv = [50, 1]\n')
    return path


def test_values_narrow_a_server_workloads_client_per_platform(served_suite: Path) -> None:
    s = suites.load(str(served_suite))
    assert suites.Suite.from_json(s.to_json()) == s
    srv = load_workload("srv")
    native, docker = s.workload_for("native", srv), s.workload_for("docker", srv)
    assert native.client is not None and native.client.values == (10,) and native.expected_s == pytest.approx(10)
    assert docker.client is not None and docker.client.values == (1, 50)  # in the workload's own order
    cpu = load_workload("cpu")
    assert s.workload_for("docker", cpu) is cpu


@pytest.mark.parametrize("table, message", [
    ('[values.vm]\nsrv = [10]', "values.vm: is not 'all' or one of this suite's platforms (native, docker)"),
    ('[values.all]\ncpu = [1]', "values.all.cpu: is not a server workload: it has no [client] values"),
    ('[values.all]\nsrv = [2]', "values.all.srv: [2] is not among the workload's values [1, 10, 50]"),
    ('[values.all]\nsrv = []', "values.all.srv: must be a non-empty list of whole numbers"),
    ('[values.all]\nhello = [1]', "values.all.hello: is not one of this suite's workloads (cpu, srv)"),
])
def test_bad_values_are_one_line(tmp_path: Path, workloads_dir: Path, table: str, message: str) -> None:
    write_workload(workloads_dir, "cpu")
    write_workload(workloads_dir, "srv", SERVED)
    path = tmp_path / "srv.toml"
    path.write_text(VALID.replace('["cpu"]', '["cpu", "srv"]') + "\n" + table + "\n")
    with pytest.raises(BenchError) as err:
        suites.load(str(path))
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}"), str(err.value)
