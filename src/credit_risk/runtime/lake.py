"""Lake I/O over Delta tables named `catalog.schema.table`: the one place where tables are read and written.

Two implementations behind one API, picked once per process by `spark.delta_mode()`:

* `DeltaSparkLake`: delta-spark (Databricks, or a local session with the Delta jars, the default where
  `make install` could fetch them). On Databricks the names are Unity Catalog tables; elsewhere they map to
  folders under the lake root.
* `DeltaRsLake`: plain Spark writes and reads the Parquet data files, and delta-rs (the `deltalake`
  package) keeps the transaction log: it commits the files Spark wrote and resolves a snapshot (latest,
  `version=` or `timestamp=`) to the file list Spark reads. No table is collected to the driver.

Both produce true Delta tables (delta-spark, delta-rs, DuckDB and Polars read them) and record the job,
task and git commit of every write in the commit's `userMetadata`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from credit_risk.runtime.config import Config
from credit_risk.runtime.context import commit_metadata
from credit_risk.runtime.failpoints import failpoint
from credit_risk.runtime.spark import DELTA_RS, delta_mode, get_spark, on_databricks

log = logging.getLogger(__name__)

WRITE_MODES = ("overwrite", "append")
_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}


class LakeError(RuntimeError):
    """A lake operation that cannot be done, with the table (and version) it concerns in the message."""


@dataclass(frozen=True)
class TableName:
    """A three-part table name; `schema` already carries the target's schema prefix."""

    catalog: str
    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"


