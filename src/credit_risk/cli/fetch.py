"""`credit-risk fetch`: download the real LendingClub data set from Kaggle (credentials from .env)."""

from __future__ import annotations

import argparse

from credit_risk.cli import CliError, add_bundle_arguments


def register(sub: argparse._SubParsersAction) -> None:
    from credit_risk.pipeline.fetch import DEFAULT_DATASET

    p = sub.add_parser(
        "fetch",
        help="download the LendingClub data set from Kaggle (KAGGLE_USERNAME/KAGGLE_KEY)",
        description="Download LendingClub's loans from Kaggle with your own credentials, read from "
        "the environment or .env (see .env.example).",
    )
    p.add_argument(
        "--dataset", default=DEFAULT_DATASET, help=f"Kaggle dataset OWNER/NAME (default {DEFAULT_DATASET})"
    )
    p.add_argument(
        "--out",
        default=None,
        help="folder for the files (default: <raw_dir>/kaggle of the bundle target, "
        "where data_source=kaggle reads; data/raw/kaggle in the project for local)",
    )
    add_bundle_arguments(
        p, "bundle target whose raw_dir to fill (default: local)", "bundle variable, e.g. raw_dir=..."
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from credit_risk.pipeline.fetch import FetchError, fetch_kaggle, kaggle_dir

    if args.out is not None:
        out = args.out
    else:
        from credit_risk.cli.bundle import _vars, bundle_config

        out = kaggle_dir(bundle_config(args.root, args.target, _vars(args.var)))
    try:
        files = fetch_kaggle(out, args.dataset)
    except FetchError as exc:
        raise CliError(str(exc)) from exc
    for path in files:
        print(f"{path}\t{path.stat().st_size / 1e6:,.1f} MB")
    return 0
