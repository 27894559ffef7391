"""The real Databricks CLI validates the bundle in every target, and resolves the jobs the local runner runs.

`make databricks-cli` builds the CLI from its Go module at the pinned version and `make test` passes its path
in DATABRICKS_CLI; without it (no Go, or the module could not be fetched) these tests skip and say why.
`bundle validate` talks to a workspace: here a stub on 127.0.0.1 that answers the calls validate makes (host
metadata, the current user, the status of the bundle's folders, creating its file folder, a folder's permissions)
and records every request, so the test also pins which endpoints validate needs. The CLI runs with a temp HOME and no profile, telemetry off, and a proxy that goes nowhere for
anything but loopback, so neither the user's ~/.databrickscfg nor the internet is involved.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from credit_risk.bundle.loader import Bundle
from credit_risk.bundle.validate import validate_bundle

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("local", "dev", "staging", "prod")
CLI_ENV = "DATABRICKS_CLI"
BUILD_LOG_ENV = "DATABRICKS_CLI_BUILD_LOG"  # where `make databricks-cli` wrote why it could not build
USER = getpass.getuser()  # the stub's current user is this machine's, as the local loader assumes
# The endpoints `bundle validate` calls; anything else the stub is asked is a test failure.
KNOWN = {
    "GET /.well-known/databricks-config",
    "GET /api/2.0/preview/scim/v2/Me",
    "GET /api/2.0/workspace/get-status",
    "POST /api/2.0/workspace/mkdirs",
    "GET /api/2.0/permissions/directories/{id}",
}
# job parameters that name a bundle resource: the job must use the experiment and model the bundle creates
NAMED = {
    "experiment_name": ("experiments", "credit_risk"),
    "model_name": ("registered_models", "credit_risk_pd"),
}
PROD_SP = "credit-risk-prod-sp"  # prod is deployed by the service principal it runs as (databricks.yml)


class _Workspace(BaseHTTPRequestHandler):
    """A workspace with one caller (a user, or prod's service principal) owning its home folder, nothing else.

    Records every (method, path); folders that validate creates (mkdirs) exist from then on.
    """

    calls: list[str] = []
    folders: dict[str, int] = {}
    caller = f"{USER}@localhost"
    principal = "user_name"  # service_principal_name for the service principal

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        size = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(size)) if size else {}
        route = re.sub(r"/directories/\d+$", "/directories/{id}", url.path)
        self.calls.append(f"{self.command} {route}")
        host = f"http://127.0.0.1:{self.server.server_port}"
        if url.path == "/.well-known/databricks-config":  # no bearer token on the discovery call
            self._reply(
                200,
                {
                    "host_type": "WORKSPACE_HOST",
                    "workspace_id": "1001",
                    "cloud": "AWS",
                    "oidc_endpoint": f"{host}/oidc",
                },
            )
        elif self.headers.get("Authorization") != "Bearer dapi-test-token":
            self._reply(401, {"error_code": "UNAUTHENTICATED", "message": "no token"})
        elif url.path == "/api/2.0/preview/scim/v2/Me":
            self._reply(
                200, {"id": "1001", "userName": self.caller, "active": True, "groups": [{"display": "users"}]}
            )
        elif url.path == "/api/2.0/workspace/mkdirs":
            path = body["path"]
            while path not in self.folders:
                self.folders[path] = len(self.folders) + 1
                path = path.rsplit("/", 1)[0] or "/"
            self._reply(200, {})
        elif url.path == "/api/2.0/workspace/get-status":
            path = parse_qs(url.query)["path"][0]
            if path in self.folders:
                self._reply(200, {"object_type": "DIRECTORY", "object_id": self.folders[path], "path": path})
            else:
                self._reply(
                    404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Path ({path}) doesn't exist."}
                )
        elif route == "/api/2.0/permissions/directories/{id}":
            self._reply(
                200,
                {
                    "object_id": url.path.removeprefix("/api/2.0/permissions"),
                    "object_type": "directory",
                    "access_control_list": [
                        {
                            self.principal: self.caller,
                            "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": True}],
                        },
                        {
                            "group_name": "admins",
                            "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": True}],
                        },
                    ],
                },
            )
        else:
            self._reply(
                404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"stub: no {self.command} {url.path}"}
            )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, *args: Any) -> None:  # quiet: the calls are asserted, not printed
        pass


@pytest.fixture(scope="module")
def cli() -> str:
    """The pinned CLI that `make databricks-cli` built; skips with the build's reason where there is none."""
    path = os.environ.get(CLI_ENV, "")
    if path and os.access(path, os.X_OK):
        return path
    log = Path(os.environ.get(BUILD_LOG_ENV, "/nonexistent"))
    why = log.read_text().strip().splitlines()[-3:] if log.is_file() else []
    pytest.skip(
        f"no Databricks CLI at {CLI_ENV}={path or '(unset)'} (`make databricks-cli` builds it where Go is "
        f"installed and the Go module proxy serves github.com/databricks/cli)"
        + (": " + " | ".join(why) if why else "")
    )


@pytest.fixture(scope="module")
def validated(cli: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`bundle validate -t <target> -o json --strict` for every target against one stub workspace."""
    _Workspace.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Workspace)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("cli-home")
    keep = ("PATH", "LANG", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(home),
        DATABRICKS_HOST=f"http://127.0.0.1:{server.server_port}",
        DATABRICKS_TOKEN="dapi-test-token",
        DATABRICKS_CONFIG_FILE=str(home / "no.databrickscfg"),
        DATABRICKS_CACHE_DIR=str(home / "cache"),
        DATABRICKS_CLI_DISABLE_TELEMETRY="1",
        HTTPS_PROXY="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1",
    )
    out: dict[str, Any] = {"calls": _Workspace.calls}
    try:
        out["version"] = subprocess.run(
            [cli, "version"], env=env, capture_output=True, text=True, timeout=30
        ).stdout.strip()
        for target in TARGETS:  # prod as the service principal that deploys it, the others as a developer
            _Workspace.caller, _Workspace.principal = (
                (PROD_SP, "service_principal_name")
                if target == "prod"
                else (f"{USER}@localhost", "user_name")
            )
            _Workspace.folders = {
                p: i
                for i, p in enumerate(
                    ("/", "/Workspace", "/Workspace/Users", f"/Workspace/Users/{_Workspace.caller}"), start=1
                )
            }
            env["HOME"] = str(home / target)  # the CLI caches the caller per home
            done = subprocess.run(
                [cli, "bundle", "validate", "-t", target, "-o", "json", "--strict"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            out[target] = (done.returncode, done.stdout, done.stderr)
    finally:
        server.shutdown()
        server.server_close()
    return out


def _config(validated: dict[str, Any], target: str) -> dict[str, Any]:
    code, stdout, stderr = validated[target]
    assert code == 0, f"databricks bundle validate -t {target} ({validated['version']}) failed:\n{stderr}"
    return json.loads(stdout)


def _notebook(path: str, base: Path) -> str:
    """A notebook path as the workspace names it: relative to the bundle root, no extension."""
    return str((base / path).resolve().relative_to(ROOT).with_suffix(""))


@functools.cache
def _local_bundle(target: str) -> Bundle:
    return validate_bundle(ROOT, target)


def _local_job(target: str, key: str) -> dict[str, Any]:
    """What the local runner executes of a job: its parameters, cluster and each task's code and inputs."""
    bundle = _local_bundle(target)
    job, base = bundle.job(key), bundle.sources[("jobs", key)].parent
    return _comparable(
        job, lambda p: _notebook(p, base), lambda lib: str((base / lib).resolve().relative_to(ROOT))
    )


def _cli_job(config: dict[str, Any], key: str) -> dict[str, Any]:
    files = config["workspace"]["file_path"] + "/"
    job = config["resources"]["jobs"][key]

    def strip(path: str) -> str:
        assert path.startswith(files), f"{path} is not under the bundle's file path {files}"
        return path[len(files) :]

    # the wheel is built and uploaded at deploy time: validate leaves the library path relative to the bundle root
    return _comparable(job, strip, lambda lib: lib if lib.startswith("dist/") else strip(lib))


def _comparable(job: dict[str, Any], notebook: Any, library: Any) -> dict[str, Any]:
    """The fields both sides must agree on, values as strings (job parameters and widgets are strings)."""

    def text(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [text(v) for v in value]
        return str(value)

    tasks = {}
    for task in job["tasks"]:
        t = {
            "depends_on": sorted((d["task_key"], d.get("outcome")) for d in task.get("depends_on") or []),
            "job_cluster_key": task.get("job_cluster_key"),
            "libraries": [{k: library(v) for k, v in lib.items()} for lib in task.get("libraries") or []],
            "max_retries": task.get("max_retries", 0),
            "timeout_seconds": task.get("timeout_seconds"),
        }
        if "notebook_task" in task:
            nb = task["notebook_task"]
            t["notebook"] = (notebook(nb["notebook_path"]), text(nb.get("base_parameters") or {}))
        for kind in ("python_wheel_task", "condition_task", "run_job_task"):
            if kind in task:
                t[kind] = text(task[kind])
        tasks[task["task_key"]] = t
    return {
        "parameters": {p["name"]: str(p.get("default", "")) for p in job.get("parameters") or []},
        "clusters": {c["job_cluster_key"]: text(c["new_cluster"]) for c in job.get("job_clusters") or []},
        "tasks": tasks,
    }


@pytest.mark.parametrize("target", TARGETS)
def test_cli_validates_with_no_warning(validated, target):
    """--strict: a warning fails validate; the JSON is the resolved bundle of that target."""
    config = _config(validated, target)
    assert config["bundle"]["target"] == target and config["bundle"]["name"] == "credit_risk"
    assert (
        "host" not in config["workspace"]
    )  # no target names a workspace: DATABRICKS_HOST (or a profile) does
    assert config["workspace"]["current_user"]["userName"] == f"{USER}@localhost"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("job", ["credit_risk_pipeline", "credit_risk_monitoring"])
def test_cli_resolves_the_jobs_the_local_runner_runs(validated, target, job):
    """Tasks, dependencies, parameters, libraries and cluster: the CLI's resolved job is the local one.

    The experiment and model parameters refer to the bundle's own experiment and registered model: in
    development mode the CLI prefixes those names per user (`[dev <user>] `, `dev_<user>_`), locally they stay
    plain; in staging and prod both sides give them the same names.
    """
    config = _config(validated, target)
    cli, local = _cli_job(config, job), _local_job(target, job)
    assert cli["tasks"].keys() == local["tasks"].keys()
    for key in local["tasks"]:
        assert cli["tasks"][key] == local["tasks"][key], f"{target}: task {key}"
    assert cli["clusters"] == local["clusters"]
    bundle = _local_bundle(target)
    for param, (kind, key) in NAMED.items():
        # validate keeps the reference; deploy fills in the deployed (in development mode, prefixed) name
        assert cli["parameters"].pop(param) == f"${{resources.{kind}.{key}.name}}", f"{target}: {param}"
        assert local["parameters"].pop(param) == bundle.resources[kind][key]["name"], f"{target}: {param}"
    assert cli["parameters"] == local["parameters"]
    if bundle.targets[target].get("mode") != "development":
        assert all(
            config["resources"][k][key]["name"] == bundle.resources[k][key]["name"]
            for k, key in NAMED.values()
        )


@pytest.mark.parametrize("target", TARGETS)
def test_cli_creates_the_schemas_and_volume_the_job_writes(validated, target):
    """Unity Catalog: one schema per layer under the job's catalog and schema prefix, the raw Volume in it."""
    config, local = _config(validated, target), _local_bundle(target)
    catalog, prefix = local.variables["catalog"], local.variables["schema_prefix"]
    schemas = {k: (s["catalog_name"], s["name"]) for k, s in config["resources"]["schemas"].items()}
    assert schemas == {
        layer: (catalog, f"{prefix}{layer}") for layer in ("bronze", "silver", "gold", "monitoring", "raw")
    }
    assert all(s["grants"] for s in config["resources"]["schemas"].values())
    volume = config["resources"]["volumes"]["lendingclub"]
    assert (volume["catalog_name"], volume["volume_type"]) == (catalog, "MANAGED")
    assert volume["schema_name"] in ("${resources.schemas.raw.name}", f"{prefix}raw")
    if local.variables["raw_dir"].startswith("/Volumes/"):  # staging, prod: raw_dir is this Volume
        assert local.variables["raw_dir"] == f"/Volumes/{catalog}/{prefix}raw/{volume['name']}"
    model = config["resources"]["registered_models"]["credit_risk_pd"]
    assert (model["catalog_name"], model["schema_name"]) in {
        (catalog, "${resources.schemas.gold.name}"),
        (catalog, f"{prefix}gold"),
    }
    assert local.resources["registered_models"]["credit_risk_pd"]["schema_name"] == f"{prefix}gold"


def test_validate_calls_only_the_stub_endpoints(validated):
    """The calls validate made, all known to the stub (so the stub is what validate needs, no more)."""
    for target in TARGETS:
        _config(validated, target)
    called = set(validated["calls"])
    assert "GET /api/2.0/preview/scim/v2/Me" in called and called <= KNOWN, sorted(called)
    assert re.search(r"\d+\.\d+\.\d+", validated["version"])
