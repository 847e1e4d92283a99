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
	$(BIN)/python -m compileall -q src
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

# The suite in three workers per core, twelve at most (pytest-xdist, work-stealing): the
# end-to-end tests mostly wait on kernels, builds and servers, so two workers on two cores
# left them idle (245 s against 155 s with six here). WORKERS=n to choose. Its wall time is
# printed at the end.
WORKERS ?= $(shell n=$$(( $$(nproc) * 3 )); [ $$n -gt 12 ] && n=12; echo $$n)
# Bytecode is cached for it even where PYTHONDONTWRITEBYTECODE is set: otherwise every worker
# rewrites every test module's assertions again, and every `python -m ads` the tests start
# compiles ADS from source (a third of a second each, hundreds of times).
test: lint
	@start=$$(date +%s); PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n $(WORKERS) --dist worksteal; rc=$$?; \
	echo "test suite wall time: $$(( $$(date +%s) - start )) s"; exit $$rc

# The same suite in a shuffled order (pytest-randomly; SEED=n replays one order).
test-random: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n $(WORKERS) --dist worksteal -o addopts="-ra" $(if $(SEED),--randomly-seed=$(SEED))

# Benches that need real code bases as inputs (juliet, real_code) say how to run them instead.
NEEDS_INPUTS := bench/juliet.py bench/real_code.py
bench: $(STAMP)
	for b in bench/[!_]*.py; do \
	  case " $(NEEDS_INPUTS) " in *" $$b "*) echo "== $$b needs inputs:"; \
	    $(BIN)/python $$b --help | head -3; continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
