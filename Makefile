# kontinue development entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCAL := .local
CLUSTER_DIR := $(LOCAL)/cluster
PACKAGES := -e 'sdk[devcluster,telemetry]' -e services/controller -e services/worker -e services/ui -e testkit
STAMP := $(VENV)/.installed

.PHONY: help deps deps-dev deps-test install testbin cluster-up cluster-down dev test test-reliability reliability-long lint fmt clean bench-engine bench-floor bench-sleepers bench-ui bench-scale bench-peers images lint-images
.PHONY: node-up node-down real-node-prereqs lock audit

VERSION ?= $(shell sed -n 's/^appVersion: *"\(.*\)"/\1/p' charts/kontinue/Chart.yaml)
IMAGE_PREFIX ?=
DOCKERFILES := services/controller/Dockerfile services/worker/Dockerfile services/ui/Dockerfile examples/worker-image/Dockerfile

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

deps: ## Install (as root, with apt) or name the system packages the Python tools need
	@bash hack/ensure-deps.sh base

deps-dev: ## The same for `make dev` (and check Go for the control-plane binaries)
	@bash hack/ensure-deps.sh dev

deps-test: ## The same for `make test` (adds tmux and Chromium for the terminal and UI tests)
	@bash hack/ensure-deps.sh test

# Third-party packages only from the hashed lock (make lock re-resolves it), then the
# repository's packages without dependencies or build isolation; pip check fails when the lock
# lacks something a pyproject.toml asks for.
$(STAMP): requirements-dev.txt requirements/dev.txt sdk/pyproject.toml services/*/pyproject.toml testkit/pyproject.toml services/ui/package-lock.json | deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation $(PACKAGES)
	$(BIN)/python -m pip check
	bash services/ui/vendor-assets.sh
	touch $(STAMP)

install: $(STAMP) ## Create .venv with every package editable and the dev tools

testbin: ## Build (or reuse) the pinned control-plane binaries
	bash hack/testbin/build.sh >/dev/null

cluster-up: install testbin ## Start the local control plane in the background, install the CRDs
	$(BIN)/python -m kontinue.devcluster up --workdir $(CLUSTER_DIR) --crds crds $(CLUSTER_FLAGS) >/dev/null
	mkdir -p $(LOCAL)/bin
	ln -sf "$$(bash hack/testbin/build.sh --print-bin)"/* $(LOCAL)/bin/
	ln -sf cluster/kubeconfig $(LOCAL)/kubeconfig
	@echo "cluster ready: export KUBECONFIG=$(CURDIR)/$(LOCAL)/kubeconfig PATH=$(CURDIR)/$(LOCAL)/bin:\$$PATH"

cluster-down: ## Stop the local control plane and remove its state
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m kontinue.devcluster down --workdir $(CLUSTER_DIR); fi
	rm -f $(LOCAL)/kubeconfig

dev: deps-dev install testbin ## Run kontinue locally (kontinue dev): control plane, CRDs, controller, a worker with the examples; Ctrl-C stops all
	$(BIN)/kontinue dev

test: deps-test install testbin real-node-prereqs ## Run every test (starts its own control plane); installs what it needs first
	$(BIN)/pytest $(PYTEST_ARGS)

test-reliability: install testbin ## Reliability tests: fault scenarios and the short fault campaign (a few minutes)
	$(BIN)/pytest tests/reliability $(PYTEST_ARGS)

reliability-long: install testbin ## The long fault campaign: 1,000+ executions, 100+ faults (about 40 minutes)
	KONTINUE_RELIABILITY_PROFILE=long $(BIN)/pytest tests/reliability/test_campaign.py $(PYTEST_ARGS)

# The real-node tests' prerequisites; a machine where they cannot be had (not root, no Docker
# engine) still runs every other test, and the real-node tests fail saying what is missing.
real-node-prereqs:
	-bash hack/real-node/prepare.sh

node-up: install ## Join a real node (kubelet, containerd, kube-proxy) to the local cluster (root)
	bash hack/real-node/system-packages.sh
	bash hack/testbin/build-node.sh >/dev/null
	$(MAKE) --no-print-directory cluster-up CLUSTER_FLAGS=--real-node
	$(BIN)/python -m kontinue.devcluster node-up --workdir $(CLUSTER_DIR)

node-down: ## Stop the real node and undo everything it changed on this machine
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m kontinue.devcluster node-down --workdir $(CLUSTER_DIR); fi

bench-engine: install testbin ## Engine benchmark: prints latency, throughput and write figures
	$(BIN)/python hack/bench/engine.py

bench-floor: install testbin ## Per-step floor: where one store step's time goes (etcd fsync on)
	$(BIN)/python hack/bench/floor.py

bench-sleepers: install testbin ## Sleepers benchmark: controller memory and wake-up lateness, 5,000 sleeps
	$(BIN)/python hack/bench/sleepers.py

bench-peers: install testbin ## kontinue against Temporal, DBOS and Restate in one run (QUICK=1: < 10 min); installs the peers
	$(BIN)/python hack/bench/peers/run.py $(if $(QUICK),--quick) $(BENCH_PEERS_ARGS)

bench-ui: install testbin ## UI benchmark: list page server time with 10,000 executions
	$(BIN)/python hack/bench/ui_list.py

bench-scale: install testbin ## Scale benchmark: 50,000 executions (QUICK=1: 5,000); memory, lateness, UI, API write rate
	$(if $(filter 1,$(QUICK)),QUICK=1 )$(BIN)/python hack/bench/scale.py

lint: install ## ruff, ruff format --check, mypy and the import contracts (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

images: ## Build the controller, worker, UI and example worker images (BASE_IMAGES=local: no registry)
	bash hack/images/build.sh $(if $(filter local,$(BASE_IMAGES)),--local-base) --prefix "$(IMAGE_PREFIX)" --tag $(VERSION)

lint-images: install ## Lint the Dockerfiles (hadolint), no Docker engine needed
	$(BIN)/hadolint $(DOCKERFILES)

lock: install ## Re-resolve the hashed locks (requirements/*.txt) after a dependency change
	bash hack/lock/update.sh

audit: install ## pip-audit the hashed locks; every finding fixed or explained
	$(BIN)/python hack/lock/audit.py

fmt: install ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: cluster-down ## Remove .venv and .local
	rm -rf $(VENV) $(LOCAL)
