"""The record of a scored loan: the columns the API's inference log and batch scoring both write.

One schema for online and offline predictions, so the monitor reads either alike: the model inputs (for
drift), the PD and decision, which model version scored it, when, and from where.
"""

from __future__ import annotations

import pyarrow as pa

from credit_risk import features


def schema() -> pa.Schema:
    """The table's columns (batch scoring and the monitor use the same names)."""
    cols = [pa.field("request_id", pa.string()), pa.field("feature_hash", pa.string())]
    cols += [pa.field(c, pa.float64()) for c in features.NUMERIC]
    cols += [pa.field(c, pa.int32()) for c in features.MISSING_FLAGS]
    cols += [pa.field(c, pa.string()) for c in features.CATEGORICAL]
    cols += [
        pa.field("pd", pa.float64()),
        pa.field("decision", pa.int32()),
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.int32()),
        pa.field("scored_at", pa.timestamp("us", tz="UTC")),
        pa.field("source", pa.string()),
    ]
    return pa.schema(cols)
