"""Validation of the best run between `evaluate` and `register`: a verdict the job's condition task reads.

As the validation step of databricks/mlops-stacks: a candidate reaches the registry only if it clears absolute
thresholds on the test split (AUC, calibration), is not worse than the current champion on the same loans,
scores a population like the one it was trained on (PSI of the PD, CSI of every feature, train against test
and against each test vintage), and works for every sizeable segment (grade, term, home ownership, state).
`validation_dry_run` runs and logs every check but passes; `validation_enabled: false` passes unchecked.
The verdict and its figures are tags of the run (`register` copies them onto the model version).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from credit_risk import features, metrics
from credit_risk.calibration import run_calibration
from credit_risk.pipeline._upstream import best_run, upstream_version
from credit_risk.pipeline.evaluate import score
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import GOLD_SPLITS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = ("grade", "term_months", "home_ownership", "addr_state")
TAG_PREFIX = "validation_"
REPORT_ARTIFACT = "validation/validation.json"
STABILITY_SAMPLE_ROWS = 200_000  # training loans the PSI / CSI reference is drawn from (seeded)
MAX_TAG_CHARS = 4000


@dataclass
class Verdict:
    """The outcome of the checks, in the mode the bundle asked for."""

    mode: str  # enforced | dry_run | disabled
    failures: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # named, never blocking: the moved inputs (feature CSI)

    @property
    def passed(self) -> bool:
        return self.mode != "enforced" or not self.failures

    @property
    def reason(self) -> str:
        if self.mode == "disabled":
            return "disabled"
        if not self.failures:
            return "all checks passed"
        prefix = "dry run, not enforced: " if self.mode == "dry_run" else ""
        return prefix + "; ".join(self.failures)

    def tags(self) -> dict[str, str]:
        tags = {"passed": str(self.passed).lower(), "mode": self.mode, "reason": self.reason}
        tags["failed_checks"] = str(len(self.failures))
        tags["warnings"] = "; ".join(self.warnings) or "none"
        for key, value in self.figures.items():
            tags[key] = f"{value:.4f}" if isinstance(value, float) else str(value)
        return {TAG_PREFIX + k: v[:MAX_TAG_CHARS] for k, v in tags.items()}


def absolute_checks(test: pd.DataFrame, cfg: Config) -> tuple[dict[str, Any], list[str]]:
    y, p = test[features.TARGET].to_numpy(float), test["pd"].to_numpy(float)
    auc, ece = metrics.auc(y, p), metrics.ece(y, p)
    failures = []
    if not auc >= cfg.validation_min_test_auc:  # a NaN AUC (one class only) fails too
        failures.append(f"test AUC {auc:.4f} < minimum {cfg.validation_min_test_auc}")
    if not ece <= cfg.validation_max_test_ece:
        failures.append(f"test calibration error {ece:.4f} > maximum {cfg.validation_max_test_ece}")
    return {"test_auc": auc, "test_ece": ece, "test_rows": len(y)}, failures


def champion_check(
    candidate_auc: float, champion_auc: float | None, champion: str | None, cfg: Config
) -> list[str]:
    """The candidate may trail the champion on the same test loans by at most the margin."""
    if champion_auc is None or candidate_auc >= champion_auc - cfg.validation_champion_margin:
        return []
    return [
        f"test AUC {candidate_auc:.4f} is worse than champion v{champion}'s {champion_auc:.4f} "
        f"by more than {cfg.validation_champion_margin}"
    ]


def stability(
    train: pd.DataFrame, test: pd.DataFrame, columns: list[str], cfg: Config
) -> tuple[dict[str, Any], list[str], list[str]]:
    """PSI of the PD and CSI of each feature, train against the whole test split and each vintage in it; a sample
    under `validation_min_segment_rows` loans is not judged (its indexes are mostly sampling noise).

    (figures, failures, warnings): a moved score fails; a moved input is a warning that explains it. An input
    can move far without moving the PD (a bureau field that older vintages lack: on the real 2007-2009 cohort,
    pub_rec_bankruptcies has a CSI of 12.7 while the score's PSI is 0.08), and the score is what is judged.
    """
    limit, failures, warnings = cfg.validation_max_score_psi, [], []
    candidates = {"test": test} | {f"vintage {v}": g for v, g in test.groupby("issue_year")}
    groups = {k: g for k, g in candidates.items() if len(g) >= cfg.validation_min_segment_rows}
    psi = {
        name: metrics.psi(train["pd"].to_numpy(float), g["pd"].to_numpy(float)) for name, g in groups.items()
    }
    csi = {
        name: {c: metrics.csi(train[c].to_numpy(), g[c].to_numpy()) for c in columns}
        for name, g in groups.items()
    }
    for name, value in psi.items():
        if value > limit:
            failures.append(f"score PSI train vs {name} {value:.4f} > maximum {limit}")
    for name, by_feature in csi.items():
        moved = {c: v for c, v in by_feature.items() if v > cfg.validation_max_feature_csi}
        if moved:
            listed = ", ".join(f"{c} {v:.3f}" for c, v in sorted(moved.items(), key=lambda kv: -kv[1]))
            warnings.append(f"feature CSI train vs {name} > {cfg.validation_max_feature_csi}: {listed}")
    skipped = {k: len(g) for k, g in candidates.items() if k not in groups}
    return {"score_psi": psi, "feature_csi": csi, "not_judged": skipped}, failures, warnings


def segment_performance(test: pd.DataFrame, cfg: Config) -> tuple[list[dict[str, Any]], list[str]]:
    """AUC and calibration per segment of at least `validation_min_segment_rows` loans, against the whole split.

    The default-rate gap is the segment's observed default rate minus the mean PD the model gives it, less that
    same gap overall: grades differ in risk by design, so a raw default rate far from the portfolio's says nothing
    about the model; a segment whose risk the model misstates does.
    """
    y, p = test[features.TARGET].to_numpy(float), test["pd"].to_numpy(float)
    overall_auc, overall_gap = metrics.auc(y, p), float(y.mean() - p.mean())
    rows, failures = [], []
    for column in [c for c in SEGMENT_COLUMNS if c in test.columns]:
        for value, g in test.groupby(column, dropna=False):
            if len(g) < cfg.validation_min_segment_rows:
                continue
            gy, gp = g[features.TARGET].to_numpy(float), g["pd"].to_numpy(float)
            auc = metrics.auc(gy, gp)
            auc_gap = overall_auc - auc  # NaN when the segment has one class only: not judged
            rate_gap = abs(float(gy.mean() - gp.mean()) - overall_gap)
            row: dict[str, Any] = {
                "segment": column,
                "value": _label(value),
                "rows": len(g),
                "auc": auc,
                "default_rate": float(gy.mean()),
                "mean_pd": float(gp.mean()),
                "auc_gap": auc_gap,
                "default_rate_gap": rate_gap,
            }
            why = []
            if auc_gap > cfg.validation_max_segment_auc_gap:
                why.append(f"AUC {auc:.3f} is {auc_gap:.3f} below overall")
            if rate_gap > cfg.validation_max_segment_default_rate_gap:
                why.append(f"default rate {row['default_rate']:.3f} vs mean PD {row['mean_pd']:.3f}")
            row["flagged"] = bool(why)
            rows.append(row)
            if why:
                failures.append(f"segment {column}={row['value']} ({len(g)} loans): " + ", ".join(why))
    return rows, failures


def _label(value: Any) -> str:
    """A segment's value as people write it: 36, not 36.0 (a numeric column with gaps comes back as floats)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _champion_test_auc(cfg: Config, test: DataFrame, run_id: str) -> tuple[str | None, float | None]:
    """The current champion's AUC on these test loans (None without a champion, or when it is this run)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from credit_risk.pipeline.register import CHAMPION, registered_name, spark_model_uri, training_run_id

    try:
        version = MlflowClient().get_model_version_by_alias(registered_name(cfg), CHAMPION)
    except MlflowException:
        return None, None
    if version.run_id == run_id:
        return str(version.version), None
    model = mlflow.spark.load_model(spark_model_uri(version))
    trained_by = training_run_id(version)
    factor = float(mlflow.get_run(trained_by).data.params["pd_odds_factor"])
    champion = score(model, test, factor, run_calibration(trained_by))
    return str(version.version), metrics.auc(
        champion[features.TARGET].to_numpy(float), champion["pd"].to_numpy(float)
    )


def validate_run(cfg: Config, run_id: str, splits: DataFrame) -> tuple[Verdict, dict[str, Any]]:
    """Every check of the run's model on the pinned splits; returns the verdict and the report (logged as JSON)."""
    import mlflow

    if not cfg.validation_enabled:
        return Verdict("disabled"), {}
    run = mlflow.get_run(run_id)
    model = mlflow.spark.load_model(f"runs:/{run_id}/model")
    used = [c for c in run.data.tags.get("features_used", "").split(",") if c] or list(features.FEATURES)
    factor = float(run.data.params["pd_odds_factor"])
    columns = list(dict.fromkeys([*used, *SEGMENT_COLUMNS]))
    train_rows = splits.where("split = 'train'")
    n_train = train_rows.count()
    if n_train > STABILITY_SAMPLE_ROWS:
        train_rows = train_rows.sample(fraction=STABILITY_SAMPLE_ROWS / n_train, seed=cfg.seed)
    test_rows = splits.where("split = 'test'")
    calibration = run_calibration(run_id)  # PDs as served
    train = score(model, train_rows, factor, calibration, columns)
    test = score(model, test_rows, factor, calibration, columns)
    figures, failures = absolute_checks(test, cfg)
    champion, champion_auc = _champion_test_auc(cfg, test_rows, run_id)
    failures += champion_check(figures["test_auc"], champion_auc, champion, cfg)
    drift, moved, warnings = stability(train, test, [c for c in used if c in test.columns], cfg)
    segments, disparities = segment_performance(test, cfg)
    failures += moved + disparities
    worst = max(drift["feature_csi"].get("test", {}).items(), key=lambda kv: kv[1], default=("none", 0.0))
    figures |= {
        "champion_version": champion or "none",
        "champion_test_auc": champion_auc if champion_auc is not None else "none",
        "score_psi": drift["score_psi"].get("test", "not judged"),
        "max_feature_csi": worst[1],
        "max_feature_csi_feature": worst[0],
        "flagged_segments": ",".join(f"{r['segment']}={r['value']}" for r in segments if r["flagged"])
        or "none",
    }
    y, p = test[features.TARGET].to_numpy(float), test["pd"].to_numpy(float)
    counts = splits.groupBy("split", "issue_year").count().toPandas()
    report = {
        "summary": metrics.summary(y, p),
        "calibration": metrics.calibration(y, p),
        "stability": drift,
        "segments": segments,
        "rows_by_vintage": {
            s: {int(y): int(n) for y, n in zip(g["issue_year"], g["count"], strict=True)}
            for s, g in counts.groupby("split")
        },
        "thresholds": {f.name: getattr(cfg, f.name) for f in _validation_fields()},
    }
    verdict = Verdict("dry_run" if cfg.validation_dry_run else "enforced", failures, figures, warnings)
    return verdict, {**report, "verdict": verdict.tags()}


def _validation_fields() -> list[Any]:
    from dataclasses import fields

    from credit_risk.runtime.config import Config

    return [f for f in fields(Config) if f.name.startswith(TAG_PREFIX)]


def _finite(value: Any) -> Any:
    """JSON without NaN (a one-class segment's AUC is null)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value.item() if isinstance(value, np.generic) else value


def record_verdict(run_id: str, verdict: Verdict, report: dict[str, Any]) -> None:
    """The verdict as tags of the run, the report beside it (what `register` and the model card read)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in verdict.tags().items():
        client.set_tag(run_id, key, value)
    if report:
        client.log_dict(run_id, _finite(report), REPORT_ARTIFACT)


@pipeline_task("validate")
def run_validate(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `validate`: the best run's verdict as tags on that run; publishes `validation_passed`."""

    from credit_risk.lake import get_lake
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(cfg)
    lake = get_lake(cfg)
    run_id = best_run(dbutils).info.run_id
    version = upstream_version(dbutils, lake, GOLD_SPLITS, "split", "splits_version")
    splits = lake.read(GOLD_SPLITS, version=version)
    verdict, report = validate_run(cfg, run_id, splits)
    record_verdict(run_id, verdict, {**report, "splits_version": version} if report else {})
    for failure in verdict.failures:
        log.warning(
            "validation check failed%s: %s", " (dry run)" if verdict.mode == "dry_run" else "", failure
        )
    dbutils.jobs.taskValues.set(key="validation_passed", value=str(verdict.passed).lower())
    return {"run_id": run_id, "passed": verdict.passed, "mode": verdict.mode, "reason": verdict.reason}
