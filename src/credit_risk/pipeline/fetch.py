"""Download the real LendingClub data set from Kaggle with the user's own credentials.

Credentials come from the environment or the project's `.env` (KAGGLE_USERNAME, KAGGLE_KEY; the
environment wins); they are never printed. Without them, or without network, the error says how to
go on with the synthetic default or local files instead. Files land in `<raw_dir>/kaggle` (`data/raw/kaggle`
in the project folder by default, a Volume on Databricks), where the pipeline's `data_source=kaggle` reads them.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from credit_risk.runtime.context import project_home

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config

DEFAULT_DATASET = "ethon0426/lending-club-20072020q1"
KAGGLE_FOLDER = (
    "kaggle"  # under raw_dir: apart from the generated_* folders and _staging that raw_dir also holds
)
KAGGLE_HOST = "www.kaggle.com"
PROBE_SECONDS = 5.0
ALTERNATIVES = (
    "use the synthetic default (`credit-risk generate --rows 2900000`), or point the pipeline at "
    "raw files you already have (bundle variable data_source=/path/to/csvs)"
)
NO_CREDENTIALS = (
    "Kaggle credentials are missing: set KAGGLE_USERNAME and KAGGLE_KEY in the environment or in "
    f".env (see .env.example). Without them, {ALTERNATIVES}."
)


class FetchError(RuntimeError):
    """Why the download could not happen, with what to do instead."""


def kaggle_credentials() -> tuple[str, str]:
    """(username, key) from the environment, else the project's `.env`; FetchError when either is missing."""
    from dotenv import dotenv_values

    env_file = project_home() / ".env"
    file_values = dotenv_values(env_file) if env_file.is_file() else {}
    user = os.environ.get("KAGGLE_USERNAME") or file_values.get("KAGGLE_USERNAME")
    key = os.environ.get("KAGGLE_KEY") or file_values.get("KAGGLE_KEY")
    if not user or not key:
        raise FetchError(NO_CREDENTIALS)
    return user, key


def reachable(host: str = KAGGLE_HOST, port: int = 443, timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds, name lookup included.

    The probe runs in a daemon thread: a lookup stuck in the resolver can neither hold us nor the exit.
    """
    opened: list[bool] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                opened.append(True)
        except OSError:
            pass

    probe = threading.Thread(target=connect, name="kaggle-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    return bool(opened)


@contextmanager
def _kaggle_env(user: str, key: str) -> Iterator[None]:
    """kagglehub reads credentials from the environment: set them for the download only."""
    saved = {k: os.environ.get(k) for k in ("KAGGLE_USERNAME", "KAGGLE_KEY")}
    os.environ.update(KAGGLE_USERNAME=user, KAGGLE_KEY=key)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def kaggle_dir(cfg: Config) -> Path:
    """Where `credit-risk fetch` puts the Kaggle files and `data_source=kaggle` reads them: `<raw_dir>/kaggle`."""
    return cfg.local_path(cfg.raw_dir) / KAGGLE_FOLDER


def fetch_kaggle(out_dir: str | Path, dataset: str = DEFAULT_DATASET) -> list[Path]:
    """Download `dataset` (OWNER/NAME) with kagglehub into `out_dir` (normally `kaggle_dir(cfg)`); returns its files."""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", dataset):
        raise FetchError(f"dataset {dataset!r} must look like OWNER/NAME, e.g. {DEFAULT_DATASET}")
    user, key = kaggle_credentials()
    if not reachable():
        raise FetchError(
            f"Kaggle ({KAGGLE_HOST}) cannot be reached from this machine within {PROBE_SECONDS:.0f} s "
            f"(no network?). Instead, {ALTERNATIVES}."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    import kagglehub

    try:
        with _kaggle_env(user, key):
            kagglehub.dataset_download(dataset, output_dir=str(out))
    except Exception as exc:  # kagglehub raises many types; keep the message, never the key
        message = str(exc).replace(key, "***").splitlines()[0] if str(exc) else ""
        raise FetchError(f"download of {dataset} failed: {type(exc).__name__}: {message}") from None
    return sorted(p for p in out.rglob("*") if p.is_file())
