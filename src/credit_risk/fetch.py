"""Download the real LendingClub data set from Kaggle with the user's own credentials.

Credentials come from the environment or the project's `.env` (KAGGLE_USERNAME, KAGGLE_KEY); they are
never printed. Without them, or without network, the error says how to use the synthetic default instead.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from credit_risk.runtime.context import project_home

DEFAULT_DATASET = "ethon0426/lending-club-20072020q1"
NO_CREDENTIALS = (
    "Kaggle credentials are missing: set KAGGLE_USERNAME and KAGGLE_KEY in the environment or in .env "
    "(see .env.example). Without them, use the synthetic default (`credit-risk generate --rows 2900000`) "
    "or point the pipeline at files you already have (bundle variable data_source=/path/to/csvs)."
)


class FetchError(RuntimeError):
    """Why the download could not happen, with what to do instead."""


def kaggle_credentials() -> tuple[str, str]:
    """(username, key) from the environment, then `.env`; FetchError when either is missing."""
    from dotenv import dotenv_values

    env_file = project_home() / ".env"
    file_values = dotenv_values(env_file) if env_file.exists() else {}
    user = os.environ.get("KAGGLE_USERNAME") or file_values.get("KAGGLE_USERNAME")
    key = os.environ.get("KAGGLE_KEY") or file_values.get("KAGGLE_KEY")
    if not user or not key:
        raise FetchError(NO_CREDENTIALS)
    return user, key


def _reachable(host: str = "www.kaggle.com", port: int = 443, timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_kaggle(out_dir: str | Path, dataset: str = DEFAULT_DATASET) -> list[Path]:
    """Download `dataset` with kagglehub and copy its files into `out_dir`; returns the files."""
    user, key = kaggle_credentials()
    if not _reachable():
        raise FetchError("Kaggle cannot be reached from this machine (no network). Use `credit-risk generate` "
                         "for the synthetic default, or copy the CSV files here and set data_source to their folder.")
    os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"] = user, key
    import kagglehub

    try:
        cache = Path(kagglehub.dataset_download(dataset))
    except Exception as exc:  # kagglehub raises many types; the message names the dataset, never the key
        raise FetchError(f"download of {dataset} failed: {type(exc).__name__}: {str(exc).replace(key, '***')}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for src in sorted(p for p in cache.rglob("*") if p.is_file()):
        dest = out / src.name
        shutil.copy2(src, dest)
        files.append(dest)
    return files
