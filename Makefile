# Entry points of the Tags service. Needs only Python >= 3.11 (and, for `check-template`, a python3.13 for sam build).
#   make run              the API locally (DynamoDB emulated in-process), see tools/tags_tools/local/
#   make test             lint, typecheck, check-template, then the test suite (schemathesis included)
#   make test-fast        the unit and API tests only (no HTTP server, no template checks)
#   make check-template   cfn-lint, sam validate --lint, checkov, sam build
#   make checkov          checkov on template.yaml (in its own venv, .venv-checkov)
#   make schemathesis     schemathesis against a fresh tags-local, every operation (also part of the test suite)
#   make openapi          regenerate docs/openapi.json
#   make lint-openapi     Redocly (recommended, strict) and Spectral (spectral:oas) on docs/openapi.json: 0 errors, 0
#                         warnings (npm ci of package-lock.json into node_modules/ first; part of make test)
#   make bench            the performance benchmark: prints a summary, writes docs/benchmarks.md (not part of test)
#   make soak             tags-local under 10,000 mixed requests, twice (embedded and external DynamoDB): RSS, p50/p99
#                         per route first vs last 1,000, stream lag, idle CPU; writes its section of docs/benchmarks.md

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Stamps: the venv holds the project with the [local] extra (enough to run it) or [dev] (everything).
LOCAL_STAMP := $(VENV)/.installed-local
DEV_STAMP := $(VENV)/.installed-dev

# checkov pins old boto3/botocore/packaging that would downgrade the project's own (moto, SAM CLI need newer), so
# it gets a venv of its own. BC_SKIP_MAPPING: no download of Bridgecrew's guideline mapping (works offline).
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

# The OpenAPI linters are npm packages, pinned in package.json / package-lock.json; `npm ci` installs exactly those.
NODE_STAMP := node_modules/.installed

export SAM_CLI_TELEMETRY := 0
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help venv run test test-fast lint lint-openapi typecheck check-template checkov schemathesis build openapi bench \
	soak clean

help:
	@echo "make run | test | test-fast | lint | lint-openapi | typecheck | check-template | checkov | schemathesis | build | openapi | bench | soak | venv | clean"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 is needed; run e.g. 'make PYTHON=python3.13 ...'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(LOCAL_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[local]'
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(LOCAL_STAMP)

venv: $(DEV_STAMP)

run: $(LOCAL_STAMP)
	$(BIN)/tags-local

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

check-template: $(DEV_STAMP) checkov
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml
	SAM=$(BIN)/sam scripts/sam_build.sh

$(CHECKOV_STAMP): | $(BIN)/python
	rm -rf $(CHECKOV_VENV)
	$(BIN)/python -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip --quiet --disable-pip-version-check install 'checkov==$(CHECKOV_VERSION)'
	@touch $@

# Findings are fixed in template.yaml or suppressed, each with its reason: in .checkov.yaml for a check that fails
# for every resource of a kind, on the resource in template.yaml (Metadata: checkov: skip) for one resource.
checkov: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml --file template.yaml \
		--framework cloudformation --compact --quiet --skip-download

schemathesis: $(DEV_STAMP)
	$(BIN)/pytest -q tests/infra/test_schemathesis.py

build: $(DEV_STAMP)
	SAM=$(BIN)/sam scripts/sam_build.sh

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# Both fail on any warning: Redocly through its recommended-strict ruleset (.redocly.yaml), Spectral with
# --fail-severity=warn. Findings are fixed in the document (tools/tags_tools/openapi.py), not silenced.
lint-openapi: $(NODE_STAMP)
	node_modules/.bin/redocly lint docs/openapi.json --config .redocly.yaml
	node_modules/.bin/spectral lint docs/openapi.json --ruleset .spectral.yaml --fail-severity=warn

test: lint lint-openapi typecheck check-template
	$(BIN)/pytest -q

# tests/unit and tests/api (see tests/README.md): what a change to the layer or a function most often needs.
test-fast: $(DEV_STAMP)
	$(BIN)/pytest -q tests/unit tests/api

openapi: $(LOCAL_STAMP)
	$(BIN)/python -m tags_tools.openapi

# Cold starts, warm latency, DynamoDB cost, memory and size (tools/tags_tools/bench/); a few minutes.
bench: $(DEV_STAMP)
	$(BIN)/python -m tags_tools.bench

# Exits 1 when a target of the soak is missed (the figures are written either way).
soak: $(LOCAL_STAMP)
	$(BIN)/python -m tags_tools.soak

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache $(CHECKOV_VENV) node_modules
