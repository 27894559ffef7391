# Two commands on a fresh clone: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DELTA_JARS := $(VENV)/.delta-jars

LOCK   := requirements-lock.txt
UV_VERSION := 0.13.9

.DEFAULT_GOAL := help
.PHONY: help run test lint install lock system-deps check-java databricks-cli ui notebook bench bench-full \
	load-test audit clean

help:  ## list the targets (this text); the two that matter first: make run, make test
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-zA-Z_-]+:[^#]*## / { printf "  %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: $(STAMP) $(DELTA_JARS)  ## run the whole pipeline job locally on the generated default dataset
	$(BIN)/credit-risk bundle run credit_risk_pipeline -t local

test: lint $(DELTA_JARS) system-deps databricks-cli  ## lint, then every test and every notebook
	@# four pytest lanes side by side (the notebooks, the tests that drive their own Spark processes, the rest,
	@# the other Delta mode): scripts/test_lanes.sh. One BLAS thread per process: with four lanes of JVMs and numpy on 2 cores,
	@# OpenBLAS threads would only spin.
	OPENBLAS_NUM_THREADS=1 JDK_JAVA_OPTIONS="$(TEST_JVM)" PYTHON_BIN=$(BIN)/python PROCESS_TESTS="$(PROCESS_TESTS)" \
		NOTEBOOK_SETTINGS="$(NOTEBOOK_SETTINGS)" NOTEBOOK_LANE_TESTS="$(NOTEBOOK_LANE_TESTS)" \
		CONNECT_NOTEBOOKS="$(CONNECT_NOTEBOOKS)" \
		OTHER_MODE_TESTS="$(OTHER_MODE_TESTS)" OTHER_MODE_ONLY_TESTS="$(OTHER_MODE_ONLY_TESTS)" \
		OTHER_MODE_DESELECT="$(OTHER_MODE_DESELECT)" \
		DATABRICKS_CLI="$(DATABRICKS_CLI)" \
		DATABRICKS_CLI_BUILD_LOG="$(DATABRICKS_CLI_LOG)" bash scripts/test_lanes.sh

LINTED := src tests notebooks bench scripts
lint: $(STAMP)  ## ruff (lint and format check) and mypy (its configuration: [tool.mypy] in pyproject.toml)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	MYPYPATH=src $(BIN)/mypy --explicit-package-bases -p src.agents -p src.utils -m src.api  # the design's doors

# The test lanes' JVMs compile with C1 only: a test JVM lives seconds to minutes, too short for the C2
# compiler's CPU to pay back, and on 2 cores busy with the lanes the wall time follows the CPU (bench/jvm.py
# compares the settings). C1 alone reserves a 48 MB code cache, which a lane's Spark fills within a minute; the JVM
# then stops compiling for good ("CodeCache is full. Compiler has been disabled") and interprets all new code.
TEST_JVM := -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m
# The notebooks under nbmake run on 3,000 generated loans (scripts/test_lanes.sh) with the small models of tests/small_models.env
# (every job run passes the bundle's own settings instead), joined into CREDIT_RISK_EXTRA's name=value,...
NOTEBOOK_SETTINGS := $(shell sed -e 's/\#.*//' -e 's/[[:space:]]//g' -e '/^$$/d' tests/small_models.env | paste -sd, -)
# The data notebooks (bronze to split: no MLlib) run first in their lane, their kernels sharing one warm Spark
# Connect server instead of starting a JVM each (scripts/test_lanes.sh); the others need a JVM of their own.
CONNECT_NOTEBOOKS := $(sort $(wildcard notebooks/0[1-5]_*.ipynb))

# The whole job on real data (two runs, each its own process): the 2007-2009 cohort (also the job test of the refit, of a
# configured catalog and of secrets never written) follows the notebooks in their lane, and so do the ingestion tests
# (to even out the lanes); the batch of every shared extract runs in the other-mode lane (below).
REAL_DATA_JOB := tests/reliability/test_real_data_job.py
NOTEBOOK_LANE_TESTS := $(REAL_DATA_JOB)::test_the_job_runs_end_to_end_on_the_real_2007_2009_cohort \
	$(REAL_DATA_JOB)::test_the_cohort_job_lands_under_its_catalog_and_never_writes_the_secrets \
	$(REAL_DATA_JOB)::test_the_cohort_champion_is_the_refit_of_its_selection_run tests/test_bronze.py
# The processes lane: crashes, faults, the lake (its cross-engine test starts a process in the other mode),
# contracts, the data tasks under a configured catalog, JupyterLab running a task notebook (each its own Spark
# session or kernel, none of the shared models), and the segment and selection tests (on the 5,000 generated loans
# of the gold fixture, none of the shared models).
PROCESS_TESTS := tests/reliability/test_crash_recovery.py tests/reliability/test_faults.py tests/test_lake.py \
	tests/test_contracts.py tests/test_config_locations.py tests/test_jupyterlab.py tests/test_segments.py \
	tests/test_selection.py

# Delta modes: the lanes above run in the default mode (delta-spark where .venv/delta-jars holds the jars);
# a fourth lane runs these in the other mode, delta-rs (scripts/test_lanes.sh, OTHER_LAKE_MODE): the lake, crash
# and fault tests again, and, in that mode only, two whole runs of the job's tasks (the default mode has the
# notebooks and the cohort run): the original design's seven steps (bronze to register,
# through the runner's kernel) and the whole job on every shared extract (the CLI, every task).
OTHER_MODE_TESTS := tests/test_lake.py tests/reliability/test_crash_recovery.py tests/reliability/test_faults.py
OTHER_MODE_ONLY_TESTS := tests/test_original_design.py \
	$(REAL_DATA_JOB)::test_the_job_runs_end_to_end_on_every_shared_extract_in_one_batch
# Tests of OTHER_MODE_TESTS the other-mode lane leaves out, as the tests and processes lanes already run the same
# thing: the cross-engine test checks both directions in one run (each mode reads what the other wrote), and the
# full-disk test runs its own delta-rs process whatever the lane's mode.
OTHER_MODE_DESELECT := tests/test_lake.py::test_each_mode_reads_every_version_the_other_wrote \
	tests/reliability/test_faults.py::test_full_disk_gives_a_clear_error_and_nothing_committed

install: $(STAMP) $(DELTA_JARS)  ## .venv from requirements-lock.txt (hash-checked), the project editable, the Delta jars

# The delta-spark jars of the installed delta-spark into .venv/delta-jars (src/credit_risk/runtime/delta_jars.py):
# Maven where `mvn` exists, Spark's resolver otherwise; a stamp keyed on the coordinate makes a rerun instant.
# Where neither reaches them the install goes on, and the lake runs on delta-rs and logs why.
$(DELTA_JARS): $(STAMP)
	$(BIN)/python -m credit_risk.runtime.delta_jars
	touch $(DELTA_JARS)

# The real Databricks CLI, for tests/test_databricks_cli.py (`bundle validate` of every target): built from its
# Go module at this version into a cache folder, once; skipped (the test then skips and says why) where there is
# no Go or the module cannot be fetched, with the go command's output kept in $(DATABRICKS_CLI_LOG).
DATABRICKS_CLI_VERSION := 1.13.0
DATABRICKS_CLI_DIR := $(CURDIR)/.cache/databricks-cli/v$(DATABRICKS_CLI_VERSION)
DATABRICKS_CLI := $(DATABRICKS_CLI_DIR)/databricks
DATABRICKS_CLI_LOG := $(DATABRICKS_CLI_DIR).log
databricks-cli:  ## build the Databricks CLI its test runs (once, into .cache/; skipped without Go)
	@if [ -x "$(DATABRICKS_CLI)" ]; then exit 0; fi; mkdir -p "$(DATABRICKS_CLI_DIR)"; \
	if ! command -v go >/dev/null 2>&1; then \
		echo "go not found: the Databricks CLI is not built" | tee "$(DATABRICKS_CLI_LOG)"; exit 0; fi; \
	echo "building the Databricks CLI v$(DATABRICKS_CLI_VERSION) from its Go module (once)"; \
	if GOBIN="$(DATABRICKS_CLI_DIR)" go install github.com/databricks/cli@v$(DATABRICKS_CLI_VERSION) \
		>"$(DATABRICKS_CLI_LOG)" 2>&1; then rm -f "$(DATABRICKS_CLI_LOG)"; mv "$(DATABRICKS_CLI_DIR)/cli" "$(DATABRICKS_CLI)"; \
	else echo "could not build the Databricks CLI v$(DATABRICKS_CLI_VERSION): its test skips"; tail -3 "$(DATABRICKS_CLI_LOG)"; fi

# Optional Debian packages: Prometheus (promtool checks and the scrape round-trip test) and OpenBLAS (native
# BLAS for Spark MLlib). Installed when this is Debian and we may (root); otherwise the tests that need them skip.
SYSTEM_PACKAGES := prometheus libopenblas0
system-deps:  ## Debian packages some tests use (promtool, OpenBLAS), when root on Debian
	@if command -v promtool >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libopenblas; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages: $(SYSTEM_PACKAGES)"; \
		(apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1)) || \
		echo "could not install $(SYSTEM_PACKAGES): the tests that need them will skip and say why"; \
	else echo "not root or not Debian: $(SYSTEM_PACKAGES) not installed; the tests that need them will skip"; fi

check-java:  ## Java 17+ and Python 3.11 are there (make install checks first)
	@command -v java >/dev/null 2>&1 || { echo "Java 17 is required for Spark. Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17" >&2; exit 1; }
	@# the version line, not the first: with JDK_JAVA_OPTIONS set, Java prints "Picked up ..." before it
	@java -version 2>&1 | grep -m1 ' version ' | grep -Eq '"(17|18|19|2[0-9])' || { echo "Spark 4 needs Java 17 or newer; found: $$(java -version 2>&1 | grep -m1 ' version '). Install openjdk-17-jre-headless." >&2; exit 1; }
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 (or run make PYTHON=/path/to/python3.11)" >&2; exit 1; }

# uv (a PyPI wheel) installs the locked versions in parallel; pip where uv cannot be installed. Both check every
# file against the lock's hashes. Bytecode is compiled at install, as pip does: where PYTHONDONTWRITEBYTECODE is
# set, a venv without it would recompile every module in every process.
$(STAMP): $(LOCK) pyproject.toml | check-java
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install --quiet uv==$(UV_VERSION); then install="$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode"; \
	else echo "uv could not be installed: installing with pip"; install="$(BIN)/python -m pip install --quiet"; fi; \
	set -x; $$install --require-hashes -r $(LOCK) && $$install --no-deps -e .
	touch $(STAMP)

# requirements-lock.txt: every package requirements.txt resolves to on this Python, with the hashes of its files.
# uv keeps the versions the lock already has unless requirements.txt moves them; LOCK_ARGS=--upgrade moves all.
LOCK_ARGS ?=
lock:  ## re-resolve requirements.txt into requirements-lock.txt (pins and hashes)
	@test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); $(BIN)/python -m pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv pip compile requirements.txt --python $(PYTHON) --generate-hashes --custom-compile-command "make lock" \
		--quiet $(LOCK_ARGS) -o $(LOCK)

