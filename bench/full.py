"""Full scale: the whole pipeline job on 2.9M generated loans, per task wall time, rows/s and peak RSS.

Runs `credit_risk_pipeline` with the local runner in a fresh project home (`--home`, default
bench/out/full), samples the memory of the whole process tree (runner, kernels, JVMs) twice a second and
charges it to the task running, then writes bench/RESULTS.md (machine, date, figures) and prints the table.
Goal: 15 minutes or less end to end on 2 cores / 24 GB, peak RSS 8 GB or less.
Usage: python bench/full.py [--rows 2900000] [--home bench/out/full] [--results bench/RESULTS.md]
Not part of `make test` (`make bench-full`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
GOAL_MINUTES, GOAL_RSS_GB = 15, 8  # issue 24
HISTORY = "# Figures and their history"  # where the hand-kept part of the results file begins


class TreeSampler:
    """Peak resident memory of this process and all its descendants, per label."""

    def __init__(self) -> None:
        self.label = "startup"
        self.peaks: dict[str, int] = {}
        self.overall = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.5):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peaks[self.label] = max(self.peaks.get(self.label, 0), total)
            self.overall = max(self.overall, total)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_900_000)
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "out" / "full")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    home = args.home.absolute()
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["CREDIT_RISK_HOME"] = str(home)
    # The project's default driver heap (6 GB) and two malloc arenas: the JVM's native allocations (Parquet
    # compression, Arrow, netty) otherwise grow one arena per thread, which the first full run's 17 GB peak suggested.
    os.environ.setdefault("CREDIT_RISK_DRIVER_MEMORY", "6g")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")

    from credit_risk.bundle.validate import validate_bundle
    from credit_risk.local.runner import LocalJobRunner
    from credit_risk.runtime.spark import delta_mode

    bundle = validate_bundle(ROOT, target="local", overrides={"rows": str(args.rows)})
    started: dict[str, float] = {}
    with TreeSampler() as sampler:

        def echo(line: str) -> None:
            print(line, flush=True)
            if line.startswith("[") and "] started" in line:
                task = line[1 : line.index("]")]
                sampler.label = task
                started.setdefault(task, time.perf_counter())

        t0 = time.perf_counter()
        run = LocalJobRunner(bundle, echo=echo).run("credit_risk_pipeline", run_dir=home / "run")
        total = time.perf_counter() - t0

    rows = args.rows
    lines = [
        f"# Full-scale run: {rows:,} generated loans, whole `credit_risk_pipeline` job",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GB RAM, {platform.platform()}, Python {platform.python_version()}",
        f"- delta mode: {delta_mode()}; "
        f"driver heap {os.environ['CREDIT_RISK_DRIVER_MEMORY']}, MALLOC_ARENA_MAX={os.environ['MALLOC_ARENA_MAX']}",
        f"- job status: {'SUCCESS' if run.ok else 'FAILED'}; wall time {total / 60:.1f} min "
        f"(goal <= {GOAL_MINUTES} min: {'met' if total <= GOAL_MINUTES * 60 else 'NOT met'}); "
        f"peak RSS of the process tree {sampler.overall / 2**30:.1f} GB "
        f"(goal <= {GOAL_RSS_GB} GB: {'met' if sampler.overall <= GOAL_RSS_GB * 2**30 else 'NOT met'})",
        "",
        "| task | status | wall s | loans/s | peak RSS GB | error |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in run.results:
        # a condition task takes no time: no rate for it
        rate = f"{rows / r.seconds:,.0f}" if r.seconds >= 0.5 and r.status == "SUCCESS" else ""
        peak = sampler.peaks.get(r.task_key, 0) / 2**30
        lines.append(
            f"| {r.task_key} | {r.status} | {r.seconds:.1f} | {rate} | {peak:.1f} | {r.error[:120]} |"
        )
    lines += [
        "",
        "loans/s is the job's loan count over the task's wall time (tasks after `split` work on the loans "
        "with a final outcome, or on the training split only).",
        "",
    ]
    text = "\n".join(lines)
    # This run's section replaces the previous one; the history below it is kept
    previous = args.results.read_text() if args.results.exists() else ""
    kept = previous[previous.index(HISTORY) :] if HISTORY in previous else ""
    args.results.write_text(text + "\n\n" + kept)
    print(text)
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
