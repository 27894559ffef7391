"""The Spark session (local or Databricks): the package's `credit_risk.runtime.spark.get_spark`."""

from credit_risk.runtime.spark import get_spark

__all__ = ["get_spark"]
