"""Reading requirements-lock.txt, the full resolution of requirements.txt that `make install` installs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-lock.txt"
ENTRY = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!-]+)"
    r"(?P<hashes>(?:\s+--hash=sha256:[0-9a-f]{64})+)"
)


def lock_pins(path: Path = LOCK) -> dict[str, str]:
    """name (normalised) -> version. Every entry must be `name==version` with at least one sha256 hash (what
    `--require-hashes` needs); comments aside, nothing else may be in the file."""
    text = re.sub(r"\s*\\\n\s*", " ", path.read_text())  # continuation lines joined
    pins: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = ENTRY.fullmatch(line)
        assert m, f"{path.name}: not `name==version --hash=sha256:...`: {line[:120]!r}"
        name = re.sub(r"[-_.]+", "-", m["name"]).lower()
        assert name not in pins, f"{path.name}: {name} listed twice"
        pins[name] = m["version"]
    assert pins, f"{path.name}: no pins"
    return pins
