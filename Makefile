# seqlab: `make train` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

# Pinned so `make` builds the same environment everywhere; torch is pinned in the same pip
# command so pip keeps the CPU build (an unpinned torch pulls a multi-GB CUDA build).
PINS := torch==2.13.0 lightning==2.6.6 hydra-core==1.3.8 omegaconf==2.3.1 torchmetrics==1.9.0 \
	wandb==0.31.0 datasets==5.2.0 numpy==2.4.6 pandas==3.1.1 scikit-learn==1.9.1 rich==15.0.0 \
	matplotlib==3.11.2 pytest==9.2.0 ruff==0.17.6 hatchling==1.33.0
# Embedded datasets: read as data files, never imported, so installed without dependencies.
DATA_PACKAGES := sktime==1.2.0 lifetimes==0.11.3

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with pinned packages and seqlab (editable)

$(STAMP): pyproject.toml Makefile
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(PINS)
	$(BIN)/pip install -q --no-deps $(DATA_PACKAGES)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

train: $(STAMP) ## Train the default experiment (extra Hydra overrides: ARGS="model=gru")
	$(BIN)/seqlab-train $(ARGS)

eval: $(STAMP) ## Evaluate a checkpoint: ARGS="ckpt_path=outputs/.../checkpoints/last.ckpt"
	$(BIN)/seqlab-eval $(ARGS)

test: $(STAMP) ## Run the test suite (slow tests included)
	$(BIN)/pytest $(ARGS)

test-fast: $(STAMP) ## Run the tests that train nothing and launch nothing
	$(BIN)/pytest -m "not slow" $(ARGS)

lint: $(STAMP) ## Check style with ruff
	$(BIN)/ruff check src tests benchmarks

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean: ## Remove run outputs and caches (keeps .venv)
	rm -rf outputs/*/ .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv
	rm -rf $(VENV)

.PHONY: help install train eval test test-fast lint format clean distclean