ui: $(STAMP)  ## MLflow UI on http://127.0.0.1:5000 over the local store
	$(BIN)/credit-risk ui

# JupyterLab comes with the dev extra (requirements.txt's dev section), so make install has put it in .venv.
NOTEBOOK_PORT ?= 8888
NOTEBOOK_TOKEN ?=
# Jupyter refuses to run as root unless told (CI containers run as root)
NOTEBOOK_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
notebook: $(STAMP)  ## JupyterLab on http://127.0.0.1:8888 over notebooks/, on the project's kernel (.venv's python3)
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(NOTEBOOK_PORT) --no-browser --ServerApp.root_dir=notebooks \
		--MappingKernelManager.default_kernel_name=python3 $(NOTEBOOK_ROOT) $(if $(NOTEBOOK_TOKEN),--IdentityProvider.token=$(NOTEBOOK_TOKEN))

bench: $(STAMP)  ## the benchmarks (each prints a table with ratios against a reference)
	for b in lake generate etl train serve runner jvm; do $(BIN)/python bench/$$b.py || exit 1; done

load-test: $(STAMP)  ## 60 s at 8 clients against a local API on 127.0.0.1 (trains a small champion first)
	LOAD_SECONDS=60 CREDIT_RISK_HOME=$$(mktemp -d) $(BIN)/python -m pytest -q -s tests/reliability/test_api_fuzz_and_load.py -k bounded_load

audit: $(STAMP)  ## dependency review: pip-audit (needs PyPI's vulnerability API or OSV) and the pin review table
	$(BIN)/python -m pip install --quiet pip-audit==2.10.1
	-$(BIN)/pip-audit --strict -r requirements.txt -r requirements-serve.txt
	$(BIN)/python scripts/review_pins.py requirements.txt requirements-serve.txt

bench-full: $(STAMP)  ## the whole job on 2.9M generated loans -> bench/RESULTS.md (about 30 minutes; not in CI)
	$(BIN)/python bench/full.py

clean:  ## remove what runs wrote: lake, MLflow store, run folders, generated data, exported models
	rm -rf lakehouse mlruns mlartifacts mlflow.db runs spark-warehouse data/raw data/processed models local_fs
