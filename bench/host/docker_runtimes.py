"""The OCI runtimes vmct-bench registers with the Docker engine, merged into daemon.json.

Run by the set-up with the system Python before the project's environment exists, so this
module uses the standard library only:

    python3 -m bench.host.docker_runtimes /etc/docker/daemon.json

It adds each runtime whose binary is installed, never changes or removes what is there (a
runtime of the same name already registered is left as it is), writes through a temporary
file and a rename, and prints `changed` or `unchanged` (dockerd then needs a reload: SIGHUP).
A daemon.json that is not a JSON object is a one-line error and exit 2; nothing is written.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# gVisor on ptrace: Debian's runsc offers ptrace and kvm, and kvm meets a host whose KVM does
# not work. runsc: no network, for the workloads that need none. runsc-hostnet: for those that
# do, the container's network namespace through the host kernel's stack (--network=host);
# runsc's own netstack refuses to start under Docker here ("cannot run with network enabled in
# root network namespace").
RUNTIMES: dict[str, dict[str, Any]] = {
    "crun": {"path": "/usr/bin/crun"},
    "runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]},
    "runsc-hostnet": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=host"]},
}


class BadConfig(Exception):
    pass


def merged(config: dict[str, Any], wanted: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`config` with every runtime of `wanted` it lacks; everything else as it was."""
    runtimes = config.get("runtimes", {})
    if not isinstance(runtimes, dict):
        raise BadConfig('"runtimes" is not an object')
    missing = {name: spec for name, spec in wanted.items() if name not in runtimes}
    if not missing:
        return config
    return {**config, "runtimes": {**runtimes, **missing}}


def installed(wanted: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in wanted.items() if os.access(spec["path"], os.X_OK)}


def update(path: Path, wanted: dict[str, dict[str, Any]]) -> bool:
    """Merge `wanted` into the file at `path` (made when missing); True when it changed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    try:
        config = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        raise BadConfig(f"not valid JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(config, dict):
        raise BadConfig("not a JSON object")
    new = merged(config, wanted)
    if new == config:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(new, out, indent=2)
            out.write("\n")
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 -m bench.host.docker_runtimes DAEMON_JSON", file=sys.stderr)
        return 2
    path = Path(argv[0])
    try:
        print("changed" if update(path, installed(RUNTIMES)) else "unchanged")
    except BadConfig as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{path}: {e.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
