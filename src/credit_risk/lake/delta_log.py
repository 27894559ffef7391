"""The delta-rs side of a commit of Parquet files Spark wrote: their Arrow schema, add actions and commit properties.

The delta-rs lake builds each transaction from these: Spark never collects rows to the driver, so the schema
comes from an empty Arrow batch and the row counts from the Parquet footers. deltalake is imported where it is
used: the job's wheel does not bring it to Databricks, where the lake is delta-spark.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pyspark.sql import DataFrame

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction, CommitProperties

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def arrow_schema(df: DataFrame, partition_by: list[str] | None = None) -> pa.Schema:
    """The table schema without collecting rows; all nullable, partition columns last (as Spark stores them)."""
    import pyarrow as pa

    schema: pa.Schema = df.limit(0).toArrow().schema
    order = [f for f in schema if f.name not in (partition_by or [])]
    order += [schema.field(c) for c in partition_by or []]
    return pa.schema([f.with_nullable(True) for f in order])


def add_actions(root: Path, files: list[Path]) -> list[AddAction]:
    """Add actions for Parquet files under a table folder, partition values read from their Hive-style folders."""
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    actions = []
    for f in files:
        rel = f.relative_to(root)
        parts: dict[str, str | None] = {}
        for folder in rel.parts[:-1]:
            key, _, value = folder.partition("=")
            parts[unquote(key)] = None if value == HIVE_NULL else unquote(value)
        stat = f.stat()
        rows: int = pq.read_metadata(f).num_rows
        actions.append(
            AddAction(
                rel.as_posix(),
                stat.st_size,
                parts,
                int(stat.st_mtime * 1000),
                True,
                json.dumps({"numRecords": rows}),
            )
        )
    return actions


def snapshot_add_actions(table: DeltaTable) -> list[dict[str, Any]]:
    """The add actions of a delta-rs snapshot as dicts (path, size_bytes, partition, stats)."""
    import pyarrow as pa

    actions: list[dict[str, Any]] = pa.table(table.get_add_actions(flatten=False)).to_pylist()
    return actions


def commit_properties(meta: dict[str, Any]) -> CommitProperties:
    """Our commit metadata as the commit's `userMetadata` (as delta-spark writes it) and one key per field."""
    from deltalake.transaction import CommitProperties

    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
    return CommitProperties(
        custom_metadata={
            "userMetadata": json.dumps(meta),
            **{f"credit_risk.{k}": v for k, v in flat.items()},
        }
    )


def newest_commit(path: Path) -> int | None:
    """The highest commit number in a table's _delta_log (None without commits)."""
    numbers = [int(p.stem) for p in (path / "_delta_log").glob("*.json") if p.stem.isdigit()]
    return max(numbers) if numbers else None


def local_path(uri: str) -> str:
    """`file:///a/b`, `file:/a/b` and `/a/b` compare equal."""
    path = uri.removeprefix("file://").removeprefix("file:")
    return os.path.normpath(unquote(path))
