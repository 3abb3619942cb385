# Two commands matter: `make demo` (set up + run the main job on the local stack) and
# `make test`. Everything else is a step of those.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

.PHONY: setup test test-fast lint demo up down bench bench-short mutation clean

setup: $(STAMP) node_modules/.bin/azurite

$(STAMP): requirements.txt requirements-dev.txt training/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(STAMP)

node_modules/.bin/azurite: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Two workers (pytest-xdist), each test module whole on one of them: the end-to-end modules
# mostly wait on their stacks, so two at once nearly halve the run on 2 cores. Each worker
# takes loopback ports from its own slice (tests/conftest.py). TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: setup
	$(PY) -m pytest tests/unit

lint: setup
	$(VENV)/bin/ruff check .

# `make demo DEMO_ARGS=--keep` keeps the stack up afterwards to look at the dashboard.
demo: setup
	$(PY) -m devstack demo $(DEMO_ARGS)

up: setup
	$(PY) -m devstack up

down:
	$(PY) -m devstack down

# Mutation testing (mutmut) of the pure decision modules, each against its floor; see
# tests/mutation.py for how mutants are counted. A few minutes on 2 cores.
mutation: setup
	$(PY) -m tests.mutation --check

bench: setup
	$(PY) -m bench

bench-short: setup
	$(PY) -m bench --short

clean:
	rm -rf .devstack .pytest_cache .mutation
