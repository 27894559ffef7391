"""Generator throughput against a serialisation floor measured in the same run.

Floors: pyarrow's C++ CSV writer on an in-memory all-string table of the same shape and bytes per row
(rows x 151 columns; what writing alone costs, with no drawing or formatting), and for gzipped output
that plus zlib level 1 (the generator's level) over the generator's own bytes.
Usage: python bench/generate.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import gzip
import resource
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from credit_risk.raw_schema import KAGGLE
from credit_risk.synthetic.generate import generate_exports


def _timed(out: Path, rows: int, layout: str, compress: bool) -> tuple[float, int]:
    start = time.perf_counter()
    files = generate_exports(out, rows, 1, layout=layout, compress=compress, progress=False)
    return time.perf_counter() - start, sum(f.stat().st_size for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    rows, out = args.rows, Path(tempfile.mkdtemp(prefix="bench-gen-"))
    plain = _timed(out / "plain", rows, "kaggle", False)
    zipped = _timed(out / "gzip", rows, "kaggle", True)
    website = _timed(out / "loanstats", rows, "loanstats", True)
    peak_gb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    )  # before the reference table exists

    data = next((out / "plain").iterdir()).read_bytes()
    width = max(1, len(data) // rows // len(KAGGLE) - 1)  # same bytes per row, commas included
    reference = pa.table({c: pa.array(["x" * width] * rows) for c in KAGGLE})
    start = time.perf_counter()
    pacsv.write_csv(reference, out / "reference.csv", pacsv.WriteOptions(quoting_style="none"))
    floor_write = time.perf_counter() - start
    start = time.perf_counter()
    gzip.compress(data, compresslevel=1, mtime=0)
    floor_gzip = time.perf_counter() - start

    print(f"\nGenerator, {rows:,} rows (Kaggle layout: 151 columns, {len(data) / rows:.0f} bytes per row)\n")
    print("| run | seconds | rows/s | MB written | ratio to floor |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, size), floor in (
        ("generate kaggle, plain CSV", plain, floor_write),
        ("generate kaggle, gzip", zipped, floor_write + floor_gzip),
        ("generate loanstats (website export), gzip", website, floor_write + floor_gzip),
    ):
        print(
            f"| {name} | {seconds:.2f} | {rows / seconds:,.0f} | {size / 1e6:.0f} | {seconds / floor:.1f}x |"
        )
    print(
        f"| floor: pyarrow write_csv of a same-size string table | {floor_write:.2f} | {rows / floor_write:,.0f} | "
        f"{len(data) / 1e6:.0f} | 1.0x |"
    )
    print(
        f"| floor: + gzip level 1 of the same bytes | {floor_write + floor_gzip:.2f} | "
        f"{rows / (floor_write + floor_gzip):,.0f} | - | 1.0x |"
    )
    print(
        f"\npeak RSS of the generator runs {peak_gb:.2f} GB; 2.9M rows extrapolate to "
        f"{2_900_000 / (rows / zipped[0]) / 60:.1f} min gzipped, {2_900_000 / (rows / plain[0]) / 60:.1f} min plain"
    )


if __name__ == "__main__":
    main()
