"""Data contracts: Great Expectations suites for bronze, silver and gold, run on Spark DataFrames.

`validate_contracts` runs every suite on the pinned table versions of this job run and raises
`ContractError` naming each failed expectation, its column and the offending counts, so the task fails
before split or training read anything. Data docs (HTML) are written under `<home>/gx/`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import great_expectations as gx
from great_expectations.checkpoint.actions import UpdateDataDocsAction
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.core.expect_column_mean_to_be_between import ExpectColumnMeanToBeBetween
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import ExpectColumnValuesToBeInSet
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
    ExpectColumnValuesToNotBeNull,
)
from great_expectations.expectations.core.expect_table_columns_to_match_set import (
    ExpectTableColumnsToMatchSet,
)
from great_expectations.expectations.expectation import Expectation
from pyspark.sql import DataFrame

from credit_risk import features
from credit_risk.pipeline._upstream import upstream_version
from credit_risk.pipeline.silver import KNOWN_STATUSES
from credit_risk.raw_schema import KAGGLE
from credit_risk.runtime.errors import pipeline_task
from credit_risk.tables import BRONZE_LOANS, GOLD_FEATURES, SILVER_LOANS

if TYPE_CHECKING:
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.data_context.data_context.file_data_context import FileDataContext

    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

log = logging.getLogger(__name__)

BRONZE_METADATA = ["_rescued", "line_number", "source_file", "source_sha256", "batch_id", "ingested_at"]
GOLD_COLUMNS = [features.KEY, *features.VINTAGE, features.TARGET, *features.FEATURES, *features.TEXT]
# Bureau attributes LendingClub reports from 2012 on: almost always present from 2013.
ERA_FIELDS = ["tot_cur_bal", "total_rev_hi_lim", "mo_sin_old_rev_tl_op"]


class ContractError(RuntimeError):
    """A table broke its contract; the message lists every failed expectation."""


def bronze_suite() -> list[Expectation]:
    return [
        ExpectTableColumnsToMatchSet(column_set=[*KAGGLE, *BRONZE_METADATA], exact_match=True),
        ExpectColumnValuesToNotBeNull(column="source_sha256"),
        ExpectColumnValuesToNotBeNull(column="line_number"),
        ExpectColumnValuesToNotBeNull(column="loan_amnt", mostly=0.99),
    ]


def loan_terms() -> list[Expectation]:
    """What silver and gold share: a unique loan id, loan terms in range and a plausible default rate."""
    return [
        ExpectColumnValuesToBeUnique(column=features.KEY),
        ExpectColumnValuesToBeBetween(column="int_rate", min_value=5, max_value=31),
        ExpectColumnValuesToBeBetween(column="dti", min_value=0, max_value=100),
        ExpectColumnValuesToBeBetween(column="loan_amnt", min_value=500, max_value=40000),
        # Share of defaults among finished loans (the mean ignores loans without a final outcome).
        ExpectColumnMeanToBeBetween(column=features.TARGET, min_value=0.05, max_value=0.45),
    ]


def silver_suite() -> list[Expectation]:
    suite = [
        *loan_terms(),
        ExpectColumnValuesToBeBetween(column="revol_util", min_value=0, max_value=200),
        ExpectColumnValuesToBeBetween(column="emp_length_years", min_value=0, max_value=10),
        ExpectColumnValuesToBeInSet(column="term_months", value_set=[36, 60]),
        ExpectColumnValuesToBeInSet(column="loan_status", value_set=sorted(KNOWN_STATUSES)),
        ExpectColumnValuesToBeInSet(column=features.TARGET, value_set=[0, 1]),
    ]
    suite += [
        ExpectColumnValuesToNotBeNull(
            column=c, mostly=0.9, row_condition="issue_year >= 2013", condition_parser="spark"
        )
        for c in ERA_FIELDS
    ]
    return suite


def gold_suite() -> list[Expectation]:
    return [
        ExpectTableColumnsToMatchSet(column_set=GOLD_COLUMNS, exact_match=True),
        *loan_terms(),
        ExpectColumnValuesToNotBeNull(column="issue_date"),
        ExpectColumnValuesToBeBetween(column="loan_to_income", min_value=0, max_value=10),
        ExpectColumnValuesToBeBetween(column="credit_age_months", min_value=0, max_value=1000),
    ]


SUITES = {"bronze": bronze_suite, "silver": silver_suite, "gold": gold_suite}


def _context(root: str) -> FileDataContext:
    context = gx.get_context(mode="file", project_root_dir=root)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(df: DataFrame, layer: str, root: str) -> CheckpointResult:
    """Run the layer's suite on `df` through GX's Spark datasource; returns the checkpoint result."""
    context = _context(root)
    # GX would cache the whole frame (all 157 bronze columns) for the suite; its metrics are column-pruned
    # scans of a Delta table, so reading them is cheaper than building that cache (bench/RESULTS.md).
    source = context.data_sources.add_or_update_spark(name="lakehouse", persist=False)
    asset = next((a for a in source.assets if a.name == layer), None) or source.add_dataframe_asset(
        name=layer
    )
    batch = next(
        (b for b in asset.batch_definitions if b.name == "whole"), None
    ) or asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=f"{layer}_contract", expectations=SUITES[layer]())
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{layer}_contract", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{layer}_contract",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs")],
        )
    )
    return checkpoint.run(batch_parameters={"dataframe": df})


def failures(result: CheckpointResult) -> list[str]:
    """One line per failed expectation: type, column, offending counts or observed value."""
    lines = []
    for run in result.run_results.values():
        for r in run.results:
            if r.success:
                continue
            cfg = r.expectation_config
            kind, given = (cfg.type, cfg.kwargs) if cfg else ("expectation", {})
            kwargs = {k: v for k, v in given.items() if k not in ("batch_id", "column_set", "value_set")}
            info = r.result or {}
            detail = (
                f"{info.get('unexpected_count')} of {info.get('element_count')} rows"
                if info.get("unexpected_count") is not None
                else f"observed {info.get('observed_value')!r}"
            )
            if r.exception_info and r.exception_info.get("raised_exception"):
                detail = f"error: {r.exception_info.get('exception_message')}"
            lines.append(f"{kind} {kwargs}: {detail}")
    return lines


def validate_contracts(tables: dict[str, DataFrame], root: str) -> dict[str, Any]:
    """Validate each layer's DataFrame; raise ContractError listing every failure; return the docs path."""
    problems = {}
    context = None
    for layer, df in tables.items():
        result = validate(df, layer, root)
        if not result.success:
            problems[layer] = failures(result)
        context = context or _context(root)
    docs = context.get_docs_sites_urls()[0]["site_url"] if context else None
    log.info("data docs: %s", docs)
    if problems:
        lines = [f"{layer}: {p}" for layer, items in problems.items() for p in items]
        raise ContractError("contracts failed (data docs: " + str(docs) + "):\n  " + "\n  ".join(lines))
    return {"layers": list(tables), "data_docs": docs}


@pipeline_task("validate_contracts")
def run_contracts(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `validate_contracts`: the bronze, silver and gold versions of this run, or the latest."""
    from credit_risk.lake import get_lake

    lake = get_lake(cfg)
    layers = (
        ("bronze", "bronze_ingest", BRONZE_LOANS),
        ("silver", "silver_clean", SILVER_LOANS),
        ("gold", "gold_features", GOLD_FEATURES),
    )
    versions = {
        layer: upstream_version(dbutils, lake, table, task, f"{layer}_version")
        for layer, task, table in layers
    }
    tables = {layer: lake.read(table, version=versions[layer]) for layer, _, table in layers}
    result = validate_contracts(tables, str(cfg.home / "gx"))
    print(f"contracts passed on versions {versions}; data docs: {result['data_docs']}")
    dbutils.jobs.taskValues.set(key="contracts_passed", value=True)
    return {**result, "versions": versions}
