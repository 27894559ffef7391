"""`dbutils`: the real one on Databricks (through databricks-sdk's runtime module), the local shim elsewhere.

`DBUtils` is what the pipeline needs of either; the shim itself is `credit_risk.local.dbutils`.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from credit_risk.runtime.context import on_databricks


class Widgets(Protocol):
    """`dbutils.widgets` as the notebooks and `config_from_widgets` use it."""

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None: ...

    def get(self, name: str) -> str: ...

    def getAll(self) -> dict[str, str]: ...


class TaskValues(Protocol):
    """`dbutils.jobs.taskValues`: small values one task of a job run hands to the tasks after it."""

    def set(self, key: str, value: Any) -> None: ...

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any: ...


class Jobs(Protocol):
    @property
    def taskValues(self) -> TaskValues: ...


class DBUtils(Protocol):
    """What this project needs of dbutils: Databricks' own object and the local shim both fit."""

    @property
    def widgets(self) -> Widgets: ...

    @property
    def jobs(self) -> Jobs: ...


def get_dbutils() -> DBUtils:
    """Databricks' dbutils inside a Databricks runtime, else the process-wide local shim."""
    if on_databricks():
        from databricks.sdk.runtime import dbutils  # the notebook's own object on a cluster

        return cast(DBUtils, dbutils)
    from credit_risk.local.dbutils import local_dbutils

    return local_dbutils()
