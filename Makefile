# The README's commands. Each sets up what it needs first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
WITH_ENV := scripts/with-env
MINUTES ?= 10
MODEL ?=
PYTEST_ARGS ?=

.PHONY: setup test lint typecheck pytest demo bench soak clean

# Sub-makes get COSMOS_SETUP_DONE=1: setup runs (and prints) once per make command.
setup:
ifndef COSMOS_SETUP_DONE
	@scripts/setup.sh
endif

# The whole suite: lint, type check, then pytest. Non-zero on any failure.
test: setup
	@$(MAKE) --no-print-directory lint typecheck COSMOS_SETUP_DONE=1
	@$(MAKE) --no-print-directory pytest COSMOS_SETUP_DONE=1

lint: setup
	$(WITH_ENV) ruff check cosmos_reason_ros test scripts/fix_ros_wheel_paths.py launch
	$(WITH_ENV) ruff format --check cosmos_reason_ros test launch

typecheck: setup
	$(WITH_ENV) mypy

# Two passes: the tests with ROS timing one at a time, then the CPU-bound model properties on
# every core (pytest-xdist). Exit 5 ("no tests collected") is fine for a selection.
pytest: setup
	$(WITH_ENV) python -m pytest -m "not compute" --durations=25 $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(WITH_ENV) python -m pytest -m compute -n auto --durations=25 $(PYTEST_ARGS) || [ $$? -eq 5 ]

demo: setup
	@$(WITH_ENV) python -m cosmos_reason_ros.tools.demo $(if $(MODEL),--model $(MODEL),)

bench: setup
	$(WITH_ENV) python -m cosmos_reason_ros.bench

soak: setup
	$(WITH_ENV) python -m cosmos_reason_ros.bench.soak --minutes $(MINUTES)

clean:
	rm -rf build install log build.log .venv results demo_out
