# Course commands. `make lab` and `make test` create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
BOOK_STAMP := $(VENV)/.course-book-installed
# pytest-xdist: one notebook per worker (loadscope), one torch thread per worker; the scopes in the order
# tests/conftest.py gives them (the longest first), not re-sorted by xdist.
PYTEST_ARGS ?= -n 2 --dist loadscope --no-loadscope-reorder
# Extra JupyterLab options (e.g. LAB_ARGS="--no-browser --port 8890"); root (containers) needs --allow-root.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

# `make test-oldest`: its own venv with every core dependency of pyproject.toml at its lowest allowed release
# (`torch>=2.3` -> `torch==2.3.*`, i.e. 2.3.1), the unit tests and notebooks 00-08, offline.
OLDEST_VENV ?= .venv-oldest
OLDEST_BIN  := $(OLDEST_VENV)/bin
OLDEST_STAMP := $(OLDEST_VENV)/.course-installed
OLDEST_PINS := $(OLDEST_VENV)/oldest-core.txt
OLDEST_TOOLS := $(OLDEST_VENV)/oldest-tools.txt
# The deploy extra (ExecuTorch, torchao) needs a newer torch than the lowest bound, so notebook 09 is not run there
# and neither are the tests that need its runtimes installed: the declared-imports check (it maps imports to the
# installed distributions), the missing-runtime simulation and the deploy helpers' leave-the-model-alone cases.
OLDEST_DESELECT ?= --deselect tests/test_architecture.py::test_every_import_of_the_package_is_declared \
	--ignore=tests/deploy/test_availability.py -k "not deploy.export"
OLDEST_NOTEBOOKS := $(wildcard notebooks/0[0-8]_*.ipynb)

.PHONY: help install install-oldest lab test test-full test-fast test-oldest lint hooks book bench clean-outputs clean

help:
	@echo "make lab     start JupyterLab on the course (creates .venv when missing)"
	@echo "make test    run every test and execute every notebook (creates .venv when missing)"
	@echo "make test-full    make test, and notebooks 04, 09 and 10 also run a second time in the same kernel"
	@echo "make test-fast    the quick unit tests only (no notebooks, browser, website build or slow processes)"
	@echo "make test-oldest  unit tests and notebooks 00-08 in $(OLDEST_VENV), every core dependency at its lowest bound"
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

# Every notebook runs under nbval; the quick ones then run again in the same kernel (tests/run_twice.py,
# --second-run=quick). test-full also runs again the three that train over 3 seeds (04, 09, 10: 2-3 minutes more on 2 cores).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-full: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) --second-run=all

# Markers (assigned in tests/conftest.py): unit, slow, notebook, browser, book; `-m unit` is the quick set.
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m unit tests

# The lowest bounds come from pyproject.toml itself: each `name>=X.Y` of [project] dependencies becomes
# `name==X.Y.*` (a constraint for everything installed); the tools are the lab and dev extras without the
# deploy and book extras (notebook 09 and the website are not part of this run).
$(OLDEST_STAMP): pyproject.toml Makefile
	@test -x $(OLDEST_BIN)/python || $(PYTHON) -m venv $(OLDEST_VENV)
	@echo '*' > $(OLDEST_VENV)/.gitignore
	$(OLDEST_BIN)/python -m pip install --quiet --upgrade pip
	$(OLDEST_BIN)/python -c 'import re, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; x = p["optional-dependencies"]; \
	open("$(OLDEST_PINS)", "w").write("".join(re.sub(r">=\s*([0-9.]+)$$", r"==\1.*", d) + "\n" for d in p["dependencies"])); \
	open("$(OLDEST_TOOLS)", "w").write("".join(d + "\n" for d in x["lab"] + x["dev"] if not d.startswith("course-utils")))'
	cat $(OLDEST_PINS)
	$(OLDEST_BIN)/python -m pip install -c $(OLDEST_PINS) -r $(OLDEST_PINS) -r $(OLDEST_TOOLS) -e .
	@touch $(OLDEST_STAMP)

install-oldest: $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP)
	$(OLDEST_BIN)/python -c 'import re, importlib.metadata as m; [print(f"{n:34} {m.version(n)}") for n in (re.split("[=<>~!]", s)[0].strip() for s in open("$(OLDEST_PINS)")) if n]'
	COURSE_OFFLINE=1 $(OLDEST_BIN)/python -m pytest $(PYTEST_ARGS) -m "not browser and not book" $(OLDEST_DESELECT) tests $(OLDEST_NOTEBOOKS)

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
	rm -rf $(VENV) $(OLDEST_VENV) build _build *.egg-info
