# fks-infra: two commands do all the set-up on a fresh Debian/Ubuntu machine (as root).
#   make demo   set up, then deploy the stack to the local lab and show it healthy
#   make test   set up, then run the whole test suite (lint, types, unit, end to end)
#   make vagrant-demo   the same stack through Vagrant (LXC provider), destroyed afterwards

SHELL := /bin/bash
# Vagrant must not phone home for update checks (only loopback and the lab are contacted).
export VAGRANT_CHECKPOINT_DISABLE := 1
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions of every Python dependency (dev tools included): README "Dependencies".
LOCK := requirements.lock

.PHONY: demo vagrant-demo vagrant-down lab-down test lint unit setup deps docs lock measure-releases clean

setup: deps $(STAMP)

deps:
	@scripts/install-deps

# Reinstall only when the dependencies change; the lock moves an old venv to its versions too.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	@touch $@

# Write the lock again from pyproject.toml with pip-compile (pip-tools). Pins that still fit are
# kept; `make lock ARGS=--upgrade` takes the newest allowed versions, `ARGS='--upgrade-package
# ruff'` one package's.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet -c $(LOCK) 'pip-tools>=7.4,<8'
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --strip-extras --extra dev \
		--allow-unsafe --no-emit-index-url --no-emit-find-links --output-file $(LOCK) $(ARGS) pyproject.toml

lint: setup
	$(BIN)/ruff check src tests deploy inventory group_data bench
	$(BIN)/ruff format --check src tests deploy inventory group_data bench
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit

test: lint
	$(BIN)/pytest

docs: setup
	$(BIN)/fks-infra ports --format markdown > docs/PORTS.md
	$(BIN)/fks-infra settings --format group-data > group_data/all.py

# The main job on the embedded default: the local lab (three nspawn hosts). The lab stays
# up afterwards for exploring (`fks-infra lab ssh core-1`); `make lab-down` removes it.
demo: setup
	$(BIN)/fks-infra lab up
	$(BIN)/fks-infra secrets init inventory/lab.py
	$(BIN)/fks-infra plan inventory/lab.py
	$(BIN)/pyinfra -y inventory/lab.py deploy/all.py
	$(BIN)/fks-infra verify inventory/lab.py
	$(BIN)/fks-infra status inventory/lab.py

lab-down: setup
	$(BIN)/fks-infra lab down

# The dry run through Vagrant on this machine: boxes built from the lab's rootfs (if missing or
# outdated), `vagrant up --provider=lxc`, secrets, the real `pyinfra inventory/vagrant.py
# deploy/all.py` as the vagrant user with sudo, verify, status, then `vagrant destroy -f` and
# the containers' bridge and NAT removed, also on failure. FKS_VAGRANT_HOSTS picks the machines.
vagrant-demo: setup
	$(BIN)/python -m fks_infra.vagrant demo

# Removes what an interrupted vagrant-demo left: fksv-* containers, bridge fksvag0, nft table.
vagrant-down: setup
	$(BIN)/python -m fks_infra.vagrant down

# Cold and cached build times of all 19 demo releases (medians of 3 runs).
measure-releases: setup
	$(BIN)/python bench/measure_builds.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
