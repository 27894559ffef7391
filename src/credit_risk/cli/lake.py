"""`credit-risk lake`: the local lakehouse's Delta tables: history, rows at a version, restore, recover."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from credit_risk.cli import CliError, add_bundle_arguments


def register(sub: argparse._SubParsersAction) -> None:
    lake = sub.add_parser("lake", help="inspect Delta tables: history, show")
    cmds = lake.add_subparsers(dest="lake_command", metavar="SUBCOMMAND", required=True)
    hist = cmds.add_parser("history", help="commits of a table, newest first")
    hist.add_argument("table", help="schema.table or catalog.schema.table, e.g. bronze.loans_raw")
    hist.add_argument("--limit", type=int, default=20)
    hist.set_defaults(func=_history)
    show = cmds.add_parser("show", help="rows of a table, latest or at a version")
    show.add_argument("table")
    show.add_argument("--version", type=int, default=None, help="Delta version to read (time travel)")
    show.add_argument("--limit", type=int, default=10, help="rows to print")
    show.set_defaults(func=_show)
    restore = cmds.add_parser("restore", help="make an earlier version current again (a new commit)")
    restore.add_argument("table")
    restore.add_argument("version", type=int)
    restore.set_defaults(func=_restore)
    recover = cmds.add_parser(
        "recover", help="set aside an unreadable newest commit: the table is back at the one before"
    )
    recover.add_argument("table")
    recover.set_defaults(func=_recover)
    for p in (hist, show, restore, recover):
        add_bundle_arguments(
            p,
            "bundle target whose lake to open (default: local)",
            "bundle variable, as given to `bundle run` (e.g. catalog=x, schema_prefix=, lake_root=)",
        )


def _lake(args: argparse.Namespace):
    """The lake of the bundle target and variables given, as a job run with them writes it."""
    from credit_risk.cli.bundle import _vars, bundle_config
    from credit_risk.lake import get_lake

    return get_lake(bundle_config(args.root, args.target, _vars(args.var)))


@contextlib.contextmanager
def _lake_errors() -> Iterator[None]:
    """A lake error (unknown table, unreadable commit) becomes the CLI's one-line error and exit status 2."""
    from credit_risk.lake import LakeError

    try:
        yield
    except LakeError as exc:
        raise CliError(str(exc)) from exc


def _history(args: argparse.Namespace) -> int:
    with _lake_errors():
        rows = _lake(args).history(args.table, args.limit)
    print(f"{'version':>7}  {'timestamp':19}  {'operation':10}  job/task  git")
    for h in rows:
        m = h["metadata"]
        print(
            f"{h['version']:>7}  {h['timestamp']:%Y-%m-%d %H:%M:%S}  {h['operation']:10}  "
            f"{m.get('job', '')}/{m.get('task', '')}  {str(m.get('git_sha', ''))[:10]}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise CliError("--limit must be 0 or more")
    with _lake_errors():
        lake = _lake(args)
        df = lake.read(args.table, version=args.version)
        version = args.version if args.version is not None else lake.version(args.table)
    print(f"{lake.name(args.table)} @ version {version} ({lake.path(args.table)})")
    df.show(args.limit, truncate=40)
    return 0


def _restore(args: argparse.Namespace) -> int:
    with _lake_errors():
        version = _lake(args).restore(args.table, args.version)
    print(f"{args.table}: version {args.version} restored as version {version}")
    return 0


def _recover(args: argparse.Namespace) -> int:
    lake = _lake(args)
    if not hasattr(lake, "recover"):
        raise CliError("recover works on the local delta-rs lake; with delta-spark use RESTORE TABLE")
    with _lake_errors():
        result = lake.recover(args.table)
    if result["recovered"]:
        print(
            f"{result['table']}: commit {result['corrupt_version']} set aside ({result['set_aside']}); "
            f"the table is at version {result['version']} (`credit-risk lake restore` goes back further)"
        )
    else:
        print(f"{result['table']}: version {result['version']} reads fine, nothing to recover")
    return 0
