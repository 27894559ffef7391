"""The delta-rs lake: plain Spark writes and reads the Parquet data files, delta-rs keeps the transaction log.

delta-rs commits the files Spark wrote and resolves a snapshot (latest, `version=` or `timestamp=`) to the file
list Spark reads, so no table is collected to the driver. deltalake is imported where it is used: the job's
wheel does not bring it to Databricks, where the lake is delta-spark.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk.lake.base import Lake, LakeError, Meta, name_of, root_cause
from credit_risk.lake.delta_log import (
    add_actions,
    arrow_schema,
    commit_properties,
    local_path,
    newest_commit,
    snapshot_add_actions,
)
from credit_risk.runtime.failpoints import failpoint

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}


class DeltaRsLake(Lake):
    """Spark writes and reads Parquet; delta-rs owns the Delta log."""

    def _table(self, name: str, version: int | None = None) -> DeltaTable:
        from deltalake import DeltaTable

        path = self.path(name)
        if not DeltaTable.is_deltatable(str(path)):
            raise LakeError(f"table {self.name(name)} does not exist (no Delta log at {path})")
        try:
            table = DeltaTable(str(path), version=version) if version is not None else DeltaTable(str(path))
        except Exception as exc:  # delta-rs raises several types; name the table and version in all cases
            newest = newest_commit(path)
            if version is None and newest is not None:
                raise LakeError(
                    f"table {self.name(name)}: version {newest} (_delta_log/{newest:020d}.json) cannot be "
                    f"read: {str(exc).splitlines()[0]}. `credit-risk lake recover {name}` sets the bad commit aside and "
                    f"brings the table back to version {newest - 1}"
                ) from exc
            raise LakeError(
                f"table {self.name(name)} version {version if version is not None else 'latest'}: {exc}"
            ) from exc
        features = set(table.protocol().reader_features or [])
        if features & _UNSUPPORTED_READER_FEATURES:
            raise LakeError(
                f"{self.name(name)} uses {features & _UNSUPPORTED_READER_FEATURES}: read it with delta-spark"
            )
        return table

    def exists(self, name: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(str(self.path(name)))

    def drop(self, name: str) -> None:
        shutil.rmtree(self.path(name), ignore_errors=True)

    def version(self, name: str) -> int:
        return self._table(name).version()

    def _stage(self, df: DataFrame, root: Path, partition_by: list[str] | None) -> list[Path]:
        """Spark writes Parquet into <table>/_staging/<id>; the files then move beside the log, Hive-style."""
        staging = root / "_staging" / uuid.uuid4().hex
        writer = df.write.mode("error")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        try:
            writer.parquet(str(staging))
        except Exception as exc:  # disk full, no permission, lake root not a folder: nothing was committed
            shutil.rmtree(staging, ignore_errors=True)
            raise LakeError(
                f"{name_of(root)}: cannot write under {root} ({root_cause(exc)}); nothing was committed"
            ) from exc
        failpoint(f"stage:written:{name_of(root)}")
        moved = []
        for src in sorted(staging.rglob("*.parquet")):
            dest = root / src.relative_to(staging)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
            moved.append(dest)
            failpoint(f"stage:moving:{name_of(root)}")
        shutil.rmtree(staging, ignore_errors=True)
        return moved

    def _create(self, df: DataFrame, root: Path, partition_by: list[str] | None, meta: dict[str, Any]) -> int:
        """First write: the Parquet files Spark wrote become version 0 (as with delta-spark)."""
        import pyarrow as pa
        from deltalake import DeltaTable, Schema, convert_to_deltalake

        if (
            root.exists()
        ):  # files of a write that crashed before its first commit: never visible, safe to drop
            shutil.rmtree(root)
        try:
            root.mkdir(parents=True)
        except OSError as exc:
            raise LakeError(
                f"{name_of(root)}: cannot create {root} ({exc.strerror or exc}); nothing was committed"
            ) from exc
        schema = arrow_schema(df, partition_by)
        files = self._stage(df, root, partition_by)
        failpoint(f"write:staged:{name_of(root)}")
        if files:
            parts = (
                Schema.from_arrow(pa.schema([schema.field(c) for c in partition_by]))
                if partition_by
                else None
            )
            convert_to_deltalake(
                str(root),
                partition_by=parts,
                partition_strategy="hive" if parts else None,
                commit_properties=commit_properties(meta),
            )
        else:
            DeltaTable.create(
                str(root), schema=schema, partition_by=partition_by, commit_properties=commit_properties(meta)
            )
        failpoint(f"write:committed:{name_of(root)}")
        return DeltaTable(str(root)).version()

    def _write(self, df: DataFrame, name: str, mode: str, partition_by: list[str] | None, meta: Meta) -> int:
        root = self.path(name)
        if not self.exists(name):
            return self._create(df, root, partition_by, meta)
        table = self._table(name)
        if mode == "append":
            partition_by = table.metadata().partition_columns
        schema = arrow_schema(df, partition_by)
        if mode == "append":
            self._check_same_schema(name, table, schema)
        files = self._stage(df, root, partition_by)
        failpoint(f"write:staged:{name_of(root)}")
        table.create_write_transaction(
            [*add_actions(root, files)],  # the transaction takes adds and removes
            mode="append" if mode == "append" else "overwrite",
            schema=schema,
            partition_by=partition_by or None,
            commit_properties=commit_properties(meta),
        )
        failpoint(f"write:committed:{name_of(root)}")
        return self._table(name).version()

    def _check_same_schema(self, name: str, table: DeltaTable, schema: pa.Schema) -> None:
        import pyarrow as pa

        have = {f.name: str(f.type).replace("large_", "") for f in pa.schema(table.schema().to_arrow())}
        new = {f.name: str(f.type).replace("large_", "") for f in schema}
        if have != new:
            diff = sorted(set(have.items()) ^ set(new.items()))
            raise LakeError(f"append to {self.name(name)}: schema differs from the table's: {diff}")

    def merge(self, df: DataFrame, name: str, keys: list[str], metadata: dict[str, Any] | None = None) -> int:
        from deltalake.transaction import RemoveAction

        self._check_keys(df, keys, str(self.name(name)))
        if not self.exists(name):
            return self.write(df, name, mode="overwrite", metadata={**(metadata or {}), "merge_keys": keys})
        table = self._table(name)
        self._check_same_schema(name, table, arrow_schema(df))
        target = self.read(name).withColumn("_file", F.input_file_name())
        touched = [
            r["_file"]
            for r in target.join(df.select(*keys), keys, "left_semi").select("_file").distinct().collect()
        ]
        kept = (
            target.where(F.col("_file").isin(touched)).join(df.select(*keys), keys, "left_anti").drop("_file")
            if touched
            else None
        )
        new_rows = df.select(*target.drop("_file").columns)
        out = new_rows.unionByName(kept) if kept is not None else new_rows
        root = self.path(name)
        files = self._stage(out, root, table.metadata().partition_columns or None)
        touched_paths = {local_path(u) for u in touched}
        now = int(time.time() * 1000)
        removes = [
            RemoveAction(
                a["path"],
                True,
                now,
                a["size_bytes"],
                {k: None if v is None else str(v) for k, v in (a.get("partition") or {}).items()},
            )
            for a in snapshot_add_actions(table)
            if local_path(str(root / unquote(a["path"]))) in touched_paths
        ]
        meta = self._metadata(
            "MERGE", {**(metadata or {}), "merge_keys": keys, "files_rewritten": len(removes)}
        )
        failpoint(f"merge:staged:{name_of(root)}")
        table.create_write_transaction(
            [*removes, *add_actions(root, files)],
            mode="append",
            schema=arrow_schema(df),
            commit_properties=commit_properties(meta),
        )
        failpoint(f"merge:committed:{name_of(root)}")
        return self._table(name).version()

    def read(
        self, name: str, version: int | None = None, timestamp: datetime | str | None = None
    ) -> DataFrame:
        import pyarrow as pa
        from pyspark.sql.pandas.types import from_arrow_schema

        table = self._table(name, version)
        if timestamp is not None:
            try:
                table.load_as_version(
                    timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(timestamp)
                )
            except Exception as exc:
                raise LakeError(f"table {self.name(name)} has no version at {timestamp}: {exc}") from exc
        schema = from_arrow_schema(pa.schema(table.schema().to_arrow()))
        uris = table.file_uris()
        if not uris:
            return self.spark.createDataFrame([], schema)
        df = self.spark.read.schema(schema).option("basePath", str(self.path(name))).parquet(*uris)
        return df.select(*schema.fieldNames())

    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        out = []
        for entry in self._table(name).history(limit):
            meta = json.loads(entry.get("userMetadata") or "{}")
            out.append(
                {
                    "version": entry["version"],
                    "timestamp": datetime.fromtimestamp(entry["timestamp"] / 1000),
                    "operation": meta.get("operation", entry.get("operation")),
                    "delta_operation": entry.get("operation"),
                    "metadata": meta,
                }
            )
        return out

    def restore(self, name: str, version: int) -> int:
        table = self._table(name)
        meta = self._metadata("RESTORE", {"restored_version": version})
        try:
            table.restore(version, commit_properties=commit_properties(meta))
        except Exception as exc:
            raise LakeError(f"restore {self.name(name)} to version {version}: {exc}") from exc
        return self._table(name).version()

    def recover(self, name: str) -> dict[str, Any]:
        """After a corrupted newest commit: move it to _delta_log/_corrupt/, so the table is at the version before.

        Only the newest commit is set aside, and only when it cannot be read while the one before it can. Data
        files are never deleted. If that earlier version is itself wrong (a bad load), `restore()` goes back
        further with a new commit.
        """
        from deltalake import DeltaTable

        path = self.path(name)
        newest = newest_commit(path)
        if newest is None:
            raise LakeError(f"table {self.name(name)} has no commits at {path}")
        try:
            DeltaTable(str(path))
            return {"table": str(self.name(name)), "recovered": False, "version": newest}
        except Exception:  # noqa: BLE001 - unreadable: recover below
            pass
        if newest == 0:
            raise LakeError(
                f"table {self.name(name)}: its only commit (version 0) is unreadable; rebuild the table"
            )
        try:
            DeltaTable(str(path), version=newest - 1)
        except Exception as exc:
            raise LakeError(
                f"table {self.name(name)}: versions {newest} and {newest - 1} are both unreadable ({exc}); "
                "restore from a backup"
            ) from exc
        bad = path / "_delta_log" / f"{newest:020d}.json"
        aside = path / "_delta_log" / "_corrupt" / f"{bad.name}.{int(time.time())}"
        aside.parent.mkdir(exist_ok=True)
        os.replace(bad, aside)  # the table is now at newest - 1; its next commit reuses the number
        log.warning(
            "%s: unreadable commit %d moved to %s; the table is back at version %d",
            self.name(name),
            newest,
            aside,
            newest - 1,
        )
        return {
            "table": str(self.name(name)),
            "recovered": True,
            "corrupt_version": newest,
            "set_aside": str(aside),
            "restored_version": newest - 1,
            "version": self._table(name).version(),
        }
