# The two commands a newcomer needs: `make run` and `make test`.
# Both build a local virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[backend,dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/t2i mock --host 127.0.0.1 --port 4010

test: $(BIN)/.installed
	$(BIN)/python -m pytest
