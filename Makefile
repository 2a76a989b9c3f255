# Two entry points: `make run` (install, start the embedded stack, feed samples) and `make test`
# (`make test-fast` for the unit tier alone); `make docs` builds the documentation site into site/.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LOCK := constraints.txt

.PHONY: run test test-fast lint docs install install-dev install-docs browser clean

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

# The console's browser test (tests/integration/test_console.py) drives Debian's Chromium through
# chromium-driver; installed here when missing (CI runs as root on Debian).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; \
	fi

# The tiers: tests/unit/ (no broker, warehouse or trained model; seconds) and tests/integration/
# (the real broker, warehouse and workers). pytest exits 5 when it collected no test: that is a
# failure here, not a pass.
UNIT := $(PY) -m pytest tests/unit -ra --durations=5
INTEGRATION := $(PY) -m pytest tests/integration -ra --durations=10
CHECK_RAN := rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran" >&2; exit 1; fi; exit $$rc

# Lint, the unit tier, then the integration tier: the first that fails stops the rest.
test: lint browser
	$(UNIT); $(CHECK_RAN)
	$(INTEGRATION); $(CHECK_RAN)

test-fast: install-dev
	time $(UNIT); $(CHECK_RAN)

# The API reference is generated from the OpenAPI document by the hook docs/api_reference.py.
docs: install-docs
	$(PY) -m mkdocs build --strict

clean:
	rm -rf var site .pytest_cache .mypy_cache .ruff_cache
