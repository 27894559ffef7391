"""The Lake interface both Delta modes implement: table naming, commit metadata, argument checks and errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from credit_risk.runtime.context import commit_metadata

Meta = dict[str, Any]  # a commit's metadata: operation, job, task, run id, git commit, the caller's own keys

WRITE_MODES = ("overwrite", "append")


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

    # -- API (implemented in delta_rs.py and delta_spark.py) ------------------------------------------
    def write(
        self,
        df: DataFrame,
        name: str,
        mode: str = "overwrite",
        partition_by: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Write `df` (overwrite or append) and return the committed version.

        An append to a table that does not exist yet creates it (version 0, recorded as a WRITE), so a task
        that adds to a table writes `mode="append"` whether or not an earlier run made it.
        """
        mode = self._write_mode(df, mode, partition_by, name)
        meta = self._metadata("WRITE" if mode == "overwrite" else "APPEND", metadata)
        return self._write(df, name, mode, partition_by, meta)

    @abstractmethod
    def _write(self, df: DataFrame, name: str, mode: str, partition_by: list[str] | None, meta: Meta) -> int:
        """`write` once the mode is settled (an append to a missing table is an overwrite by now)."""

    @abstractmethod
    def merge(self, df: DataFrame, name: str, keys: list[str], metadata: dict[str, Any] | None = None) -> int:
        """Upsert `df` by `keys` (update matched rows, insert the others); creates the table if absent."""

    @abstractmethod
    def read(
        self, name: str, version: int | None = None, timestamp: datetime | str | None = None
    ) -> DataFrame:
        """The latest snapshot, or the one at `version` / `timestamp`."""

    @abstractmethod
    def history(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits newest first: version, timestamp, operation and our commit metadata."""

    @abstractmethod
    def restore(self, name: str, version: int) -> int:
        """Make `version` the current state again (a new commit); returns the new version."""

    @abstractmethod
    def version(self, name: str) -> int:
        """Latest committed version."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """True when the table has a Delta log."""

    @abstractmethod
    def drop(self, name: str) -> None:
        """Remove the table, data and log (crash recovery of a table whose first commit was partial)."""

    # -- shared checks --------------------------------------------------------------------------------
    def _write_mode(self, df: DataFrame, mode: str, partition_by: list[str] | None, name: str) -> str:
        """The mode to write with: an append to a missing table is its first write, as an overwrite is."""
        self._check_write(df, mode, partition_by, str(self.name(name)))
        return "overwrite" if mode == "append" and not self.exists(name) else mode

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


def root_cause(exc: BaseException) -> str:
    """The deepest `Caused by:` line of a Java error (the useful one: 'No space left on device', ...), else the text."""
    text = str(exc)
    causes = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("Caused by:")]
    line = causes[-1] if causes else next((ln for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return line.replace("Caused by: ", "")[:300]
