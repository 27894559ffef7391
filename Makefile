# Two commands on a fresh clone: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DELTA_JARS := $(VENV)/.delta-jars

.PHONY: run test install lock system-deps check-java databricks-cli lint ui notebook bench bench-full load-test audit clean

run: $(STAMP) $(DELTA_JARS)  ## run the whole pipeline job locally on the generated default dataset
	$(BIN)/credit-risk bundle run credit_risk_pipeline -t local

test: $(STAMP) $(DELTA_JARS) system-deps databricks-cli  ## lint, then every test and every notebook
	$(BIN)/ruff check src tests notebooks bench
	@# three pytest lanes side by side (the notebooks, the tests that drive their own Spark processes, the rest):
	@# scripts/test_lanes.sh. One BLAS thread per process: with three lanes of JVMs and numpy on 2 cores,
	@# OpenBLAS threads would only spin.
	OPENBLAS_NUM_THREADS=1 JDK_JAVA_OPTIONS="$(TEST_JVM)" PYTHON_BIN=$(BIN)/python PROCESS_TESTS="$(PROCESS_TESTS)" \
		NOTEBOOK_SETTINGS="$(NOTEBOOK_SETTINGS)" NOTEBOOK_LANE_TESTS="$(NOTEBOOK_LANE_TESTS)" \
		OTHER_MODE_TESTS="$(OTHER_MODE_TESTS)" DATABRICKS_CLI="$(DATABRICKS_CLI)" \
		DATABRICKS_CLI_BUILD_LOG="$(DATABRICKS_CLI_LOG)" bash scripts/test_lanes.sh

# The test lanes' JVMs compile with C1 only (bench/jvm.py): a test JVM lives seconds to minutes, and the C2
# compiler's CPU does not pay back in it; on 2 cores busy with three lanes, CPU is what the wall time follows.
# Measured: a 600-loan ETL job 0.61x the CPU (0.89x wall), the four models on 5,000 loans 0.70x (same wall).
TEST_JVM := -XX:TieredStopAtLevel=1
# The notebooks under nbmake run on the default 3,000 loans; small models keep the lane short (the real
# settings are the bundle's, as every job run passes them). One k for the segments (the k search has its own
# test), 30 L-BFGS iterations: the train and segments notebooks 145 -> 121 CPU s (the 145 beside another run,
# so partly contention; same champion, the forest).
NOTEBOOK_SETTINGS := rf_num_trees=10,gbt_max_iter=10,lr_max_iter=30,mlp_max_iter=30,segment_k_min=3,segment_k_max=3

# The whole job on real data (two runs, each its own process) follows the notebooks in their lane.
NOTEBOOK_LANE_TESTS := tests/reliability/test_real_data_job.py
PROCESS_TESTS := tests/reliability/test_crash_recovery.py tests/reliability/test_faults.py \
	tests/reliability/test_pipeline_job.py tests/test_bronze.py tests/test_contracts.py tests/test_original_design.py

# Delta modes: the lanes above run in the default mode (delta-spark where .venv/delta-jars holds the jars);
# a fourth lane runs these in the other mode, delta-rs (scripts/test_lanes.sh, OTHER_LAKE_MODE).
OTHER_MODE_TESTS := tests/test_lake.py tests/reliability/test_crash_recovery.py tests/reliability/test_faults.py \
	tests/reliability/test_pipeline_job.py

install: $(STAMP) $(DELTA_JARS)

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
databricks-cli:
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
system-deps:
	@if command -v promtool >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libopenblas; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages: $(SYSTEM_PACKAGES)"; \
		(apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null 2>&1)) || \
		echo "could not install $(SYSTEM_PACKAGES): the tests that need them will skip and say why"; \
	else echo "not root or not Debian: $(SYSTEM_PACKAGES) not installed; the tests that need them will skip"; fi

check-java:
	@command -v java >/dev/null 2>&1 || { echo "Java 17 is required for Spark. Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless; macOS: brew install openjdk@17" >&2; exit 1; }
	@java -version 2>&1 | head -1 | grep -Eq '"(17|18|19|2[0-9])' || { echo "Spark 4 needs Java 17 or newer; found: $$(java -version 2>&1 | head -1). Install openjdk-17-jre-headless." >&2; exit 1; }
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 (or run make PYTHON=/path/to/python3.11)" >&2; exit 1; }

# uv (a PyPI wheel) installs the same locked versions as pip, in parallel: from a cold cache 98 s against pip's
# 195 s on this machine. pip does it where uv cannot be installed. Bytecode is compiled at install, as pip does:
# where PYTHONDONTWRITEBYTECODE is set (it is here) a venv without it recompiles every module in every process
# (importing mlflow, pyspark, evidently and great_expectations: 31.5 s against 14.1 s).
UV_VERSION := 0.13.9
$(STAMP): requirements.txt constraints.txt pyproject.toml | check-java
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install --quiet uv==$(UV_VERSION); then install="$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode"; \
	else echo "uv could not be installed: installing with pip"; install="$(BIN)/python -m pip install --quiet"; fi; \
	set -x; $$install -r requirements.txt -c constraints.txt && $$install --no-deps -e .
	touch $(STAMP)

# constraints.txt: every package requirements.txt resolves to, as pip resolves it in a clean venv.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/python -m pip install --quiet -r requirements.txt
	{ head -2 constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt; rm -rf .lock-venv

ui: $(STAMP)  ## MLflow UI on http://127.0.0.1:5000 over the local store
	$(BIN)/credit-risk ui

# JupyterLab, a development extra: installed into .venv on first use, within the locked versions.
JUPYTERLAB := jupyterlab==4.6.6
NOTEBOOK_PORT ?= 8888
NOTEBOOK_TOKEN ?=
# Jupyter refuses to run as root unless told (CI containers run as root)
NOTEBOOK_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
notebook: $(STAMP)  ## JupyterLab on http://127.0.0.1:8888 over notebooks/, on the project's kernel (.venv's python3)
	@$(BIN)/python -c "import jupyterlab" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(JUPYTERLAB)" -c constraints.txt
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

bench-full: $(STAMP)  ## the whole job on 2.9M generated loans -> bench/RESULTS.md (about an hour; not in CI)
	$(BIN)/python bench/full.py

clean:
	rm -rf lakehouse mlruns mlartifacts mlflow.db runs spark-warehouse data/raw data/processed models local_fs
