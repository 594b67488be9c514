# Course commands. `make lab` and `make test` create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
BOOK_STAMP := $(VENV)/.course-book-installed
# pytest-xdist: one notebook per worker (loadscope), one torch thread per worker.
PYTEST_ARGS ?= -n 2 --dist loadscope
# Extra JupyterLab options (e.g. LAB_ARGS="--no-browser --port 8890"); root (containers) needs --allow-root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help install lab test lint hooks book bench clean-outputs clean

help:
	@echo "make lab     start JupyterLab on the course (creates .venv when missing)"
	@echo "make test    run every test and execute every notebook (creates .venv when missing)"
	@echo "make lint    the pre-commit checks on the whole tree (ruff lint + format, notebook outputs, hygiene)"
	@echo "make hooks   install those checks as a git pre-commit hook"
	@echo "make book    the course website: every notebook executed, rendered with Sphinx to _build/book"
	@echo "make bench   side-by-side performance benchmarks (results: benchmarks/README.md)"
	@echo "make clean-outputs  strip outputs from notebooks/*.ipynb before committing"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" notebooks/00_start_here.ipynb $(LAB_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The hooks call the dev extra's tools (ruff, nbstripout, pre-commit-hooks) from PATH: put the venv first.
lint: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

hooks: $(STAMP)
	$(BIN)/pre-commit install

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

$(BOOK_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -e ".[book]"
	@touch $(BOOK_STAMP)

book: $(BOOK_STAMP)
	$(BIN)/python scripts/build_book.py --out _build/book

clean-outputs: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) build _build *.egg-info
