# DataHound Lakehouse. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
BIN := $(VENV)/bin
COMPANY ?= acme
DAYS ?= 90

.DEFAULT_GOAL := help

.PHONY: help demo test test-reliability test-incremental lint format bench migrate clean-data wheel s3-server

help: ## Show this help
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.runtime-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.runtime-installed

demo: $(VENV)/.runtime-installed ## Run the main job end to end on the embedded defaults (SQLite, ./data)
	$(BIN)/lakehouse demo --company $(COMPANY) --days $(DAYS)

S3_PORT ?= 5055
s3-server: $(VENV)/.dev-installed ## A local S3-compatible server (moto) on 127.0.0.1:5055 (S3_PORT=...) with a bucket "lake", to try an s3:// data root
	$(BIN)/python -m tests.s3_server --port $(S3_PORT) --bucket lake

test: $(VENV)/.dev-installed ## Run the whole test suite (SQLite and PostgreSQL; the short reliability suite), one worker per core
	$(BIN)/pytest -q -n auto --dist loadgroup

test-reliability: $(VENV)/.dev-installed ## Long reliability suite: kill -9, lost PostgreSQL, concurrency, full disk (30 trials)
	LAKEHOUSE_RELIABILITY_TRIALS=$${LAKEHOUSE_RELIABILITY_TRIALS:-30} $(BIN)/pytest -q -m reliability tests/reliability

test-incremental: $(VENV)/.dev-installed ## Property test of incremental builds: many random orders and batches (20 cases, SQLite)
	LAKEHOUSE_PROPERTY_CASES=$${LAKEHOUSE_PROPERTY_CASES:-20} $(BIN)/pytest -q -n auto tests/transform/test_incremental_property.py

lint: $(VENV)/.dev-installed ## ruff, mypy and the layer contracts (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.dev-installed ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(VENV)/.bench-installed: $(VENV)/.dev-installed
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: $(VENV)/.bench-installed ## Benchmark figures vs baselines into bench/results/ (~12 min on 2 cores; BENCH_FULL=1: the 365-day runs)
	$(BIN)/python -m bench

wheel: | $(BIN)/python ## Build the wheel into dist/ (migrations, dbt project, queries, config inside)
	$(BIN)/pip wheel --no-deps --quiet -w dist .

migrate: $(VENV)/.runtime-installed ## Upgrade the control plane (LAKEHOUSE_DATABASE_URL) to head
	$(BIN)/lakehouse db upgrade

clean-data: ## Remove everything under ./data except its README
	find data -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
