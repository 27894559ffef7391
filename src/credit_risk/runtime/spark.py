"""One shared Spark session: the cluster's on Databricks, a tuned `local[*]` session elsewhere.

Which Delta implementation the session carries is decided here, once per process
(see `delta_mode()`): delta-spark when its jars can be had, otherwise plain Spark with
delta-rs keeping the transaction log (`credit_risk.runtime.lake`).
"""

from __future__ import annotations

import glob
import logging
import os
from functools import lru_cache
from pathlib import Path

from pyspark.sql import SparkSession

from credit_risk.runtime.context import on_databricks, project_home

log = logging.getLogger(__name__)

DELTA_SPARK = "delta-spark"
DELTA_RS = "delta-rs"
MODE_ENV = "CREDIT_RISK_LAKE_MODE"  # auto (default) | delta-spark | delta-rs
JARS_ENV = "CREDIT_RISK_DELTA_JARS"  # a folder holding delta-spark_2.13-*.jar and delta-storage-*.jar
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
_BLAS_PATHS = ["/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3", "/usr/lib/libblas.so.3"]


def _ivy_has_delta() -> bool:
    """delta-spark jars already resolved by an earlier online session (Ivy cache), usable offline."""
    home = Path.home()
    return any(glob.glob(str(home / pattern)) for pattern in (".ivy2*/jars/io.delta_delta-spark_*.jar",))


def _local_delta_jars() -> list[str]:
    folder = os.environ.get(JARS_ENV)
    if not folder:
        return []
    jars = sorted(glob.glob(os.path.join(folder, "*.jar")))
    if not any("delta-spark" in Path(j).name for j in jars):
        raise RuntimeError(f"{JARS_ENV}={folder} holds no delta-spark_*.jar")
    return jars


@lru_cache(maxsize=1)
def delta_mode() -> str:
    """The Delta implementation this process uses: 'delta-spark' or 'delta-rs' (decided once, logged once)."""
    wanted = os.environ.get(MODE_ENV, "auto").strip().lower()
    if wanted not in {"auto", DELTA_SPARK, DELTA_RS}:
        raise ValueError(f"{MODE_ENV} must be auto, {DELTA_SPARK} or {DELTA_RS}, not {wanted!r}")
    if on_databricks():
        mode, why = DELTA_SPARK, "Databricks runtime"
    elif wanted != "auto":
        mode, why = wanted, f"{MODE_ENV}={wanted}"
    elif os.environ.get(JARS_ENV):
        mode, why = DELTA_SPARK, f"jars from {JARS_ENV}"
    elif _ivy_has_delta():
        mode, why = DELTA_SPARK, "jars in the Ivy cache"
    else:
        mode, why = DELTA_RS, "no delta-spark jars available (set CREDIT_RISK_LAKE_MODE=delta-spark where Maven is reachable)"
    log.info("Delta mode: %s (%s)", mode, why)
    return mode


def _blas_option() -> str:
    """CREDIT_RISK_BLAS=java makes MLlib skip the system BLAS (netlib looks for a library that does not exist)."""
    return " -Ddev.ludovic.netlib.blas.nativeLib=no-native-blas.so" if os.environ.get("CREDIT_RISK_BLAS") == "java" else ""


def native_blas() -> str | None:
    """Path of the system BLAS that Spark MLlib will load, or None (MLlib then falls back to Java BLAS)."""
    return next((p for p in _BLAS_PATHS if os.path.exists(p)), None)


def _local_builder() -> SparkSession.Builder:
    cores = os.cpu_count() or 2
    builder = (
        SparkSession.builder.master(os.environ.get("CREDIT_RISK_SPARK_MASTER", "local[*]"))
        .appName("credit-risk")
        .config("spark.sql.shuffle.partitions", str(max(4, 2 * cores)))
        .config("spark.default.parallelism", str(max(4, 2 * cores)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", os.environ.get("CREDIT_RISK_DRIVER_MEMORY", "6g"))
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC -Dlog4j2.level=WARN" + _blas_option())
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.warehouse.dir", str(project_home() / "spark-warehouse"))
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    )
    if delta_mode() == DELTA_SPARK:
        for key, value in _DELTA_CONF.items():
            builder = builder.config(key, value)
        jars = _local_delta_jars()
        if jars:
            builder = builder.config("spark.jars", ",".join(jars))
        else:
            from delta import configure_spark_with_delta_pip

            builder = configure_spark_with_delta_pip(builder)
    return builder


@lru_cache(maxsize=1)
def get_spark() -> SparkSession:
    """The process-wide Spark session (the active one on Databricks)."""
    if on_databricks():
        active = SparkSession.getActiveSession()
        return active if active is not None else SparkSession.builder.getOrCreate()
    # Spark runs MLlib's BLAS calls from its own task threads; OpenBLAS threads on top of them spin on the
    # same cores (Spark's MLlib linear algebra guide: one native thread). The JVM inherits this environment.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    spark = _local_builder().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    blas = native_blas()
    log.info("Spark %s local session; native BLAS: %s", spark.version, blas or "absent (Java BLAS fallback)")
    return spark
