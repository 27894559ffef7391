"""A local Spark Connect server: short runs on one machine share one warm JVM instead of each starting one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from credit_risk.runtime.spark import DELTA_SPARK, REMOTE_ENV, delta_conf, delta_mode, local_conf


def start_connect_server(port: int, log_file: Path, timeout: float = 120.0) -> subprocess.Popen[bytes]:
    """A local Spark Connect server with the settings of a local session, for processes that set
    SPARK_REMOTE=sc://127.0.0.1:<port>: several short runs then share one warm JVM instead of starting their own.

    It stops with the process that started it (Linux) or when its `terminate()` is called; `log_file` gets its
    output, and its tail is in the error if it does not come up within `timeout` seconds.
    """
    import pyspark

    spark_home = os.path.dirname(pyspark.__file__)
    delta = delta_conf() if delta_mode() == DELTA_SPARK else {}  # its clients then run the delta-spark lake
    conf = {
        **local_conf(),
        **delta,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
    }
    command = [
        os.path.join(spark_home, "bin", "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--driver-memory",
        conf.pop("spark.driver.memory"),
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_HOME": spark_home, "OPENBLAS_NUM_THREADS": "1"}
    env.pop(REMOTE_ENV, None)
    with open(log_file, "ab") as out:
        server = subprocess.Popen(
            [*command, "spark-internal"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    tail = Path(log_file).read_text(errors="replace")[-2000:]
    raise RuntimeError(
        f"the Spark Connect server on port {port} did not start (exit {server.poll()}); its log "
        f"{log_file} ends:\n{tail}"
    )


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM it when its parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
