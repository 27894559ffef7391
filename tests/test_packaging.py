"""The job's wheel and the cluster it runs on: one Spark locally and on the cluster, a wheel a cluster can take.

- The job clusters' runtime (the bundle's `spark_version`) is an LTS ML row of
  `credit_risk.runtime.databricks_runtimes`, and its Spark minor version is the local pin's and the installed
  pyspark's.
- pyproject.toml and requirements.txt agree: each requirements.txt section is the extra of its name, pin for
  pin; the wheel's own dependencies are ranges that the runtime's libraries and the local lock both satisfy.
- The wheel, built as the bundle builds it (pip wheel --no-deps), declares no Spark, Delta or test tool outside
  its extras, carries every module and the `credit-risk` entry point, and installs into a fresh virtual
  environment holding the runtime's own pyspark, mlflow-skinny and libraries without changing any of them;
  every task module then imports there. That last test needs uv (make install puts it in .venv/bin) and PyPI
  or a warm uv cache. The venv runs this interpreter (Python 3.11; the runtime runs 3.12, which this machine lacks).
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from job_helpers import read_settings
from lock_helpers import lock_pins
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from credit_risk.bundle.loader import load_bundle
from credit_risk.runtime.databricks_runtimes import RUNTIMES, minor, runtime

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TARGETS = ("local", "dev", "staging", "prod")
# fmt: off
TASK_MODULES = (
    "bronze", "silver", "gold", "contracts", "split", "train_supervised", "segments", "evaluate", "register",
    "batch_score", "monitoring",
)
# fmt: on
# What a cluster must never get from the wheel: its runtime's own Spark and Delta, and the test tools
# fmt: off
NEVER_ON_A_CLUSTER = {
    "pyspark", "delta-spark", "pytest", "ruff", "nbmake", "hypothesis", "httpx", "ipykernel", "nbclient",
    "databricks-bundles", "mlflow",
}
# fmt: on
SECTION = re.compile(r"#\s*---\s*(\w+):")


def _pins(path: Path) -> dict[str, str]:
    """name -> version of a file of `name==version` lines."""
    return {canonicalize_name(name): version for name, version in read_settings(path, "==").items()}


def _sections(path: Path) -> dict[str, dict[str, str]]:
    """requirements.txt by its `# --- <extra>:` sections."""
    out: dict[str, dict[str, str]] = {}
    current = None
    for raw in path.read_text().splitlines():
        if m := SECTION.match(raw):
            current = out.setdefault(m.group(1), {})
            continue
        line = raw.split("#", 1)[0].strip()
        if line:
            assert current is not None, (
                f"requirements.txt: {line!r} comes before the first '# --- <extra>:' line"
            )
            name, _, version = line.partition("==")
            current[canonicalize_name(name)] = version
    return out


def _extra(name: str) -> dict[str, str]:
    out = {}
    for text in PYPROJECT["project"]["optional-dependencies"][name]:
        req = Requirement(text)
        (spec,) = req.specifier
        assert spec.operator == "==", (
            f"pyproject extra {name}: {text} is not pinned (the extras are the pins)"
        )
        out[canonicalize_name(req.name)] = spec.version
    return out


def _job_runtimes() -> set[str]:
    keys = set()
    for target in TARGETS:
        for job in load_bundle(ROOT, target).resources["jobs"].values():
            for cluster in job.get("job_clusters", []):
                keys.add(cluster["new_cluster"]["spark_version"])
    assert keys, "no job cluster in the bundle"
    return keys


@pytest.fixture(scope="module")
def job_runtime():
    (key,) = _job_runtimes()  # one runtime for every job cluster in every target
    return runtime(key)


# --- one Spark


def test_job_clusters_run_an_lts_ml_runtime_of_the_local_spark(job_runtime):
    assert job_runtime.lts and "-ml-" in job_runtime.key, (
        f"{job_runtime.key}: the jobs need an LTS ML runtime"
    )
    local = _pins(ROOT / "requirements.txt")["pyspark"]
    installed = metadata.version("pyspark")
    assert minor(local) == job_runtime.spark_minor, (
        f"requirements.txt pins pyspark {local}; the job clusters' {job_runtime.name} ({job_runtime.key}) runs "
        f"Spark {job_runtime.spark}: the same minor version, or the cluster runs other code than the tests did"
    )
    assert installed == local, f"installed pyspark {installed}, requirements.txt {local}: run make install"
    assert minor(_extra("local")["pyspark"]) == job_runtime.spark_minor


def test_the_runtime_table_is_consistent():
    for key, row in RUNTIMES.items():
        assert key == row.key and key.endswith(f"-scala{row.scala}"), key
        assert key.startswith(f"{row.name.split()[0]}.") and "-ml-" in key and row.name.endswith(" ML"), key
        assert row.lts == ("LTS" in row.name), key
        assert minor(row.spark) and minor(row.python) and minor(row.mlflow), key  # well-formed versions
    with pytest.raises(KeyError, match="not in credit_risk.runtime.databricks_runtimes"):
        runtime("16.4.x-cpu-ml-scala2.11")


def test_requires_python_covers_this_interpreter_and_the_runtime(job_runtime):
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    here = "{}.{}.{}".format(*sys.version_info[:3])
    assert spec.contains(here) and spec.contains(job_runtime.python), (spec, here, job_runtime.python)


# --- one source of truth for the pins


def test_requirements_sections_are_the_pyproject_extras():
    sections = _sections(ROOT / "requirements.txt")
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert set(sections) == extras == {"local", "serve", "dev"}, (set(sections), extras)
    for name in ("local", "dev"):
        assert sections[name] == _extra(name), (
            f"requirements.txt section {name} and the pyproject extra differ"
        )
    serve = _extra("serve")
    assert serve == _pins(ROOT / "requirements-serve.txt"), "the serve extra is requirements-serve.txt"
    assert sections["serve"].items() <= serve.items(), "requirements.txt's serve pins are the service's"


def test_wheel_dependencies_are_ranges_the_runtime_and_the_lock_satisfy(job_runtime):
    lock = lock_pins()
    assert job_runtime.provided, (
        f"{job_runtime.key}: no library list in databricks_runtimes for the jobs' runtime"
    )
    names = set()
    for text in PYPROJECT["project"]["dependencies"]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        names.add(name)
        assert name not in NEVER_ON_A_CLUSTER, f"{text}: the wheel must not bring {name} to a cluster"
        assert req.specifier and not any(s.operator in {"==", "==="} for s in req.specifier), (
            f"{text}: a range"
        )
        assert req.specifier.contains(lock[name]), f"{text}: the lock has {name}=={lock[name]}"
        if name in job_runtime.provided:
            assert req.specifier.contains(job_runtime.provided[name]), (
                f"{text}: {job_runtime.name} has {name} {job_runtime.provided[name]}; installing the wheel would "
                "replace the runtime's own"
            )
    assert "mlflow-skinny" in names, "the ML runtimes ship mlflow-skinny: the wheel names it, not mlflow"


# --- the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel the bundle's artifact builds (a PEP 517 build of the project, no dependencies), from a copy of
    what it is built from. uv builds it where it is installed (seconds, its cache warm), else pip as the bundle."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "project"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = yaml.safe_load((ROOT / "databricks.yml").read_text())["artifacts"]["credit_risk_wheel"][
        "build"
    ].split()
    assert build[1:4] == ["-m", "pip", "wheel"] and "--no-deps" in build, build
    out = tmp / "dist"
    uv = _uv_or_none()
    command = (
        [uv, "build", "--wheel", "--quiet", "--out-dir", str(out), str(src)]
        if uv
        else [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(src)]
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (whl,) = out.glob("credit_risk-*.whl")
    return whl


def test_wheel_metadata_declares_no_spark_and_carries_every_module(wheel):
    with zipfile.ZipFile(wheel) as zf:
        files = set(zf.namelist())
        info = next(n for n in files if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(info).decode())
        entry_points = zf.read(info.replace("METADATA", "entry_points.txt")).decode()
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    unconditional = {canonicalize_name(r.name) for r in requires if r.marker is None}
    declared = {canonicalize_name(Requirement(t).name) for t in PYPROJECT["project"]["dependencies"]}
    assert unconditional == declared
    assert not unconditional & NEVER_ON_A_CLUSTER, sorted(unconditional & NEVER_ON_A_CLUSTER)
    for req in requires:
        if canonicalize_name(req.name) in {
            "pyspark",
            "delta-spark",
            "pytest",
            "ruff",
            "nbmake",
            "hypothesis",
        }:
            assert "extra ==" in str(req.marker), f"{req} outside the extras"
    assert set(meta.get_all("Provides-Extra")) == {"local", "serve", "dev"}
    assert meta["Requires-Python"] == PYPROJECT["project"]["requires-python"]
    assert re.search(r"^credit-risk\s*=\s*credit_risk\.cli:main$", entry_points, re.M), entry_points
    modules = {str(p.relative_to(ROOT / "src")) for p in (ROOT / "src" / "credit_risk").rglob("*.py")}
    assert modules <= files, f"missing from the wheel: {sorted(modules - files)}"
    assert {f"credit_risk/pipeline/{m}.py" for m in TASK_MODULES} <= files
    stray = {f for f in files if not f.startswith("credit_risk/") and ".dist-info/" not in f}
    assert not stray, f"the wheel carries files outside the package: {sorted(stray)}"


def _uv_or_none() -> str | None:
    return shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


def _uv() -> str:
    found = _uv_or_none()
    if found is None:
        pytest.skip("uv is not installed (make install puts it in .venv/bin)")
    return found


def test_wheel_installs_on_the_runtime_libraries_and_imports_every_task(wheel, job_runtime, tmp_path):
    """A fresh venv (no system site-packages) holds the runtime's pyspark, mlflow-skinny and libraries; the wheel
    with its dependencies changes none of them, adds no Spark or Delta, and every task module imports."""
    uv = _uv()
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
        assert done.returncode == 0 or not check, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done

    def install(*requirements: str) -> None:
        """From uv's cache alone when it has everything (online, uv rebuilds the pyspark sdist every time)."""
        command = (uv, "pip", "install", "--quiet", "--python", str(python), *requirements)
        if run(*command, "--offline", check=False).returncode != 0:
            run(*command)

    run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    install(*(f"{name}=={version}" for name, version in job_runtime.provided.items()))
    install(str(wheel))

    freeze = dict(
        line.split("==", 1)
        for line in run(uv, "pip", "freeze", "--python", str(python)).stdout.split()
        if "==" in line
    )
    installed = {canonicalize_name(k): v for k, v in freeze.items()}
    changed = {n: (v, installed.get(n)) for n, v in job_runtime.provided.items() if installed.get(n) != v}
    assert not changed, f"installing the wheel replaced the runtime's own (runtime, after): {changed}"
    assert not {"delta-spark", "mlflow", "pytest", "ruff"} & set(installed), sorted(installed)

    script = (
        "import importlib, credit_risk\n"
        f"for m in {TASK_MODULES!r}: importlib.import_module('credit_risk.pipeline.' + m)\n"
        "import credit_risk.cli, pyspark, mlflow\n"
        "print(credit_risk.__file__, pyspark.__version__, mlflow.__version__)"
    )
    where, spark, mlflow = run(str(python), "-c", script).stdout.split()
    assert Path(where).is_relative_to(venv), (
        f"credit_risk imported from {where}, not from the installed wheel"
    )
    assert (spark, mlflow) == (job_runtime.provided["pyspark"], job_runtime.provided["mlflow-skinny"])
    assert "usage: credit-risk" in run(str(venv / "bin" / "credit-risk"), "--help").stdout
