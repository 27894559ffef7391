#!/usr/bin/env bash
# `make test`'s pytest runs, as four lanes side by side on the 2 cores (each waits on JVMs, kernels and
# subprocesses as much as on the CPU): the notebooks under nbmake, the tests that drive their own Spark
# processes (crashes, faults, ingestion; $PROCESS_TESTS), the rest of the tests, shown live, and the
# other Delta mode's lane ($OTHER_MODE_TESTS, then $OTHER_MODE_ONLY_TESTS). The notebooks lane then runs
# $NOTEBOOK_LANE_TESTS (the whole job on real data, the ingestion tests). The lists hold paths or node ids
# (path::test).
# Every lane gets its own project home (where a crashed JVM leaves its report) and log. The logs of the two
# background lanes follow the live one; then, for each lane that failed, its error lines and last lines again,
# at the very end, where a CI log that is cut in the middle still shows why. The homes are removed when every
# lane passed, kept otherwise.
# The notebooks lane runs the data notebooks ($CONNECT_NOTEBOOKS) first, their kernels sharing one Spark Connect
# server (scripts/with_spark_connect.py), then the other notebooks, each kernel with its own JVM, as MLflow's
# pyspark.ml autolog and Spark model loading need one.
# Called by `make test` with PYTHON_BIN, PROCESS_TESTS, NOTEBOOK_SETTINGS, CONNECT_NOTEBOOKS, NOTEBOOK_LANE_TESTS,
# OTHER_MODE_TESTS and OTHER_MODE_ONLY_TESTS set.
set -u
: "${PYTHON_BIN:?} ${PROCESS_TESTS:?} ${NOTEBOOK_SETTINGS:?} ${NOTEBOOK_LANE_TESTS:?} ${OTHER_MODE_TESTS:?}"
: "${CONNECT_NOTEBOOKS:?}"
: "${OTHER_MODE_ONLY_TESTS:?}"
# Delta modes (CREDIT_RISK_LAKE_MODE) of the lanes: the three lanes run in the default one, `auto` (delta-spark
# where the jars are installed); a fourth lane runs on delta-rs $OTHER_MODE_TESTS (lake, crash, fault tests, which
# the other lanes run too; but $OTHER_MODE_DESELECT, node ids whose run elsewhere covers both modes) and
# $OTHER_MODE_ONLY_TESTS (two whole runs of the job's tasks, run in that lane only).
NOTEBOOKS_LAKE_MODE=${NOTEBOOKS_LAKE_MODE:-auto}
PROCESSES_LAKE_MODE=${PROCESSES_LAKE_MODE:-auto}
TESTS_LAKE_MODE=${TESTS_LAKE_MODE:-auto}
OTHER_LAKE_MODE=${OTHER_LAKE_MODE:-delta-rs}
work=$(mktemp -d)
touch "$work/tests.log"

lane() {  # a lane name, then its pytest arguments: its output goes to (the end of) $work/<name>.log
  local name=$1
  shift
  mkdir -p "$work/$name"
  # a JVM that crashes leaves its report in the lane's home, where why() looks; LANE_WRAP: a command to run pytest in
  # shellcheck disable=SC2086  # LANE_WRAP is a command and its arguments, split on purpose
  JDK_JAVA_OPTIONS="${JDK_JAVA_OPTIONS:-} -XX:ErrorFile=$work/$name/hs_err_%p.log" \
    CREDIT_RISK_HOME="$work/$name" ${LANE_WRAP:-} "$PYTHON_BIN" -m pytest "$@" >>"$work/$name.log" 2>&1
}

notebooks_lane() {  # the data notebooks ($CONNECT_NOTEBOOKS) over one Spark Connect server, then the others
  local skip=()
  for nb in $CONNECT_NOTEBOOKS; do skip+=("--ignore=$nb"); done
  # shellcheck disable=SC2086  # CONNECT_NOTEBOOKS and NOTEBOOK_LANE_TESTS are lists of paths, split on purpose
  LANE_WRAP="$PYTHON_BIN scripts/with_spark_connect.py --" lane notebooks --nbmake --nbmake-timeout=900 \
    $CONNECT_NOTEBOOKS --durations=5 &&
    lane notebooks --nbmake --nbmake-timeout=900 notebooks "${skip[@]}" $NOTEBOOK_LANE_TESTS --durations=5
}

