"""The delta-spark jars of the installed delta-spark package, fetched once into the virtual environment.

`make install` runs `python -m credit_risk.runtime.delta_jars`: it resolves the Maven coordinate the installed
delta-spark package itself asks for (its `configure_spark_with_delta_pip`), with the Scala suffix of pyspark's own
`spark-core_<scala>-*.jar`, and copies that jar and its runtime dependencies into `<venv>/delta-jars/`. Maven
(`mvn dependency:copy-dependencies`, which honours the machine's Maven settings) does it where `mvn` exists,
Spark's own resolver (Ivy, `spark.jars.packages`) otherwise. Jars pyspark already ships (scala-library, jackson,
parquet, ...) are left out: Spark's own versions are the ones on its classpath anyway.

The folder's stamp names the coordinate it holds; when the jars cannot be had (offline, or not on Maven Central)
the folder records why instead, and the lake runs on delta-rs and logs that reason (`spark.delta_mode()`).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

JARS_DIR = Path(sys.prefix) / "delta-jars"
STAMP = ".stamp.json"  # {"coordinate": ..., "jars": [...], "tool": ...}: the folder holds these jars
UNAVAILABLE = ".unavailable.json"  # {"coordinate": ..., "reason": ...}: the last fetch failed, and why
_JAR_NAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d[^-]*(?:-[^-]+)*)\.jar$")


def _pyspark_jars() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspark is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "jars"


def scala_suffix() -> str:
    """The Scala binary version pyspark is built for, from its own `spark-core_<scala>-<version>.jar`."""
    found = sorted(glob.glob(str(_pyspark_jars() / "spark-core_*-*.jar")))
    match = re.match(r"spark-core_(\d+\.\d+)-", Path(found[0]).name) if found else None
    if not match:
        raise RuntimeError(f"no spark-core_<scala>-*.jar in {_pyspark_jars()}: is pyspark installed whole?")
    return match.group(1)


def coordinate() -> str:
    """groupId:artifactId:version of the delta-spark jar the installed delta-spark package asks for."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    packages = configure_spark_with_delta_pip(SparkSession.builder)._options["spark.jars.packages"]
    group, artifact, version = packages.split(",")[0].split(":")
    if version != metadata.version("delta-spark"):
        raise RuntimeError(
            f"delta-spark asks for {packages} but is version {metadata.version('delta-spark')}"
        )
    artifact = re.sub(r"_\d+\.\d+$", f"_{scala_suffix()}", artifact)  # pyspark's Scala, not an assumed one
    return f"{group}:{artifact}:{version}"


def _artifact(jar_name: str) -> str | None:
    """`delta-storage` of `delta-storage-4.0.1.jar` (Maven's name) or `io.delta_delta-storage-4.0.1.jar` (Ivy's)."""
    match = _JAR_NAME.match(jar_name)
    if not match:
        return None
    name = match.group("artifact")
    group, sep, rest = name.partition("_")
    return rest if sep and "." in group else name


def _maven_name(jar_name: str) -> str:
    group, sep, rest = jar_name.partition("_")
    return rest if sep and "." in group and _JAR_NAME.match(rest) else jar_name


def _with_maven(coord: str, out: Path) -> None:
    group, artifact, version = coord.split(":")
    pom = f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>credit-risk.local</groupId><artifactId>delta-jars</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
  </dependency></dependencies></project>"""
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "pom.xml").write_text(pom)
        done = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-U",
                "-Dstyle.color=never",
                "-f",
                str(Path(work) / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={out}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    if done.returncode != 0:
        text = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
        errors = [
            ln.removeprefix("[ERROR]").strip()
            for ln in text.splitlines()
            if ln.startswith("[ERROR]") and ln[7:].strip()
        ]
        first = errors[0] if errors else f"exit {done.returncode}"
        cause = re.search(
            r"Could not find artifact \S+ in \S+(?: \([^)]*\))?|\S+ was not found in \S+|Could not transfer [^:]+",
            first,
        )
        raise RuntimeError(f"mvn could not resolve {coord}: {cause.group(0) if cause else first}")


_IVY_SCRIPT = """
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.jars.packages", sys.argv[1]).getOrCreate())
print("JARS=" + spark.sparkContext.getConf().get("spark.jars", ""))
spark.stop()
"""


def _with_ivy(coord: str, out: Path) -> None:
    """Spark's own resolver: a throwaway local session with `spark.jars.packages` (Ivy cache ~/.ivy2*)."""
    done = subprocess.run(
        [sys.executable, "-c", _IVY_SCRIPT, coord],
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"},
    )
    jars = next((ln[5:] for ln in done.stdout.splitlines() if ln.startswith("JARS=")), "")
    if done.returncode != 0 or not jars:
        lines = [
            ln for ln in done.stderr.splitlines() if "not found" in ln or "Exception" in ln or "rror" in ln
        ]
        raise RuntimeError(
            f"Spark's resolver could not fetch {coord}: {(lines or [f'exit {done.returncode}'])[0].strip()}"
        )
    for uri in jars.split(","):
        path = Path(uri.removeprefix("file://").removeprefix("file:"))
        shutil.copy2(path, out / _maven_name(path.name))


