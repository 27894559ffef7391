"""One typed configuration, built from bundle variables as they reach a task (widgets / job parameters).

Field names are the bundle variable names in `databricks.yml`, and the field defaults are that file's
variable defaults (tests/test_bundle.py keeps them equal). A notebook run by hand takes its widget defaults
from the bundle it sits in: the target it was deployed for on a workspace, `local` in a checkout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints

from credit_risk.runtime.context import on_databricks, project_home

if TYPE_CHECKING:
    from credit_risk.runtime.dbutils import DBUtils

log = logging.getLogger(__name__)

PREFIX_ENV = "CREDIT_RISK_"  # CREDIT_RISK_<FIELD> overrides a default, e.g. CREDIT_RISK_LAKE_ROOT
# task settings as key=value,key=value, e.g. rf_num_trees=10 (make test's notebooks)
EXTRA_ENV = PREFIX_ENV + "EXTRA"


@dataclass(frozen=True)
class Config:
    """Everything a pipeline task needs to know about where it runs and what it reads."""

    catalog: str = "credit_risk"
    schema_prefix: str = ""
    lake_root: str = "lakehouse"
    data_source: str = "generated"  # generated | kaggle | <folder or file of raw exports>
    raw_dir: str = "data/raw"
    rows: int = 3000  # the variable default; the local target overlay (bundles/local.yml) asks for more
    seed: int = 42
    layout: str = "kaggle"
    target_definition: str = "performance_window"  # performance_window | final_status (pipeline/target.py)
    performance_months: int = 24
    split_kind: str = "temporal"  # temporal | stratified
    train_end_year: int = 2016
    valid_year: int = 2017
    test_end: str = "2018Q3"  # the last vintage quarter whose 24-month window has passed by Sep-2020
    min_vintage: int = 0
    test_frac: float = 0.2
    experiment_name: str = "/Shared/credit-risk"
    model_name: str = "credit_risk_pd"
    tracking_uri: str = ""
    registry_uri: str = ""
    decision_threshold: float = 0.2
    min_auc: float = 0.60
    max_ece: float = 0.15  # of the calibrated PD, cross-fitted on validation (register.gate)
    refit: bool = True  # refit the selected model on train + valid (pipeline.refit)
    selection_folds: int = 2  # time-ordered folds choosing the model (split.forward_folds)
    calibration: str = (
        "platt"  # platt | isotonic | none: the PD map fitted on validation (credit_risk.calibration)
    )
    promotion_margin: float = 0.002
    leakage_auc: float = 0.90
    # validation task (pipeline/validate.py): between evaluate and register
    validation_enabled: bool = True
    validation_dry_run: bool = False
    validation_min_test_auc: float = 0.60
    validation_max_test_ece: float = 0.20
    validation_champion_margin: float = 0.01
    validation_max_score_psi: float = 0.25
    validation_max_feature_csi: float = 0.25  # a warning, not a failure
    validation_min_segment_rows: int = 300
    validation_max_segment_auc_gap: float = 0.20
    validation_max_segment_default_rate_gap: float = 0.10
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return project_home()

    def local_path(self, value: str) -> Path:
        """A configured path; relative ones are under the project folder."""
        p = Path(value)
        return p if p.is_absolute() else self.home / p

    @property
    def lake_path(self) -> Path:
        return self.local_path(self.lake_root)

    @property
    def mlflow_tracking_uri(self) -> str:
        """Databricks on a cluster, a sqlite store in the project folder locally (MLflow refuses a plain file store)."""
        if self.tracking_uri:
            return self.tracking_uri
        if os.environ.get("MLFLOW_TRACKING_URI"):  # e.g. the MLflow server of docker compose
            return os.environ["MLFLOW_TRACKING_URI"]
        return "databricks" if on_databricks() else f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def mlflow_registry_uri(self) -> str:
        if self.registry_uri:
            return self.registry_uri
        return "databricks-uc" if on_databricks() else self.mlflow_tracking_uri

    @property
    def artifact_root(self) -> Path:
        return self.home / "mlartifacts"

    def table(self, name: str) -> str:
        """`layer.table` as a full name for this target."""
        schema, table = name.split(".")
        return f"{self.catalog}.{self.schema_prefix}{schema}.{table}"


def _text(value: Any) -> str:
    """A setting as a widget holds it (booleans as the bundle writes them: true / false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if kind is bool:  # widgets are strings: only true / false (any case), never bool("false") == True
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise ValueError(f"{name} must be true or false, not {value!r}")
        return text == "true"
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    if kind is str:
        return str(value)
    return value


def load_config(params: Mapping[str, Any] | None = None, defaults: Mapping[str, Any] | None = None) -> Config:
    """Defaults (`defaults` over the field defaults), then CREDIT_RISK_<FIELD> environment variables, then
    `params` (widgets); unknown keys go to `extra`.

    A widget still at its default does not override the environment: notebooks run by hand with
    CREDIT_RISK_* set (as `make test` does) follow the environment. The settings that are not fields
    (model settings such as rf_num_trees) can come from CREDIT_RISK_EXTRA; job parameters win over it.
    """
    hints = get_type_hints(Config)
    known = {f.name for f in fields(Config) if f.name != "extra"}
    base = {k: v for k, v in (defaults or {}).items() if k in known}
    values: dict[str, Any] = dict(base)
    from_env: set[str] = set()
    for name in known:
        env = os.environ.get(PREFIX_ENV + name.upper())
        if env is not None:
            values[name] = env
            from_env.add(name)
    extra = _extra_from_env()
    for key, value in (params or {}).items():
        if key in known:
            at_default = _text(value) == _text(base.get(key, getattr(Config, key)))
            if value not in (None, "") and not (at_default and key in from_env):
                values[key] = value
        else:
            extra[key] = str(value)
    try:
        typed = {k: _coerce(k, hints[k], v) for k, v in values.items()}
    except ValueError as exc:
        raise ValueError(f"configuration value has the wrong type: {exc}") from exc
    return dataclasses.replace(Config(), **typed, extra=extra)


def _extra_from_env() -> dict[str, str]:
    """CREDIT_RISK_EXTRA="rf_num_trees=10,gbt_max_iter=10" as {"rf_num_trees": "10", "gbt_max_iter": "10"}."""
    extra: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in os.environ.get(EXTRA_ENV, "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{EXTRA_ENV} must be key=value pairs separated by commas; {item!r} is not")
        extra[key.strip()] = value.strip()
    return extra


def widget_defaults(start: Path | None = None) -> dict[str, str]:
    """The Config fields' values in the bundle holding `start` (the working directory): on a workspace, the
    target the bundle was deployed for, as that user; in a checkout, the `local` target. Outside any bundle
    (the wheel alone), the field defaults."""
    from credit_risk.bundle.loader import BundleError, find_bundle, load_bundle

    defaults = {f.name: _text(getattr(Config, f.name)) for f in fields(Config) if f.name != "extra"}
    found = find_bundle((start or Path.cwd()).absolute())
    if found is None:
        return defaults
    try:
        bundle = load_bundle(found.root, found.target or "local", user=found.user)
    except BundleError as exc:  # a job's parameters still fill every widget; say why the defaults are plain
        log.warning("widget defaults are the Config defaults: %s", exc)
        return defaults
    return {name: str(bundle.variables.get(name, value)) for name, value in defaults.items()}


def config_from_widgets(dbutils: DBUtils, **task_widgets: str) -> Config:
    """Declare a text widget per Config field (plus task-specific ones with their defaults) and read them all.

    Job parameters fill these widgets on Databricks and in the local runner; run by hand (on a cluster,
    in JupyterLab or under nbmake) a notebook gets the defaults of its bundle's target (`widget_defaults`).
    """
    defaults = widget_defaults()
    for name, default in defaults.items():
        dbutils.widgets.text(name, default)
    for name, default in task_widgets.items():
        dbutils.widgets.text(name, default)
    names = [*defaults, *task_widgets]
    values = {name: dbutils.widgets.get(name) for name in names}
    # The job's other parameters (model and monitoring settings such as monitor_min_rows) reach the
    # notebook as widgets nobody declared: getAll() returns them, and they land in `extra`.
    with contextlib.suppress(AttributeError):  # older runtimes have no widgets.getAll()
        values = {**{str(k): v for k, v in dbutils.widgets.getAll().items()}, **values}
    return load_config(values, defaults)
