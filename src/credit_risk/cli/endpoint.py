"""`credit-risk endpoint deploy`: point the serving endpoint at the champion (the job's deploy_endpoint task)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "endpoint", help="serving endpoint: deploy the champion (Databricks) or check it locally"
    )
    actions = p.add_subparsers(dest="action", required=True)
    deploy = actions.add_parser("deploy", help="create/update the endpoint for the champion version")
    deploy.add_argument("--name", default="credit-risk-pd", help="endpoint name")
    deploy.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="job parameter (bundle variable), repeatable: model_name, catalog, lake_root, ...",
    )
    deploy.set_defaults(func=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    from credit_risk.cli import CliError
    from credit_risk.runtime.config import load_config
    from credit_risk.serving.endpoint import deploy_endpoint

    params = {}
    for item in args.param:
        if "=" not in item:
            raise CliError(f"--param {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        params[key] = value
    try:
        result = deploy_endpoint(load_config(params), args.name)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps(result, indent=2))
    return 0
