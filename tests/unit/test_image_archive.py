"""Reading a user's image from an archive, its config, and the launcher's spec made from it."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from bench import config
from bench.definitions.workload import parse_workload
from bench.errors import BenchError
from bench.images import oci
from bench.images.user_image import resolve_user, spec_text
from tests.unit.imagefixtures import Entry, config_json, docker_archive, layer, oci_archive

IMAGE = {"Env": ["PATH=/app/bin", "MODE=fast"], "User": "app", "WorkingDir": "/app",
         "Entrypoint": ["/app/bin/serve"], "Cmd": ["--port", "8080"], "ExposedPorts": {"8080/tcp": {}}}


@pytest.mark.parametrize("make", [docker_archive, oci_archive])
def test_both_archive_formats_give_the_id_config_and_layers(tmp_path: Path, make) -> None:
    archive = tmp_path / "image.tar"
    image_id = make(archive, [layer(Entry("a", data=b"1")), layer(Entry("b", data=b"2"), gzip=True)],
                    config_json(**IMAGE))
    read = oci.read(archive)
    assert read.config.id == image_id and len(read.layers) == 2
    assert read.config.argv == ("/app/bin/serve", "--port", "8080")
    assert (read.config.user, read.config.workdir, read.config.exposed_ports) == ("app", "/app", ("8080/tcp",))
    with read.open_layers() as layers:
        assert [[m.name for m in tar] for tar in layers] == [["a"], ["b"]]


def test_bad_archives_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.tar"
    with pytest.raises(BenchError, match=rf"^image archive {missing}: no such file$"):
        oci.read(missing)
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tarball" * 100)
    with pytest.raises(BenchError, match=r"^image archive .*garbage.tar: not a tar archive"):
        oci.read(garbage)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(__file__, "some-file.py")
    with pytest.raises(BenchError, match=r"not an image \(neither docker save's manifest.json nor an OCI index.json\)"):
        oci.read(plain)
    broken = tmp_path / "broken.tar"
    docker_archive(broken, [layer(Entry("a"))], config_json())
    with tarfile.open(broken, "a") as tar:  # a second manifest.json, read last, that lists nothing
        info = tarfile.TarInfo("manifest.json")
        info.size = 2
        tar.addfile(info, __import__("io").BytesIO(b"[]"))
    with pytest.raises(BenchError, match=r"manifest.json must list exactly one image"):
        oci.read(broken)


def test_an_image_for_another_architecture_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "arm.tar"
    docker_archive(archive, [layer(Entry("a"))], config_json(architecture="arm64"))
    with pytest.raises(BenchError, match=r"built for arm64, this host is amd64"):
        oci.read(archive).require_architecture("amd64")
    oci.read(archive).require_architecture("arm64")


def tree_with_users(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir(parents=True)
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/sbin/nologin\n")
    (tmp_path / "etc/group").write_text("root:x:0:\napp:x:1001:\nstaff:x:50:\n")
    return tmp_path


@pytest.mark.parametrize("user, expected", [
    ("", (config.GUEST_UID, config.GUEST_UID)),  # none: the harness's unprivileged ids, no entry needed
    ("app", (1000, 1001)), ("1000", (1000, 1001)), ("app:staff", (1000, 50)), ("2000", (2000, 0)),
    ("2000:3000", (2000, 3000)),
])
def test_the_image_user_is_read_as_docker_reads_it(tmp_path: Path, user: str, expected: tuple[int, int]) -> None:
    assert resolve_user(tree_with_users(tmp_path), user, "img") == expected


def test_a_user_or_group_the_image_lacks_is_an_error(tmp_path: Path) -> None:
    tree = tree_with_users(tmp_path)
    with pytest.raises(BenchError, match=r"^image img: its User 'nobody' is not in its /etc/passwd$"):
        resolve_user(tree, "nobody", "img")
    with pytest.raises(BenchError, match=r"its group 'wheel' is not in its /etc/group$"):
        resolve_user(tree, "app:wheel", "img")
    (tree / "etc/passwd").unlink()
    (tree / "etc/passwd").symlink_to("/etc/passwd")  # never read through: it could be the host's
    with pytest.raises(BenchError, match=r"its User 'root' is not in its /etc/passwd"):
        resolve_user(tree, "root", "img")


def image_workload(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "w" / "workload.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'name = "w"\ndescription = "d"\ntimeout_s = 30\nexpected_s = 1\n{extra}')
    return parse_workload(path)


def test_the_spec_carries_the_image_config_or_the_workload_command(tmp_path: Path) -> None:
    tree = tree_with_users(tmp_path / "tree")
    image = oci.ImageConfig.parse(config_json(**IMAGE), "img")
    own = image_workload(tmp_path, 'image = "app:1"\n')
    assert spec_text(own, image, tree) == ("user 1000:1001\nworkdir /app\nenv PATH=/app/bin\nenv MODE=fast\n"
                                           "arg /app/bin/serve\narg --port\narg 8080\n")
    given = image_workload(tmp_path, 'image = "app:1"\ncommand = ["/app/bin/bench", "{seconds}"]\nseconds = 4\n')
    bare = oci.ImageConfig.parse(config_json(), "img")
    assert spec_text(given, bare, tree) == (f"user {config.GUEST_UID}:{config.GUEST_UID}\nworkdir /\n"
                                            "env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                                            "arg /app/bin/bench\narg {seconds}\nseconds 4\n")
    with pytest.raises(BenchError, match=r"image app:1 has neither a command \(give `command`\) nor an Entrypoint"):
        spec_text(own, bare, tree)
    newline = oci.ImageConfig.parse(config_json(Env=["A=1\nB=\\2"], Cmd=["x"]), "img")
    assert "env A=1\\nB=\\\\2\n" in spec_text(own, newline, tree)  # the launcher turns them back
    nul = oci.ImageConfig.parse(config_json(Env=["A=\u0000"], Cmd=["x"]), "img")
    with pytest.raises(BenchError, match=r"holds a NUL"):
        spec_text(own, nul, tree)


@pytest.mark.parametrize("extra, says", [
    ('image = "a:1"\nimage_archive = "a.tar"\n', "give image or image_archive, not both"),
    ('image = "A b"\n', "is not an image reference"),
    ('image = "a:1"\npackages = ["curl"]\n', "no Debian packages"),
    ('image = "a:1"\nkind = "density"\n', "is a single-instance one"),
    ('command = []\n', "must not be empty"),
])
def test_image_workload_files_are_checked(tmp_path: Path, extra: str, says: str) -> None:
    with pytest.raises(BenchError, match=says):
        image_workload(tmp_path, extra)


def test_an_archive_path_is_read_from_the_workload_directory(tmp_path: Path) -> None:
    workload = image_workload(tmp_path, 'image_archive = "../images/app.tar"\n')
    assert workload.image_archive == (tmp_path / "images" / "app.tar").resolve()
    assert workload.user_image and not workload.baked and workload.command == ()
    assert workload.guest_spec()["image"] == str(workload.image_archive)


def test_workload_init_writes_a_workload_that_loads_and_a_suite_naming_it(tmp_path: Path) -> None:
    from bench.images import scaffold

    archive = tmp_path / "web.tar"
    oci_archive(archive, [layer(Entry("app/", tarfile.DIRTYPE))], config_json(**IMAGE))
    made = scaffold.init("web", tmp_path / "workloads", None, archive)
    workload = parse_workload(made.workload, expected_name="web")
    assert workload.image_archive == archive and workload.command == () and workload.network
    assert workload.client is not None and workload.client.port == 8080 and "req_s" in workload.metrics
    assert "Entrypoint + Cmd run: [\"/app/bin/serve\", \"--port\", \"8080\"]" in made.workload.read_text()
    assert ('platforms = ["native", "docker", "gvisor", "podman", "lxc", "vm", "vm-docker", "vm-qemu", "vm-micro"]'
            in made.suite.read_text())
    with pytest.raises(BenchError, match=r"web/workload.toml exists \(--force replaces it\)$"):
        scaffold.init("web", tmp_path / "workloads", None, archive)
    quiet = tmp_path / "batch.tar"
    docker_archive(quiet, [layer(Entry("run", data=b"x"))], config_json(Cmd=["/run"]))
    batch = parse_workload(scaffold.init("batch", tmp_path / "workloads", None, quiet).workload)
    assert batch.client is None and batch.score is None and not batch.network
    with pytest.raises(BenchError, match=r"'Bad Name' is not a valid name"):
        scaffold.init("Bad Name", tmp_path / "workloads", None, quiet)


def test_only_workloads_that_name_an_image_are_looked_up(tmp_path: Path) -> None:
    """A Debian workload needs no engine and no image: ensure() passes over it (bench launch hello)."""
    from bench.images import user_image
    from bench.progress import SILENT

    debian = image_workload(tmp_path, 'command = ["true"]\n')
    assert user_image.ensure([debian], "amd64", SILENT) == {}
