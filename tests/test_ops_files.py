"""Structural tests of the deployment and monitoring files (docker/, requirements-serve.txt, .dockerignore).

No docker engine and no network: the compose file, the Dockerfile, the Prometheus rules and the Grafana dashboard
are parsed and checked against the code they deploy. Every PromQL query must name only metrics that
`credit_risk.serving.metrics.ServiceMetrics` exports. The promtool checks (config, rules, rule unit tests)
run when promtool is on PATH (`apt-get install prometheus`) and are skipped otherwise.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from lock_helpers import lock_pins

from credit_risk.serving.metrics import ServiceMetrics

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
DOCKERFILE = DOCKER / "Dockerfile"
PROMETHEUS = DOCKER / "prometheus" / "prometheus.yml"
ALERTS = DOCKER / "prometheus" / "alerts.yml"
ALERTS_TEST = DOCKER / "prometheus" / "alerts_test.yml"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DOCKER / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "credit-risk.json"
SERVE_CMD = ["credit-risk", "serve", "--host", "0.0.0.0", "--port", "8000"]

# Identifiers starting with credit_risk_ followed by a selector, a range, a closing parenthesis, whitespace or the end.
METRIC_RE = re.compile(r"(?<![A-Za-z0-9_:])(credit_risk_[A-Za-z0-9_:]*)(?=[{\[)\s]|$)")
BUILTIN_METRICS = {"up"}
PROMTOOL_MISSING = "promtool not installed: apt-get install prometheus"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return _yaml(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return ServiceMetrics().names()


def _requirements(path: Path) -> dict[str, str]:
    """name (normalised) -> pinned version; every requirement line must be `name==version`."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", line)
        assert m, f"{path.name}: not pinned with ==: {raw!r}"
        name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
        assert name not in pins, f"{path.name}: {name} listed twice"
        pins[name] = m.group(2)
    return pins


def _metric_names(expr: str) -> set[str]:
    return set(METRIC_RE.findall(expr))


def _panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows included."""
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def _alert_rules() -> list[dict]:
    return [rule for group in _yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule]


def _promtool(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip(PROMTOOL_MISSING)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, cwd=ROOT)


# --- requirements-lock.txt


def test_the_lock_holds_every_direct_pin_and_what_is_installed():
    """requirements-lock.txt (the full resolution make install installs, every entry hashed) agrees with
    requirements.txt and this venv."""
    project = _requirements(ROOT / "requirements.txt")
    lock = lock_pins()
    for name, version in project.items():
        assert lock.get(name) == version, (
            f"requirements-lock.txt has {name}=={lock.get(name)}, requirements.txt {version}"
        )
    for name, version in lock.items():
        assert metadata.version(name) == version, (
            f"installed {name} {metadata.version(name)}, requirements-lock.txt {version}"
        )


def test_make_install_installs_the_lock_hash_checked():
    """`make install` installs requirements-lock.txt with its hashes required, then the project alone."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    script = done.stdout.replace("\\\n", " ")
    assert re.search(
        r"\$install --require-hashes -r requirements-lock\.txt && \$install --no-deps -e \.", script
    ), script
    assert "constraints.txt" not in script and "-r requirements.txt" not in script, script


# --- .pre-commit-config.yaml


