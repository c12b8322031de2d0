"""Docker: the image imported from the rootfs tarball; create and start are two timed calls."""

from __future__ import annotations

import threading

import docker

from bench import config, engines
from bench.platforms.base import Driver, Instance, TrialContext


class ContainerInstance(Instance):
    platform = "docker"

    def __init__(self, ctx: TrialContext, client: docker.DockerClient):
        super().__init__(ctx)
        self.client = client
        self.container_id: str | None = None
        self._reader: threading.Thread | None = None
        self.facts.update(image=ctx.manifest.container_image.sha256, network="none",
                          security="default seccomp, no-new-privileges, not privileged")

    def start(self) -> None:
        api = self.client.api
        host_config = api.create_host_config(network_mode="none", privileged=False,
                                             security_opt=["no-new-privileges"])
        created = api.create_container(
            self.ctx.manifest.container_image.sha256,
            command=[config.GUEST_LAUNCHER, self.ctx.workload.name],
            name=self.ctx.name(self.platform), host_config=host_config,
            labels={config.RUN_LABEL: self.ctx.run_id, config.LABEL: "instance"})
        self.container_id = created["Id"]
        self.mark("created")
        # Attach before start, so not a byte of output is missed.
        stream = api.attach(self.container_id, stdout=True, stderr=True, stream=True, logs=True)
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()
        api.start(self.container_id)
        self.mark("started")

    def _read(self, stream: object) -> None:
        try:
            for chunk in stream:  # type: ignore[attr-defined]
                self.console.feed(chunk)
            self.console.close("container output ended")
        except Exception as e:  # the stream breaks when the container is removed under it
            self.console.close(f"container output broke off: {e}")

    def teardown(self) -> None:
        if self.container_id is not None:
            try:
                self.client.api.remove_container(self.container_id, force=True)
            except docker.errors.NotFound:
                pass
        if self._reader is not None:
            self._reader.join(timeout=5)


class ContainerDriver(Driver):
    name = "docker"

    def __init__(self) -> None:
        self.client = engines.docker_client()

    def prepare(self, ctx: TrialContext) -> Instance:
        return ContainerInstance(ctx, self.client)
