# The two commands a newcomer needs: `make run` and `make test` (`make help` lists every target).
# Both build a local virtual environment (.venv) on first use with scripts/install.py:
# - `make run` installs only what the mock needs (no torch), so it answers in seconds;
# - `make test` adds the `backend` extra (torch, diffusers), the `queue` extra (dramatiq, redis: the
#   backend's distributed mode) and the test tools.
# scripts/install.py installs with uv, a well-kept installer made for this (2.3 s for the core
# install here where pip takes 22 s), bootstrapped into .venv with pip when it is not on the PATH;
# pip installs instead if uv cannot be had or fails (T2I_INSTALLER=pip asks for pip). uv does not
# read pip's configuration, so the script hands it pip's find-links, indexes and constraints: that
# is how `torch==2.13.0` resolves to the local CPU wheel for both, not to PyPI's CUDA build.
# Nothing else is needed: Python 3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make run` listens: `make run PORT=8080`, or T2I_MOCK_PORT / T2I_MOCK_HOST as for `t2i mock`.
PORT ?= $(or $(T2I_MOCK_PORT),4010)
HOST ?= $(or $(T2I_MOCK_HOST),127.0.0.1)
# `make run` writes its server's process id here; `make stop` stops every server these name.
RUN_PIDS := .make-run
# `make test` runs the suite on this many pytest-xdist workers (TEST_JOBS=0: in this one process, serially)
TEST_JOBS ?= 3

.PHONY: help run test stop clean
.DEFAULT_GOAL := help

help: ## this list
	@echo "make targets (Python 3 and make are all they need):"
	@awk -F ':.*## ' '/^[a-z]+:.*## /{ printf "  make %-6s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

$(BIN)/.installed-core: pyproject.toml
	@$(PYTHON) scripts/install.py --venv $(VENV) core
	@touch $@

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) scripts/install.py --venv $(VENV) test
	@touch $@ $(BIN)/.installed-core

run: $(BIN)/.installed-core ## the mock server on http://127.0.0.1:4010 (PORT=8080 for another port); installs what it needs
	@mkdir -p $(RUN_PIDS)
	@echo "make run: t2i mock on http://$(HOST):$(PORT)/ until Ctrl-C or \`make stop\`"
	@echo $$$$ > $(RUN_PIDS)/$(PORT).pid; exec $(BIN)/t2i mock --host $(HOST) --port $(PORT)

# the system programs some tests drive (chromium, chromedriver, redis-server), installed when missing
test: $(BIN)/.installed ## the whole test suite, as CI runs it (.ci/run); adds the backend and queue extras and test tools
	sh scripts/install-test-services.sh
	$(BIN)/python -m pytest -n $(TEST_JOBS)

stop: ## stops the mock servers `make run` started from this checkout
	@sh scripts/stop-run.sh $(RUN_PIDS)

clean: stop ## stops them, then removes .venv, build outputs and caches (not ./tiny, which you made)
	rm -rf $(VENV) $(RUN_PIDS) build dist *.egg-info .pytest_cache .hypothesis tests/artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
