"""Reference models on the real 2007-2009 LendingClub cohort, against the pipeline's own models.

The cohort (../shared/data/lendingclub/kuhnrl30__LendingClubData_2007_2009.csv.gz, 8,277 loans, every loan
LendingClub issued in those years) goes through the project's bronze -> silver -> gold code into a temp lake
(never into the repo); each design rebuilds gold with its own training years (winsor bounds, top titles). Designs:
  A: train 2007-2008, test 2009 (no validation year);
  B: train 2007, validate 2008, test 2009 (the README's real-data split, the cohort job's).
Models, all on the same origination features (what `screen` keeps of features.FEATURES in training):
  LightGBM (fixed, small: 300 trees of 15 leaves, rate 0.03), sklearn logistic regression (median-imputed,
  standardised numbers, one-hot categories, C=0.1), sub_grade alone (its training default rate, the overall
  rate for a sub_grade unseen in training), and the pipeline's four models fitted by `fit_model` with the bundle's
  default hyper-parameters. The champion is the pipeline's: in B `train_all` (MLflow runs in a temp store) picks
  the best validation AUC; A has no validation year, so its champion is B's model type refitted on 2007-2008.
Prints test AUC, KS and Brier per model. With --segments it instead runs the segment k search (2..6, the
default restarts) on A's training loans with three seeds and prints each method's k and scores.
Usage: python bench/reference.py [--segments]
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
COHORT = ROOT.parent / "shared" / "data" / "lendingclub" / "kuhnrl30__LendingClubData_2007_2009.csv.gz"
DESIGNS = {
    "A: train 2007-2008, test 2009": (2008, None),
    "B: train 2007, valid 2008, test 2009": (2007, 2008),
}
TEST_YEAR = 2009


def cohort_gold(spark, tmp: Path, train_end_year: int):
    """Gold features of the cohort through the project's ETL, training statistics from <= train_end_year."""
    from credit_risk.lake import DeltaRsLake
    from credit_risk.pipeline.bronze import ingest_files
    from credit_risk.pipeline.gold import build_features, top_titles
    from credit_risk.pipeline.silver import build_silver
    from credit_risk.pipeline.split import modelling_population
    from credit_risk.tables import BRONZE_LOANS, GOLD_FEATURES

    lake = DeltaRsLake(spark, tmp / f"lake{train_end_year}", "ref")
    ingest_files(spark, lake, [COHORT], tmp / f"staging{train_end_year}")
    silver, _, _ = build_silver(lake.read(BRONZE_LOANS), train_end_year)
    lake.write(build_features(silver, top_titles(silver, train_end_year)).orderBy("loan_id"), GOLD_FEATURES)
    return modelling_population(lake.read(GOLD_FEATURES)).cache()


def sklearn_frames(train: pd.DataFrame, other: pd.DataFrame, selected):
    """(X_train, X_other) for LightGBM: numbers and flags as they are, categories as pandas categories."""
    cols = selected.used
    a, b = train[cols].copy(), other[cols].copy()
    for c in selected.categorical:
        kinds = pd.CategoricalDtype(sorted(a[c].dropna().unique()))
        a[c], b[c] = a[c].astype(kinds), b[c].astype(kinds)
    for c in [*selected.numeric, *selected.flags]:
        a[c], b[c] = a[c].astype(float), b[c].astype(float)
    return a, b


def lightgbm_pd(train: pd.DataFrame, test: pd.DataFrame, selected, target: str, seed: int) -> np.ndarray:
    import lightgbm as lgb

    x, xt = sklearn_frames(train, test, selected)
    model = lgb.LGBMClassifier(
        n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=50,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed, verbose=-1,
    )  # fmt: skip
    return model.fit(x, train[target]).predict_proba(xt)[:, 1]


def logistic_pd(train: pd.DataFrame, test: pd.DataFrame, selected, target: str) -> np.ndarray:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = [*selected.numeric, *selected.flags]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), selected.categorical),
        ]
    )
    x, xt = train[selected.used].copy(), test[selected.used].copy()
    for frame in (x, xt):
        frame[numbers] = frame[numbers].astype(float)
        frame[selected.categorical] = frame[selected.categorical].fillna("missing").astype(str)
    model = make_pipeline(prep, LogisticRegression(C=0.1, max_iter=2000))
    return model.fit(x, train[target]).predict_proba(xt)[:, 1]


def sub_grade_pd(train: pd.DataFrame, test: pd.DataFrame, target: str) -> np.ndarray:
    rates = train.groupby("sub_grade")[target].mean()
    return test["sub_grade"].map(rates).fillna(train[target].mean()).to_numpy(float)


