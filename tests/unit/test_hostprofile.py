"""Host profiles: the shipped ones load; a wrong one is one line naming the file and key; the
noise floor is written back without touching the rest of the file; the history files a
profiled run under the profile's name."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.config import PROJECT_ROOT
from bench.definitions import hostprofile
from bench.errors import BenchError
from bench.history.ingest import host_facts
from bench.host.facts import HostInfo


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENCH_HOSTS_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "hosts").glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_profile_loads(path: Path) -> None:
    profile = hostprofile.load(path.stem)
    assert profile.name == path.stem and profile.memory_bytes and profile.memory_bytes >= 2**30


def test_a_profile_is_read_whole(hosts: Path) -> None:
    (hosts / "lab-1.toml").write_text('name = "lab-1"\n[tune]\nboost = false\n[size]\nmemory = "64GiB"\n'
                                      '[noise]\nfloor_cv = 0.012\nmeasured_at = "x"\n')
    profile = hostprofile.load("lab-1")
    assert (profile.tune.boost, profile.tune.governor, profile.memory_bytes, profile.disk_bytes) == (False, True, 64 * 2**30, None)
    assert profile.noise_floor_cv == 0.012
    assert profile.to_json()["name"] == "lab-1"


@pytest.mark.parametrize("text, message", [
    ('name = "other"\n', "name: 'other' is not the file's name 'lab-1'"),
    ('name = "lab-1"\n[tune]\nturbo = false\n', "tune.turbo: unknown key"),
    ('name = "lab-1"\n[size]\nmemory = "lots"\n', "size.memory: not a size like 64GiB"),
    ('name = "lab-1"\n[tune]\nboost = "no"\n', "tune.boost"),
    ("name = \n", "not valid TOML"),
])
def test_a_wrong_profile_is_one_line_naming_the_file(hosts: Path, text: str, message: str) -> None:
    (hosts / "lab-1.toml").write_text(text)
    with pytest.raises(BenchError, match="lab-1.toml") as caught:
        hostprofile.load("lab-1")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_or_bad_name_on_the_command_line_exits_2(hosts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (hosts / "lab-1.toml").write_text('name = "lab-1"\n')
    for args in (["tune", "--host", "nope"], ["run", "smoke", "--host", "../etc/passwd"]):
        assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 2
    assert "no profile" in err and "(profiles: lab-1)" in err and "not a host profile name" in err
    assert "Traceback" not in err


def test_the_noise_floor_is_written_back_and_nothing_else_changes(hosts: Path) -> None:
    text = '# my lab box\nname = "lab-1"\n\n[size]  # the real one\nmemory = "64GiB"\n'
    (hosts / "lab-1.toml").write_text(text)
    profile = hostprofile.load("lab-1")
    hostprofile.record_noise_floor(profile, 0.0123, "2026-12-07T10:00:00+0000")
    first = (hosts / "lab-1.toml").read_text()
    assert first.startswith(text) and tomllib.loads(first)["noise"] == {"floor_cv": 0.0123,
                                                                         "measured_at": "2026-12-07T10:00:00+0000"}
    hostprofile.record_noise_floor(hostprofile.load("lab-1"), 0.02, "later")
    second = (hosts / "lab-1.toml").read_text()
    assert second.startswith(text) and second.count("[noise]") == 1
    assert hostprofile.load("lab-1").noise_floor_cv == 0.02


def test_a_profiled_run_is_its_own_host_in_the_history() -> None:
    host = HostInfo.from_json({"hostname": "runner-7", "cpu_model": "EPYC", "logical_cpus": 64,
                               "memory_bytes": 256 * 2**30, "cpu_flags": []})
    plain, profiled, other = host_facts(host), host_facts(host, "lab-epyc"), host_facts(host, "lab-epyc-2")
    assert (plain.name, profiled.name) == ("runner-7", "lab-epyc")
    assert len({plain.fingerprint, profiled.fingerprint, other.fingerprint}) == 3
