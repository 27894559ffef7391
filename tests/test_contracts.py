"""Great Expectations contracts pass on clean layers and stop the step on corrupted data."""

from __future__ import annotations

import pytest
from etl_helpers import bronze_frame
from pyspark.sql import functions as F

from credit_risk.pipeline.contracts import ContractError, validate_contracts
from credit_risk.pipeline.gold import build_features
from credit_risk.pipeline.silver import build_silver


@pytest.fixture(scope="module")
def layers(spark):
    rows = [
        {
            "loan_status": "Charged Off" if i % 5 == 0 else "Fully Paid",
            "issue_d": f"Jan-{2013 + i % 5}",
            "int_rate": str(6 + i % 20),
            # charged off 22 months after issue: a default within the 24-month performance window
            **({"last_pymnt_d": f"Jun-{2014 + i % 5}"} if i % 5 == 0 else {}),
        }
        for i in range(40)
    ]
    bronze = bronze_frame(spark, rows).withColumn("_rescued", F.lit(None).cast("string"))
    silver, _, _ = build_silver(bronze, 2017)
    # Materialized, as the task reads them from their tables: each expectation is a Spark query, and one over
    # the whole bronze -> gold plan costs seconds of planning.
    return {
        name: df.localCheckpoint()
        for name, df in {"bronze": bronze, "silver": silver, "gold": build_features(silver, [])}.items()
    }


def test_clean_layers_pass_and_write_data_docs(layers, tmp_path):
    result = validate_contracts(layers, str(tmp_path))
    assert result["layers"] == ["bronze", "silver", "gold"]
    assert result["data_docs"].endswith("index.html") and (tmp_path / "gx").is_dir()


def test_corrupted_data_stops_the_step_naming_expectation_and_counts(layers, tmp_path):
    silver = layers["silver"].withColumn(
        "int_rate", F.when(F.col("loan_id") == "3", 99.0).otherwise(F.col("int_rate"))
    )
    gold = layers["gold"].withColumn("recoveries", F.lit(1.0))  # a post-origination column sneaks in
    with pytest.raises(ContractError) as err:
        validate_contracts({"silver": silver, "gold": gold}, str(tmp_path))
    message = str(err.value)
    assert (
        "silver: expect_column_values_to_be_between {'column': 'int_rate'" in message
        and "1 of 40 rows" in message
    )
    assert "gold: expect_table_columns_to_match_set" in message


def test_default_rate_bounds(layers, tmp_path):
    silver = layers["silver"].withColumn("default_flag", F.lit(1))
    with pytest.raises(ContractError, match=r"expect_column_mean_to_be_between .*default_flag.*observed 1.0"):
        validate_contracts({"silver": silver}, str(tmp_path))
