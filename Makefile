# The two commands:   make notebooks   (execute every notebook on the bundled data)
#                     make test        (lint, then unit, property and notebook tests)
# Both create .venv and install the project into it on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# What the venv gets: the tests' tools (dev) and the optional libraries the notebooks use
# (ann: approximate-search libraries for 06/07; spark: pyspark, pyarrow and a Java runtime for 08;
# hdf5: h5py, for ann-benchmarks' dataset files; see pyproject.toml).
EXTRAS ?= dev,ann,spark,hdf5
# Extra options for `python -m recsys run`, e.g.  make notebooks RUN_ARGS="--only 01 -p dataset ml-100k"
RUN_ARGS ?=
# Extra options for pytest, e.g.  make test PYTEST_ARGS="-k metrics"
PYTEST_ARGS ?=
# hnswlib builds from source; without this it is compiled for this very CPU (-march=native), and a
# cached wheel then crashes on another machine (docs/dependencies.md).
export HNSWLIB_NO_NATIVE := 1
# annoy builds from source with -march=native too: a machine with AVX-512 then sums distances in
# another order than one without, its trees differ, and notebook 06's recall does not reproduce
# from one machine to the next. On x86-64 CPUs with AVX2 it is built for Haswell (AVX2, FMA) instead,
# with annoy's other default flags, and never from pip's cache of a native build (docs/dependencies.md).
ifeq ($(shell uname -m),x86_64)
ifneq ($(shell grep -m1 -ow avx2 /proc/cpuinfo 2>/dev/null),)
export ANNOY_COMPILER_ARGS := -D_CRT_SECURE_NO_WARNINGS,-fpermissive,-march=haswell,-O3,-ffast-math,-fno-associative-math,-DANNOYLIB_MULTITHREADED_BUILD,-std=c++14
endif
endif

.PHONY: help venv notebooks test test-unit test-fast test-notebooks test-reproduce lint format lab bench clean

help:
	@echo "make notebooks   execute every notebook with papermill -> build/ (RUN_ARGS=... to pass options)"
	@echo "make test        lint, then run all tests (creates .venv on first use)"
	@echo "make test-unit   the fast tier: unit and property tests (no notebooks, no Spark, no scripts)"
	@echo "make test-notebooks  the notebook tier: small runs, determinism, default-run reproduction"
	@echo "make test-reproduce  every chapter's default run against its committed notebook (long)"
	@echo "make lint        ruff check and ruff format --check"
	@echo "make format      ruff format and ruff check --fix"
	@echo "make lab         open JupyterLab with this environment's kernel"
	@echo "make bench       benchmarks that need optional packages (scikit-surprise)"
	@echo "make clean       remove build/ (keeps .venv and downloads)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(ANNOY_COMPILER_ARGS),$(if $(findstring ann,$(EXTRAS)),$(PY) -m pip install --quiet --no-cache-dir --no-binary annoy -c constraints.txt annoy))
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	$(PY) -m ipykernel install --sys-prefix --name recsys --display-name "Python (recsys)" > /dev/null
	@touch $@

venv: $(STAMP)

notebooks: $(STAMP)
	$(PY) -m recsys run $(RUN_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check recsys tests benchmarks notebooks
	$(VENV)/bin/ruff format --check recsys tests benchmarks notebooks

format: $(STAMP)
	$(VENV)/bin/ruff format recsys tests benchmarks notebooks
	$(VENV)/bin/ruff check --fix recsys tests benchmarks notebooks

# --dist loadgroup: a notebook's small run and its determinism check share a worker (the second
# reuses the first's run), and units are handed out one at a time, longest first (tests/conftest.py).
XDIST := -n auto --dist loadgroup

test: lint
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest $(XDIST) -m "not notebook and not slow" $(PYTEST_ARGS)

test-fast: test-unit

test-notebooks: $(STAMP)
	$(PY) -m pytest $(XDIST) -m notebook $(PYTEST_ARGS)

# every chapter's default run against its committed notebook, the long ones too (about 30 min)
test-reproduce: $(STAMP)
	$(PY) -m pytest $(XDIST) -m reproduce --long-reproduce $(PYTEST_ARGS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS),bench]'
	$(PY) benchmarks/sgd_vs_surprise.py

clean:
	rm -rf build
