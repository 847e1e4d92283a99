# The two commands of the README: `make demo` (the main job) and `make test`.
# Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-python test test-random lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ads demo

# The same loop on the Python demo service (examples/py-pages-service): tracemalloc at run time.
demo-python: $(STAMP)
	$(BIN)/ads demo --service py-pages-service --workdir .ads/demo-python

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite spread over workers (pytest-xdist); its wall time is printed at the end. Most
# tests wait on real things (a cgroup run until the kernel's kill, a server, a subprocess), so
# twice as many workers as cores (at least 4) keeps the cores busy, and work stealing keeps a
# worker from idling at the end: on a 2-core machine the suite took 243 s with -n 2, 152-184 s
# with -n 4, 155 s with -n 4 --dist worksteal, 173 s with -n 6 (running the slow tests first
# was slower: 246 s).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(4, 2 * (os.cpu_count() or 1)))")
test: lint
	@start=$$(date +%s); $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal; rc=$$?; \
	echo "test suite wall time: $$(( $$(date +%s) - start )) s"; exit $$rc

# The same suite in a shuffled order (pytest-randomly; SEED=n replays one order).
test-random: $(STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal -o addopts="-ra" $(if $(SEED),--randomly-seed=$(SEED))

# Benches that need real code bases as inputs (juliet, real_code) say how to run them instead.
NEEDS_INPUTS := bench/juliet.py bench/real_code.py
bench: $(STAMP)
	for b in bench/[!_]*.py; do \
	  case " $(NEEDS_INPUTS) " in *" $$b "*) echo "== $$b needs inputs:"; \
	    $(BIN)/python $$b --help | head -3; continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
