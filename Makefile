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

# The web UI on http://127.0.0.1:8000 (daphne), with the run monitor beside it; Ctrl-C stops both.
run: install
	$(VENV_PY) manage.py migrate --noinput
	@echo "dagviz web UI: http://127.0.0.1:8000/  (Ctrl-C to stop)"
	@$(VENV_PY) manage.py monitor_runs & monitor=$$!; \
	trap 'kill $$monitor 2>/dev/null' EXIT INT TERM; \
	$(VENV_PY) -m daphne -b 127.0.0.1 -p 8000 dagviz.asgi:application; \
	status=$$?; kill $$monitor 2>/dev/null; wait $$monitor 2>/dev/null; exit $$status

test: install
	$(VENV_PY) -m pytest

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
