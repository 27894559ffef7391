"""Bundle validation errors, the real bundle in every target, and the local runner's semantics."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest

from credit_risk.bundle.loader import BundleError, load_bundle
from credit_risk.bundle.validate import validate_bundle
from credit_risk.cli import main
from credit_risk.local.runner import LocalJobRunner

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _bundle(root: Path, tasks: str, variables: str = "  greeting:\n    default: hi\n") -> Path:
    (root / "resources").mkdir(parents=True, exist_ok=True)
    (root / "databricks.yml").write_text(
        f"bundle:\n  name: t\ninclude:\n  - resources/*.yml\nvariables:\n{variables}"
        "targets:\n  local:\n    default: true\n  other: {}\n"
    )
    (root / "resources" / "j.job.yml").write_text(
        "resources:\n  jobs:\n    j:\n      name: j\n      parameters:\n        - name: greeting\n"
        "          default: ${var.greeting}\n      tasks:\n"
        + textwrap.indent(textwrap.dedent(tasks), " " * 8)
    )
    return root


def _task(key: str, deps: tuple[str, ...] = (), retries: int = 0) -> str:
    dep = "".join(f"\n  - task_key: {d}" for d in deps)
    return (
        f"- task_key: {key}\n  max_retries: {retries}\n  notebook_task:\n    notebook_path: ../nb/{key}.ipynb"
        + (f"\n  depends_on:{dep}" if deps else "")
        + "\n"
    )


def test_real_bundle_is_valid_in_every_target():
    for target in ("local", "dev", "staging", "prod"):
        bundle = validate_bundle(ROOT, target)
        assert bundle.target == target and "credit_risk_pipeline" in bundle.resources["jobs"]
    dev = load_bundle(ROOT, "dev")
    assert dev.variables["catalog"] == "credit_risk_dev" and dev.variables["schema_prefix"].endswith("_")
    assert load_bundle(ROOT, "local", {"rows": "7"}).variables["rows"] == "7"
    assert (
        validate_bundle(ROOT, "prod").resources["jobs"]["credit_risk_pipeline"]["schedule"]["pause_status"]
        == "UNPAUSED"
    )


def test_model_settings_are_bundle_variables_with_the_code_defaults():
    """Hyper-parameters reach train_supervised as base_parameters from variables; the code's fallbacks agree."""
    from credit_risk.pipeline.segments import SEGMENT_KS, SEGMENT_RESTARTS
    from credit_risk.pipeline.train_supervised import HYPERPARAMETERS

    bundle = load_bundle(ROOT, "local")
    assert {k: str(bundle.variables[k]) for k in HYPERPARAMETERS} == HYPERPARAMETERS
    task = next(t for t in bundle.job("credit_risk_pipeline")["tasks"] if t["task_key"] == "train_supervised")
    assert {k: str(v) for k, v in task["notebook_task"]["base_parameters"].items()} == HYPERPARAMETERS
    segments = next(
        t for t in bundle.job("credit_risk_pipeline")["tasks"] if t["task_key"] == "train_segments"
    )
    k_min, k_max = (
        int(segments["notebook_task"]["base_parameters"][k]) for k in ("segment_k_min", "segment_k_max")
    )
    assert range(k_min, k_max + 1) == SEGMENT_KS
    assert int(segments["notebook_task"]["base_parameters"]["segment_restarts"]) == SEGMENT_RESTARTS


