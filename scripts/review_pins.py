"""Review the pinned dependencies: is each pin a real, unyanked release, how old is it, how far behind the newest?

Part of `make audit`, beside pip-audit (known vulnerabilities). pip-audit needs PyPI's per-version JSON API
or OSV; this review needs only PyPI's per-project JSON (`/pypi/<name>/json`), so it also works behind
proxies that serve just that. Prints one table; exits 1 when a pin is yanked or does not exist.
Usage: python scripts/review_pins.py [requirements.txt requirements-serve.txt ...]
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s#;]+)")


def pins(files: list[Path]) -> dict[str, str]:
    """name -> pinned version over the requirement files (the files must agree; tests check that)."""
    out: dict[str, str] = {}
    for f in files:
        for line in f.read_text().splitlines():
            m = PIN.match(line.strip())
            if m:
                out[m.group(1).lower()] = m.group(2)
    return out


def project(name: str) -> dict:
    with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=20) as r:  # noqa: S310 (fixed host)
        return json.load(r)


def review(name: str, pinned: str, now: datetime) -> dict[str, str]:
    """One row: pinned, newest, releases in between, age of the pin, and a verdict."""
    try:
        data = project(name)
    except Exception as exc:  # noqa: BLE001 (reported per package, the review goes on)
        return {"package": name, "pinned": pinned, "verdict": f"lookup failed: {exc}"}
    releases = {v: files for v, files in data.get("releases", {}).items() if files}
    newest = data["info"]["version"]
    row = {"package": name, "pinned": pinned, "newest": newest}
    if pinned not in releases:
        return {**row, "verdict": "NOT A RELEASE"}
    if all(f.get("yanked") for f in releases[pinned]):
        return {
            **row,
            "verdict": "YANKED: " + (releases[pinned][0].get("yanked_reason") or "no reason given"),
        }
    uploaded = min(
        datetime.fromisoformat(f["upload_time_iso_8601"].replace("Z", "+00:00")) for f in releases[pinned]
    )
    try:
        stable = [Version(v) for v in releases if not Version(v).is_prerelease]
        behind = sum(1 for v in stable if v > Version(pinned))
    except InvalidVersion:
        behind = -1
    row.update(age_days=str((now - uploaded).days), behind=str(behind))
    row["verdict"] = (
        "newest"
        if behind == 0
        else (
            "behind, same major"
            if Version(newest).major == Version(pinned).major
            else "behind a major release: review"
        )
    )
    return row


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or [ROOT / "requirements.txt", ROOT / "requirements-serve.txt"]
    now = datetime.now(UTC)
    rows = [review(n, v, now) for n, v in sorted(pins(files).items())]
    cols = ["package", "pinned", "newest", "behind", "age_days", "verdict"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(r.get(c, "") for c in cols) + " |")
    bad = [r for r in rows if r["verdict"].startswith(("NOT A RELEASE", "YANKED"))]
    failed = [r for r in rows if r["verdict"].startswith("lookup failed")]
    print(
        f"\n{len(rows)} pins: {len(bad)} yanked or missing, {len(failed)} not looked up, "
        f"{sum(r.get('behind') == '0' for r in rows)} at the newest release"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