def run_design(spark, tmp: Path, name: str, train_end: int, valid_year: int | None, champion: str | None):
    """Rows (model, AUC, KS, Brier, note) on the test year, and the pipeline's champion model type."""
    from credit_risk import features, metrics
    from credit_risk.feature_screen import screen
    from credit_risk.pipeline.train_supervised import MODELS, fit_model, pd_column, train_all
    from credit_risk.runtime.config import load_config
    from credit_risk.runtime.tracking import configure_mlflow

    gold = cohort_gold(spark, tmp, train_end)
    train = gold.where(f"issue_year <= {train_end}").cache()
    test = gold.where(f"issue_year = {TEST_YEAR}").cache()
    selected = screen(train)
    cols = [features.KEY, features.TARGET, *selected.used]
    tr, te = train.select(*cols).toPandas(), test.select(*cols).toPandas()
    y = te[features.TARGET].to_numpy(float)

    def pipeline_pd(model, factor: float) -> np.ndarray:  # by loan id, in the pandas frame's order
        scored = pd_column(model.transform(test), factor).select(features.KEY, "pd").toPandas()
        return (
            te[[features.KEY]]
            .merge(scored, on=features.KEY, how="left", validate="1:1")["pd"]
            .to_numpy(float)
        )

    print(
        f"{name}: {len(tr):,} training loans, {len(te):,} test loans; {len(selected.used)} features",
        flush=True,
    )
    scores: dict[str, np.ndarray] = {
        "LightGBM": lightgbm_pd(tr, te, selected, features.TARGET, seed=42),
        "logistic regression (sklearn)": logistic_pd(tr, te, selected, features.TARGET),
        "sub_grade alone": sub_grade_pd(tr, te, features.TARGET),
    }
    notes = {k: "reference" for k in scores}
    cfg = dataclasses.replace(
        load_config(),
        experiment_name="reference",
        tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        extra={},
    )
    if valid_year is not None:
        import mlflow.spark

        configure_mlflow(cfg)
        valid = gold.where(f"issue_year = {valid_year}")
        lineage = {"git_sha": "bench", "gold_version": 0, "splits_version": 0, "dataset": None}
        result = train_all(train, valid, cfg, lineage)
        champion = result["best_model"]
        for m, r in result["models"].items():
            model = mlflow.spark.load_model(f"runs:/{r['run_id']}/model")
            scores[f"pipeline {m}"] = pipeline_pd(model, r["odds_factor"])
            notes[f"pipeline {m}"] = f"valid AUC {r['val_auc']:.4f}" + (
                " (champion)" if m == champion else ""
            )
    else:
        for m in MODELS:
            model, factor, _ = fit_model(m, train, {}, cfg.seed, selected=selected)
            scores[f"pipeline {m}"] = pipeline_pd(model, factor)
            notes[f"pipeline {m}"] = "champion (B's model type)" if m == champion else ""
    rows = [
        (m, metrics.auc(y, p), metrics.ks(y, p), metrics.brier(y, p), notes[m]) for m, p in scores.items()
    ]
    return rows, champion, float(y.mean())


def segments_on_cohort(spark, tmp: Path, seeds: tuple[int, ...] = (1, 2, 3)) -> None:
    """The segment k search on design A's training loans, per seed: k, scores and default rates by segment."""
    from credit_risk.pipeline.segments import build_segments

    train = cohort_gold(spark, tmp, 2008).where("issue_year <= 2008").cache()
    n = train.count()
    print(f"{n:,} training loans (2007-2008)", flush=True)
    for seed in seeds:
        built = build_segments(train, seed=seed)
        for method, b in built.items():
            rates = [round(r["default_rate"], 3) for r in b["profile"].orderBy("segment").collect()]
            if method == "gmm":
                shown = {k: round(v / n, 3) for k, v in b["scores"].items()}  # BIC per loan
            else:
                shown = {k: round(v, 4) for k, v in b["scores"].items()}  # silhouette
            inputs = ",".join(b["features"].numeric)
            print(f"seed {seed} {method} ({inputs}): k={b['k']} {shown} rates {rates}", flush=True)


def main() -> int:
    if not COHORT.is_file():
        print(
            f"skipped: the real 2007-2009 cohort is not at {COHORT} (it lives beside the checkout in ../shared)"
        )
        return 0
    from credit_risk.runtime.spark import get_spark

    spark = get_spark()
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    if "--segments" in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            segments_on_cohort(spark, Path(tmp))
        return 0
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        b_rows, champion, b_rate = run_design(spark, Path(tmp) / "b", *_args("B"), None)
        a_rows, _, a_rate = run_design(spark, Path(tmp) / "a", *_args("A"), champion)
    for (name, _), rows, rate in zip(DESIGNS.items(), (a_rows, b_rows), (a_rate, b_rate), strict=True):
        out.append(f"\n{name} (test default rate {rate:.3f})\n")
        out.append("| model | test AUC | KS | Brier | note |\n|---|---:|---:|---:|---|")
        out += [f"| {m} | {auc:.4f} | {ks:.4f} | {brier:.4f} | {note} |" for m, auc, ks, brier, note in rows]
    print("\n".join(out))
    return 0


def _args(design: str) -> tuple[str, int, int | None]:
    name = next(n for n in DESIGNS if n.startswith(design))
    return (name, *DESIGNS[name])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