def fetch(dest: Path, force: bool = False, coord: str | None = None) -> list[Path]:
    """Fill `dest` with the jars of `coord` (default `coordinate()`; nothing to do when its stamp names them)."""
    coord = coord or coordinate()
    if not force and (held := held_jars(dest, coord)):
        print(f"delta-spark jars: {coord} already in {dest} ({len(held)} jars)")
        return held
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tool = "mvn" if shutil.which("mvn") else "Spark's resolver (Ivy)"
    with tempfile.TemporaryDirectory() as work:
        try:
            (_with_maven if tool == "mvn" else _with_ivy)(coord, Path(work))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            (dest / UNAVAILABLE).write_text(json.dumps({"coordinate": coord, "reason": str(exc)}))
            print(
                f"delta-spark jars: not fetched ({exc}); the lake runs on delta-rs. A folder of the jars can be "
                f"given with CREDIT_RISK_DELTA_JARS",
                file=sys.stderr,
            )
            return []
        shipped = {_artifact(p.name) for p in _pyspark_jars().glob("*.jar")}
        for jar in sorted(Path(work).glob("*.jar")):
            if _artifact(jar.name) not in shipped:
                shutil.copy2(jar, dest / jar.name)
    jars = sorted(p.name for p in dest.glob("*.jar"))
    (dest / STAMP).write_text(json.dumps({"coordinate": coord, "jars": jars, "tool": tool}))
    print(f"delta-spark jars: {coord} with {tool} into {dest}: {', '.join(jars)}")
    return [dest / j for j in jars]


def held_jars(folder: Path | None = None, coord: str | None = None) -> list[Path]:
    """The jars `folder` (default JARS_DIR) holds for `coord` (default: the installed package's), else []."""
    folder = folder or JARS_DIR
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return []
    jars = [folder / j for j in stamp.get("jars", [])]
    if stamp.get("coordinate") != (coord or coordinate()) or not jars or not all(j.is_file() for j in jars):
        return []
    return jars


def why_absent(folder: Path | None = None) -> str:
    """Why `folder` (default JARS_DIR) holds no usable jars, in words for the log."""
    folder = folder or JARS_DIR
    try:
        coord = coordinate()
    except Exception as exc:  # noqa: BLE001 - a broken install is a reason too
        return f"the delta-spark coordinate cannot be derived: {exc}"
    try:
        failed = json.loads((folder / UNAVAILABLE).read_text())
        if failed.get("coordinate") == coord:
            return f"make install could not fetch the jars of {coord}: {failed['reason']}"
    except (OSError, ValueError):
        pass
    if (folder / STAMP).exists():
        return f"{folder} holds jars of another delta-spark than {coord}: run make install"
    return f"no jars of {coord} in {folder}: run make install"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest", type=Path, default=JARS_DIR, help="folder for the jars (default: %(default)s)"
    )
    parser.add_argument(
        "--force", action="store_true", help="fetch again even when the folder's stamp matches"
    )
    parser.add_argument("--coordinate", action="store_true", help="print the Maven coordinate and exit")
    args = parser.parse_args(argv)
    if args.coordinate:
        print(coordinate())
        return 0
    fetch(args.dest, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
