# normspec: set-up, demo and tests. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The PyTorch wheel to install before anything else. On CPU-only machines pin the CPU build;
# a GPU user can override it, e.g. `make test TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0
export TF_CPP_MIN_LOG_LEVEL ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0
export PYTHONHASHSEED ?= 0

.PHONY: help install demo test test-fast lint format typecheck bench golden clean

help:
	@echo "make demo      set up .venv and run the main job (build, compare)"
	@echo "make test      set up .venv with dev extras and run the whole suite"
	@echo "make lint      ruff check + ruff format --check + mypy"
	@echo "make bench     run the benchmarks in benchmarks/"
	@echo "make golden    rewrite the golden files under tests/golden"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The demo needs the frameworks only; the tests also need the dev tools.
$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed-all

install: $(VENV)/.installed-dev

demo: $(VENV)/.installed-all
	$(BIN)/python examples/demo.py

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_canonical.py
	$(BIN)/python benchmarks/bench_emit.py
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_epochs.py
	$(BIN)/python benchmarks/bench_train_startup.py
	$(BIN)/python benchmarks/bench_threads.py
	$(BIN)/python benchmarks/bench_diagnostics.py

golden: install
	NORMSPEC_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q -p no:cacheprovider -k golden tests/test_backends_shared.py tests/test_canonical.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
