#!/bin/sh
# `make test`'s last step: the whole test suite. Its integration tests and benchmarks drive real
# engines, chroots, cgroups and VMs, so they need root: as another user the suite runs through
# sudo, and where there is no sudo to be had this fails in one line. It never passes by skipping them.
set -eu
cd "$(dirname "$0")/.."
PYTEST=".venv/bin/python -m pytest"
if [ "$(id -u)" -eq 0 ]; then
  exec $PYTEST "$@"
fi
if ! command -v sudo >/dev/null 2>&1 || ! sudo -v 2>/dev/null; then  # (a password prompt goes to the terminal)
  echo "make test: the integration tests need root: run it as root, or as a user who may use sudo" >&2
  exit 1
fi
# Root writes no bytecode, cache or benchmark store into this user's checkout.
exec sudo -- env PYTHONDONTWRITEBYTECODE=1 $PYTEST -p no:cacheprovider \
  --benchmark-storage="file://${TMPDIR:-/tmp}/vmct-bench-benchmarks" "$@"