def test_config_fields_are_bundle_variables_with_the_same_defaults():
    """Every Config field is a bundle variable whose declared default is the field's (true/false for a bool)."""
    from dataclasses import fields

    from credit_risk.runtime.config import Config

    declared = load_bundle(ROOT, "local").declared
    for f in fields(Config):
        if f.name == "extra":
            continue
        default, ours = declared[f.name].get("default"), getattr(Config, f.name)
        if isinstance(ours, bool):
            assert str(default).lower() == str(ours).lower(), f.name
        else:
            assert type(ours)(default) == ours, f.name


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        (_task("a") + "  bogus_key: 1\n", "Unexpected field 'bogus_key' for class Task"),
        (_task("a", ("nope",)), "tasks[a].depends_on: unknown task 'nope'"),
        (_task("a", ("b",)) + _task("b", ("a",)), "dependency cycle among ['a', 'b']"),
        (
            _task("missing_notebook"),
            "tasks[0].notebook_task.notebook_path: ../nb/missing_notebook.ipynb does not exist",
        ),
    ],
)
def test_broken_bundles_name_file_and_key(tmp_path, tasks, message):
    root = _bundle(tmp_path, tasks)
    for key in ("a", "b"):
        _notebook(root / "nb" / f"{key}.ipynb", "x = 1")
    with pytest.raises(BundleError) as err:
        validate_bundle(root)
    assert message in str(err.value) and "j.job.yml" in str(err.value)


def test_undefined_variable_and_unknown_reference(tmp_path):
    root = _bundle(tmp_path, _task("a"), variables="  greeting:\n    description: no default\n")
    _notebook(root / "nb" / "a.ipynb", "x = 1")
    with pytest.raises(
        BundleError, match=r"variables.greeting has no default and target 'local' sets no value"
    ):
        validate_bundle(root)
    root2 = _bundle(tmp_path / "r2", _task("a").replace("../nb/a.ipynb", "../nb/${var.nothing}.ipynb"))
    with pytest.raises(
        BundleError,
        match=r"j.job.yml: resources.jobs.j.tasks\[0\].notebook_task.notebook_path: unknown reference \$\{var.nothing\}",
    ):
        validate_bundle(root2)


def test_runner_order_task_values_failure_retries_only_and_from(tmp_path):
    root = _bundle(
        tmp_path,
        _task("first")
        + _task("second", ("first",))
        + _task("flaky", ("first",), retries=2)
        + _task("broken", ("second",))
        + _task("after_broken", ("broken",)),
    )
    setup = "from credit_risk.runtime.dbutils import get_dbutils\ndbutils = get_dbutils()"
    _notebook(
        root / "nb" / "first.ipynb",
        setup,
        "dbutils.jobs.taskValues.set('version', 3)\nassert dbutils.widgets.get('greeting') == 'hello'",
    )
    _notebook(
        root / "nb" / "second.ipynb", setup, "assert dbutils.jobs.taskValues.get('first', 'version') == 3"
    )
    counter = tmp_path / "attempts"
    _notebook(
        root / "nb" / "flaky.ipynb",
        f"from pathlib import Path\np = Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\np.write_text(str(n))\nassert n >= 2, 'first try fails'",
    )
    _notebook(root / "nb" / "broken.ipynb", "raise ValueError('the data is wrong')")
    _notebook(root / "nb" / "after_broken.ipynb", "x = 1")
    lines: list[str] = []
    bundle = validate_bundle(root, overrides={"greeting": "hello"})
    run = LocalJobRunner(bundle, echo=lines.append).run("j")
    got = {r.task_key: (r.status, r.attempts) for r in run.results}
    assert [r.task_key for r in run.results] == ["first", "second", "flaky", "broken", "after_broken"]
    assert got == {
        "first": ("SUCCESS", 1),
        "second": ("SUCCESS", 1),
        "flaky": ("SUCCESS", 2),
        "broken": ("FAILED", 1),
        "after_broken": ("SKIPPED", 0),
    }
    assert not run.ok and "the data is wrong" in run.summary() and "upstream broken failed" in run.summary()
    assert json.loads((run.run_dir / "task_values" / "first.json").read_text()) == {"version": 3}
    assert (run.run_dir / "notebooks" / "broken.ipynb").exists() and any(
        "[first] started" in ln for ln in lines
    )
    only = LocalJobRunner(bundle, echo=lines.append).run("j", only="after_broken")
    assert [r.status for r in only.results] == ["EXCLUDED"] * 4 + ["SUCCESS"]
    frm = LocalJobRunner(bundle, echo=lines.append).run("j", from_task="broken")
    assert {r.task_key: r.status for r in frm.results}["after_broken"] == "SKIPPED"
    with pytest.raises(BundleError, match="no such task"):
        LocalJobRunner(bundle).run("j", only="ghost")


