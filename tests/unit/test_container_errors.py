"""Docker API errors during a trial are the trial's failure (one line), not a crash."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from bench.definitions.workload import Workload
from bench.errors import BenchError
from bench.model.registry import BY_NAME
from bench.model.resources import allot
from bench.platforms.base import TrialContext
from bench.platforms.container import ContainerInstance


class BrokenAPI:
    def create_host_config(self, **kw: object) -> dict:
        return dict(kw)

    def create_container(self, *a: object, **kw: object) -> dict:
        raise docker.errors.ImageNotFound("No such image: sha256:feed")

    def inspect_container(self, *a: object) -> dict:
        raise docker.errors.APIError("engine gone")

    def containers(self, **kw: object) -> list:
        raise docker.errors.APIError("engine gone")


def test_a_failing_engine_fails_the_trial_with_one_line() -> None:
    manifest = SimpleNamespace(container_image=SimpleNamespace(sha256="sha256:feed"))
    workload = Workload("boot", "d", (), ("true",), None, 5.0, Path("x"))
    instance = ContainerInstance(TrialContext("r", 1, workload, manifest),  # type: ignore[arg-type]
                                 SimpleNamespace(api=BrokenAPI()), allot(1, 256), BY_NAME["docker"], "overlay2")  # type: ignore[arg-type]
    with pytest.raises(BenchError, match=r"^docker: .*No such image: sha256:feed$"):
        instance.start()
    instance.container_id = "abc"
    assert instance.host_pids() == []  # the memory probe's thread carries on
    assert instance.disk_growth() is None
