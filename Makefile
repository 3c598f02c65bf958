# coledger: `make demo` runs it, `make test` tests it; both start from only python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: install lint
	$(PY) -m pytest -q

# Skips the slow multi-process network tests: for a quick local loop.
test-fast: install
	$(PY) -m pytest -q -m 'not slow'

demo: install
	$(PY) demo.py

bench: install
	$(PY) bench/commit.py

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy --strict node validation zomes dht cli.py clicmd

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