def test_notebook_tasks_share_one_kernel_but_not_their_state(tmp_path):
    """One kernel (one Spark session) per job run; each task sees only its own widgets and names, and a task
    that kills its kernel leaves the next task a new one."""
    tasks = """\
    - task_key: first
      notebook_task: {notebook_path: ../nb/first.ipynb, base_parameters: {only_first: "yes"}}
    - task_key: second
      depends_on: [{task_key: first}]
      notebook_task: {notebook_path: ../nb/second.ipynb}
    - task_key: crash
      depends_on: [{task_key: second}]
      notebook_task: {notebook_path: ../nb/crash.ipynb}
    - task_key: after_crash
      depends_on: [{task_key: second}]
      notebook_task: {notebook_path: ../nb/after_crash.ipynb}
    """
    root = _bundle(tmp_path, tasks)
    setup = "import os\nfrom credit_risk.runtime.dbutils import get_dbutils\ndbutils = get_dbutils()"
    _notebook(
        root / "nb" / "first.ipynb",
        setup,
        "assert dbutils.widgets.get('only_first') == 'yes'\n"
        "dbutils.jobs.taskValues.set('pid', os.getpid())\nleftover = 1",
    )
    _notebook(
        root / "nb" / "second.ipynb",
        setup,
        "assert dbutils.jobs.taskValues.get('first', 'pid') == os.getpid()\n"
        "assert 'leftover' not in globals() and dbutils.widgets.getArgument('only_first') is None\n"
        "assert dbutils.widgets.get('greeting') == 'hi' and os.environ['CREDIT_RISK_TASK_KEY'] == 'second'",
    )
    _notebook(root / "nb" / "crash.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    _notebook(
        root / "nb" / "after_crash.ipynb",
        setup,
        "dbutils.jobs.taskValues.set('new_kernel', dbutils.jobs.taskValues.get('first', 'pid') != os.getpid())",
    )
    runner = LocalJobRunner(validate_bundle(root), echo=lambda _: None)
    run = runner.run("j")
    assert [(r.task_key, r.status) for r in run.results] == [
        ("first", "SUCCESS"),
        ("second", "SUCCESS"),
        ("crash", "FAILED"),
        ("after_crash", "SUCCESS"),
    ], run.summary()
    assert json.loads((run.run_dir / "task_values" / "after_crash.json").read_text()) == {"new_kernel": True}
    saved = nbformat.read(run.run_dir / "notebooks" / "second.ipynb", as_version=4)
    assert saved.cells[0].metadata["tags"] == ["injected-context"] and runner.kernel is None


def test_runner_python_wheel_and_spark_python_tasks(tmp_path):
    """Wheel tasks run the installed entry point, Spark Python tasks their file; parameters are substituted."""
    tasks = """\
    - task_key: wheel
      python_wheel_task:
        package_name: credit_risk
        entry_point: credit-risk
        parameters: ["generate", "--rows", "40", "--out", "{{job.parameters.out}}", "--seed", "5"]
    - task_key: script
      depends_on: [{task_key: wheel}]
      spark_python_task:
        python_file: ../scripts/count.py
        parameters: ["{{job.parameters.out}}", "{{job.parameters.greeting}}"]
    - task_key: failing
      depends_on: [{task_key: script}]
      spark_python_task:
        python_file: ../scripts/fail.py
    """
    root = _bundle(tmp_path / "b", tasks)
    job = root / "resources" / "j.job.yml"
    job.write_text(
        job.read_text().replace(
            "      tasks:", "        - name: out\n          default: ${var.out}\n      tasks:"
        )
    )
    (root / "databricks.yml").write_text(
        (root / "databricks.yml")
        .read_text()
        .replace("variables:\n", f"variables:\n  out:\n    default: {tmp_path / 'raw'}\n")
    )
    (root / "scripts").mkdir()
    (root / "scripts" / "count.py").write_text(
        "import sys, pathlib, json\nfiles = sorted(pathlib.Path(sys.argv[1]).glob('*'))\n"
        "pathlib.Path(sys.argv[1], 'seen.json').write_text(json.dumps([len(files), sys.argv[2]]))\n"
    )
    (root / "scripts" / "fail.py").write_text("raise SystemExit('no loans left to score')\n")
    run = LocalJobRunner(validate_bundle(root), echo=lambda _: None).run("j")
    assert [(r.task_key, r.status) for r in run.results] == [
        ("wheel", "SUCCESS"),
        ("script", "SUCCESS"),
        ("failing", "FAILED"),
    ]
    count, greeting = json.loads((tmp_path / "raw" / "seen.json").read_text())
    assert count >= 1 and greeting == "hi"
    assert "no loans left to score" in run.results[-1].error
    assert (run.run_dir / "logs" / "wheel.log").exists()


