# The two commands of the README. Both set up everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test install lint fuzz chaos chaos-short bench

# Where the environment says PYTHONDONTWRITEBYTECODE, every process would compile every module
# again (each test worker, each CLI call in the tests, each worker process): the collection alone
# took 15 s instead of 8. The compiled files go to __pycache__ folders, which git ignores.
unexport PYTHONDONTWRITEBYTECODE

# uv installs what pip would, from the same index, in a fraction of the time (README: "Why uv
# installs the venv"). The venv is made without pip and uv is put into it by the interpreter's
# own pip (2.5 s instead of 6 s); uv then installs pip too, for whoever uses .venv/bin/pip. Where
# that cannot be done, a venv with pip installs everything itself.
INSTALL = $(BIN)/uv pip install --quiet --python $(BIN)/python

$(STAMP): pyproject.toml
	$(PYTHON) -m venv --without-pip $(VENV)
	if $(PYTHON) -m pip --python $(BIN)/python install --quiet 'uv>=0.9'; then \
	  $(INSTALL) pip -e '.[test]'; \
	else \
	  $(PYTHON) -m venv --clear $(VENV) && $(BIN)/pip install --quiet -e '.[test]'; \
	fi
	# The browser tests drive Debian's chromium (never a downloaded browser).
	command -v chromium >/dev/null || apt-get install -y -q chromium >/dev/null
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/sagsflow dev

# The linter, the formatter's check and the type checker (configured in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Three workers on two cores: the integration tier spends much of its time waiting on servers
# and timers, so a third worker fills the gaps (measured: 206 s with two, 165 s with three).
# One test file each at a time (module-scoped dev servers stay per file), in the order
# tests/conftest.py collects them (the longest files first) rather than xdist's own (files with
# the most tests first), so that no long file starts last.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder

# The API fuzz tests with schemathesis' boundary cases too (tests/test_api_fuzz.py says why
# `make test` leaves them out); .ci/run runs it.
fuzz: $(STAMP)
	SAGSFLOW_FUZZ_COVERAGE=1 $(BIN)/python -m pytest -q tests/test_api_fuzz.py

# The fault suite: whole cases on the real dev server while the worker and the server are
# killed and poison signals arrive; then every case is verified (see chaos/__init__.py).
chaos: $(STAMP)
	$(BIN)/python -m chaos $(CHAOS_ARGS)

# Its short form for CI: about two minutes.
chaos-short: $(STAMP)
	$(BIN)/python -m chaos --short $(CHAOS_ARGS)

# sagsflow beside a baseline workflow on the real dev server (README "Performance"); results
# in bench/results/. BENCH_ARGS=--quick for a smoke run.
bench: $(STAMP)
	if [ -x $(BIN)/uv ]; then $(INSTALL) -e '.[bench]'; else $(BIN)/pip install -q -e '.[bench]'; fi
	$(BIN)/python -m bench $(BENCH_ARGS)
