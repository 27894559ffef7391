"""Generator throughput against a serialisation floor, in one run.

The reference writes an in-memory table of the same shape (rows x 151 string columns, the same bytes per
row) with pyarrow's C++ CSV writer: what writing alone costs, with no drawing or formatting.
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

from credit_risk.generate import generate_exports
from credit_risk.raw_schema import KAGGLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench-gen-"))
    table = []
    for compress in (False, True):
        start = time.perf_counter()
        (path,) = generate_exports(out / str(compress), args.rows, 1, compress=compress, progress=False)
        table.append((f"generate, kaggle layout{', gzip' if compress else ''}", time.perf_counter() - start, path.stat().st_size))
    raw = (out / "False").iterdir().__next__().read_bytes()
    width = max(1, len(raw) // args.rows // len(KAGGLE) - 1)
    reference = pa.table({c: pa.array(["x" * width] * args.rows) for c in KAGGLE})
    start = time.perf_counter()
    pacsv.write_csv(reference, out / "reference.csv", pacsv.WriteOptions(quoting_style="none"))
    ref_plain = time.perf_counter() - start
    start = time.perf_counter()
    with gzip.open(out / "reference.csv.gz", "wb", compresslevel=5) as fh:
        pacsv.write_csv(reference, fh, pacsv.WriteOptions(quoting_style="none"))
    ref_gzip = time.perf_counter() - start
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\nGenerator, {args.rows:,} rows x {len(KAGGLE)} columns\n")
    print("| run | seconds | rows/s | MB written | ratio to pyarrow CSV floor |")
    print("|---|---:|---:|---:|---:|")
    for (name, seconds, size), ref in zip(table, (ref_plain, ref_gzip), strict=True):
        print(f"| {name} | {seconds:.2f} | {args.rows / seconds:,.0f} | {size / 1e6:.0f} | {seconds / ref:.1f}x |")
    print(f"| reference: pyarrow write_csv of a same-size string table | {ref_plain:.2f} | {args.rows / ref_plain:,.0f} | - | 1.0x |")
    print(f"\npeak RSS {rss_gb:.2f} GB (includes the in-memory reference table); 2.9M rows extrapolate to "
          f"{2_900_000 / (args.rows / table[1][1]) / 60:.1f} min gzipped")


if __name__ == "__main__":
    main()