def test_runner_opens_one_mlflow_parent_run_per_job_run(tmp_path):
    """Jobs that name an experiment get a parent run; each task's run nests under it."""
    import mlflow
    from mlflow import MlflowClient

    params = '["KEY", "{{job.parameters.experiment_name}}", "{{job.parameters.tracking_uri}}"]'
    tasks = "".join(
        f"- task_key: {key}\n{dep}  spark_python_task:\n    python_file: ../scripts/task.py\n"
        f"    parameters: {params.replace('KEY', key)}\n"
        for key, dep in (("first", ""), ("second", "  depends_on: [{task_key: first}]\n"))
    )
    root = _bundle(tmp_path / "b", tasks)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    job = root / "resources" / "j.job.yml"
    job.write_text(
        job.read_text().replace(
            "      tasks:",
            "        - name: experiment_name\n          default: jobs-test\n"
            f"        - name: tracking_uri\n          default: {uri}\n      tasks:",
        )
    )
    (root / "scripts").mkdir()
    (root / "scripts" / "task.py").write_text(
        "import sys, mlflow\nfrom credit_risk.runtime.config import load_config\n"
        "from credit_risk.runtime.tracking import configure_mlflow, start_task_run\n"
        "configure_mlflow(load_config({'experiment_name': sys.argv[2], 'tracking_uri': sys.argv[3]}))\n"
        "with start_task_run(sys.argv[1]):\n    mlflow.log_metric('done', 1)\n"
    )
    callers_store = mlflow.get_tracking_uri()
    run = LocalJobRunner(validate_bundle(root), echo=lambda _: None).run("j")
    assert run.ok, run.summary()
    assert mlflow.get_tracking_uri() == callers_store  # the runner leaves the caller's MLflow settings alone
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("jobs-test").experiment_id])
    parents = [r for r in runs if r.data.tags.get("job") == "j"]
    assert len(parents) == 1 and parents[0].info.run_id == run.mlflow_run_id
    assert parents[0].info.status == "FINISHED" and parents[0].data.tags["job_run_id"] == run.run_id
    children = {
        r.info.run_name: r.data.tags.get("mlflow.parentRunId")
        for r in runs
        if r.info.run_id != run.mlflow_run_id
    }
    assert children == {"first": run.mlflow_run_id, "second": run.mlflow_run_id}


