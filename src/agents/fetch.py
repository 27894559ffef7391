"""Step `fetch`: the raw exports where the `bronze_ingest` task reads them (`data_source` decides which).

`generated` (the default): the embedded synthetic LendingClub exports, written by the same function the
bronze task calls (`credit_risk.pipeline.bronze.raw_location`). `kaggle`: the real data set, downloaded with your
Kaggle credentials (`credit-risk fetch`). A folder or file: checked to hold raw exports.
"""

from __future__ import annotations

import sys

from src.agents import _run


def _fetch(bundle) -> None:
    from credit_risk.pipeline.bronze import raw_location
    from credit_risk.pipeline.raw_files import list_raw_files

    cfg = _run.config(bundle)
    if cfg.data_source == "kaggle":
        from credit_risk.pipeline.fetch import FetchError, fetch_kaggle

        try:
            files = fetch_kaggle(raw_location(cfg))
        except FetchError as exc:
            raise _run.StepError(str(exc)) from exc
    else:
        try:
            files = list_raw_files(raw_location(cfg))
        except (FileNotFoundError, ValueError) as exc:
            raise _run.StepError(f"data_source {cfg.data_source!r}: {exc}") from exc
    print(f"raw exports ({cfg.data_source}) in {raw_location(cfg)}:")
    _run.report(bundle, [], [], files)


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("fetch", __doc__, _fetch, argv)


if __name__ == "__main__":
    sys.exit(main())
