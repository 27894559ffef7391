"""One lake per location (root, catalog, schema prefix), of the Delta mode this process runs."""

from __future__ import annotations

from pathlib import Path

from credit_risk.lake.base import Lake
from credit_risk.lake.delta_rs import DeltaRsLake
from credit_risk.lake.delta_spark import DeltaSparkLake
from credit_risk.runtime.config import Config
from credit_risk.runtime.spark import DELTA_RS, delta_mode, get_spark

_LAKES: dict[tuple[str, str, str], Lake] = {}


def get_lake(cfg: Config) -> Lake:
    """The lake of `cfg`: its lake root, catalog and schema prefix (one instance per combination).

    The task's own configuration is required, not looked up: a lake built from process-wide defaults would
    write under the default catalog whatever the job's parameters say.
    """
    if not isinstance(cfg, Config):
        raise TypeError(
            f"get_lake() takes the task's Config, not {type(cfg).__name__}; "
            "open_lake(root, catalog, schema_prefix) opens a lake by location"
        )
    return open_lake(cfg.lake_path, cfg.catalog, cfg.schema_prefix)


def open_lake(root: str | Path, catalog: str, schema_prefix: str = "") -> Lake:
    """The lake at `root` with tables under `catalog` and `schema_prefix`, of the active Delta mode."""
    key = (str(Path(root).absolute()), catalog, schema_prefix)
    if key not in _LAKES:
        cls: type[Lake] = DeltaRsLake if delta_mode() == DELTA_RS else DeltaSparkLake
        _LAKES[key] = cls(get_spark(), *key)
    return _LAKES[key]
