"""The inference log: every prediction appended to a Delta table, in batches, off the request path.

Requests only put rows on a bounded queue (a full queue drops and counts, it never blocks a request);
one writer thread appends a batch with delta-rs every `flush_requests` requests or `flush_seconds`, and flushes
what is left on shutdown. No Spark in the serving process. Applicant features are kept because drift
monitoring needs them; the request id and a hash of the features identify a row without the loan id.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from credit_risk import features

log = logging.getLogger("credit_risk.serving")


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


class InferenceLog:
    """Queue + writer thread appending prediction rows to a Delta table with delta-rs."""

    def __init__(
        self,
        path: str | Path,
        flush_requests: int = 200,
        flush_seconds: float = 2.0,
        max_queue: int = 10_000,
        metrics: Any = None,
    ) -> None:
        self.path = str(path)
        self.flush_requests, self.flush_seconds = flush_requests, flush_seconds
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self.metrics = metrics
        self.schema = schema()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def record(
        self,
        columns: dict[str, list[Any]],
        answers: list[dict[str, Any]],
        request_id: str,
        model_name: str,
        model_version: str,
    ) -> None:
        """Enqueue one request's loans without waiting; a full queue drops them and counts them."""
        try:
            self.queue.put_nowait(
                (columns, answers, request_id, model_name, model_version, datetime.now(UTC))
            )
        except queue.Full:
            if self.metrics:
                self.metrics.inference_dropped.inc(len(answers))

    def _drain(self, limit: int) -> list[dict[str, Any]]:
        out = []
        while len(out) < limit:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return out

    def _write(self, requests: list[tuple]) -> None:
        from deltalake import write_deltalake

        table = log_table(requests, self.schema)
        rows = table.num_rows
        try:
            write_deltalake(self.path, table, mode="append")
            if self.metrics:
                self.metrics.inference_rows.inc(rows)
        except Exception as exc:  # noqa: BLE001 - the log must never take the API down
            log.error(
                "inference log write failed",
                extra={"event": "inference_log_failed", "error": str(exc), "rows": rows},
            )
            if self.metrics:
                self.metrics.inference_dropped.inc(rows)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            if self.queue.qsize() >= self.flush_requests or (
                time.monotonic() - last >= self.flush_seconds and not self.queue.empty()
            ):
                self._write(self._drain(self.flush_requests))
                last = time.monotonic()
            self._stop.wait(0.05)
        rest = self._drain(self.queue.qsize() + 1)
        if rest:
            self._write(rest)

    def flush_and_stop(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer (graceful shutdown)."""
        self._stop.set()
        self._thread.join(timeout=timeout)


def log_table(requests: list[tuple], table_schema: pa.Schema) -> pa.Table:
    """Queued requests (feature columns, answers, request id, model, time) -> one Arrow table, column-wise."""
    import pandas as pd

    cols: dict[str, list[Any]] = {}
    for c in features.FEATURES:
        cols[c] = [v for r in requests for v in r[0][c]]
        time.sleep(0)
    answers = [(a, r) for r in requests for a in r[1]]
    frame = pd.DataFrame(cols)
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()  # vectorised: no per-row Python
    cols.update(
        request_id=[r[2] for _, r in answers],
        feature_hash=[f"{h:016x}" for h in hashes],
        pd=[a["pd"] for a, _ in answers],
        decision=[int(a["decision"] == "decline") for a, _ in answers],
        model_name=[r[3] for _, r in answers],
        model_version=[int(r[4]) for _, r in answers],
        scored_at=[r[5] for _, r in answers],
        source=["api"] * len(answers),
    )
    arrays = []
    for f in table_schema:  # one column at a time, yielding the GIL between them: requests keep flowing
        arrays.append(pa.array(cols[f.name], type=f.type))
        time.sleep(0)
    return pa.Table.from_arrays(arrays, schema=table_schema)
