"""One shared Spark session: the cluster's on Databricks, a tuned `local[*]` session elsewhere.

Which Delta implementation the session carries is decided here, once per process
(see `delta_mode()`): delta-spark when its jars can be had, otherwise plain Spark with
delta-rs keeping the transaction log (`credit_risk.lake`).
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
JARS_ENV = (
    "CREDIT_RISK_DELTA_JARS"  # a folder of the delta-spark jar and its dependencies (delta-storage, ...)
)
REMOTE_ENV = (
    "SPARK_REMOTE"  # Spark's own: sc://host:port of a Spark Connect server to use instead of a local JVM
)
_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
_BLAS_PATHS = [
    "/usr/lib/x86_64-linux-gnu/libblas.so.3",
    "/usr/lib/aarch64-linux-gnu/libblas.so.3",
    "/usr/lib/libblas.so.3",
]


def _local_delta_jars() -> list[str]:
    """The jars of the folder CREDIT_RISK_DELTA_JARS names (an air-gapped machine's copy), else []."""
    folder = os.environ.get(JARS_ENV)
    if not folder:
        return []
    jars = sorted(glob.glob(os.path.join(folder, "*.jar")))
    if not any("delta-spark" in Path(j).name for j in jars):
        raise RuntimeError(f"{JARS_ENV}={folder} holds no delta-spark_*.jar")
    return jars


@lru_cache(maxsize=1)
def delta_mode() -> str:
    """The Delta implementation this process uses: 'delta-spark' or 'delta-rs' (decided once, logged once).

    delta-spark wherever its jars are at hand (`make install` puts them in the virtual environment,
    `credit_risk.runtime.delta_jars`); delta-rs where they are not, and under Spark Connect, whose server may
    not carry them, unless CREDIT_RISK_LAKE_MODE says otherwise.
    """
    from credit_risk.runtime import delta_jars

    wanted = os.environ.get(MODE_ENV, "auto").strip().lower()
    if wanted not in {"auto", DELTA_SPARK, DELTA_RS}:
        raise ValueError(f"{MODE_ENV} must be auto, {DELTA_SPARK} or {DELTA_RS}, not {wanted!r}")
    if on_databricks():
        mode, why = DELTA_SPARK, "Databricks runtime"
    elif wanted != "auto":
        mode, why = wanted, f"{MODE_ENV}={wanted}"
    elif os.environ.get(REMOTE_ENV):
        mode, why = (
            DELTA_RS,
            f"Spark Connect ({REMOTE_ENV}): Spark writes the files, delta-rs here keeps the log",
        )
    elif os.environ.get(JARS_ENV):
        mode, why = DELTA_SPARK, f"jars from {JARS_ENV}={os.environ[JARS_ENV]}"
    elif delta_jars.held_jars():
        mode, why = DELTA_SPARK, f"jars of {delta_jars.coordinate()} in {delta_jars.JARS_DIR}"
    else:
        mode, why = DELTA_RS, f"{delta_jars.why_absent()}; {JARS_ENV} can name a folder of the jars"
    log.info("Delta mode: %s (%s)", mode, why)
    return mode


def delta_conf() -> dict[str, str]:
    """Session settings that give a local session (or a local Spark Connect server) delta-spark: its SQL
    extension and catalog, and its jars: CREDIT_RISK_DELTA_JARS's, the virtual environment's, or, when neither
    is there, the Maven coordinate for Spark to resolve (`spark.jars.packages`)."""
    from credit_risk.runtime import delta_jars

    jars = _local_delta_jars() or [str(p) for p in delta_jars.held_jars()]
    source = {"spark.jars": ",".join(jars)} if jars else {"spark.jars.packages": delta_jars.coordinate()}
    # Delta rebuilds a table's snapshot from its log in this many tasks (default 50): a local table's log
    # is a few small files, and 50 tasks per snapshot on 2 cores is most of a small write's time.
    tuning = {"spark.databricks.delta.snapshotPartitions": str(os.cpu_count() or 2)}
    return {**_DELTA_CONF, **source, **tuning}


def _blas_option() -> str:
    """CREDIT_RISK_BLAS=java makes MLlib skip the system BLAS (netlib looks for a library that does not exist)."""
    return (
        " -Ddev.ludovic.netlib.blas.nativeLib=no-native-blas.so"
        if os.environ.get("CREDIT_RISK_BLAS") == "java"
        else ""
    )


def native_blas() -> str | None:
    """Path of the system BLAS that Spark MLlib will load, or None (MLlib then falls back to Java BLAS)."""
    return next((p for p in _BLAS_PATHS if os.path.exists(p)), None)


# The local driver JVM logs as Spark's defaults do (warnings up, to stderr), and its errors also to a file of
# this process (`errors.JVM_LOG_ENV`): when the JVM dies, that file still holds why, for the task's error.
_LOG4J2 = """rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
rootLogger.appenderRef.file.ref = errors
rootLogger.appenderRef.file.level = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
appender.errors.type = File
appender.errors.name = errors
appender.errors.fileName = ${sys:credit_risk.jvm_log}
appender.errors.createOnDemand = true
appender.errors.layout.type = PatternLayout
appender.errors.layout.pattern = %d{ISO8601} %p %c{1} [%t]: %m%n%ex
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
logger.cachemanager.name = org.apache.spark.sql.execution.CacheManager
logger.cachemanager.level = error
logger.diskblockmanager.name = org.apache.spark.storage.DiskBlockManager
logger.diskblockmanager.level = fatal
logger.blockmgrdelete.name = org.apache.spark.network.util.JavaUtils
logger.blockmgrdelete.level = error
"""


def _jvm_log_options() -> str:
    """Java options that send the driver JVM's errors to <home>/logs/jvm-<pid>.log too (see `_LOG4J2`)."""
    from credit_risk.runtime.errors import JVM_LOG_ENV

    folder = project_home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "log4j2.properties"
    if not config.exists() or config.read_text() != _LOG4J2:
        config.write_text(_LOG4J2)
    os.environ[JVM_LOG_ENV] = str(folder / f"jvm-{os.getpid()}.log")
    return f" -Dlog4j2.configurationFile=file:{config} -Dcredit_risk.jvm_log={os.environ[JVM_LOG_ENV]}"


def local_conf() -> dict[str, str]:
    """The settings of a local session: a `local[*]` session takes them, and so does a local Spark Connect server."""
    cores = os.cpu_count() or 2
    return {
        "spark.master": os.environ.get("CREDIT_RISK_SPARK_MASTER", "local[*]"),
        "spark.app.name": "credit-risk",
        "spark.sql.shuffle.partitions": str(max(4, 2 * cores)),
        "spark.default.parallelism": str(max(4, 2 * cores)),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": os.environ.get("CREDIT_RISK_DRIVER_MEMORY", "6g"),
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC" + _jvm_log_options() + _blas_option(),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.warehouse.dir": str(project_home() / "spark-warehouse"),
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    }


def _local_builder() -> SparkSession.Builder:
    builder = SparkSession.builder
    for key, value in local_conf().items():
        builder = builder.config(key, value)
    if delta_mode() == DELTA_SPARK:
        for key, value in delta_conf().items():
            builder = builder.config(key, value)
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
    if os.environ.get(REMOTE_ENV):
        spark = SparkSession.builder.remote(os.environ[REMOTE_ENV]).getOrCreate()
        log.info("Spark %s over Spark Connect at %s", spark.version, os.environ[REMOTE_ENV])
        return spark
    spark = _local_builder().getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    blas = native_blas()
    log.info("Spark %s local session; native BLAS: %s", spark.version, blas or "absent (Java BLAS fallback)")
    return spark
