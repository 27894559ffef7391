"""Runtime layer: Spark session, lake I/O, dbutils and configuration, the same API locally and on Databricks."""
