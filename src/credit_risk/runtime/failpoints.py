"""Failpoints: named places where a test can kill this process (kill -9) to prove crash safety.

Inert unless CREDIT_RISK_FAILPOINT names a point (shell-style patterns allowed, e.g. `write:staged:silver.*`).
The lake calls them between the steps of a commit: files staged, files moved beside the log, commit done.
"""

from __future__ import annotations

import os
import signal
from fnmatch import fnmatchcase

FAILPOINT_ENV = "CREDIT_RISK_FAILPOINT"


def failpoint(name: str) -> None:
    """SIGKILL this process if `name` matches the configured failpoint (no cleanup, no atexit: a real crash)."""
    target = os.environ.get(FAILPOINT_ENV)
    if target and fnmatchcase(name, target):
        os.kill(os.getpid(), signal.SIGKILL)
