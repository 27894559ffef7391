"""Shared fixtures: one Spark session, a lake under a temp folder, an MLflow sqlite store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SERVING_MODEL = "serving_test_pd"  # registered by the serving_registry fixture
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lendingclub"
# Model settings of the shared trained models (5,000 loans): larger than tests/small_models.env, because the
# model, export and API tests hold these models to AUC floors. An MLP of 8 hidden units and 50 iterations clears
# its floor whatever the seed; a larger one depends on its initial weights there (bench/RESULTS.md).
SHARED_MODELS = {"rf_num_trees": "20", "gbt_max_iter": "15", "mlp_max_iter": "50", "mlp_hidden": "8"}


@pytest.fixture(scope="session", autouse=True)
def project_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test writes its lake, MLflow store and run folders under one temp project home."""
    home = tmp_path_factory.mktemp("home")
    os.environ["CREDIT_RISK_HOME"] = str(home)
    os.environ.setdefault("CREDIT_RISK_DRIVER_MEMORY", "3g")
    return home


@pytest.fixture(scope="session")
def spark(project_home: Path):
    """The package's own session, as every task gets it (few partitions for tiny test data)."""
    from credit_risk.runtime.spark import get_spark

    session = get_spark()
    session.conf.set("spark.sql.shuffle.partitions", "2")
    return session


@pytest.fixture()
def lake(spark, tmp_path: Path):
    """A lake of the active Delta mode under a fresh temp root (on the fixture's session)."""
    from credit_risk.lake import open_lake

    return open_lake(tmp_path / "lake", catalog="test", schema_prefix="")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real LendingClub extracts; tests that need them skip where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real LendingClub extracts not found at {SHARED_DATA} (they live beside the checkout in ../shared)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def gold(spark, tmp_path_factory):
    """Gold features of 5,000 generated loans, through the real bronze -> silver -> gold code."""
    from credit_risk.lake import DeltaRsLake
    from credit_risk.pipeline.bronze import ingest_files
    from credit_risk.pipeline.gold import build_features, top_titles
    from credit_risk.pipeline.silver import build_silver
    from credit_risk.runtime.config import load_config
    from credit_risk.synthetic.generate import generate_exports
    from credit_risk.tables import BRONZE_LOANS, GOLD_FEATURES

    tmp = tmp_path_factory.mktemp("models")
    lake = DeltaRsLake(spark, tmp / "lake", "m")
    ingest_files(spark, lake, generate_exports(tmp / "raw", 5000, 3, progress=False), tmp / "staging")
    train_end = load_config().train_end_year
    # the final-status flag: of 5,000 loans it labels more (young vintages too) with more defaults, which the
    # model-mechanics tests' AUC floors need; the default target is tested in test_silver and by the job tests
    silver, _, _ = build_silver(lake.read(BRONZE_LOANS), train_end, target_definition="final_status")
    # One partition in loan order: the shuffles upstream deliver rows in an order that varies from run to run,
    # and a seeded MLlib fit depends on it; sorted, the models trained on this fixture are the same every run.
    features = build_features(silver, top_titles(silver, train_end)).orderBy("loan_id").coalesce(1)
    # Read back from its table, as the training task reads it: a DataFrame carrying the whole bronze -> gold plan
    # costs Spark seconds of planning for every query derived from it.
    lake.write(features, GOLD_FEATURES)
    return lake.read(GOLD_FEATURES).cache()


