# fks-infra: two commands do all the set-up on a fresh Debian/Ubuntu machine (as root).
#   make demo   set up, then deploy the stack to the local lab and show it healthy
#   make test   set up, then run the whole test suite (lint, types, unit, end to end)

SHELL := /bin/bash
# Vagrant must not phone home for update checks (only loopback and the lab are contacted).
export VAGRANT_CHECKPOINT_DISABLE := 1
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit setup deps docs measure-releases clean

setup: deps $(STAMP)

deps:
	@scripts/install-deps

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

lint: setup
	$(BIN)/ruff check src tests deploy inventory group_data demo
	$(BIN)/ruff format --check src tests deploy inventory group_data demo
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit

test: lint
	$(BIN)/pytest

docs: setup
	$(BIN)/fks-infra ports --format markdown > docs/PORTS.md

demo: setup
	$(BIN)/fks-infra ports
	$(BIN)/fks-infra secrets init inventory/prod.py
	$(BIN)/fks-infra check inventory/prod.py
	$(BIN)/fks-infra plan inventory/prod.py

# Cold and cached build times of all 19 demo releases (medians of 3 runs).
measure-releases: setup
	$(BIN)/python demo/measure_builds.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