def test_pre_commit_runs_ruff_at_the_pinned_version_and_strips_the_notebooks():
    repos = {r["repo"]: r for r in _yaml(ROOT / ".pre-commit-config.yaml")["repos"]}
    ruff = repos["https://github.com/astral-sh/ruff-pre-commit"]
    pinned = _requirements(ROOT / "requirements.txt")["ruff"]
    assert ruff["rev"] == f"v{pinned}", f"pre-commit runs ruff {ruff['rev']}, requirements.txt pins {pinned}"
    hooks = {h["id"]: h for h in ruff["hooks"]}
    assert set(hooks) == {"ruff-check", "ruff-format"}, sorted(hooks)
    for hook in hooks.values():  # the folders `make lint` checks
        folders = re.fullmatch(r"\^\((.+)\)/", hook["files"]).group(1).split("|")
        assert set(folders) == {"src", "tests", "notebooks", "bench", "scripts"}, hook
    strip = repos["https://github.com/kynan/nbstripout"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", strip["rev"]), strip["rev"]
    ((hook,),) = [strip["hooks"]]
    assert hook["id"] == "nbstripout" and re.match(hook["files"], "notebooks/01_bronze_ingest.ipynb"), hook


# --- requirements-serve.txt


def test_serve_requirements_pin_the_project_versions():
    project = _requirements(ROOT / "requirements.txt")
    serve = _requirements(ROOT / "requirements-serve.txt")
    for name, version in serve.items():
        expected = project.get(name) or metadata.version(name)
        assert version == expected, (
            f"requirements-serve.txt pins {name}=={version}, the project uses {expected}"
        )
    needed = {
        "fastapi",
        "uvicorn",
        "pydantic",
        "numpy",
        "pandas",
        "pyarrow",
        "prometheus-client",
        "deltalake",
        "pyyaml",
        "python-dotenv",
    }
    assert needed <= set(serve), f"missing from requirements-serve.txt: {sorted(needed - set(serve))}"
    assert {"mlflow", "mlflow-skinny"} & set(serve), "the service needs the MLflow client"
    assert not {"pyspark", "delta-spark", "httpx", "pytest"} & set(serve), (
        "no Spark nor test tools in the image"
    )


# --- Dockerfile and .dockerignore


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_python_slim_without_java():
    instructions = _instructions()
    froms = [args for word, args in instructions if word == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    assert all(args.split()[0] == "python:3.11-slim" for args in froms), froms
    assert re.search(r"(?i)\bAS\s+builder\b", froms[0])
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert re.search(r"pip wheel .*--no-deps", runs), "the builder builds the project wheel with --no-deps"
    assert "-r /tmp/requirements-serve.txt" in runs or "requirements-serve.txt" in runs
    assert re.search(r"pip install --no-deps \S*\.whl", runs), (
        "the wheel is installed without its dependencies"
    )
    body = " ".join(f"{word} {args}" for word, args in instructions)
    assert not re.search(r"(?i)java|jdk|openjdk", body), "the serving image must not need a JDK"
    assert not re.search(r"(?i)pyspark|delta-spark", body)


def test_dockerfile_runs_as_non_root_and_serves_on_8000():
    instructions = _instructions()
    users = [args for word, args in instructions if word == "USER"]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(word == "EXPOSE" and "8000" in args.split() for word, args in instructions)
    healthchecks = [args for word, args in instructions if word == "HEALTHCHECK"]
    assert healthchecks and "/health" in healthchecks[-1] and "python" in healthchecks[-1]
    cmds = [args for word, args in instructions if word == "CMD"]
    assert cmds and json.loads(cmds[-1]) == SERVE_CMD


def test_the_cmd_is_a_console_script_of_the_project():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("credit-risk") == "credit_risk.cli:main"
    from credit_risk.cli import build_parser

    args = build_parser().parse_args(SERVE_CMD[1:])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8000)


def test_dockerignore_keeps_local_data_out_and_the_sources_in():
    patterns = [
        p.strip().rstrip("/")
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    for excluded in (".venv", "lakehouse", "mlruns", "mlartifacts", "*.db", "data", "bench/out", ".git"):
        assert excluded in patterns, f".dockerignore should exclude {excluded}"
    copied = [
        src
        for word, args in _instructions()
        if word == "COPY" and not args.startswith("--from")
        for src in args.split()[:-1]
    ]
    assert copied
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
        assert not any(fnmatch.fnmatch(src, p) for p in patterns), f"COPY {src} is excluded by .dockerignore"


# --- docker-compose.yml


def test_compose_services_ports_and_images(services: dict):
    assert set(services) == {"api", "mlflow", "prometheus", "grafana"}
    expected_ports = {"api": 8000, "mlflow": 5000, "prometheus": 9090, "grafana": 3000}
    for name, port in expected_ports.items():
        published = [str(p) for p in services[name].get("ports", [])]
        assert f"{port}:{port}" in published, f"{name} should publish {port}: {published}"
    mlflow_version = _requirements(ROOT / "requirements.txt")["mlflow"]
    assert services["mlflow"]["image"] == f"ghcr.io/mlflow/mlflow:v{mlflow_version}"
    for name, repo in (("prometheus", "prom/prometheus"), ("grafana", "grafana/grafana")):
        image, _, tag = services[name]["image"].partition(":")
        assert image == repo and tag and tag != "latest", (
            f"{name}: pin the image tag ({services[name]['image']})"
        )


def test_compose_api_build_and_environment(services: dict):
    api = services["api"]
    context = (COMPOSE.parent / api["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / api["build"]["dockerfile"]).resolve() == DOCKERFILE
    env = api["environment"]
    assert env["API_TOKEN"] == "${API_TOKEN:-}"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert api["depends_on"]["mlflow"]["condition"] == "service_healthy"
    command = services["mlflow"]["command"]
    command = command.split() if isinstance(command, str) else [str(c) for c in command]
    assert command[:2] == ["mlflow", "server"]
    for flag, value in (
        ("--host", "0.0.0.0"),
        ("--port", "5000"),
        ("--backend-store-uri", "sqlite:////mlflow/mlflow.db"),
        ("--artifacts-destination", "/mlflow/artifacts"),
    ):
        assert command[command.index(flag) + 1] == value
    grafana_env = services["grafana"]["environment"]
    assert str(grafana_env["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "true"
    assert grafana_env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_compose_healthchecks(services: dict):
    for name in ("api", "mlflow"):
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} needs a healthcheck"
        test = " ".join(check["test"]) if isinstance(check["test"], list) else check["test"]
        assert "/health" in test
        assert "curl" not in test and "wget" not in test, "slim images have neither curl nor wget"


def test_compose_volumes_are_declared_and_bind_mounts_exist(compose: dict, services: dict):
    declared = set(compose.get("volumes") or {})
    assert declared, "named volumes expected"
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/", "~")):
                assert (COMPOSE.parent / source).resolve().exists(), (
                    f"{name}: bind mount {source} does not exist"
                )
                assert (COMPOSE.parent / source).resolve().is_relative_to(ROOT)
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused volumes: {sorted(declared - used)}"
    for name in ("api", "mlflow", "prometheus", "grafana"):
        assert any(not str(v).startswith(".") for v in services[name].get("volumes", [])), (
            f"{name}: no named volume"
        )


# --- Prometheus


def test_prometheus_scrapes_the_api_and_loads_the_alerts(services: dict):
    config = _yaml(PROMETHEUS)
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["credit-risk-api"]
    assert api.get("metrics_path", "/metrics") == "/metrics"
    assert api.get("scrape_interval", config["global"]["scrape_interval"]) == "15s"
    targets = [t for sc in api["static_configs"] for t in sc["targets"]]
    assert targets == ["api:8000"]
    mounts = [v for v in services["prometheus"]["volumes"] if str(v).startswith("./prometheus:")]
    assert mounts and mounts[0].split(":")[1] == "/etc/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_alerts_have_severity_runbook_and_cover_the_failure_modes():
    rules = {rule["alert"]: rule for rule in _alert_rules()}
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"].strip(), name
        assert "Runbook:" in rule["annotations"]["description"], f"{name}: the description says what to do"
    exprs = [" ".join(rule["expr"].split()) for rule in rules.values()]

    def one(predicate) -> dict:
        found = [rule for rule in rules.values() if predicate(" ".join(rule["expr"].split()))]
        assert found, f"no alert matches; expressions: {exprs}"
        return found[0]

    one(lambda e: 'status=~"5.."' in e and "credit_risk_requests_total" in e)
    one(
        lambda e: (
            "histogram_quantile(0.99" in e
            and "credit_risk_request_latency_seconds_bucket" in e
            and e.endswith("> 0.05")
        )
    )
    one(lambda e: "credit_risk_pd_sum" in e and "credit_risk_pd_count" in e and "[7d]" in e)
    one(lambda e: "credit_risk_feature_drift_share" in e)
    loaded = one(lambda e: e == "credit_risk_model_loaded == 0")
    assert loaded["for"] == "2m"
    one(lambda e: re.match(r"up(\{[^}]*\})? == 0$", e) is not None)
    one(lambda e: "credit_risk_inference_log_dropped_total" in e)


def test_alert_queries_name_only_exported_metrics(exported: set[str]):
    for rule in _alert_rules():
        names = _metric_names(rule["expr"])
        unknown = names - exported
        assert not unknown, f"{rule['alert']}: not exported by ServiceMetrics: {sorted(unknown)}"
        assert names or re.search(r"\bup\b", rule["expr"]), f"{rule['alert']}: names no metric"


def test_promtool_check_config():
    result = _promtool("check", "config", str(PROMETHEUS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules():
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_fire_model_not_loaded_and_error_rate():
    tests = _yaml(ALERTS_TEST)
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {"CreditRiskModelNotLoaded", "CreditRiskHighErrorRate"} <= tested
    result = _promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana


def test_grafana_provisioning_matches_the_compose_mounts(services: dict):
    datasource = _yaml(DATASOURCES)["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    provider = _yaml(DASHBOARD_PROVIDERS)["providers"][0]
    mounts = dict(str(v).split(":")[:2] for v in services["grafana"]["volumes"] if str(v).startswith("./"))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]


def test_dashboard_structure(dashboard: dict):
    assert dashboard["uid"] == "credit-risk"
    assert dashboard["schemaVersion"] == 39
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    uid = _yaml(DATASOURCES)["datasources"][0]["uid"]
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "heatmap", "bargauge"}, panel["title"]
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel.get("targets"), f"{panel['title']}: no target"
        for target in panel["targets"]:
            assert target.get("expr"), f"{panel['title']}: empty query"
            assert target.get("datasource", panel["datasource"])["uid"] == uid, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), f"{panel['title']}: duplicate refId"


def test_dashboard_panels_cover_the_service(dashboard: dict):
    exprs = " ".join(t["expr"] for p in _panels(dashboard) for t in p.get("targets", []))
    for needle in (
        "credit_risk_requests_total",
        'status=~"5.."',
        "histogram_quantile(0.5,",
        "histogram_quantile(0.95,",
        "histogram_quantile(0.99,",
        "credit_risk_pd_bucket",
        "credit_risk_predictions_total",
        "credit_risk_model_info",
        "credit_risk_model_loaded",
        "credit_risk_feature_drift_share",
        "credit_risk_score_psi",
        "credit_risk_inference_log_rows_total",
        "credit_risk_inference_log_dropped_total",
    ):
        assert needle in exprs, f"no dashboard panel queries {needle}"


def test_dashboard_queries_name_only_exported_metrics(dashboard: dict, exported: set[str]):
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            names = _metric_names(target["expr"])
            assert names, f"{panel['title']}: {target['expr']!r} names no credit_risk_ metric"
            unknown = names - exported - BUILTIN_METRICS
            assert not unknown, f"{panel['title']}: not exported by ServiceMetrics: {sorted(unknown)}"


def test_dashboard_queries_parse(dashboard: dict, tmp_path: Path):
    """promtool parses every panel query (Grafana's interval variables replaced by a duration)."""
    rules = []
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            expr = re.sub(r"\$__(rate_interval|interval|range)", "5m", target["expr"])
            rules.append({"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_metric_name_extraction():
    expr = (
        'sum(rate(credit_risk_pd_sum[1h])) / sum(rate(credit_risk_requests_total{status=~"5.."}[5m]))'
        " + credit_risk_score_psi > 0 or credit_risk_model_loaded"
    )
    assert _metric_names(expr) == {
        "credit_risk_pd_sum",
        "credit_risk_requests_total",
        "credit_risk_score_psi",
        "credit_risk_model_loaded",
    }
    assert _metric_names('x{route="/credit_risk_fake"}') == set()