@pytest.fixture(scope="session")
def _trained_once(gold, tmp_path_factory):
    """The five models trained once (stratified split) in a sqlite MLflow store: shared by model, export and API tests."""
    import dataclasses

    from credit_risk.pipeline.split import make_splits
    from credit_risk.pipeline.train_supervised import train_all
    from credit_risk.runtime.config import load_config

    cfg = dataclasses.replace(
        load_config(),
        experiment_name="models-test",
        tracking_uri=f"sqlite:///{tmp_path_factory.mktemp('mlf') / 'mlflow.db'}",
        extra=dict(SHARED_MODELS),
        refit=False,  # the refit is the job's (tests/reliability/test_real_data_job.py checks the cohort's)
        selection_folds=1,  # one fit per model: the time-ordered folds are tests/test_selection.py's
    )
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(cfg)
    splits = make_splits(gold, dataclasses.replace(cfg, split_kind="stratified")).cache()
    lineage = {"git_sha": "test", "gold_version": 0, "splits_version": 0, "dataset": None}
    result = train_all(splits.where("split = 'train'"), splits.where("split = 'valid'"), cfg, lineage)
    return cfg, result


@pytest.fixture()
def trained(_trained_once):
    """The shared trained models, with MLflow pointed back at their store (other tests point it elsewhere)."""
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(_trained_once[0])
    return _trained_once


@pytest.fixture(scope="session")
def _serving_registry_once(_trained_once, gold):
    """The shared trained models' store: LR registered as champion, GBT as a second version (both as `register`
    registers them: pyfunc versions over the portable export), KMeans segments."""
    import dataclasses

    import mlflow
    from mlflow import MlflowClient

    from credit_risk.model.export import export_pipeline
    from credit_risk.model.portable import PORTABLE_ARTIFACT
    from credit_risk.pipeline.register import CHAMPION, register_pyfunc
    from credit_risk.pipeline.segments import build_segments
    from credit_risk.pipeline.split import make_splits
    from credit_risk.runtime.config import load_config
    from credit_risk.runtime.tracking import configure_mlflow

    cfg, result = _trained_once
    cfg = dataclasses.replace(cfg, model_name=SERVING_MODEL)
    configure_mlflow(cfg)
    train = make_splits(gold, load_config()).where("split = 'train'")
    segments = build_segments(train, seed=1, ks=range(3, 4), restarts=1)["kmeans"]
    with (
        mlflow.start_run(run_name="train_segments"),
        mlflow.start_run(run_name="kmeans", nested=True, tags={"model_type": "segments_kmeans"}),
    ):
        mlflow.log_dict(
            export_pipeline(segments["model"], 1.0, segment_of_cluster=segments["order"]), PORTABLE_ARTIFACT
        )
    client = MlflowClient()
    versions = {}
    for name in (
        "logistic_regression",
        "gbt",
    ):  # as `register` makes versions: the JVM-free pyfunc of each run
        versions[name] = register_pyfunc(
            SERVING_MODEL, result["models"][name]["run_id"], cfg.decision_threshold
        )
    client.set_registered_model_alias(SERVING_MODEL, CHAMPION, versions["logistic_regression"])
    yield {"cfg": cfg, "versions": versions}
    mlflow.end_run()


@pytest.fixture()
def serving_registry(_serving_registry_once):
    """The shared serving registry, with MLflow pointed back at its store (other tests point it elsewhere)."""
    from credit_risk.runtime.tracking import configure_mlflow

    configure_mlflow(_serving_registry_once["cfg"])
    return _serving_registry_once


@pytest.fixture(scope="session")
def scoring_rows(gold):
    """10,000 parity rows: every gold loan as it is, and again with unseen categories and missing numbers mixed in."""
    from pyspark.sql import functions as F

    from credit_risk import features

    base = gold.select(features.KEY, *features.FEATURES)
    odd = base
    for i, c in enumerate(features.CATEGORICAL):
        odd = odd.withColumn(
            c,
            F.when(F.rand(i) < 0.2, F.lit("never seen"))
            .when(F.rand(100 + i) < 0.1, None)
            .otherwise(F.col(c)),
        )
    for i, c in enumerate(features.NUMERIC):
        odd = odd.withColumn(c, F.when(F.rand(200 + i) < 0.1, None).otherwise(F.col(c)))
    rows = base.unionByName(odd.withColumn(features.KEY, F.concat(F.col(features.KEY), F.lit("-odd"))))
    return rows.limit(10_000).cache()
