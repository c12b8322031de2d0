"""Users' own images, built here with no registry (examples/images/build.sh): one FROM scratch with
a static HTTP server and no shell, one whose only C library is musl. Each runs on native, docker,
gVisor, Podman, LXC and the VM (TCG forced), the server also in vm-docker's guest engine (the
same image id, its tree probe released through the VM's console), every trial ok, each platform's
tree probe giving the hash of the image as flattened on the host; docker-app is skipped in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.config import PROJECT_ROOT
from bench.definitions.workload import USERSPACE_METRIC
from bench.host import killpoints
from bench.rundir.results import RunDir
from tests.integration.test_run import only_run_dir
from tests.realhost import bench, leftovers, require_platforms

EXAMPLES = PROJECT_ROOT / "examples" / "images"
PLATFORMS = ["native", "docker", "gvisor", "podman", "lxc", "vm"]
SUITE = f"""\
name = "it-user-images"
platforms = {json.dumps([*PLATFORMS, "docker-app", "vm-docker"])}
workloads = ["musl-primes", "static-http"]
repetitions = 1
warmup = 0
seconds = 1

[only]
vm-docker = ["static-http"]

[values.all]
static-http = [25]
"""


@pytest.fixture(scope="module")
def example_images() -> dict[str, str]:
    """The shipped examples' build: reference → image id."""
    built = subprocess.run([EXAMPLES / "build.sh"], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return dict(line.split() for line in built.stdout.splitlines())


def short_examples(root: Path) -> Path:
    """The example workloads, wrk's runs cut to 1 s: the test proves each platform runs the image."""
    shutil.copytree(EXAMPLES / "workloads", root)
    path = root / "static-http" / "workload.toml"
    text = path.read_text()
    assert '"-d", "5s"' in text
    path.write_text(text.replace('"-d", "5s"', '"-d", "1s"'))
    return root


def test_each_image_runs_on_every_platform_with_the_image_user_space(
        tmp_path: Path, images: dict, example_images: dict[str, str]) -> None:
    require_platforms(*PLATFORMS, "vm-docker")
    workloads = short_examples(tmp_path / "workloads")
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    proc = bench("--workloads-dir", str(workloads), "run", str(suite), "--accel", "tcg",
                 "--output-dir", str(tmp_path / "runs"), "--no-report")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("musl-primes", "static-http"):
        assert (f"skipped: docker-app does not run {name} (a user's image is its own application image: the "
                "docker platform runs it as it is)") in proc.stderr
    run = RunDir.open(only_run_dir(tmp_path / "runs"))
    info = run.info()
    built = info.user_images
    assert {w: (i["source"], i["id"]) for w, i in built.items()} == {
        "musl-primes": ("vmct-example/musl-primes:1", example_images["vmct-example/musl-primes:1"]),
        "static-http": ("vmct-example/static-http:1", example_images["vmct-example/static-http:1"])}
    records = run.records()
    assert sorted((r.platform, r.workload) for r in records) == sorted(
        [(p, w) for p in PLATFORMS for w in ("musl-primes", "static-http")] + [("vm-docker", "static-http")])
    for record in records:
        assert record.ok, (record.platform, record.workload, record.error, record.console_tail)
        (found,) = [s.value for s in record.samples if s.metric == USERSPACE_METRIC]
        assert found == built[record.workload]["tree_sha256"], (record.platform, record.workload)
        assert record.facts["userspace"].startswith("the image's user space: tree hash")
        if record.platform in ("vm", "vm-docker"):
            assert record.facts["accel"] == "tcg"
        if record.workload == "musl-primes":
            assert any(s.metric == "score" and s.value > 0 for s in record.samples)
        else:  # the host's wrk against the image's own Entrypoint, a server with no shell around it
            assert any(s.metric == "req_s" and s.dimensions.get("connections") == "25" and s.value > 0
                       for s in record.samples)
    # The container ran the image itself, not a copy with the harness's files as a layer.
    docker_trial = next(r for r in records if r.platform == "docker" and r.workload == "musl-primes")
    assert docker_trial.facts["image"] == example_images["vmct-example/musl-primes:1"]
    # So did the guest's engine, from a disk of its own that the run records.
    in_vm = next(r for r in records if r.platform == "vm-docker")
    assert in_vm.facts["image"].startswith(example_images["vmct-example/static-http:1"] + " ")
    engine = built["static-http"]["vm_docker_disk"]
    assert in_vm.facts["engine_disk"].startswith(engine["sha256"][:16]) and engine["bytes"] > 0
    assert "vm_docker_disk" not in built["musl-primes"]  # vm-docker runs only the server here


def test_a_missing_image_is_one_line_and_nothing_is_pulled(tmp_path: Path, images: dict) -> None:
    workloads = tmp_path / "workloads"
    (workloads / "gone").mkdir(parents=True)
    (workloads / "gone" / "workload.toml").write_text(
        'name = "gone"\ndescription = "d"\nimage = "vmct-example/not-built:0"\ntimeout_s = 30\nexpected_s = 1\n')
    proc = bench("--workloads-dir", str(workloads), "launch", "gone", "--platform", "native")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == ("bench: error: workload gone: image 'vmct-example/not-built:0' is not in the local "
                           "Docker engine (nothing is pulled: build or load it first)\n")


def test_a_build_killed_while_flattening_leaves_nothing_after_bench_clean(
        tmp_path: Path, images: dict, example_images: dict[str, str]) -> None:
    """From an archive (a new cache key: the image is flattened again), SIGKILL mid-way."""
    archive = tmp_path / "primes.tar"
    subprocess.run(["docker", "save", "-o", archive, "vmct-example/musl-primes:1"], check=True, capture_output=True)
    workloads = tmp_path / "workloads"
    (workloads / "from-archive").mkdir(parents=True)
    (workloads / "from-archive" / "workload.toml").write_text(
        'name = "from-archive"\ndescription = "d"\nimage_archive = "../../primes.tar"\n'
        'command = ["/usr/bin/primes", "1"]\ntimeout_s = 60\nexpected_s = 1\n')
    args = ("--workloads-dir", str(workloads), "images", "build", "--workloads", "from-archive")
    killed = bench(*args, env={killpoints.ENV: "build:flatten"})
    assert killed.returncode == -9
    assert leftovers(), "the killed build left its work directory for bench clean to find"
    cleaned = bench("clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not leftovers()
    again = bench(*args)
    assert again.returncode == 0, again.stderr
    launched = bench("--workloads-dir", str(workloads), "launch", "from-archive", "--platform", "native", "--json")
    outcome = json.loads(launched.stdout)
    assert outcome["ok"] and outcome["facts"]["userspace"].startswith("the image's user space"), outcome
