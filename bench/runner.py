"""The local job runner: one kernel per job run against a kernel per task, on the same job and data, in one run.

Runs `credit_risk_pipeline` twice, each in a fresh project home with the same generated loans: first with a
fresh kernel (Python process, JVM, Spark session) per notebook task, the reference, then with the one shared
kernel `credit-risk bundle run` uses. Prints per-task wall times, the end-to-end ratio and the peak RSS of
the process tree.
Usage: python bench/runner.py [--rows 30000] [--home bench/out/runner]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from full import TreeSampler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_job(home: Path, rows: int, per_task: bool) -> tuple[dict[str, float], float, int, bool]:
    """(seconds per task, total seconds, peak RSS bytes, ok) of one job run in a fresh home."""
    from credit_risk.bundle.validate import validate_bundle
    from credit_risk.local.runner import LocalJobRunner

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["CREDIT_RISK_HOME"] = str(home)
    bundle = validate_bundle(ROOT, target="local", overrides={"rows": str(rows)})
    with TreeSampler() as sampler:
        t0 = time.perf_counter()
        run = LocalJobRunner(bundle, echo=lambda _: None, kernel_per_task=per_task).run(
            "credit_risk_pipeline", run_dir=home / "run"
        )
        total = time.perf_counter() - t0
    return {r.task_key: r.seconds for r in run.results}, total, sampler.overall, run.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "out" / "runner")
    args = parser.parse_args()
    home = args.home.absolute()
    per_task = run_job(home / "per_task", args.rows, per_task=True)
    shared = run_job(home / "shared", args.rows, per_task=False)
    print(f"\n`credit_risk_pipeline`, {args.rows:,} generated loans, local target\n")
    print("| task | kernel per task s | one kernel per job s | ratio |\n|---|---:|---:|---:|")
    for task, ref in per_task[0].items():
        new = shared[0].get(task, 0.0)
        print(f"| {task} | {ref:.1f} | {new:.1f} | {ref / new if new else float('nan'):.2f}x |")
    print(f"| **whole job** | {per_task[1]:.1f} | {shared[1]:.1f} | {per_task[1] / shared[1]:.2f}x |")
    print(f"| peak RSS of the process tree, GB | {per_task[2] / 2**30:.1f} | {shared[2] / 2**30:.1f} | |")
    print(
        f"\njob status: kernel per task {'SUCCESS' if per_task[3] else 'FAILED'}, "
        f"one kernel {'SUCCESS' if shared[3] else 'FAILED'}"
    )
    return 0 if per_task[3] and shared[3] else 1


if __name__ == "__main__":
    sys.exit(main())
