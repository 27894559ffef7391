"""Lake I/O over Delta tables named `catalog.schema.table`: the one place where tables are read and written.

Two implementations behind one API (`base.Lake`), picked once per process by `runtime.spark.delta_mode()`:

* `DeltaSparkLake` (delta_spark.py): delta-spark, on Databricks or a local session with the Delta jars (the
  default where `make install` could fetch them). On Databricks the names are Unity Catalog tables; elsewhere
  they map to folders under the lake root.
* `DeltaRsLake` (delta_rs.py): plain Spark writes and reads the Parquet data files, and delta-rs (the
  `deltalake` package) keeps the transaction log (delta_log.py builds its commits).

Both produce true Delta tables (delta-spark, delta-rs, DuckDB and Polars read them) and record the job,
task and git commit of every write in the commit's `userMetadata`. Tasks open theirs with `get_lake(cfg)`.
"""

from credit_risk.lake.base import WRITE_MODES, Lake, LakeError, TableName
from credit_risk.lake.delta_rs import DeltaRsLake
from credit_risk.lake.delta_spark import DeltaSparkLake
from credit_risk.lake.factory import get_lake, open_lake

__all__ = [
    "WRITE_MODES",
    "DeltaRsLake",
    "DeltaSparkLake",
    "Lake",
    "LakeError",
    "TableName",
    "get_lake",
    "open_lake",
]
