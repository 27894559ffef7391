"""The delta-spark lake: Unity Catalog tables on Databricks, folders under the lake root elsewhere."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession

from credit_risk.lake.base import Lake, LakeError, Meta, name_of, root_cause
from credit_risk.runtime.context import on_databricks
from credit_risk.runtime.failpoints import failpoint


class DeltaSparkLake(Lake):
    """delta-spark: Unity Catalog names on Databricks, folders under the lake root elsewhere.

    Every operation is Delta's own SQL or DataFrame writer (MERGE INTO, VERSION / TIMESTAMP AS OF, DESCRIBE
    HISTORY, RESTORE), so it works the same in a classic session and over Spark Connect. A write's data files
    and its commit are written by one JVM call: the failpoints are after the commit (`write:committed:<t>`,
    `merge:committed:<t>`); the steps inside a commit are delta-spark's, where a crash leaves files no commit
    names, which no reader sees.
    """

    _USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"

    def __init__(self, spark: SparkSession, root: str | Path, catalog: str, schema_prefix: str = "") -> None:
        super().__init__(spark, root, catalog, schema_prefix)
        self.by_name = on_databricks()

    def _ref(self, name: str) -> str:
        if self.by_name:
            return ".".join(f"`{part}`" for part in str(self.name(name)).split("."))
        return "delta.`{}`".format(str(self.path(name)).replace("`", "``"))

    def _sql(self, query: str, meta: dict[str, Any] | None = None) -> list[Row]:
        """Run a Delta statement; with `meta`, its commit carries it as userMetadata."""
        if meta is not None:
            self.spark.conf.set(self._USER_METADATA, json.dumps(meta))
        try:
            return self.spark.sql(query).collect()
        finally:
            if meta is not None:
                self.spark.conf.unset(self._USER_METADATA)

    def exists(self, name: str) -> bool:
        if self.by_name:
            return self.spark.catalog.tableExists(str(self.name(name)))
        log_dir = self.path(name) / "_delta_log"
        return log_dir.is_dir() and any(p.name[:20].isdigit() for p in log_dir.iterdir())

    def _require(self, name: str) -> None:
        if not self.exists(name):
            where = "" if self.by_name else f" (no Delta log at {self.path(name)})"
            raise LakeError(f"table {self.name(name)} does not exist{where}")

    def drop(self, name: str) -> None:
        if self.by_name:
            self.spark.sql(f"DROP TABLE IF EXISTS {self._ref(name)}")
        else:
            shutil.rmtree(self.path(name), ignore_errors=True)

    def version(self, name: str) -> int:
        self._require(name)
        return int(self._sql(f"DESCRIBE HISTORY {self._ref(name)} LIMIT 1")[0]["version"])

    def _check_same_schema(self, name: str, df: DataFrame) -> None:
        """As delta-rs: an append or merge source has the table's columns and types (Delta would add or null them)."""
        have = {
            f.name: f.dataType.simpleString()
            for f in self.spark.sql(f"SELECT * FROM {self._ref(name)}").schema
        }
        new = {f.name: f.dataType.simpleString() for f in df.schema}
        if have != new:
            diff = sorted(set(have.items()) ^ set(new.items()))
            raise LakeError(f"append to {self.name(name)}: schema differs from the table's: {diff}")

    def _write(self, df: DataFrame, name: str, mode: str, partition_by: list[str] | None, meta: Meta) -> int:
        exists = self.exists(name)
        if mode == "append" and exists:
            self._check_same_schema(name, df)
        if partition_by and (
            mode == "overwrite" or not exists
        ):  # partition columns last, as delta-rs lays them out
            df = df.select(*[c for c in df.columns if c not in partition_by], *partition_by)
        writer = df.write.format("delta").mode(mode).option("userMetadata", json.dumps(meta))
        if mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        if partition_by and (mode == "overwrite" or not exists):  # an append keeps the table's partitioning
            writer = writer.partitionBy(*partition_by)
        try:
            if self.by_name:
                t = self.name(name)
                self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{t.catalog}`.`{t.schema}`")
                writer.saveAsTable(str(t))
            else:
                writer.save(str(self.path(name)))
        except Exception as exc:  # disk full, no permission, lake root not a folder: Delta committed nothing
            if isinstance(exc, LakeError):
                raise
            raise LakeError(
                f"{self.name(name)}: cannot write ({root_cause(exc)}); nothing was committed"
            ) from exc
        failpoint(f"write:committed:{name_of(self.path(name))}")
        return self.version(name)

    def merge(self, df: DataFrame, name: str, keys: list[str], metadata: dict[str, Any] | None = None) -> int:
        self._check_keys(df, keys, str(self.name(name)))
        if not self.exists(name):
            return self.write(df, name, metadata={**(metadata or {}), "merge_keys": keys})
        self._check_same_schema(name, df)
        meta = self._metadata("MERGE", {**(metadata or {}), "merge_keys": keys})
        view = f"merge_source_{uuid.uuid4().hex}"
        df.createOrReplaceTempView(view)
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        try:
            self._sql(
                f"MERGE INTO {self._ref(name)} AS t USING `{view}` AS s ON {condition} "
                "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
                meta,
            )
        finally:
            self.spark.catalog.dropTempView(view)
        failpoint(f"merge:committed:{name_of(self.path(name))}")
        return self.version(name)

    def read(
        self, name: str, version: int | None = None, timestamp: datetime | str | None = None
    ) -> DataFrame:
        self._require(name)
        if version is not None and timestamp is not None:
            raise LakeError(f"read {self.name(name)}: give a version or a timestamp, not both")
        query = f"SELECT * FROM {self._ref(name)}"
        if version is not None:
            latest = self.version(name)
            if not 0 <= int(version) <= latest:
                raise LakeError(
                    f"table {self.name(name)} version {version}: no such version (latest {latest})"
                )
            query += f" VERSION AS OF {int(version)}"
        if timestamp is not None:
            ts = timestamp.isoformat(sep=" ") if isinstance(timestamp, datetime) else str(timestamp)
            query += " TIMESTAMP AS OF '{}'".format(ts.replace("'", ""))
        try:
            df = self.spark.sql(query)
            df.schema  # noqa: B018 - resolves the snapshot now (Spark Connect analyses lazily)
        except Exception as exc:
            at = (
                f"version {version}"
                if version is not None
                else f"at {timestamp}"
                if timestamp is not None
                else "latest"
            )
            raise LakeError(
                f"table {self.name(name)} has no readable snapshot {at}: {root_cause(exc)}"
            ) from exc
        return df

    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        self._require(name)
        rows = self._sql(f"DESCRIBE HISTORY {self._ref(name)}" + (f" LIMIT {int(limit)}" if limit else ""))
        out = []
        for r in rows:
            meta = json.loads(r["userMetadata"] or "{}")
            out.append(
                {
                    "version": r["version"],
                    "timestamp": r["timestamp"],
                    "operation": meta.get("operation", r["operation"]),
                    "delta_operation": r["operation"],
                    "metadata": meta,
                }
            )
        return out

    def restore(self, name: str, version: int) -> int:
        self._require(name)
        meta = self._metadata("RESTORE", {"restored_version": version})
        try:
            self._sql(f"RESTORE TABLE {self._ref(name)} TO VERSION AS OF {int(version)}", meta)
        except Exception as exc:
            raise LakeError(f"restore {self.name(name)} to version {version}: {root_cause(exc)}") from exc
        return self.version(name)
