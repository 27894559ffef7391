"""`credit-risk fetch`: download the real LendingClub data set from Kaggle (credentials from .env)."""

from __future__ import annotations

import argparse

from credit_risk.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:
    from credit_risk.fetch import DEFAULT_DATASET

    p = sub.add_parser("fetch", help="download the LendingClub data set from Kaggle (KAGGLE_USERNAME/KAGGLE_KEY)")
    p.add_argument("--dataset", default=DEFAULT_DATASET, help="Kaggle dataset OWNER/NAME")
    p.add_argument("--out", default="data/kaggle", help="folder to copy the files into")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from credit_risk.fetch import FetchError, fetch_kaggle

    try:
        files = fetch_kaggle(args.out, args.dataset)
    except FetchError as exc:
        raise CliError(str(exc)) from exc
    for path in files:
        print(path)
    return 0
