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

# The whole suite: lint, type check, then pytest. Non-zero on any failure. Each phase prints its
# wall time ([time] lines, then the total); each pytest pass also lists its 25 slowest tests.
test: setup
	@start=$$EPOCHREALTIME; \
	$(MAKE) --no-print-directory lint typecheck COSMOS_SETUP_DONE=1 \
	  && $(MAKE) --no-print-directory pytest COSMOS_SETUP_DONE=1; \
	status=$$?; $(call elapsed,make test (total),start); exit $$status

# $(call elapsed,NAME,VAR): print "[time] NAME: S s" since shell variable VAR's $$EPOCHREALTIME.
elapsed = us=$$(( $${EPOCHREALTIME/[.,]/} - $${$(2)/[.,]/} )); \
	printf '[time] %s: %d.%d s\n' '$(1)' $$((us / 1000000)) $$((us / 100000 % 10))
# $(call timed,NAME,COMMAND): echo and run COMMAND, print its wall time, keep its exit status.
timed = echo '$(2)'; start=$$EPOCHREALTIME; $(2); status=$$?; \
	$(call elapsed,$(1),start); exit $$status

lint: setup
	@$(call timed,ruff,$(WITH_ENV) ruff check cosmos_reason_ros test scripts/fix_ros_wheel_paths.py launch \
	  && $(WITH_ENV) ruff format --check cosmos_reason_ros test launch)

typecheck: setup
	@$(call timed,mypy,$(WITH_ENV) mypy)

# Two passes: the tests with ROS timing one at a time, then the CPU-bound model properties on
# every core (pytest-xdist). Exit 5 ("no tests collected") is fine for a selection.
pytest: setup
	@$(call timed,pytest (ROS timing; one at a time),$(WITH_ENV) python -m pytest -m "not compute" --durations=25 $(PYTEST_ARGS) || [ $$? -eq 5 ])
	@$(call timed,pytest (compute; every core),$(WITH_ENV) python -m pytest -m compute -n auto --durations=25 $(PYTEST_ARGS) || [ $$? -eq 5 ])

demo: setup
	@$(WITH_ENV) python -m cosmos_reason_ros.tools.demo $(if $(MODEL),--model $(MODEL),)

bench: setup
	$(WITH_ENV) python -m cosmos_reason_ros.bench

soak: setup
	$(WITH_ENV) python -m cosmos_reason_ros.bench.soak --minutes $(MINUTES)

clean:
	rm -rf build install log build.log .venv results demo_out
