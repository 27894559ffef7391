"""The lakehouse's tables, as `schema.table`: the lake (and `Config.table`) adds the catalog and schema prefix.

Every step, the API, the CLI and the tests name a table through these constants, so a table is renamed in
one place and a typo is a NameError instead of a new, empty table.
"""

from __future__ import annotations

# Bronze: raw exports as received (every value a string), the lines that are not data rows, and the files
# already ingested (by sha256).
BRONZE_LOANS = "bronze.loans_raw"
BRONZE_QUARANTINE = "bronze.loans_quarantine"
BRONZE_INGEST_LOG = "bronze.ingest_log"

# Silver: typed, de-duplicated loans, the rows that could not be typed, and the winsorization bounds.
SILVER_LOANS = "silver.loans"
SILVER_QUARANTINE = "silver.loans_quarantine"
SILVER_WINSOR_BOUNDS = "silver.winsor_bounds"

# Gold: origination-time features, their train/valid/test split, risk segments and batch scores.
GOLD_FEATURES = "gold.loan_features"
GOLD_SPLITS = "gold.loan_splits"
GOLD_SEGMENTS = "gold.risk_segments"
GOLD_SCORES = "gold.loan_scores"

# Monitoring: the API's predictions, and the drift and performance the monitoring job measures.
MONITORING_INFERENCE_LOG = "monitoring.inference_log"
MONITORING_FEATURE_DRIFT = "monitoring.feature_drift"
MONITORING_PERFORMANCE = "monitoring.model_performance"
