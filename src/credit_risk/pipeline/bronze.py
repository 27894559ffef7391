"""Bronze: raw LendingClub exports as received, every value a string, nothing lost.

Each file is read by Spark as text lines (gzip natively; zip members and latin-1 files are first
converted to UTF-8 text under the raw folder's `_staging/` by `raw_files`). Lines that are not data rows (the
prospectus line, footers, blank lines, a wrong field count, unbalanced quotes) go to
`bronze.loans_quarantine` with their raw text and a reason; the rest are parsed with the file's own
header into the canonical Kaggle columns (`raw_schema.KAGGLE`). Columns the schema does not know
(pandas index columns, `target`, ...) are kept as a JSON object in `_rescued`. Known renames
(`open_il_6m` -> `open_act_il`, ...) are applied. A file whose sha256 is in `bronze.ingest_log` is
skipped; a changed file is a new batch. Per file, lines after the header = bronze rows + quarantined
rows, checked after the commit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from credit_risk.pipeline.raw_files import IngestError, RawFile, list_raw_files, prepare
from credit_risk.raw_schema import KAGGLE, PROSPECTUS_LINE
from credit_risk.runtime.errors import doing, pipeline_task
from credit_risk.tables import BRONZE_INGEST_LOG, BRONZE_LOANS, BRONZE_QUARANTINE

if TYPE_CHECKING:
    from credit_risk.lake import Lake
    from credit_risk.runtime.config import Config
    from credit_risk.runtime.dbutils import DBUtils

log = logging.getLogger(__name__)

# One quoted stretch: a quote, then anything but a quote, then a quote. A field with doubled quotes (`"a""b"`) is
# several such stretches back to back, so removing them all removes every quoted field. No alternation under
# repetition: Java's regex engine recurses once per repetition of a group, and a long field overflowed its stack.
_QUOTED = r'"[^"]*"'


def numbered_lines(spark: SparkSession, raw: RawFile) -> DataFrame:
    """The file's lines with 1-based line numbers, without a shuffle (offsets per input split)."""
    lines = spark.read.text(str(raw.text_path)).select(
        "value", F.spark_partition_id().alias("_pid"), F.monotonically_increasing_id().alias("_mid")
    )
    sizes = {
        r["_pid"]: (r["n"], r["first"])
        for r in lines.groupBy("_pid").agg(F.count("*").alias("n"), F.min("_mid").alias("first")).collect()
    }
    offset, starts = 0, {}
    for pid in sorted(sizes):
        starts[pid] = offset - sizes[pid][1]
        offset += sizes[pid][0]
    # An empty file has no partitions to offset (and Spark 4.0 cannot index a null map)
    start = (
        F.create_map(*[x for pid, s in starts.items() for x in (F.lit(pid), F.lit(s))])[F.col("_pid")]
        if starts
        else F.lit(None).cast("long")
    )
    return lines.select(F.col("value").alias("raw_line"), (F.col("_mid") + start + 1).alias("line_number"))


def classify(lines: DataFrame, raw: RawFile) -> DataFrame:
    """Add `reason` (null for a data row) to every line after the header: a pure DataFrame step."""
    # The regexes only on lines with a quote (most have none): 0.8x the CPU of this step (bench/RESULTS.md)
    line = F.col("raw_line")
    quoted = line.contains('"')
    fields = F.size(F.split(F.when(quoted, F.regexp_replace(line, _QUOTED, "")).otherwise(line), ",", -1))
    quotes = F.when(quoted, F.octet_length(line) - F.octet_length(F.translate(line, '"', ""))).otherwise(0)
    expected = len(raw.header)
    if raw.problem:
        return lines.withColumn("reason", F.lit(raw.problem))
    reason = (
        F.when(F.col("raw_line").startswith(PROSPECTUS_LINE[:27]), F.lit("prospectus line"))
        .when(F.trim("raw_line") == "", F.lit("blank line"))
        .when(F.col("raw_line").rlike(r'^"?Total amount funded'), F.lit("footer line"))
        .when(quotes % 2 == 1, F.lit("unbalanced quotes"))
        .when(
            fields != expected,
            F.concat(F.lit(f"wrong field count: expected {expected}, got "), fields.cast("string")),
        )
    )
    return lines.where(F.col("line_number") != raw.header_line).withColumn("reason", reason)


