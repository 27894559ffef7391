"""Network helpers the tests share."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (servers the tests start bind it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jvm_free_env(
    base: dict[str, str], scratch: Path, blocked: tuple[str, ...] = ("pyspark", "credit_risk")
) -> dict[str, str]:
    """`base` without Java and with `blocked` packages unimportable, for a server that must not need them.

    PATH becomes one folder under `scratch` linking every program of this Python's folder and of the original
    PATH except the JDK's
    (java, javac, ...: whatever resolves into the folder the real `java` is in); JAVA_HOME and SPARK_HOME go. Each
    blocked name becomes a package (first on PYTHONPATH) whose import raises ImportError, so a server that
    imports pyspark fails; code bundled with a model still wins, since MLflow puts a model's code_paths
    before everything else on sys.path.
    """
    import os
    import shutil

    bin_dir, blocker = scratch / "bin", scratch / "blocked"
    bin_dir.mkdir(parents=True, exist_ok=True)
    import sys

    path = [
        str(Path(sys.executable).parent),
        *base.get("PATH", "").split(os.pathsep),
    ]  # the venv's own tools first
    folders = [Path(f) for f in path if f and Path(f).is_dir()]
    jdk_bins = {Path(java).resolve().parent for f in folders if (java := shutil.which("java", path=str(f)))}
    for folder in folders:
        for entry in folder.iterdir():
            target = entry.resolve()
            if target.parent in jdk_bins or (bin_dir / entry.name).exists() or not os.access(target, os.X_OK):
                continue
            (bin_dir / entry.name).symlink_to(target)
    for name in blocked:
        (blocker / name).mkdir(parents=True, exist_ok=True)
        (blocker / name / "__init__.py").write_text(
            f"raise ImportError('{name} is blocked in this JVM-free environment')\n"
        )
    env = {
        k: v
        for k, v in base.items()
        if k not in ("JAVA_HOME", "SPARK_HOME", "PYSPARK_PYTHON", "SPARK_REMOTE")
    }
    env.update(PATH=str(bin_dir), PYTHONPATH=str(blocker))
    return env
