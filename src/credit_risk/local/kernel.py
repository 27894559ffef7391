"""One Jupyter kernel per local job run, so its notebook tasks share one Python process and one Spark session.

On a job cluster the tasks of a run share the cluster's driver JVM; locally a fresh kernel per task would
start a JVM, import pyspark and MLflow and warm Spark up again for every task. Each notebook here runs in the
run's kernel after an injected first cell (tagged `injected-context`, as papermill tags its parameters)
that clears the previous task's names and sets this task's context. A task that fails, times out or kills
its kernel leaves no state behind for the next one: that kernel is shut down and the next task starts a new one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from credit_risk.local.dbutils import RUN_DIR_ENV, WIDGETS_ENV, reset_local_dbutils
from credit_risk.runtime.context import GIT_ENV, JOB_ENV, JOB_RUN_ENV, RUN_ENV, TASK_ENV

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager
    from nbformat import NotebookNode

# What differs from one task to the next: set by the injected cell, not at kernel start.
TASK_CONTEXT_ENV = (WIDGETS_ENV, RUN_DIR_ENV, TASK_ENV, JOB_ENV, RUN_ENV, JOB_RUN_ENV, GIT_ENV)


def enter_task(context: dict[str, str], cwd: str) -> None:
    """Inside the shared kernel: this task's environment, a fresh dbutils shim, none of the last task's names
    or cached tables."""
    from IPython import get_ipython

    shell = get_ipython()
    if (
        shell is not None
    ):  # what the notebooks defined; IPython's own names (and `__spec__`, which MLflow reads) stay
        for name in [n for n in shell.user_ns if not n.startswith("_") and n not in shell.user_ns_hidden]:
            del shell.user_ns[name]
        shell.run_line_magic("reset", "-f out")  # displayed results held by the output history
    for name in TASK_CONTEXT_ENV:
        if name in context:
            os.environ[name] = context[name]
        else:
            os.environ.pop(name, None)
    os.chdir(cwd)
    reset_local_dbutils()
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is not None:
        spark.catalog.clearCache()


def _context_cell(context: dict[str, str], cwd: Path) -> NotebookNode:
    import nbformat

    new_code_cell: Callable[..., NotebookNode] = (
        nbformat.v4.new_code_cell
    )  # nbformat's functions are unannotated

    source = (
        "# injected by credit-risk bundle run: this task's context in the job run's shared kernel\n"
        "from credit_risk.local.kernel import enter_task\n"
        f"enter_task({json.dumps(context)}, {json.dumps(str(cwd))})"
    )
    return new_code_cell(source, metadata={"tags": ["injected-context"]})


def _ipc_kernel_manager() -> AsyncKernelManager:
    """A kernel manager on local IPC sockets (in a private temp folder) instead of TCP on 127.0.0.1: the kernel
    and this process are on one machine, and ipykernel warns about unencrypted TCP at every start."""
    import tempfile

    from jupyter_client.manager import AsyncKernelManager

    folder = tempfile.mkdtemp(prefix="credit-risk-kernel-")
    return AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(folder, "kernel"))


class SharedKernel:
    """A kernel started by the first notebook with the job's environment, kept until `close()`.

    `per_task=True` shuts it down after every notebook instead: a kernel (and JVM) per task, as in
    separate REPLs; slower, for when a task's memory must not outlive it.
    """

    def __init__(self, env: dict[str, str], per_task: bool = False) -> None:
        self.env = env
        self.per_task = per_task
        self.km: AsyncKernelManager | None = None  # once the first notebook started it

    def run_notebook(self, path: Path, context: dict[str, str], timeout: int | None, out: Path) -> None:
        """Execute one notebook in the shared kernel; the executed copy (outputs included) is saved to `out`."""
        import nbformat
        from nbclient import NotebookClient

        read: Callable[..., NotebookNode] = nbformat.read  # nbformat's functions are unannotated
        write: Callable[..., None] = nbformat.write
        nb = read(path, as_version=4)
        nb.cells.insert(0, _context_cell(context, path.parent))
        if self.km is None:
            self.km = _ipc_kernel_manager()
        client = NotebookClient(
            nb,
            km=self.km,
            timeout=timeout or None,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        ok = False
        try:
            client.execute(cleanup_kc=False, env=self.env)  # env reaches the kernel only when this starts it
            ok = True
        finally:
            self.km = cast("AsyncKernelManager | None", client.km)  # the manager it was given
            if client.kc is not None:
                client.kc.stop_channels()
            if not ok or self.per_task:
                self.close(now=not ok)
            out.parent.mkdir(parents=True, exist_ok=True)
            write(nb, out)

    def close(self, now: bool = False) -> None:
        """Shut the kernel down (at once after a failure: its state is unknown); the next task starts a new one."""
        from jupyter_core.utils import run_sync

        if self.km is not None and self.km.has_kernel:
            run_sync(self.km.shutdown_kernel)(now=now)
        if self.km is not None and self.km.transport == "ipc":
            import shutil

            shutil.rmtree(os.path.dirname(self.km.ip), ignore_errors=True)
        self.km = None