def parse_rows(good: DataFrame, raw: RawFile) -> DataFrame:
    """Split data lines with the file's header into the canonical string columns plus `_rescued`."""
    schema = ", ".join(f"`f{i}` STRING" for i in range(len(raw.header)))
    parsed = good.withColumn("_p", F.from_csv("raw_line", schema, {"escape": '"', "mode": "PERMISSIVE"}))
    by_name = {name: F.col(f"_p.f{i}") for i, name in enumerate(raw.header)}
    known = [by_name.get(c, F.lit(None).cast("string")).alias(c) for c in KAGGLE]
    extra = [n for n in raw.header if n not in KAGGLE]
    rescued = (
        F.to_json(F.create_map(*[x for n in extra for x in (F.lit(n), by_name[n])]))
        if extra
        else F.lit(None).cast("string")
    )
    return parsed.select(*known, rescued.alias("_rescued"), "line_number")


def _metadata(df: DataFrame, raw: RawFile, batch_id: str, ingested_at: datetime) -> DataFrame:
    return df.withColumns(
        {
            "source_file": F.lit(raw.source.name),
            "source_sha256": F.lit(raw.sha256),
            "batch_id": F.lit(batch_id),
            "ingested_at": F.lit(ingested_at).cast("timestamp"),
        }
    )


def undo_incomplete_batches(lake: Lake) -> list[str]:
    """Roll back a batch that a crash left half done, so a rerun ingests its files exactly once.

    A batch commits three tables in turn (rows, quarantine, ingest log); Delta has no transaction across
    tables, so a crash in between leaves bronze commits whose batch has no ingest-log rows. Each such table
    is restored to the version before that batch (a new commit: history keeps the partial one).
    """
    logged = set()
    if lake.exists(BRONZE_INGEST_LOG):
        logged = {r["batch_id"] for r in lake.read(BRONZE_INGEST_LOG).select("batch_id").distinct().collect()}
    undone = []
    for table in (BRONZE_LOANS, BRONZE_QUARANTINE):
        if not lake.exists(table):
            continue
        history = lake.history(table)  # newest first
        partial = []
        for entry in history:
            batch = entry["metadata"].get("batch_id")
            if entry["operation"] == "RESTORE" or batch in logged or batch is None:
                break
            partial.append(entry)
        if not partial:
            continue
        first = partial[-1]["version"]
        if first == 0:  # the table's creation was the partial batch: nothing committed before it
            lake.drop(table)
        else:
            lake.restore(table, first - 1)
        undone += [f"{table}@v{e['version']} (batch {e['metadata'].get('batch_id')})" for e in partial]
    if undone:
        log.warning(
            "rolled back commits of batches without an ingest log (a crashed run): %s", ", ".join(undone)
        )
    return undone


def ingest_files(spark: SparkSession, lake: Lake, files: list[Path], staging: Path) -> dict[str, Any]:
    """Append new files to bronze (rows) and quarantine (rejected lines); skip files already ingested."""
    undone = undo_incomplete_batches(lake)
    seen = set()
    if lake.exists(BRONZE_INGEST_LOG):
        seen = {r["source_sha256"] for r in lake.read(BRONZE_INGEST_LOG).select("source_sha256").collect()}
    batch_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    ingested_at = datetime.now(UTC).replace(tzinfo=None)
    rows, rejects, expected, skipped, shas = [], [], {}, [], {}
    for path in files:
        with doing(f"reading {path}"):
            raw = prepare(path, staging / batch_id)
            if raw.sha256 in seen:
                skipped.append(path.name)
                log.info("%s: already ingested (sha256 %s), skipped", path.name, raw.sha256[:12])
                continue
            seen.add(raw.sha256)
            shas[path.name] = raw.sha256
            lines = classify(numbered_lines(spark, raw), raw).cache()
            counts = {
                r["reason"]: r["n"] for r in lines.groupBy("reason").agg(F.count("*").alias("n")).collect()
            }
        expected[path.name] = (sum(counts.values()), counts.get(None, 0))
        log.info(
            "%s: %d lines after the header, %d rejected %s%s",
            path.name,
            expected[path.name][0],
            expected[path.name][0] - expected[path.name][1],
            {k: v for k, v in counts.items() if k},
            f" ({raw.note})" if raw.note else "",
        )
        if not raw.problem:
            rows.append(_metadata(parse_rows(lines.where("reason IS NULL"), raw), raw, batch_id, ingested_at))
        rejects.append(_metadata(lines.where("reason IS NOT NULL"), raw, batch_id, ingested_at))
    if not expected:
        return {
            "batch_id": None,
            "files": 0,
            "skipped": skipped,
            "bronze_version": _version(lake, BRONZE_LOANS),
            "rolled_back": undone,
        }
    if not rows:  # only files without a usable header: an empty append keeps the schema
        rows.append(_empty_bronze(spark))

    def append(frames: list[DataFrame], table: str) -> int:
        return lake.write(_union(frames), table, mode="append", metadata={"batch_id": batch_id})

    with doing(f"parsing {', '.join(expected)} into {BRONZE_LOANS}"):
        bronze_version = append(rows, BRONZE_LOANS)
    with doing(f"writing {BRONZE_QUARANTINE}"):
        quarantine_version = append(rejects, BRONZE_QUARANTINE)
    reconcile(lake, batch_id, expected)
    log_rows = [
        (name, shas[name], batch_id, ingested_at, lines, good) for name, (lines, good) in expected.items()
    ]
    log_df = spark.createDataFrame(
        log_rows,
        "source_file string, source_sha256 string, batch_id string, "
        "ingested_at timestamp, data_lines long, bronze_rows long",
    )
    lake.write(log_df, BRONZE_INGEST_LOG, mode="append")
    return {
        "batch_id": batch_id,
        "files": len(expected),
        "skipped": skipped,
        "bronze_version": bronze_version,
        "quarantine_version": quarantine_version,
        "rows": sum(g for _, g in expected.values()),
        "quarantined": sum(n - g for n, g in expected.values()),
        "rolled_back": undone,
    }


