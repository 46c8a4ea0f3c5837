# The two commands of the README: `make demo` (the main job) and `make test` (every check CI runs).
# Both create the virtual environment on first use, so they work on a fresh machine.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: demo test lint typecheck layers unit bench bench-quick k8s oracle sim-long

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/hdra demo

# The real control plane the realcluster tests run (tools/k8s, Go >= 1.26): built once into
# ~/.cache/hdra/k8s/<key>/, a no-op afterwards. A failed build does not stop `make test`: the
# realcluster tests then fail, quoting the build's error.
k8s: $(BIN)/.installed
	$(BIN)/python tools/build_k8s.py

# kube-scheduler's allocator as an oracle for the simulator's differential tests (tools/k8s/cmd/
# alloc-oracle): a small build into ~/.cache/hdra/k8s/<key>/alloc-oracle (the cache and build rules of
# dra_driver/realcluster/binary.py), done before the control plane so it never waits for it. A failed build does not stop `make test`; the
# differential tests then fail with the cause.
oracle: $(BIN)/.installed
	$(BIN)/python -m tests.support.oracle build

# The differential test's long profile (10,000 cases); prints cases and disagreements.
sim-long: oracle
	HDRA_DIFF_PROFILE=long $(BIN)/pytest -q -s -p no:cacheprovider tests/sim/differential

unit: $(BIN)/.installed
	-$(BIN)/python -m tests.support.oracle build
	-$(BIN)/python tools/build_k8s.py
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

layers: $(BIN)/.installed
	$(BIN)/lint-imports

test: unit typecheck lint layers

# Every benchmark, one table, benchmarks/results.json. Not part of `make test`.
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run

# The small CI run of every benchmark (each gets --quick); CI calls it separately from `make test`.
bench-quick: $(BIN)/.installed
	$(BIN)/python benchmarks/run --quick
