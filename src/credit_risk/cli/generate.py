"""`credit-risk generate`: write synthetic raw LendingClub exports (the embedded default dataset)."""

from __future__ import annotations

import argparse
import time

from credit_risk.cli import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write synthetic raw LendingClub-shaped CSV exports",
        description="Write raw CSV exports that look like LendingClub's, quirks included. "
        "The same arguments give byte-identical files.",
    )
    p.add_argument(
        "--rows", type=int, default=20000, help="number of loans (2.9M is LendingClub's full history)"
    )
    p.add_argument("--seed", type=int, default=42, help="random seed")
    p.add_argument(
        "--layout",
        choices=["kaggle", "loanstats", "retyped"],
        default="kaggle",
        help="kaggle: one 151-column file; loanstats: LendingClub website exports per era; "
        "retyped: one LoanStats3a-style file as an R package re-typed it (no FICO)",
    )
    p.add_argument("--out", default="data/raw", help="output folder (created)")
    p.add_argument("--start", default="2007-01", help="first issue month, YYYY-MM (default 2007-01)")
    p.add_argument("--end", default="2020-03", help="last issue month, YYYY-MM (default 2020-03)")
    p.add_argument(
        "--gzip", action=argparse.BooleanOptionalAction, default=True, help="gzip the files (default on)"
    )
    p.add_argument(
        "--shift",
        default="",
        help="simulated drift, e.g. annual_inc=-0.2,dti=+5 "
        "(amounts scale by 1+x; rates, scores and ratios move by +x)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from credit_risk.synthetic.generate import GenerateSpec, generate_exports, parse_shift, plan_exports

    try:
        shift = parse_shift(args.shift)
        plan = plan_exports(GenerateSpec(args.rows, args.seed, args.layout, args.start, args.end))
        start = time.perf_counter()
        paths = generate_exports(
            args.out, args.rows, args.seed, args.layout, args.start, args.end, compress=args.gzip, shift=shift
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    seconds = time.perf_counter() - start
    for path, planned in zip(paths, plan, strict=True):
        print(f"{path}\t{planned.rows:,} rows")
    print(f"{args.rows:,} loans in {len(paths)} file(s), {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s)")
    return 0