why() {  # a failed lane: pytest's internal errors, failures and error lines, then the log's end
  local log="$work/$1.log"
  echo "=== lane '$1' failed (exit $2); its log: $log"
  grep -E '^INTERNALERROR>' "$log" | tail -15
  grep -E '^(FAILED|ERROR) ' "$log" | tail -10
  grep -E '^E  ' "$log" | tail -10
  for crash in "$work/$1"/hs_err_*.log; do
    [ -e "$crash" ] && { echo "--- a JVM crashed: $crash"; grep -E '^# ' "$crash" | head -12; }
  done
  echo "--- its last lines:"
  tail -8 "$log"
}

# The notebooks' widgets default to the local target's variables (30,000 generated loans); the lane sets the
# loan count as a user would, through the environment, to the generator's 3,000, and one fit per candidate
# (the time-ordered folds of selection_folds have their own test, tests/test_selection.py).
CREDIT_RISK_LAKE_MODE=$NOTEBOOKS_LAKE_MODE CREDIT_RISK_ROWS=${NOTEBOOK_ROWS:-3000} CREDIT_RISK_SELECTION_FOLDS=1 \
  CREDIT_RISK_EXTRA="$NOTEBOOK_SETTINGS" notebooks_lane &
notebooks_pid=$!
# shellcheck disable=SC2086
CREDIT_RISK_LAKE_MODE=$PROCESSES_LAKE_MODE lane processes $PROCESS_TESTS --durations=5 &
processes_pid=$!
deselect=()
for id in ${OTHER_MODE_DESELECT:-}; do deselect+=("--deselect=$id"); done
# shellcheck disable=SC2086  # OTHER_MODE_TESTS and OTHER_MODE_ONLY_TESTS are lists of paths, split on purpose
CREDIT_RISK_LAKE_MODE=$OTHER_LAKE_MODE lane other-mode $OTHER_MODE_TESTS $OTHER_MODE_ONLY_TESTS "${deselect[@]}" \
  --durations=5 &
other_pid=$!
ignore=()
# the file of each node id: the tests lane leaves out whole files
for path in $PROCESS_TESTS $NOTEBOOK_LANE_TESTS $OTHER_MODE_ONLY_TESTS; do ignore+=("--ignore=${path%%::*}"); done
CREDIT_RISK_LAKE_MODE=$TESTS_LAKE_MODE lane tests tests "${ignore[@]}" --durations=15 &
tests_pid=$!
tail -n +1 -f --pid=$tests_pid "$work/tests.log" 2>/dev/null
wait $tests_pid; tests=$?
wait $processes_pid; processes=$?
wait $notebooks_pid; notebooks=$?
wait $other_pid; other=$?

echo "--- crash, fault, job-run, ingestion, contract, configured-location and JupyterLab tests:"; cat "$work/processes.log"
echo "--- notebooks (pytest --nbmake notebooks) and the real-data cohort job:"; cat "$work/notebooks.log"
echo "--- lake, crash and fault tests, the seven steps and the shared extracts' job in Delta mode $OTHER_LAKE_MODE:"; cat "$work/other-mode.log"
echo "tests exit $tests, crash/fault/job/ingestion/contract tests exit $processes, notebooks exit $notebooks," \
  "$OTHER_LAKE_MODE-mode tests exit $other"
[ $tests -eq 0 ] || why tests $tests
[ $processes -eq 0 ] || why processes $processes
[ $notebooks -eq 0 ] || why notebooks $notebooks
[ $other -eq 0 ] || why other-mode $other
if [ $tests -eq 0 ] && [ $processes -eq 0 ] && [ $notebooks -eq 0 ] && [ $other -eq 0 ]; then
  rm -rf "$work"
else
  echo "the lanes' logs and project homes are kept in $work"
  exit 1
fi