class Lake(ABC):
    """Common naming and metadata for both implementations."""

    def __init__(self, spark: SparkSession, root: str | Path, catalog: str, schema_prefix: str = "") -> None:
        self.spark = spark
        self.root = Path(root).absolute()
        self.catalog = catalog
        self.schema_prefix = schema_prefix

    # -- naming ---------------------------------------------------------------------------------------
    def name(self, name: str) -> TableName:
        """`schema.table` gets the configured catalog and schema prefix; `catalog.schema.table` is kept."""
        parts = name.split(".")
        if len(parts) == 2:
            return TableName(self.catalog, f"{self.schema_prefix}{parts[0]}", parts[1])
        if len(parts) == 3 and all(parts):
            return TableName(*parts)
        raise LakeError(f"table name {name!r} must be 'schema.table' or 'catalog.schema.table'")

    def path(self, name: str) -> Path:
        """Local folder of a table: <root>/<catalog>/<schema>/<table>."""
        t = self.name(name)
        return self.root / t.catalog / t.schema / t.table

    @staticmethod
    def _metadata(operation: str, extra: dict[str, Any] | None) -> dict[str, Any]:
        return {"operation": operation, **commit_metadata(), **(extra or {})}

    # -- API (implemented below) ----------------------------------------------------------------------
    @abstractmethod
    def write(
        self,
        df: DataFrame,
        name: str,
        mode: str = "overwrite",
        partition_by: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Write `df` (overwrite or append) and return the committed version."""
        ...

    @abstractmethod
    def merge(self, df: DataFrame, name: str, keys: list[str], metadata: dict[str, Any] | None = None) -> int:
        """Upsert `df` by `keys` (update matched rows, insert the others); creates the table if absent."""
        ...

    @abstractmethod
    def read(
        self, name: str, version: int | None = None, timestamp: datetime | str | None = None
    ) -> DataFrame:
        """The latest snapshot, or the one at `version` / `timestamp`."""
        ...

    @abstractmethod
    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first: version, timestamp, operation and our commit metadata."""
        ...

    @abstractmethod
    def restore(self, name: str, version: int) -> int:
        """Make `version` the current state again (a new commit); returns the new version."""
        ...

    @abstractmethod
    def version(self, name: str) -> int:
        """Latest committed version."""
        ...

    @abstractmethod
    def exists(self, name: str) -> bool:
        """True when the table has a Delta log."""

    @abstractmethod
    def drop(self, name: str) -> None:
        """Remove the table, data and log (crash recovery of a table whose first commit was partial)."""

    # -- shared checks --------------------------------------------------------------------------------
    @staticmethod
    def _check_write(df: DataFrame, mode: str, partition_by: list[str] | None, name: str) -> None:
        if mode not in WRITE_MODES:
            raise LakeError(f"{name}: write mode must be one of {WRITE_MODES}, not {mode!r}")
        missing = [c for c in partition_by or [] if c not in df.columns]
        if missing:
            raise LakeError(f"{name}: partition columns {missing} are not columns of the DataFrame")

    @staticmethod
    def _check_keys(df: DataFrame, keys: list[str], name: str) -> None:
        missing = [k for k in keys if k not in df.columns]
        if not keys or missing:
            raise LakeError(f"{name}: merge keys {keys} are missing from the source ({missing})")
        dupes = df.groupBy(*keys).count().where("count > 1").limit(3).collect()
        if dupes:
            sample = [tuple(r[k] for k in keys) for r in dupes]
            raise LakeError(f"{name}: merge source has duplicate keys {keys}, e.g. {sample}")


def name_of(root: Path) -> str:
    """`schema.table` of a table folder (<root>/<catalog>/<schema>/<table>), as failpoints name it."""
    return f"{root.parent.name}.{root.name}"


class DeltaRsLake(Lake):
    """Spark writes and reads Parquet; delta-rs owns the Delta log."""

    def _table(self, name: str, version: int | None = None):
        from deltalake import DeltaTable

        path = self.path(name)
        if not DeltaTable.is_deltatable(str(path)):
            raise LakeError(f"table {self.name(name)} does not exist (no Delta log at {path})")
        try:
            table = DeltaTable(str(path), version=version) if version is not None else DeltaTable(str(path))
        except Exception as exc:  # delta-rs raises several types; name the table and version in all cases
            newest = _newest_commit(path)
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
            reason = _root_cause(exc)
            raise LakeError(
                f"{name_of(root)}: cannot write under {root} ({reason}); nothing was committed"
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

    @staticmethod
    def _arrow_schema(df: DataFrame, partition_by: list[str] | None = None):
        """The table schema without collecting rows; all nullable, partition columns last (as Spark stores them)."""
        import pyarrow as pa

        schema = df.limit(0).toArrow().schema
        order = [f for f in schema if f.name not in (partition_by or [])]
        order += [schema.field(c) for c in partition_by or []]
        return pa.schema([f.with_nullable(True) for f in order])

    def _add_actions(self, root: Path, files: list[Path]):
        import pyarrow.parquet as pq
        from deltalake.transaction import AddAction

        actions = []
        for f in files:
            rel = f.relative_to(root)
            parts = {}
            for folder in rel.parts[:-1]:
                key, _, value = folder.partition("=")
                parts[unquote(key)] = None if value == "__HIVE_DEFAULT_PARTITION__" else unquote(value)
            stat = f.stat()
            rows = pq.read_metadata(f).num_rows
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

    @staticmethod
    def _props(meta: dict[str, Any]):
        from deltalake.transaction import CommitProperties

        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
        return CommitProperties(
            custom_metadata={
                "userMetadata": json.dumps(meta),
                **{f"credit_risk.{k}": v for k, v in flat.items()},
            }
        )

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
        schema = self._arrow_schema(df, partition_by)
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
                commit_properties=self._props(meta),
            )
        else:
            DeltaTable.create(
                str(root), schema=schema, partition_by=partition_by, commit_properties=self._props(meta)
            )
        failpoint(f"write:committed:{name_of(root)}")
        return DeltaTable(str(root)).version()

    def write(self, df, name, mode="overwrite", partition_by=None, metadata=None) -> int:
        self._check_write(df, mode, partition_by, str(self.name(name)))
        root = self.path(name)
        meta = self._metadata("WRITE" if mode == "overwrite" else "APPEND", metadata)
        if not self.exists(name):
            return self._create(df, root, partition_by, meta)
        table = self._table(name)
        if mode == "append":
            partition_by = table.metadata().partition_columns
        schema = self._arrow_schema(df, partition_by)
        if mode == "append":
            self._check_same_schema(name, table, schema)
        files = self._stage(df, root, partition_by)
        failpoint(f"write:staged:{name_of(root)}")
        table.create_write_transaction(
            self._add_actions(root, files),
            mode=mode,
            schema=schema,
            partition_by=partition_by or None,
            commit_properties=self._props(meta),
        )
        failpoint(f"write:committed:{name_of(root)}")
        return self._table(name).version()

    def _check_same_schema(self, name: str, table, schema) -> None:
        import pyarrow as pa

        have = {f.name: str(f.type).replace("large_", "") for f in pa.schema(table.schema().to_arrow())}
        new = {f.name: str(f.type).replace("large_", "") for f in schema}
        if have != new:
            diff = sorted(set(have.items()) ^ set(new.items()))
            raise LakeError(f"append to {self.name(name)}: schema differs from the table's: {diff}")

    def merge(self, df, name, keys, metadata=None) -> int:
        from deltalake.transaction import RemoveAction

        self._check_keys(df, keys, str(self.name(name)))
        if not self.exists(name):
            return self.write(df, name, mode="overwrite", metadata={**(metadata or {}), "merge_keys": keys})
        table = self._table(name)
        self._check_same_schema(name, table, self._arrow_schema(df))
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
        touched_paths = {_local_path(u) for u in touched}
        now = int(time.time() * 1000)
        removes = [
            RemoveAction(
                a["path"],
                True,
                now,
                a["size_bytes"],
                {k: None if v is None else str(v) for k, v in (a.get("partition") or {}).items()},
            )
            for a in _add_actions(table)
            if _local_path(str(root / unquote(a["path"]))) in touched_paths
        ]
        meta = self._metadata(
            "MERGE", {**(metadata or {}), "merge_keys": keys, "files_rewritten": len(removes)}
        )
        failpoint(f"merge:staged:{name_of(root)}")
        table.create_write_transaction(
            [*removes, *self._add_actions(root, files)],
            mode="append",
            schema=self._arrow_schema(df),
            commit_properties=self._props(meta),
        )
        failpoint(f"merge:committed:{name_of(root)}")
        return self._table(name).version()

    def read(self, name, version=None, timestamp=None) -> DataFrame:
        from pyspark.sql.pandas.types import from_arrow_schema

        table = self._table(name, version)
        if timestamp is not None:
            try:
                table.load_as_version(
                    timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(timestamp)
                )
            except Exception as exc:
                raise LakeError(f"table {self.name(name)} has no version at {timestamp}: {exc}") from exc
        import pyarrow as pa

        schema = from_arrow_schema(pa.schema(table.schema().to_arrow()))
        uris = table.file_uris()
        if not uris:
            return self.spark.createDataFrame([], schema)
        df = self.spark.read.schema(schema).option("basePath", str(self.path(name))).parquet(*uris)
        return df.select(*schema.fieldNames())

    def history(self, name, limit=None) -> list[dict[str, Any]]:
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

    def restore(self, name, version) -> int:
        table = self._table(name)
        meta = self._metadata("RESTORE", {"restored_version": version})
        try:
            table.restore(version, commit_properties=self._props(meta))
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
        newest = _newest_commit(path)
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


class DeltaSparkLake(Lake):
    """delta-spark: Unity Catalog names on Databricks, folders under the lake root elsewhere.

    Every operation is Delta's own SQL or DataFrame writer (MERGE INTO, VERSION / TIMESTAMP AS OF, DESCRIBE
    HISTORY, RESTORE), so it works the same in a classic session and over Spark Connect. A write's data files
    and its commit are written by one JVM call: the failpoints are after the commit (`write:committed:<t>`,
    `merge:committed:<t>`); the steps inside a commit are delta-spark's, where a crash leaves files no commit
    names, which no reader sees.
    """

    _USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_name = on_databricks()

    def _ref(self, name: str) -> str:
        if self.by_name:
            return ".".join(f"`{part}`" for part in str(self.name(name)).split("."))
        return "delta.`{}`".format(str(self.path(name)).replace("`", "``"))

    def _sql(self, query: str, meta: dict[str, Any] | None = None) -> list:
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

    def write(self, df, name, mode="overwrite", partition_by=None, metadata=None) -> int:
        self._check_write(df, mode, partition_by, str(self.name(name)))
        meta = self._metadata("WRITE" if mode == "overwrite" else "APPEND", metadata)
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
                f"{self.name(name)}: cannot write ({_root_cause(exc)}); nothing was committed"
            ) from exc
        failpoint(f"write:committed:{name_of(self.path(name))}")
        return self.version(name)

    def merge(self, df, name, keys, metadata=None) -> int:
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

    def read(self, name, version=None, timestamp=None) -> DataFrame:
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
                f"table {self.name(name)} has no readable snapshot {at}: {_root_cause(exc)}"
            ) from exc
        return df

    def history(self, name, limit=None) -> list[dict[str, Any]]:
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

    def restore(self, name, version) -> int:
        self._require(name)
        meta = self._metadata("RESTORE", {"restored_version": version})
        try:
            self._sql(f"RESTORE TABLE {self._ref(name)} TO VERSION AS OF {int(version)}", meta)
        except Exception as exc:
            raise LakeError(f"restore {self.name(name)} to version {version}: {_root_cause(exc)}") from exc
        return self.version(name)


