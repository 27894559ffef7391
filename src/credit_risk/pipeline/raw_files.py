"""Raw export files as received: found, hashed, decompressed and made UTF-8, with their header read.

Pure Python, so that a file's problems (a zip of several files, a truncated gzip, latin-1 bytes, a BOM,
a missing or repeated header) are found and named before Spark reads a line. Zip members and files that
are not plain UTF-8 are converted to UTF-8 text under the batch's staging folder; the rest are read as is.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RENAMES = {
    "open_il_6m": "open_act_il",
    "sec_app_open_il_6m": "sec_app_open_act_il",
    "verified_status_joint": "verification_status_joint",
    "is_inc_v": "verification_status",
}
RAW_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")


class IngestError(RuntimeError):
    """A file that cannot be ingested at all, or whose lines do not reconcile."""


@dataclass(frozen=True)
class RawFile:
    """One raw export as Spark will read it: the original path, its hash, and the UTF-8 text to read."""

    source: Path
    sha256: str
    text_path: Path
    header: list[str]
    header_line: int  # 1-based line number of the header in text_path (0: none)
    note: str = ""
    problem: str = ""  # set when no line can be a data row: every line is quarantined with this reason


def normalise_name(name: str, position: int) -> str:
    """`Loan Amnt ` -> `loan_amnt`; unnamed (pandas index) columns become `_c<position>`."""
    clean = re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")
    clean = RENAMES.get(clean, clean)
    return clean or f"_c{position}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_raw_files(location: str | Path) -> list[Path]:
    """A raw file, or every raw file under a folder (sorted; `_staging` skipped)."""
    path = Path(location)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise IngestError(f"raw data location {path} does not exist")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.name.lower().endswith(RAW_SUFFIXES) and "_staging" not in p.parts
    )
    if not files:
        raise IngestError(f"no raw files ({', '.join(RAW_SUFFIXES)}) under {path}")
    return files


def _open_text_stream(path: Path) -> gzip.GzipFile | io.BufferedReader | io.BytesIO:
    if path.name.lower().endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise IngestError(f"{path.name}: a zip must hold exactly one file, found {members}")
            return io.BytesIO(zf.read(members[0]))
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _recover(path: Path, staging: Path) -> tuple[Path, str]:
    """Decompress / re-encode to a UTF-8 file Spark can read; keep what a truncated stream still holds."""
    out = staging / f"{path.name}.utf8.csv"
    note = ""
    if path.name.lower().endswith(".gz"):
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(path.read_bytes())
        except zlib.error as exc:
            raise IngestError(f"{path.name}: not a readable gzip file ({exc})") from exc
        if not inflater.eof:
            note = f"truncated gzip stream: kept the {len(data)} bytes before the break"
    else:
        data = _open_text_stream(path).read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        note = (note + "; " if note else "") + "not UTF-8: decoded as latin-1"
    out.write_text(text.lstrip("\ufeff"), encoding="utf-8")
    return out, note


def _needs_recovery(path: Path) -> bool:
    """zip, broken gzip, a BOM or non-UTF-8 bytes in the first MiB: convert before Spark reads it."""
    if path.name.lower().endswith(".zip"):
        return True
    try:
        with _open_text_stream(path) as fh:
            head = fh.read(1 << 20)
        if head.startswith(b"\xef\xbb\xbf"):
            return True
        head.decode("utf-8")
    except (EOFError, OSError, zlib.error):
        return True
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of a full sample is fine
        return len(head) < (1 << 20) or exc.start < len(head) - 4
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 22):
                    pass
        except (EOFError, OSError, zlib.error):
            return True
    return False


def prepare(path: Path, staging: Path) -> RawFile:
    """Hash the file, make it readable as UTF-8 text, and find its header line."""
    sha = sha256_of(path)
    staging.mkdir(parents=True, exist_ok=True)
    text_path, note = (path, "")
    if _needs_recovery(path):
        text_path, note = _recover(path, staging)
    with _open_text_stream(text_path) as fh:
        head = io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline="")
        first_lines = [head.readline() for _ in range(3)]
    header_line = 2 if first_lines[0].startswith("Notes offered by Prospectus") else 1
    header_text = first_lines[header_line - 1].lstrip("\ufeff").strip("\r\n")
    header = [normalise_name(n, i) for i, n in enumerate(next(csv.reader([header_text]), []))]
    dupes = sorted({h for h in header if header.count(h) > 1})
    problem = ""
    if "loan_amnt" not in header:
        problem = f"no LendingClub header (line {header_line} has no loan_amnt column)"
    elif dupes:
        problem = f"header repeats columns {dupes}"
    if problem:
        log.warning("%s: %s; all its lines go to quarantine", path.name, problem)
        return RawFile(path, sha, text_path, [], 0, note, problem)
    return RawFile(path, sha, text_path, header, header_line, note)
