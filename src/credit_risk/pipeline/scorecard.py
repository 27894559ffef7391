"""The WoE / IV scorecard, the banking standard, as a fifth candidate beside the four MLlib models.

Bins are fitted by optbinning (monotonic optimal binning) on a seeded sample of the training split collected to
pandas; characteristics whose information value (IV) is below `scorecard_min_iv` are dropped, and of any pair whose
WoE correlate beyond `scorecard_max_corr` the one of lower IV. The rest is stock MLlib, so the scorecard is a
PipelineModel that evaluate, register and batch scoring take as they take the others: a SQLTransformer maps each
characteristic to its bin's WoE (`model.scorecard.woe_statement`), then VectorAssembler and an unweighted
LogisticRegression (a scorecard's PD needs no prior correction: odds factor 1).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import SQLTransformer, VectorAssembler

from credit_risk import features
from credit_risk.model.scorecard import WOE_SUFFIX, woe_statement

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from credit_risk.feature_screen import FeatureSet

log = logging.getLogger(__name__)


def sample_rows(train: DataFrame, rows: int, seed: int, columns: list[str]) -> pd.DataFrame:
    """About `rows` training loans (a seeded Bernoulli sample, all of them if fewer) as pandas."""
    total = train.count()
    part = train.select(*columns, features.TARGET)
    if total > rows:
        part = part.sample(fraction=min(1.0, 1.1 * rows / total), seed=seed).limit(rows)
    return part.toPandas()


def fit_bins(sample: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, dict[str, Any]]:
    """Per characteristic: its optbinning bins (WoE monotone in the characteristic, or in the categories' event
    rate order), their WoE, the missing bin's WoE, IV and the binning table."""
    from optbinning import OptimalBinning

    y = sample[features.TARGET].to_numpy(dtype=int)
    out: dict[str, dict[str, Any]] = {}
    for name in [*numeric, *categorical]:
        categorical_ = name in categorical
        if categorical_:
            x = np.array([None if pd.isna(v) else str(v) for v in sample[name]], dtype=object)
        else:
            x = pd.to_numeric(sample[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        binning = OptimalBinning(
            name=name,
            dtype="categorical" if categorical_ else "numerical",
            monotonic_trend="auto_asc_desc",
        ).fit(x, y)
        table = binning.binning_table.build()
        n_bins = len(binning.splits) if categorical_ else len(binning.splits) + 1
        woe = [float(w) for w in table["WoE"].iloc[:n_bins]]
        missing = float(table.loc[table["Bin"].map(str) == "Missing", "WoE"].iloc[0])
        bins: dict[str, Any] = {"woe": woe, "missing": missing}
        if categorical_:
            bins["categories"] = [[str(c) for c in cats] for cats in binning.splits]
            bins["unseen"] = 0.0  # neutral: no evidence either way
        else:
            bins["splits"] = [float(s) for s in binning.splits]
        out[name] = {
            "bins": bins,
            "iv": float(binning.binning_table.iv),
            "status": binning.status,
            "table": table.reset_index(drop=True).assign(characteristic=name),
        }
    return out


def woe_frame(
    sample: pd.DataFrame, fitted: dict[str, dict[str, Any]], categorical: list[str]
) -> pd.DataFrame:
    """The sample's WoE per characteristic (the portable replay of the mapping Spark will run)."""
    from credit_risk.model.scorecard import apply_woe

    cols: dict[str, np.ndarray] = {}
    for kind in (False, True):
        names = [n for n in fitted if (n in categorical) == kind]
        stage = {
            "categorical": kind,
            "inputs": names,
            "outputs": names,
            "bins": {n: fitted[n]["bins"] for n in names},
        }
        apply_woe(stage, cols, sample)
    return pd.DataFrame(cols)


def select_characteristics(
    fitted: dict[str, dict[str, Any]], woe: pd.DataFrame, min_iv: float, max_corr: float
) -> tuple[list[str], dict[str, str]]:
    """Characteristics kept, by IV descending: IV >= `min_iv`, |corr| of WoE <= `max_corr` with every one kept
    before it. Returns them and why each other was dropped."""
    kept: list[str] = []
    dropped: dict[str, str] = {}
    matrix = woe.corr().abs().fillna(0.0)
    corr, at = matrix.to_numpy(dtype=np.float64), {c: i for i, c in enumerate(matrix.columns)}
    for name in sorted(fitted, key=lambda n: -fitted[n]["iv"]):
        iv = fitted[name]["iv"]
        if iv < min_iv:
            dropped[name] = f"IV {iv:.4f} < {min_iv}"
            continue
        rival = next((k for k in kept if corr[at[name], at[k]] > max_corr), None)
        if rival is not None:
            dropped[name] = f"|corr| of WoE with {rival} {corr[at[name], at[rival]]:.3f} > {max_corr}"
            continue
        kept.append(name)
    return kept, dropped


def fit_scorecard(
    train: DataFrame, params: dict[str, Any], seed: int, selected: FeatureSet
) -> tuple[PipelineModel, float, dict[str, str]]:
    """Bins, selection and the WoE logistic regression; logs binning and points tables where a run is active."""
    numeric = [*selected.numeric, *selected.flags]
    categorical = list(selected.categorical)
    sample = sample_rows(train, int(params["scorecard_sample_rows"]), seed, [*numeric, *categorical])
    fitted = fit_bins(sample, numeric, categorical)
    kept, dropped = select_characteristics(
        fitted,
        woe_frame(sample, fitted, categorical),
        float(params["scorecard_min_iv"]),
        float(params["scorecard_max_corr"]),
    )
    if not kept:
        raise ValueError(f"no characteristic reaches IV {params['scorecard_min_iv']}: no scorecard")
    stages: list[Any] = []
    for kind in (False, True):
        names = [n for n in kept if (n in categorical) == kind]
        if names:
            table = {"categorical": kind, "bins": {n: fitted[n]["bins"] for n in names}}
            stages.append(SQLTransformer(statement=woe_statement(table)))
    stages += [
        VectorAssembler(inputCols=[f"{n}{WOE_SUFFIX}" for n in kept], outputCol="features"),
        LogisticRegression(
            featuresCol="features",
            labelCol=features.TARGET,
            maxIter=int(params["scorecard_max_iter"]),
            regParam=float(params["scorecard_reg_param"]),
            elasticNetParam=0.0,
        ),
    ]
    data = train.select(*kept, features.TARGET).cache()
    try:
        model = Pipeline(stages=stages).fit(data)
    finally:
        data.unpersist()
    tags = {
        "class_balance": "none: a scorecard's logistic regression is fitted unweighted (odds factor 1)",
        "scorecard_characteristics": ",".join(kept),
        "scorecard_sample_rows": str(len(sample)),
    }
    _log_tables(model, fitted, kept, dropped)
    log.info("scorecard: %d characteristics of %d (%s)", len(kept), len(fitted), ", ".join(kept))
    return model, 1.0, tags


def _log_tables(
    model: PipelineModel, fitted: dict[str, dict[str, Any]], kept: list[str], dropped: dict[str, str]
) -> None:
    """Binning tables (CSV), the points table (CSV) and the selection (JSON) on the active MLflow run."""
    import mlflow

    from credit_risk.model.export import export_pipeline
    from credit_risk.model.scorecard import points_table

    if mlflow.active_run() is None:
        return
    binning = pd.concat([f["table"] for f in fitted.values()], ignore_index=True)
    binning["Bin"] = binning["Bin"].astype(str)
    mlflow.log_text(binning.to_csv(index=False), "scorecard/binning_tables.csv")
    document = export_pipeline(model, 1.0)
    points = pd.DataFrame(points_table(document).rows(document["stages"]))
    mlflow.log_text(points.to_csv(index=False), "scorecard/points_table.csv")
    mlflow.log_dict(
        {
            "kept": kept,
            "dropped": dropped,
            "iv": {n: f["iv"] for n, f in fitted.items()},
            "status": {n: f["status"] for n, f in fitted.items()},
        },
        "scorecard/selection.json",
    )
