"""Databricks Runtime images a job cluster may name, with the Spark, Scala and Python each one ships.

Code written and tested against a newer Spark than the cluster's fails on the cluster only (a Spark 4 API on a
Spark 3.5 runtime). So the job clusters' `spark_version` (resources/credit_risk.jobs.yml) must be a row of this table, and
its Spark minor version is the one the local install pins (tests/test_packaging.py holds the bundle,
requirements.txt and the installed pyspark to it).

Sources, read 2026-12: the release-notes index, "Databricks Runtime release notes versions and compatibility"
(https://docs.databricks.com/aws/en/release-notes/runtime/), gives each version's Apache Spark and, in its
MLflow-Databricks Runtime compatibility matrix, the MLflow of each ML runtime. Python and the installed
libraries come from each ML runtime's release notes (https://docs.databricks.com/aws/en/release-notes/runtime/
<version>-ml, "System environment" and "Python libraries on CPU clusters"), as Databricks also publishes them
per image key in github.com/databricks/environments (python/dbr/<key>/pyproject.toml and constraints.txt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class DatabricksRuntime:
    """One runtime image; `key` is what a cluster's `spark_version` names."""

    key: str
    name: str
    spark: str  # Apache Spark version
    scala: str
    python: str
    mlflow: str  # the ML runtime's mlflow-skinny (the ML runtimes ship mlflow-skinny, not the full mlflow)
    lts: bool
    # The runtime's own versions of the libraries the project wheel leaves to it (pyspark stands for the Spark
    # the image ships). Filled for the runtime the jobs use: the clean-install test installs exactly these.
    provided: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def spark_minor(self) -> str:
        return minor(self.spark)


def minor(version: str) -> str:
    """'4.0.5' -> '4.0'."""
    parts = version.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"not a major.minor[.patch] version: {version!r}")
    return ".".join(parts[:2])


_ROWS = (
    # 18 ML: Spark 4.1.0, MLflow 3.8.1 (release-notes index); Python 3.12 (databricks/environments
    # python/dbr/18.x-cpu-ml-scala2.13). docs.databricks.com lists it without the LTS label (one translated
    # copy of the index calls it "18 LTS"): not a choice for the jobs until the index says LTS.
    DatabricksRuntime(
        "18.x-cpu-ml-scala2.13",
        "18 ML",
        spark="4.1.0",
        scala="2.13",
        python="3.12",
        mlflow="3.8.1",
        lts=False,
    ),
    # 17.3 LTS ML, the jobs' runtime: Spark 4.0.0, MLflow 3.0.1 (release-notes index); Python 3.12.3, Scala
    # 2.13 only from 17 on (17.3 LTS release notes, System environment); libraries from the 17.3 LTS ML release
    # notes (databricks/environments python/dbr/17.3.x-cpu-ml-scala2.13/constraints.txt). Of Spark 4.0's
    # PySpark, PyPI's pyspark 4.0.0 is the release of the same version.
    DatabricksRuntime(
        "17.3.x-cpu-ml-scala2.13",
        "17.3 LTS ML",
        spark="4.0.0",
        scala="2.13",
        python="3.12.3",
        mlflow="3.0.1",
        lts=True,
        provided=MappingProxyType(
            {
                "pyspark": "4.0.0",
                "mlflow-skinny": "3.0.1",
                "numpy": "2.1.3",
                "pandas": "2.2.3",
                "pyarrow": "19.0.1",
                "scipy": "1.15.1",
                "scikit-learn": "1.6.1",
                "matplotlib": "3.10.0",
                "pyyaml": "6.0.2",
                "tqdm": "4.67.1",
                "databricks-sdk": "0.49.0",
                "pydantic": "2.10.6",
                "protobuf": "5.29.4",
            }
        ),
    ),
    # 16.4 LTS ML (both Scala images): Spark 3.5.2, MLflow 2.21.3 (release-notes index); Python 3.12
    # (databricks/environments python/dbr/16.4.x-cpu-ml-scala2.12 and -scala2.13).
    DatabricksRuntime(
        "16.4.x-cpu-ml-scala2.12",
        "16.4 LTS ML",
        spark="3.5.2",
        scala="2.12",
        python="3.12",
        mlflow="2.21.3",
        lts=True,
    ),
    DatabricksRuntime(
        "16.4.x-cpu-ml-scala2.13",
        "16.4 LTS ML",
        spark="3.5.2",
        scala="2.13",
        python="3.12",
        mlflow="2.21.3",
        lts=True,
    ),
    # 15.4 LTS ML: Spark 3.5.0, MLflow 2.13.1 (release-notes index); Python 3.11 (databricks/environments
    # python/dbr/15.4.x-cpu-ml-scala2.12).
    DatabricksRuntime(
        "15.4.x-cpu-ml-scala2.12",
        "15.4 LTS ML",
        spark="3.5.0",
        scala="2.12",
        python="3.11",
        mlflow="2.13.1",
        lts=True,
    ),
)

RUNTIMES: Mapping[str, DatabricksRuntime] = MappingProxyType({row.key: row for row in _ROWS})


def runtime(spark_version: str) -> DatabricksRuntime:
    """The row of a cluster's `spark_version`; an unknown one is an error that names the known ones."""
    try:
        return RUNTIMES[spark_version]
    except KeyError:
        raise KeyError(
            f"spark_version {spark_version!r} is not in credit_risk.runtime.databricks_runtimes "
            f"(known: {', '.join(RUNTIMES)}); add its row, with its release notes as the source"
        ) from None
