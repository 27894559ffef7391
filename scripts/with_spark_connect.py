"""Run a command against one local Spark Connect server: `python scripts/with_spark_connect.py -- CMD ARGS...`.

The command gets SPARK_REMOTE=sc://127.0.0.1:<port>, so every process it starts (nbmake's kernels, one per
notebook) uses the server's warm JVM instead of starting and warming its own. The server has the settings and
Delta mode of a local session (`credit_risk.local.connect`), logs to <CREDIT_RISK_HOME>/logs/connect.log, and
stops when the command ends. Exits with the command's exit code. make test runs the data notebooks this way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from credit_risk.local.connect import start_connect_server
from credit_risk.runtime.context import project_home
from credit_risk.runtime.spark import REMOTE_ENV


def main(command: list[str]) -> int:
    if not command:
        raise SystemExit("usage: with_spark_connect.py -- COMMAND [ARGS...]")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_file = project_home() / "logs" / "connect.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    server = start_connect_server(port, log_file)
    try:
        return subprocess.run(command, env={**os.environ, REMOTE_ENV: f"sc://127.0.0.1:{port}"}).returncode
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[1:] if args[:1] == ["--"] else args))
