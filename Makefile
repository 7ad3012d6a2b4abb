# The two commands a newcomer needs: `make run` and `make test`.
# Both build a local virtual environment (.venv) on first use:
# - `make run` installs only what the mock needs (no torch), so it answers in seconds;
# - `make test` adds the `backend` extra (torch, diffusers), the `queue` extra (dramatiq, redis: the
#   backend's distributed mode) and the test tools.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make run` listens: `make run PORT=8080`, or T2I_MOCK_PORT / T2I_MOCK_HOST as for `t2i mock`.
PORT ?= $(or $(T2I_MOCK_PORT),4010)
HOST ?= $(or $(T2I_MOCK_HOST),127.0.0.1)

.PHONY: run test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.installed-core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[backend,queue,dev]'
	touch $@ $(BIN)/.installed-core

run: $(BIN)/.installed-core
	$(BIN)/t2i mock --host $(HOST) --port $(PORT)

# the system programs some tests drive (chromium, chromedriver, redis-server), installed when missing
test: $(BIN)/.installed
	sh scripts/install-test-services.sh
	$(BIN)/python -m pytest
