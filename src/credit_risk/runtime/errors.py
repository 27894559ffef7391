"""Failures that name their cause: the task, what it was working on, and the root error.

A Spark failure reaches Python as a Py4J error whose text is a Java stack (the last line of which is a
stack frame), or, when the JVM itself died (a StackOverflowError or OutOfMemoryError in a task thread
ends the driver JVM), as "Connection refused" on the next call. `root_cause` reads the error the way a
person would: a fatal JVM error or a full disk first, then the deepest `Caused by:`, then the message
line; a dead JVM is named as such, with the fatal error its log recorded. Task functions are wrapped
in `pipeline_task`, so the exception a user sees, on Databricks or locally, reads
`task <key> failed while <what it was doing>: <root cause>`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import ParamSpec, TypeVar

JVM_LOG_ENV = "CREDIT_RISK_JVM_LOG"  # where the local driver JVM's errors are logged (set by runtime.spark)
FATAL = (
    "java.lang.StackOverflowError",
    "java.lang.OutOfMemoryError",
    "No space left on device",
    "java.lang.InternalError",
)
_DEAD_JVM = (
    "Connection refused",
    "Answer from Java side is empty",
    "Error while sending or receiving",
    "because SparkContext was shut down",
    "Cannot call methods on a stopped SparkContext",
    "Error while receiving",
    "py4j.protocol.Py4JNetworkError",
)
# errors after which Spark's executor exits the JVM (SparkUncaughtExceptionHandler), in local mode the driver's
_ENDS_JVM = ("java.lang.StackOverflowError", "java.lang.OutOfMemoryError", "java.lang.InternalError")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRAME = re.compile(r"^\s*(at |\.\.\. \d+ more|File \")")
MAX_CAUSE = 400

P = ParamSpec("P")
R = TypeVar("R")


class TaskFailed(RuntimeError):
    """A pipeline task's failure, in one line: the task, what it was doing, and the root cause."""

    def __init__(self, task: str, doing: str | None, cause: str) -> None:
        self.task, self.doing, self.cause = task, doing, cause
        super().__init__(f"task {task} failed{f' while {doing}' if doing else ''}: {cause}")


@contextmanager
def doing(what: str) -> Iterator[None]:
    """Mark what the code inside is working on (a file, a table, a model); an error raised there carries it."""
    try:
        yield
    except BaseException as exc:
        if getattr(exc, "_credit_risk_doing", None) is None:
            with suppress(AttributeError):  # the innermost description wins
                exc._credit_risk_doing = what  # type: ignore[attr-defined]
        raise


def pipeline_task(key: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a task function: any exception it raises becomes a `TaskFailed` naming its root cause."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except TaskFailed:
                raise
            except Exception as exc:
                cause = root_cause(exc)
                if cause.startswith(_ENDS_JVM) and _local_jvm_exits():
                    cause = f"the Spark JVM died: {cause}"
                raise TaskFailed(key, getattr(exc, "_credit_risk_doing", None), cause) from exc

        return run

    return wrap


def _local_jvm_exits(wait_seconds: float = 15.0) -> bool:
    """Whether the JVM this process launched exits within `wait_seconds`.

    A local executor reports a fatal error to the driver before it ends the JVM, so the error can reach
    Python while the JVM still runs; waiting for the exit tells the user the session is gone. On a cluster
    (no JVM launched by this process) it is False at once.
    """
    try:
        from pyspark import SparkContext
    except ImportError:
        return False
    context = SparkContext._active_spark_context
    proc = getattr(getattr(context, "_gateway", None), "proc", None)
    if proc is None:
        return False
    try:
        proc.wait(timeout=wait_seconds)
    except Exception:  # subprocess.TimeoutExpired: it lives on
        return False
    return True


def _clean(line: str) -> str:
    line = _ANSI.sub("", line).strip()
    return line if len(line) <= MAX_CAUSE else line[:MAX_CAUSE] + "..."


def _str(exc: BaseException) -> str:
    """str(exc), which for a Py4J error asks the JVM for the Java exception's text: with the JVM gone, say so."""
    try:
        return str(exc)
    except Exception as failed:  # any failure to reach the JVM
        return f"{getattr(exc, 'errmsg', '')} (its Java text could not be read: {type(failed).__name__}: {failed})"


def _text(exc: BaseException) -> str:
    """The exception's text and that of the exceptions it came from (`raise ... from`, or during handling)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {_str(current)}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def jvm_log_error(path: str | Path | None = None, tail_bytes: int = 200_000) -> str | None:
    """The last fatal error (else the last `Caused by:` or ERROR line) in a driver JVM's log, if any."""
    path = os.environ.get(JVM_LOG_ENV) if path is None else path
    if not path or not Path(path).is_file():
        return None
    with open(path, "rb") as fh:
        fh.seek(max(0, Path(path).stat().st_size - tail_bytes))
        lines = fh.read().decode("utf-8", errors="replace").splitlines()
    for wanted in (
        lambda ln: any(m in ln for m in FATAL),
        lambda ln: ln.strip().startswith("Caused by:"),
        lambda ln: " ERROR " in ln,
    ):
        hits = [ln for ln in lines if wanted(ln)]
        if hits:
            return _clean(hits[-1].replace("Caused by: ", "", 1))
    return None


def root_cause(exc: BaseException | None, text: str | None = None, jvm_log: str | Path | None = None) -> str:
    """The one line that explains `exc`, or an error `text` such as a notebook cell's traceback.

    `jvm_log`: the log of the driver JVM the code ran on, read when the JVM died (default: this process's).
    """
    text = _ANSI.sub("", text if text is not None else _text(exc) if exc is not None else "")
    if isinstance(exc, ConnectionError) or any(marker in text for marker in _DEAD_JVM):
        logged = jvm_log_error(jvm_log)
        return "the Spark JVM died" + (
            f": {logged}"
            if logged
            else "; its log names no error (killed from outside, or out of memory in the operating system)"
        )
    lines = [ln for ln in text.splitlines() if ln.strip()]
    fatal = [ln for ln in lines if any(m in ln for m in FATAL)]
    if fatal:
        return _clean(fatal[-1].replace("Caused by: ", "", 1))
    caused = [ln for ln in lines if ln.strip().startswith("Caused by:")]
    if caused:
        return _clean(caused[-1].strip()[len("Caused by:") :])
    java = [
        ln for ln in lines if ln.startswith(": ") and not _FRAME.match(ln[2:])
    ]  # Py4J: ": <class>: <message>"
    if java:
        return _clean(java[0][2:])
    if any(
        ln.startswith("Traceback (most recent call last)") for ln in lines
    ):  # a Python traceback: its last line
        raised = [
            ln
            for ln in lines[max(i for i, ln in enumerate(lines) if ln.startswith("Traceback")) + 1 :]
            if not ln[:1].isspace()
        ]
        if raised:
            return _clean(raised[-1])
    message = [ln for ln in lines if not _FRAME.match(ln) and not ln.strip().startswith("^")]
    return _clean(message[0]) if message else type(exc).__name__ if exc is not None else "unknown error"
