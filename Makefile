# The two set-up commands: `make run` and `make test` (see README.md).
BENCH := .venv/bin/bench

.PHONY: run test setup setup-test
run: setup
	$(BENCH) doctor
	$(BENCH) images build
	$(BENCH) run

test: setup-test
	@scripts/run-tests.sh

setup:
	@scripts/setup-host.sh

setup-test:
	@scripts/setup-host.sh --test