def _empty_bronze(spark: SparkSession) -> DataFrame:
    schema = ", ".join(f"`{c}` string" for c in KAGGLE) + (
        ", _rescued string, line_number long, source_file string, source_sha256 string, batch_id string, ingested_at timestamp"
    )
    return spark.createDataFrame([], schema)


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out


def _version(lake: Lake, name: str) -> int | None:
    return lake.version(name) if lake.exists(name) else None


def reconcile(lake: Lake, batch_id: str, expected: dict[str, tuple[int, int]]) -> None:
    """Lines after the header = bronze rows + quarantined rows, per file of the batch (raises otherwise)."""

    def counts(table: str) -> dict[str, int]:
        df = lake.read(table).where(F.col("batch_id") == batch_id).groupBy("source_file").count()
        return {r["source_file"]: r["count"] for r in df.collect()}

    good, bad = counts(BRONZE_LOANS), counts(BRONZE_QUARANTINE)
    for name, (lines, rows) in expected.items():
        if good.get(name, 0) != rows or good.get(name, 0) + bad.get(name, 0) != lines:
            raise IngestError(
                f"{name}: {lines} data lines but {good.get(name, 0)} bronze rows + "
                f"{bad.get(name, 0)} quarantined rows in batch {batch_id}"
            )


def raw_location(cfg: Config) -> Path:
    """Where this run's raw files are: generated on demand, `<raw_dir>/kaggle` (`credit-risk fetch`), or a user path."""
    if cfg.data_source == "generated":
        from credit_risk.synthetic.generate import generate_exports

        folder = cfg.local_path(cfg.raw_dir) / f"generated_{cfg.layout}_{cfg.rows}_seed{cfg.seed}"
        if not (folder / "_COMPLETE").exists():
            generate_exports(folder, cfg.rows, cfg.seed, layout=cfg.layout, progress=False)
            (folder / "_COMPLETE").write_text("")
        return folder
    if cfg.data_source == "kaggle":
        from credit_risk.pipeline.fetch import kaggle_dir

        return kaggle_dir(cfg)
    return cfg.local_path(cfg.data_source)


@pipeline_task("bronze_ingest")
def run_bronze(cfg: Config, dbutils: DBUtils) -> dict[str, Any]:
    """Task `bronze_ingest`: ingest new raw files; publishes `bronze_version`."""
    from credit_risk.lake import get_lake
    from credit_risk.runtime.spark import get_spark

    location = raw_location(cfg)
    result = ingest_files(
        get_spark(), get_lake(cfg), list_raw_files(location), cfg.local_path(cfg.raw_dir) / "_staging"
    )
    dbutils.jobs.taskValues.set(key="bronze_version", value=result["bronze_version"])
    return {"source": str(location), **result}
