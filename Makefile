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
	$(PY) -m pytest -q -n 2 --dist loadfile

# Skips the slow multi-process network tests: for a quick local loop.
test-fast: install
	$(PY) -m pytest -q -m 'not slow'

demo: install
	$(PY) demo.py

bench: install
	$(PY) bench/commit.py

# Issue 13's planning reads (bench/planning.py: 10 nodes, 2,000 open proposals; minutes).
.PHONY: bench-planning
bench-planning: install
	$(PY) bench/planning.py

# Issue 15's HTTP reads (bench/http.py: GraphQL beside the front door, 100,000 events).
.PHONY: bench-http
bench-http: install
	$(PY) bench/http.py

# Issue 12's before/after figures: the four benches run alternately here and in BEFORE,
# a worktree of BEFORE_COMMIT (the code before the change) with its own .venv, made if
# missing (`git worktree remove --force $(BEFORE)` after).
BEFORE_COMMIT ?= 263776d
BEFORE ?= /tmp/before-$(BEFORE_COMMIT)
.PHONY: compare
compare: install $(BEFORE)/.venv/.installed
	$(PY) bench/compare.py $(BEFORE) . commit.py --rounds 7
	$(PY) bench/compare.py $(BEFORE) . validate.py --rounds 7 -- --repeat 1
	$(PY) bench/compare.py $(BEFORE) . countersign.py --rounds 7 -- --transfers 100
	$(PY) bench/compare.py $(BEFORE) . network.py --rounds 5 -- --events 500 --nodes 5 \
		--rate 5 --seconds 15 --catchup-ops 1000

$(BEFORE)/.venv/.installed:
	test -d $(BEFORE) || git worktree add --detach $(BEFORE) $(BEFORE_COMMIT)
	$(MAKE) -C $(BEFORE) install

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy --strict node validation zomes dht cli.py clicmd bench demo.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
