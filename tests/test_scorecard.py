"""The WoE / IV scorecard: monotone bins, IV selection, points scaling, training as a candidate, portable parity."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pandas as pd
import pytest

from credit_risk import features
from credit_risk.calibration import run_calibration
from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
from credit_risk.model.scorecard import apply_woe, export_woe_stage, points_table, scaled_score, woe_statement
from credit_risk.model.scoring import Scorer, score_points
from credit_risk.pipeline.scorecard import fit_bins, select_characteristics, woe_frame
from credit_risk.pipeline.train_supervised import pd_column


@pytest.fixture(scope="module")
def toy_loans() -> pd.DataFrame:
    """A risk driver (PD rising with it), pure noise, and a category of two risk levels; 8,000 loans."""
    rng = np.random.default_rng(7)
    n = 8000
    driver = rng.normal(size=n)
    driver[:200] = np.nan
    kind = rng.choice(["a", "b", "c", "d"], size=n)
    logit = -1.5 + 0.9 * np.nan_to_num(driver) + np.where(np.isin(kind, ["a", "b"]), 0.8, 0.0)
    return pd.DataFrame(
        {
            "driver": driver,
            "noise": rng.normal(size=n),
            "kind": kind,
            features.TARGET: (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


def test_bins_are_monotone_and_iv_selection_drops_noise(toy_loans):
    fitted = fit_bins(toy_loans, ["driver", "noise"], ["kind"])
    woe = np.asarray(fitted["driver"]["bins"]["woe"])
    assert len(woe) >= 3 and np.all(np.diff(woe) < 0), woe  # PD rises with the driver: WoE (good/bad) falls
    assert fitted["noise"]["iv"] < 0.02 < fitted["driver"]["iv"]
    frame = woe_frame(toy_loans, fitted, ["kind"])
    kept, dropped = select_characteristics(fitted, frame, 0.02, 0.8)
    assert kept == ["driver", "kind"] and dropped["noise"].startswith("IV")
    # a copy of the driver correlates fully with it: one of the pair goes
    twin = {**fitted, "twin": {**fitted["driver"], "iv": fitted["driver"]["iv"] - 1e-6}}
    kept, dropped = select_characteristics(twin, frame.assign(twin=frame["driver"]), 0.02, 0.8)
    assert "twin" not in kept and "driver" in kept and "corr" in dropped["twin"]


def test_woe_sql_and_its_numpy_replay_agree_on_edge_values(spark):
    table = {
        "categorical": False,
        "bins": {
            "x": {"splits": [-1.5, 0.1, 2.0], "woe": [0.7, 0.2, -0.3, -1.1], "missing": 0.05},
            "w": {"splits": [0.5], "woe": [0.3, -0.2], "missing": 0.0},  # after x: the table keeps its order
        },
    }
    cats = {
        "categorical": True,
        "bins": {
            "c": {"categories": [["a", "it's"], ["b"]], "woe": [0.4, -0.6], "missing": 0.1, "unseen": 0.0}
        },
    }
    rows = pd.DataFrame(
        {
            "x": [-9.0, -1.5, 0.1, 0.10000000000000002, 2.0, 5.0, np.nan, None],
            "c": ["a", "it's", "b", "zz", None, "a", "b", "b"],
            "w": [0.0] * 8,
        }
    )
    df = spark.createDataFrame(rows.astype(object).where(rows.notna(), None), "x double, c string, w double")
    from pyspark.ml.feature import SQLTransformer

    out = SQLTransformer(statement=woe_statement(cats)).transform(
        SQLTransformer(statement=woe_statement(table)).transform(df)
    )
    spark_woe = out.select("x__woe", "c__woe").toPandas()
    cols: dict[str, np.ndarray] = {}
    for t in (table, cats):
        apply_woe(export_woe_stage(woe_statement(t)), cols, rows)
    assert list(spark_woe["x__woe"]) == [0.7, 0.2, -0.3, -0.3, -1.1, -1.1, 0.05, 0.05] == list(cols["x__woe"])
    assert list(spark_woe["c__woe"]) == [0.4, 0.4, -0.6, 0.0, 0.1, 0.4, -0.6, -0.6] == list(cols["c__woe"])
    with pytest.raises(ValueError, match="differs"):
        export_woe_stage(woe_statement(table).replace("0.7", "0.8", 1))


def test_points_scale_600_at_50_to_1_and_20_more_double_the_odds():
    assert float(scaled_score(math.log(50))) == pytest.approx(600)
    assert float(scaled_score(math.log(100))) == pytest.approx(620)
    assert float(scaled_score(math.log(25))) == pytest.approx(580)
    pd_ = np.array([1 / 51, 1 / 101])  # good:bad 50:1 and 100:1, as the API scores them
    assert score_points(pd_) == pytest.approx([600, 620])


def test_scorecard_trains_as_a_candidate_with_its_tables_logged(trained):
    _, result = trained
    scores = result["models"]["scorecard"]
    assert scores["val_auc"] > 0.62 and scores["odds_factor"] == 1.0
    run = mlflow.get_run(scores["run_id"])
    assert run.data.metrics["val_auc"] == pytest.approx(scores["val_auc"])
    assert run.data.tags["model_type"] == "scorecard"
    client = mlflow.MlflowClient()
    logged = {a.path for a in client.list_artifacts(scores["run_id"], "scorecard")}
    assert logged == {f"scorecard/{f}" for f in ("binning_tables.csv", "points_table.csv", "selection.json")}
    selection = mlflow.artifacts.load_dict(f"runs:/{scores['run_id']}/scorecard/selection.json")
    assert selection["kept"] == run.data.tags["scorecard_characteristics"].split(",")
    assert all(selection["iv"][n] >= 0.02 for n in selection["kept"])


def test_portable_scorecard_matches_spark_and_its_points_add_up_to_the_score(trained, scoring_rows):
    import mlflow.spark

    _, result = trained
    run = result["models"]["scorecard"]
    model = mlflow.spark.load_model(f"runs:/{run['run_id']}/model")
    calibration = run_calibration(run["run_id"])
    spark_pd = (
        pd_column(model.transform(scoring_rows), 1.0, calibration=calibration)
        .select(features.KEY, "pd", "pd_uncalibrated")
        .toPandas()
    )
    portable = PortableModel(mlflow.artifacts.load_dict(f"runs:/{run['run_id']}/{PORTABLE_ARTIFACT}"))
    assert portable.model_kind == "scorecard"
    frame = scoring_rows.toPandas().set_index(features.KEY).loc[spark_pd[features.KEY]].reset_index()
    ours = portable.predict_pd(frame)
    assert spark_pd["pd"].std() > 0.01
    assert np.abs(ours - spark_pd["pd"].to_numpy()).max() <= 1e-6

    points = points_table(portable.document)
    x = portable.features(frame)
    # the points are the scorecard's own scale: the log-odds of its regression, before the calibration map
    uncalibrated = spark_pd["pd_uncalibrated"].to_numpy()
    assert points.points(x).sum(axis=1) == pytest.approx(score_points(uncalibrated), abs=1e-5)
    scorer = Scorer(portable, threshold=0.5)
    answers = scorer.score(frame.head(200))
    for answer, row in zip(answers, points.points(x[:200]), strict=True):
        shortfalls = [r["points_below_max"] for r in answer["reason_codes"]]
        assert shortfalls == sorted(shortfalls, reverse=True) and all(s > 0 for s in shortfalls)
        worst = float(np.max(points.best - row))
        if worst > 1e-9:
            assert shortfalls[0] == pytest.approx(worst, abs=1e-3)
        for r in answer["reason_codes"]:
            assert 0 <= r["pd_added"] < answer["pd"]
