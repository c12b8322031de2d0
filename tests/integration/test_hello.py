"""`hello` prints the sha256 of the image's package database: the same digest from the
native chroot, the container and the VM proves they run byte-identical user space."""

from __future__ import annotations

import json

import pytest

from tests.realhost import bench, require_platforms


@pytest.mark.parametrize("platform", ["native", "docker", "docker-app", "gvisor", "docker:crun", "podman", "lxc",
                                      "vm", "vm-micro"])
def test_hello_gives_the_same_result_on_every_platform(platform: str, images: dict) -> None:
    require_platforms(platform)
    proc = bench("launch", "hello", "--platform", platform, "--json")
    outcome = json.loads(proc.stdout)
    assert proc.returncode == 0 and outcome["ok"], outcome
    # The host computed this from the rootfs directory when it built the images.
    assert outcome["score"] == images["dpkg_status_sha256"]
    assert outcome["exit_code"] == 0
    assert 0 < outcome["ready_s"] <= outcome["result_s"]
    if platform in ("vm", "vm-micro"):
        chosen = json.loads(bench("doctor", "--json").stdout)["vm_accel"]
        assert outcome["facts"]["accel"] == chosen
        made = "domain_created" if platform == "vm" else "qemu_started"
        assert 0 < outcome["phases_s"][made] < outcome["phases_s"]["first_output"] < outcome["ready_s"]
    if platform == "gvisor":  # the workload ran on gVisor's kernel, not the host's
        assert outcome["facts"]["isolation.kernel"].startswith("gVisor's user-space kernel (runsc ")
        assert outcome["facts"]["runtime"].startswith("runsc ")
    if platform == "docker:crun":
        assert outcome["facts"]["runtime"].startswith("crun 1.")
    if platform == "lxc":  # on its overlay, the shared rootfs directory untouched
        assert outcome["facts"]["runtime"].startswith("LXC 5.") and outcome["facts"]["storage"].startswith("overlay")
        assert outcome["facts"]["network"] == "none (loopback only)"


def test_the_application_only_image_holds_the_program_and_not_the_os(images: dict) -> None:
    """docker-app's cpu image: sysbench and its libraries, a small fraction of the full image,
    and no package manager or dpkg database."""
    import docker

    from bench.images import manifest

    built = manifest.load()
    app, full = built.app_images["cpu"], built.container_image
    assert app.bytes < full.bytes / 5, (app.bytes, full.bytes)
    client = docker.from_env()
    # Its shell's builtins only: no coreutils ls here. No apt, no dpkg database: not a full OS.
    script = ("/usr/bin/sysbench --version && test ! -e /usr/bin/apt-get && test ! -e /var/lib/dpkg/status "
              "&& test ! -e /usr/bin/ls && echo trimmed")
    output = client.containers.run(app.sha256, ["/bin/sh", "-c", script], remove=True,
                                   labels={"vmct-bench.run": "it-app-image"}).decode()
    assert output.startswith("sysbench ") and output.rstrip().endswith("trimmed"), output


def test_a_workload_missing_from_the_image_is_refused(images: dict, tmp_path) -> None:
    wl = tmp_path / "extra"
    wl.mkdir()
    (wl / "workload.toml").write_text(
        'name = "extra"\ndescription = "d"\ncommand = ["true"]\ntimeout_s = 5\nexpected_s = 1\n'
        '[score]\nregex = "(x)"\nunit = "x"\nbetter = "equal"\n')
    proc = bench("--workloads-dir", str(tmp_path), "launch", "extra", "--platform", "native")
    assert proc.returncode == 2
    assert proc.stderr.startswith("bench: error: workload 'extra' is not in the built images")
