"""The `credit-risk` command: one sub-module per command group, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Command groups, in the order `--help` lists them. Each module defines register(subparsers).
COMMANDS = ["generate", "fetch", "lake", "bundle", "ui", "serve", "endpoint"]


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2, no traceback."""


def add_bundle_arguments(parser: argparse.ArgumentParser, target_help: str, var_help: str) -> None:
    """-t/--target, --var NAME=VALUE and --root: which bundle target, with which variables, as `bundle run` takes them."""
    parser.add_argument("-t", "--target", default=None, help=target_help)
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help=var_help)
    parser.add_argument("--root", default=".", help="folder holding databricks.yml")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="credit-risk",
        description="Credit-risk lakehouse on LendingClub data: generate or fetch raw exports, inspect the lake, "
        "run the bundle's jobs locally, serve the champion model.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"credit_risk.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"credit-risk {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
