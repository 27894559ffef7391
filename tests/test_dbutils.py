"""The local dbutils shim behaves like Databricks' for the calls the project uses."""

from __future__ import annotations

import json

import pytest

from credit_risk.local.dbutils import RUN_DIR_ENV, WIDGETS_ENV, InputWidgetNotDefined, LocalDbutils
from credit_risk.runtime.dbutils import get_dbutils


def test_widgets_defaults_parameters_and_choices(monkeypatch, tmp_path):
    monkeypatch.setenv(WIDGETS_ENV, json.dumps({"rows": "500", "layout": "csv"}))
    d = LocalDbutils(tmp_path)
    d.widgets.text("rows", "2000")
    d.widgets.text("seed", "7")
    d.widgets.dropdown("layout", "kaggle", ["kaggle", "loanstats"])
    d.widgets.combobox("source", "generated", ["generated", "kaggle"])
    d.widgets.multiselect("models", "lr,gbt", ["lr", "rf", "gbt", "mlp"])
    assert d.widgets.get("rows") == "500" and d.widgets.get("seed") == "7"
    assert d.widgets.get("models") == "lr,gbt" and d.widgets.get("source") == "generated"
    with pytest.raises(ValueError, match="not one of"):
        d.widgets.get("layout")  # a parameter outside a dropdown's choices
    with pytest.raises(InputWidgetNotDefined):
        d.widgets.get("missing")
    assert d.widgets.getAll()["rows"] == "500"
    d.widgets.removeAll()
    assert d.widgets.get("rows") == "500"  # job parameters survive, as on Databricks
    with pytest.raises(InputWidgetNotDefined):
        d.widgets.get("seed")
    with pytest.raises(ValueError):
        d.widgets.dropdown("bad", "x", ["a"])


def test_task_values_cross_tasks_of_one_run(monkeypatch, tmp_path):
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path / "run"))
    monkeypatch.setenv("CREDIT_RISK_TASK_KEY", "silver_clean")
    LocalDbutils(tmp_path).jobs.taskValues.set("silver_version", 3)
    monkeypatch.setenv("CREDIT_RISK_TASK_KEY", "gold_features")
    other = LocalDbutils(tmp_path)  # another notebook's process
    assert other.jobs.taskValues.get("silver_clean", "silver_version") == 3
    assert other.jobs.taskValues.get("silver_clean", "nope", default=1) == 1
    assert other.jobs.taskValues.get("bronze_ingest", "v", debugValue=9) == 9
    with pytest.raises(ValueError, match="has set no value"):
        other.jobs.taskValues.get("bronze_ingest", "v")
    with pytest.raises(TypeError):
        other.jobs.taskValues.set("bad", object())


def test_fs_maps_dbfs_and_volumes(tmp_path):
    fs = LocalDbutils(tmp_path).fs
    assert fs.mkdirs("dbfs:/raw/2024")
    fs.put("dbfs:/raw/2024/a.csv", "id,amount\n1,2\n")
    fs.put("/Volumes/main/credit/raw/b.csv", "x")
    assert (tmp_path / "dbfs/raw/2024/a.csv").exists() and (
        tmp_path / "Volumes/main/credit/raw/b.csv"
    ).exists()
    names = [f.name for f in fs.ls("dbfs:/raw/2024")]
    assert names == ["a.csv"] and fs.ls("dbfs:/raw")[0].name == "2024/"
    assert fs.head("dbfs:/raw/2024/a.csv", 8) == "id,amoun"
    with pytest.raises(FileExistsError):
        fs.put("dbfs:/raw/2024/a.csv", "y")
    fs.cp("dbfs:/raw/2024/a.csv", "dbfs:/copy/a.csv")
    fs.mv("dbfs:/copy/a.csv", "dbfs:/moved/a.csv")
    assert [f.name for f in fs.ls("dbfs:/moved")] == ["a.csv"]
    with pytest.raises(IsADirectoryError):
        fs.rm("dbfs:/raw")
    assert fs.rm("dbfs:/raw", recurse=True) and not fs.rm("dbfs:/raw")
    with pytest.raises(FileNotFoundError):
        fs.ls("dbfs:/raw")


def test_secrets_from_env_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    (tmp_path / ".env").write_text("KAGGLE_KEY=from-dotenv\nAPI_TOKEN=dotenv-token\n")
    monkeypatch.setenv("API_TOKEN", "env-token")
    s = LocalDbutils(tmp_path).secrets
    assert s.get("credit-risk", "api_token") == "env-token"  # the environment wins over .env
    assert s.get("kaggle", "kaggle_key") == "from-dotenv"
    with pytest.raises(KeyError, match="CREDIT_RISK_NOPE") as err:
        s.get("credit-risk", "nope")
    assert "dotenv" not in str(err.value)


def test_notebook_exit_recorded(monkeypatch, tmp_path):
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("CREDIT_RISK_TASK_KEY", "evaluate")
    assert LocalDbutils(tmp_path).notebook.exit("auc=0.71") == "auc=0.71"
    assert json.loads((tmp_path / "exit_values/evaluate.json").read_text()) == "auc=0.71"


def test_get_dbutils_is_the_local_shim_off_databricks():
    assert isinstance(get_dbutils(), LocalDbutils)
    assert get_dbutils() is get_dbutils()


def test_job_parameters_that_are_not_config_fields_reach_extra(monkeypatch, tmp_path):
    """Model and monitoring settings are job parameters too; they reach `cfg.extra` through the widgets."""
    from credit_risk.runtime.config import config_from_widgets

    monkeypatch.setenv(
        WIDGETS_ENV, json.dumps({"rows": "500", "monitor_min_rows": "42", "segment_sample_rows": "900"})
    )
    cfg = config_from_widgets(LocalDbutils(tmp_path))
    assert cfg.rows == 500
    assert cfg.extra == {"monitor_min_rows": "42", "segment_sample_rows": "900"}


def test_extra_settings_from_the_environment_yield_to_job_parameters(monkeypatch, tmp_path):
    """CREDIT_RISK_EXTRA gives notebooks run without job parameters (nbmake) their model settings."""
    from credit_risk.runtime.config import EXTRA_ENV, config_from_widgets, load_config

    monkeypatch.setenv(EXTRA_ENV, "rf_num_trees=10, gbt_max_iter = 5,")
    assert load_config().extra == {"rf_num_trees": "10", "gbt_max_iter": "5"}
    monkeypatch.setenv(WIDGETS_ENV, json.dumps({"rf_num_trees": "30"}))
    assert config_from_widgets(LocalDbutils(tmp_path)).extra == {"rf_num_trees": "30", "gbt_max_iter": "5"}
    monkeypatch.setenv(EXTRA_ENV, "rf_num_trees")
    with pytest.raises(ValueError, match="CREDIT_RISK_EXTRA must be key=value pairs.*'rf_num_trees'"):
        load_config()
