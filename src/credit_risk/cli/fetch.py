"""`credit-risk fetch`: download the real LendingClub data set from Kaggle (credentials from .env)."""

from __future__ import annotations

import argparse

from credit_risk.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:
    from credit_risk.fetch import DEFAULT_DATASET

    p = sub.add_parser("fetch", help="download the LendingClub data set from Kaggle (KAGGLE_USERNAME/KAGGLE_KEY)",
                       description="Download LendingClub's loans from Kaggle with your own credentials, read from "
                       "the environment or .env (see .env.example).")
    p.add_argument("--dataset", default=DEFAULT_DATASET, help=f"Kaggle dataset OWNER/NAME (default {DEFAULT_DATASET})")
    p.add_argument("--out", default=None, help="folder for the files (default: data/kaggle in the project, "
                   "where data_source=kaggle reads)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from credit_risk.fetch import FetchError, fetch_kaggle

    try:
        files = fetch_kaggle(args.out, args.dataset)
    except FetchError as exc:
        raise CliError(str(exc)) from exc
    for path in files:
        print(f"{path}\t{path.stat().st_size / 1e6:,.1f} MB")
    return 0
