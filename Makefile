# Developer entry points: install into .venv, run the example job, run the tests.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test clean

install: $(STAMP)

# Reinstall only when the project metadata changes, so `make test` stays fast.
$(STAMP): pyproject.toml
	test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -e '.[test]'
	touch $(STAMP)

run: install
	$(VENV_PY) manage.py migrate --noinput
	$(VENV)/bin/dagviz execute -m dagviz.examples -j process_directory

test: install
	$(VENV_PY) -m pytest

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
