# Developer entry points: `make run` (the product, on the example jobs) and `make test` (the whole suite).
# Each sets up .venv itself; `run` installs only what the product needs, `test` adds the test tools.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 8000

.PHONY: install install-test run test clean

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

# Reinstall only when the project metadata changes, so both commands start fast the second time.
$(RUN_STAMP): pyproject.toml setup.py
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml setup.py
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -e '.[test]'
	touch $(RUN_STAMP) $(TEST_STAMP)

# The web UI on http://127.0.0.1:8000 with the daemon beside it, reloading the jobs when they change; Ctrl-C stops all.
run: $(RUN_STAMP)
	$(VENV)/bin/dagviz dev -m dagviz.examples --port $(PORT)

test: $(TEST_STAMP)
	$(VENV_PY) -m pytest

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