def _local_path(uri: str) -> str:
    """`file:///a/b`, `file:/a/b` and `/a/b` compare equal."""
    path = uri.removeprefix("file://").removeprefix("file:")
    return os.path.normpath(unquote(path))


def _root_cause(exc: BaseException) -> str:
    """The deepest `Caused by:` line of a Java error (the useful one: 'No space left on device', ...), else the text."""
    text = str(exc)
    causes = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("Caused by:")]
    line = causes[-1] if causes else next((ln for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return line.replace("Caused by: ", "")[:300]


def _newest_commit(path: Path) -> int | None:
    """The highest commit number in a table's _delta_log (None without commits)."""
    numbers = [int(p.stem) for p in (path / "_delta_log").glob("*.json") if p.stem.isdigit()]
    return max(numbers) if numbers else None


def _add_actions(table) -> list[dict[str, Any]]:
    """The add actions of a delta-rs snapshot as dicts (path, size_bytes, partition, stats)."""
    import pyarrow as pa

    return pa.table(table.get_add_actions(flatten=False)).to_pylist()


_LAKES: dict[tuple, Lake] = {}


def get_lake(cfg: Config) -> Lake:
    """The lake of `cfg`: its lake root, catalog and schema prefix (one instance per combination).

    The task's own configuration is required, not looked up: a lake built from process-wide defaults would
    write under the default catalog whatever the job's parameters say.
    """
    if not isinstance(cfg, Config):
        raise TypeError(
            f"get_lake() takes the task's Config, not {type(cfg).__name__}; "
            "open_lake(root, catalog, schema_prefix) opens a lake by location"
        )
    return open_lake(cfg.lake_path, cfg.catalog, cfg.schema_prefix)


def open_lake(root: str | Path, catalog: str, schema_prefix: str = "") -> Lake:
    """The lake at `root` with tables under `catalog` and `schema_prefix`, of the active Delta mode."""
    key = (str(Path(root).absolute()), catalog, schema_prefix)
    if key not in _LAKES:
        cls = DeltaRsLake if delta_mode() == DELTA_RS else DeltaSparkLake
        _LAKES[key] = cls(get_spark(), *key)
    return _LAKES[key]
