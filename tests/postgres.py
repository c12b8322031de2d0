"""A real PostgreSQL server for tests: Debian's `postgresql` binaries, a cluster made by `initdb`
in a temporary directory, listening on a Unix socket in it only (no TCP), password
authentication, stopped and removed when the session ends. As root, the server runs as the
`postgres` user (it refuses root); as anyone else, as that user."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

ADMIN = "vmctb_admin"
USER = "vmctb_user"


@dataclass(frozen=True)
class Server:
    socket_dir: Path
    log: Path
    admin_password: str
    user_password: str  # the password of USER: tests look for it where it must never appear

    def url(self, database: str, user: str = USER, password: str | None = None) -> str:
        secret = self.user_password if password is None else password
        auth = f"{user}:{secret}" if secret else user
        return f"postgresql://{auth}@/{database}?host={self.socket_dir}"

    def admin(self) -> sa.Engine:
        return sa.create_engine(self.url("postgres", ADMIN, self.admin_password).replace(
            "postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        pytest.fail("PostgreSQL's server is not installed (`make test` installs Debian's postgresql)")
    return Path(found[-1]).parent


def _as_server_user(base: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    os.chown(base, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    bin_dir = _bin_dir()
    # Not the harness's name prefix: this server is the tests' own, never a leftover of a run.
    base = Path(tempfile.mkdtemp(prefix="bench-test-pg-"))
    run_as = _as_server_user(base)
    server = Server(base, base / "server.log", "admin-" + secrets.token_hex(8), "vmctb-pw-" + secrets.token_hex(8))
    password_file = base / "admin-password"
    password_file.write_text(server.admin_password + "\n")
    if run_as:
        shutil.chown(password_file, "postgres")
    data = base / "data"
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", ADMIN, "--pwfile", str(password_file),
                    "-A", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync"],
                   check=True, capture_output=True, text=True)
    options = f"-c listen_addresses='' -c unix_socket_directories='{base}' -c fsync=off"
    started = subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(server.log), "-o", options,
                              "-w", "-t", "60", "start"], capture_output=True, text=True)
    try:
        assert started.returncode == 0, started.stdout + started.stderr + server.log.read_text()
        with server.admin().connect() as conn:
            conn.execute(sa.text(f"CREATE ROLE {USER} LOGIN PASSWORD '{server.user_password}'"))
        yield server
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database(postgres: Server) -> Iterator[str]:
    """A fresh, empty database owned by USER, for one test; its name."""
    name = "t_" + secrets.token_hex(6)
    engine = postgres.admin()
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} OWNER {USER}"))
    try:
        yield name
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        engine.dispose()
