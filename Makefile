# Two entry points: `make run` (install, start the embedded stack, feed samples) and `make test`;
# `make docs` builds the documentation site into site/.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LOCK := constraints.txt

.PHONY: run test lint docs install install-dev install-docs clean

$(PY):
	python3 -m venv $(VENV)

# Re-install only when the project or its lock changes.
$(VENV)/.installed: pyproject.toml $(LOCK) | $(PY)
	$(PIP) install --quiet --disable-pip-version-check -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -c $(LOCK) -e '.[dev,train]'
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -c $(LOCK) -e '.[docs]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-docs: $(VENV)/.installed-docs

run: install
	$(VENV)/bin/modstream up

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy docs/api_reference.py
	$(VENV)/bin/lint-imports

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: lint
	$(PY) -m pytest -ra --durations=10; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests ran" >&2; exit 1; fi; exit $$rc

# The API reference is generated from the OpenAPI document by the hook docs/api_reference.py.
docs: install-docs
	$(PY) -m mkdocs build --strict

clean:
	rm -rf var site .pytest_cache .mypy_cache .ruff_cache
