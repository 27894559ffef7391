"""JVM compiler settings of the test lanes against the JVM's defaults: wall time and CPU of two test-sized workloads.

`make test` runs three lanes on 2 cores, so its wall time follows the CPU its processes burn. Most of its
JVMs live seconds to a minute (a crash-test subprocess, a notebook's kernel), and in those the C2 compiler
spends CPU on code that will not run long enough to repay it. The settings compared are the Makefile's
TEST_JVM (read from it, so this measures what `make test` uses) against no options:
- ETL: tests/reliability/etl_job.py on 600 generated loans (bronze -> silver -> gold -> split in one process);
- models: bench/train.py fitting the four models on 5,000 loans (the size of the tests' models fixture).
CPU is the machine's busy time from /proc/stat over the run, so run it on an otherwise idle machine (Linux).
Usage: python bench/jvm.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def makefile_options() -> dict[str, str]:
    """TEST_JVM as the Makefile defines it (continuation lines joined)."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    return {"TEST_JVM": " ".join(re.search(r"^TEST_JVM\s*:=(.*)$", text, re.M).group(1).split())}


def busy_seconds() -> float:
    """Busy CPU time of the whole machine so far (user + nice + system + irq + softirq), in seconds."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def measure(command: list[str], java_options: str, cwd: Path) -> tuple[float, float]:
    """(wall seconds, busy CPU seconds) of one run of `command` with JDK_JAVA_OPTIONS set to `java_options`."""
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "CREDIT_RISK_HOME": tempfile.mkdtemp(prefix="bench-jvm-"),
    }
    env.pop("JDK_JAVA_OPTIONS", None)
    if java_options:
        env["JDK_JAVA_OPTIONS"] = java_options
    cpu, t0 = busy_seconds(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, busy_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed with {java_options or 'no options'}:\n{done.stderr[-3000:]}"
        )
    return wall, cpu


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The lowest wall time and the lowest CPU time over repeated runs."""
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    options = {"JVM defaults (reference)": "", **makefile_options()}
    work = Path(tempfile.mkdtemp(prefix="bench-jvm-run-"))
    # The models workload reads gold features cached by bench/train.py; built here once, outside the timings.
    subprocess.run(
        [sys.executable, "-c", "import train; train.gold_path(5000)"],
        cwd=ROOT / "bench",
        check=True,
        capture_output=True,
    )
    workloads = {
        "ETL job, 600 loans": lambda i: [
            sys.executable,
            str(ROOT / "tests/reliability/etl_job.py"),
            str(work / f"run{i}"),
            "600",
        ],
        "four models, 5,000 loans": lambda i: [
            sys.executable,
            str(ROOT / "bench/train.py"),
            "--rows",
            "5000",
            "--blas",
            "native",
        ],
    }
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    run = 0
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits every setting alike
        for workload, command in workloads.items():
            for name, java_options in options.items():
                run += 1
                results.setdefault((workload, name), []).append(measure(command(run), java_options, ROOT))
    print(f"\nJVM compiler settings, best of {args.repeat} runs each, on an otherwise idle machine\n")
    for name, java_options in options.items():
        print(f"- {name}: `{java_options or '(none)'}`")
    print(
        "\n| workload | settings | wall s | CPU s | wall vs reference | CPU vs reference |\n|---|---|---:|---:|---:|---:|"
    )
    for workload in workloads:
        ref_wall, ref_cpu = best(results[(workload, "JVM defaults (reference)")])
        for name in options:
            wall, cpu = best(results[(workload, name)])
            print(
                f"| {workload} | {name} | {wall:.1f} | {cpu:.1f} | {wall / ref_wall:.2f}x | {cpu / ref_cpu:.2f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