def test_cli_validate_and_run_exit_codes(tmp_path, capsys):
    root = _bundle(tmp_path, _task("a"))
    _notebook(root / "nb" / "a.ipynb", "raise SystemError('boom')")
    assert main(["bundle", "validate", "--root", str(root)]) == 0
    assert main(["bundle", "run", "j", "--root", str(root)]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(["bundle", "validate", "--root", str(root), "-t", "nope"]) == 2
    assert "no target 'nope'" in capsys.readouterr().err
    assert main(["bundle", "run", "j", "--root", str(root), "--var", "oops"]) == 2


def test_notebooks_are_thin_and_stripped():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 4
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert len(nb.cells) <= 6 and nb.cells[0].cell_type == "markdown", path.name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        text = "\n".join(c.source for c in code)
        assert (
            "def " not in text and "class " not in text and "%pip" not in text and "sys.path" not in text
        ), path.name
        assert "config_from_widgets(dbutils" in text, path.name


def test_a_java_error_and_a_dead_jvm_are_reported_by_their_root_cause(tmp_path):
    """The job summary names the Java exception (not the last stack frame), and a JVM that a task's
    StackOverflowError killed as a dead JVM with that error (not "Connection refused")."""
    tasks = """\
    - task_key: java_error
      notebook_task: {notebook_path: ../nb/java_error.ipynb}
    - task_key: jvm_dies
      notebook_task: {notebook_path: ../nb/jvm_dies.ipynb}
    """
    root = _bundle(tmp_path, tasks)
    setup = "from credit_risk.runtime.spark import get_spark\nspark = get_spark()"
    _notebook(
        root / "nb" / "java_error.ipynb",
        setup,
        "from pyspark.ml.feature import Imputer\n"
        "Imputer(inputCols=['x'], outputCols=['y']).fit(spark.createDataFrame([(None,), (None,)], 'x double'))",
    )
    _notebook(
        root / "nb" / "jvm_dies.ipynb",
        setup,
        """\
        from pyspark.sql import functions as F
        from credit_risk.runtime.errors import doing, pipeline_task

        @pipeline_task("jvm_dies")
        def run():  # the quoted-field pattern bronze once used: Java's regex recurses once per character
            with doing("parsing a 100,000-character line"):
                # built from `id` so that neither constant folding nor a local relation runs it on the driver:
                # an executor task's fatal error is what ends the JVM
                line = spark.range(1).select(
                    F.expr("concat('a,\\"', repeat('x', 100000 + cast(id AS INT)), '\\",c')").alias("raw_line")
                )
                line.select(F.regexp_replace("raw_line", r'"([^"]|"")*"', "")).first()

        run()""",
    )
    run = LocalJobRunner(validate_bundle(root), echo=lambda _: None).run("j")
    errors = {r.task_key: r.error for r in run.results}
    assert errors["java_error"].startswith("org.apache.spark.SparkException: surrogate cannot be computed"), (
        errors
    )
    assert errors["jvm_dies"] == (
        "task jvm_dies failed while parsing a 100,000-character line: "
        "the Spark JVM died: java.lang.StackOverflowError"
    ), errors
    assert "Thread.java" not in run.summary() and "Connection refused" not in run.summary()


def test_root_cause_reads_a_traceback_as_a_person_would(tmp_path):
    from credit_risk.runtime.errors import TaskFailed, doing, pipeline_task, root_cause

    java = (
        "Py4JJavaError: An error occurred while calling o52.save.\n: org.apache.spark.SparkException: Job aborted.\n"
        "\tat org.apache.spark.sql.X.run(X.scala:1)\nCaused by: org.apache.spark.SparkException: Task failed\n"
        "\tat y\nCaused by: java.io.IOException: No space left on device\n\tat java.base/java.lang.Thread.run(Thread.java:840)"
    )
    assert root_cause(None, java) == "java.io.IOException: No space left on device"
    nested = "X: a\n: org.apache.spark.SparkException: outer\n\tat a.b(c)\nCaused by: java.lang.IllegalStateException: inner\n\tat d"
    assert root_cause(None, nested) == "java.lang.IllegalStateException: inner"
    log = tmp_path / "jvm-1.log"
    log.write_text(
        "2026 ERROR Executor [worker]: Exception in task 0.0\njava.lang.OutOfMemoryError: Java heap space\n\tat x\n"
    )
    assert root_cause(ConnectionRefusedError(111, "Connection refused"), jvm_log=log) == (
        "the Spark JVM died: java.lang.OutOfMemoryError: Java heap space"
    )
    assert root_cause(
        None, "ConnectionRefusedError: [Errno 111] Connection refused", jvm_log=tmp_path / "none"
    ).startswith("the Spark JVM died; its log names no error")

    traceback = (
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n    main()\n'
        "mlflow.exceptions.MlflowException: Registered model alias champion not found."
    )
    assert (
        root_cause(None, traceback)
        == "mlflow.exceptions.MlflowException: Registered model alias champion not found."
    )

    @pipeline_task("silver_clean")
    def task():
        with doing("typing bronze.loans_raw@v3 into silver.loans"):
            raise ValueError("bad value")

    with pytest.raises(
        TaskFailed,
        match=r"^task silver_clean failed while typing bronze\.loans_raw@v3 into silver\.loans: "
        r"ValueError: bad value$",
    ):
        task()


def test_a_notebook_run_by_hand_takes_its_bundle_targets_widget_defaults(tmp_path, monkeypatch):
    """An interactive notebook on a cluster: the deploy synced the bundle to
    /Workspace/Users/<user>/.bundle/<name>/<target>/files, and the notebook's folder is its working directory.
    Its widgets default to that target's variables, as that user; in a checkout, to the `local` target's."""
    import shutil

    from credit_risk.local.dbutils import LocalDbutils
    from credit_risk.runtime.config import config_from_widgets, widget_defaults

    for name in ("CATALOG", "SCHEMA_PREFIX", "ROWS", "RAW_DIR", "DATA_SOURCE"):
        monkeypatch.delenv(f"CREDIT_RISK_{name}", raising=False)
    monkeypatch.delenv("CREDIT_RISK_WIDGETS", raising=False)
    local = load_bundle(ROOT, "local").variables
    assert widget_defaults(ROOT / "notebooks")["rows"] == str(local["rows"])

    def deployed(user: str, target: str) -> Path:
        files = tmp_path / "Workspace" / "Users" / user / ".bundle" / "credit_risk" / target / "files"
        files.mkdir(parents=True)
        shutil.copy(ROOT / "databricks.yml", files)
        for folder in ("resources", "bundles", "notebooks"):
            shutil.copytree(ROOT / folder, files / folder)
        return files / "notebooks"

    monkeypatch.chdir(deployed("ana.lopez@bank.example", "dev"))
    cfg = config_from_widgets(LocalDbutils(tmp_path / "fs"))
    dev = load_bundle(ROOT, "dev", user="ana.lopez@bank.example").variables
    assert (cfg.catalog, cfg.schema_prefix, cfg.rows) == ("credit_risk_dev", "ana_lopez_", int(dev["rows"]))
    assert cfg.table("gold.loan_features") == "credit_risk_dev.ana_lopez_gold.loan_features"

    monkeypatch.chdir(deployed("ana.lopez@bank.example", "staging"))
    cfg = config_from_widgets(LocalDbutils(tmp_path / "fs"))
    assert (cfg.catalog, cfg.data_source, cfg.raw_dir) == (
        "credit_risk_staging",
        "kaggle",
        "/Volumes/credit_risk_staging/raw/lendingclub",
    )
    # the environment still wins over a widget left at its default, and a widget set by hand wins over both
    monkeypatch.setenv("CREDIT_RISK_CATALOG", "from_env")
    assert config_from_widgets(LocalDbutils(tmp_path / "fs")).catalog == "from_env"
    monkeypatch.setenv("CREDIT_RISK_WIDGETS", json.dumps({"catalog": "typed_in"}))
    assert config_from_widgets(LocalDbutils(tmp_path / "fs")).catalog == "typed_in"
    # outside any bundle (the wheel alone), the Config field defaults
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDIT_RISK_WIDGETS")
    assert widget_defaults()["catalog"] == "credit_risk"
    # a databricks.yml the loader cannot read leaves the Config defaults (job parameters still fill the widgets)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "databricks.yml").write_text("bundle: {name: b}\n")  # no targets
    assert widget_defaults(tmp_path / "broken")["catalog"] == "credit_risk"
