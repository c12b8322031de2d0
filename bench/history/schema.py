"""The history's tables, one schema for SQLite and PostgreSQL (SQLAlchemy Core).

hosts ← runs ← points → series: a point is one series (workload, platform, accelerator, metric,
dimensions) measured in one run, with its median, CI, n and the trial values. A score that is not a
quantity but a value every platform must reproduce (`better = "equal"`: hello's digest) is kept
per run in equal_values. Series are shared by hosts;
the analysis is always per host × series. Change points are not stored (they are recomputed
from the points); only what a user said about them is: acknowledgements, and runs excluded.
"""

from __future__ import annotations

import sqlalchemy as sa

# 1: hosts, runs, series, points, acks. 2: + equal_values. 3: series and equal_values gain
# dimensions (migrate.py renames the older series). 4: points say how many of the cell's trials
# other processes disturbed. A store of an older version is brought up to
# date when opened; one with a higher version was written by a newer vmct-bench and is refused
# rather than misread.
SCHEMA_VERSION = 4
DIMENSIONS_SINCE = 3
DISTURBED_SINCE = 4

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)

hosts = sa.Table(
    "hosts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # sha256 of the stable facts (see ingest.host_fingerprint), or "name:<name>" for imported hosts
    sa.Column("fingerprint", sa.String(80), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),  # the hostname when first seen
    sa.Column("cpu_model", sa.String(255), nullable=False, server_default=""),
    sa.Column("logical_cpus", sa.Integer),
    sa.Column("memory_gib", sa.Integer),
    sa.Column("hypervisor", sa.Boolean),  # the CPU's hypervisor flag: the host is itself a VM
)

# What a run ran on, beside its suite's name: a change point says which of these changed with it.
STACK_COLUMNS = (("suite_hash", 64), ("harness_commit", 64), ("kernel", 255), ("qemu", 64), ("libvirt", 64),
                 ("docker_engine", 64), ("image_key", 64))
STACK = tuple(name for name, _ in STACK_COLUMNS)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), nullable=False),
    sa.Column("run_id", sa.String(80), nullable=False),
    sa.Column("started_at", sa.String(32), nullable=False),  # ISO 8601 UTC: sorts as text, on both databases
    sa.Column("suite", sa.String(255), nullable=False, server_default=""),
    *(sa.Column(name, sa.String(size), nullable=False, server_default="") for name, size in STACK_COLUMNS),
    sa.Column("labels", sa.Text, nullable=False, server_default="{}"),  # JSON object of the user's --label K=V
    sa.Column("source", sa.String(16), nullable=False),  # "run" (a run directory) or "import"
    sa.Column("excluded", sa.Text),  # the reason, when `bench history exclude` left it out of the analysis
    sa.UniqueConstraint("host_id", "run_id"),
)

series = sa.Table(
    "series", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workload", sa.String(80), nullable=False),
    sa.Column("platform", sa.String(80), nullable=False),
    sa.Column("accel", sa.String(16), nullable=False),
    sa.Column("metric", sa.String(120), nullable=False),
    sa.Column("dimensions", sa.String(255), nullable=False, server_default=""),  # clients=10;stress=fork
    sa.Column("unit", sa.String(40), nullable=False),
    sa.Column("better", sa.String(8), nullable=False),  # higher | lower
    sa.UniqueConstraint("workload", "platform", "accel", "metric", "dimensions"),
)

points = sa.Table(
    "points", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("series_id", sa.Integer, sa.ForeignKey("series.id"), primary_key=True),
    sa.Column("median", sa.Float(53), nullable=False),
    sa.Column("ci_low", sa.Float(53), nullable=False),
    sa.Column("ci_high", sa.Float(53), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("trial_values", sa.Text, nullable=False),  # JSON array, in trial order
    # The cell's measured trials that other processes disturbed (kept, or set aside under [precision]).
    sa.Column("disturbed", sa.Integer, nullable=False, server_default="0"),
)

equal_values = sa.Table(
    "equal_values", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("workload", sa.String(80), primary_key=True),
    sa.Column("platform", sa.String(80), primary_key=True),
    sa.Column("accel", sa.String(16), primary_key=True),
    sa.Column("metric", sa.String(120), primary_key=True),
    sa.Column("dimensions", sa.String(255), primary_key=True, server_default=""),
    sa.Column("value", sa.Text, primary_key=True),  # each distinct value the run's trials gave
    sa.Column("unit", sa.String(40), nullable=False),
)

acks = sa.Table(
    "acks", metadata,
    sa.Column("change_id", sa.String(32), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("acked_at", sa.String(32), nullable=False),
)
