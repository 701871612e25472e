# para's development tasks. `make demo` and `make test` work on a machine with python3 and git.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-fast lint demo engines bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# compat mode: a plain path entry instead of an import hook, which costs every para
	# command ~15 ms at start-up (measured; see docs/performance.md)
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat \
		|| $(BIN)/pip install --quiet -e '.[dev]'
	# cache para's bytecode as a regular install would, also under PYTHONDONTWRITEBYTECODE
	$(BIN)/python -m compileall -q para
	touch $@

# Everything, engine tests included (they skip without an engine unless
# PARA_TEST_REQUIRE_ENGINE names the engines that must be there).
test: install
	$(BIN)/pytest

# Unit and host-session tests only: no container engine needed.
test-fast: install
	$(BIN)/pytest -m "not engine and not slow"

lint: install
	$(BIN)/ruff check para tests scripts
	$(BIN)/ruff format --check para tests scripts
	$(BIN)/mypy

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# Docker + Podman with offline test images (root on Debian/Ubuntu); idempotent.
engines:
	bash scripts/engines.sh

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
