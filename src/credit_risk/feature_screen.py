"""Column drift: which allow-listed features a model can be fitted on, given the rows it is fitted on.

LendingClub added fields over the years (bureau attributes from 2012, joint applications from 2015) and
some exports carry no FICO at all, so a feature can be entirely null, or hold one value, in a training
split. Such a column carries nothing to learn from and stops MLlib's Imputer ("surrogate cannot be
computed"), so it is left out of that model with its reason. Missing indicators are screened like any
other input: a flag that varies (a field missing in some vintages only) stays, and keeps its meaning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from credit_risk import features

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureSet:
    """The inputs a model is fitted on, by kind, and those left out with why."""

    numeric: list[str]
    flags: list[str]
    categorical: list[str]
    excluded: dict[str, str] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)  # free-text fields read as hashed n-grams (`text_features`)

    @property
    def used(self) -> list[str]:
        """The tabular inputs (stability and drift are measured on these)."""
        return [*self.numeric, *self.flags, *self.categorical]

    @property
    def inputs(self) -> list[str]:
        """Every column the model reads: the tabular inputs, then the text fields."""
        return [*self.used, *self.text]

    def tags(self) -> dict[str, str]:
        """MLflow tags naming the features used and those left out (JSON: feature -> reason)."""
        return {
            "features_used": ",".join(self.used),
            "features_excluded": json.dumps(self.excluded, sort_keys=True),
            "text_features_used": ",".join(self.text),
        }

    def to_dict(self) -> dict[str, object]:
        return {key: getattr(self, key) for key in ("numeric", "flags", "categorical", "text", "excluded")}


ALL_FEATURES = FeatureSet(list(features.NUMERIC), list(features.MISSING_FLAGS), list(features.CATEGORICAL))


def screen(
    df: DataFrame,
    numeric: Sequence[str] = features.NUMERIC,
    flags: Sequence[str] = features.MISSING_FLAGS,
    categorical: Sequence[str] = features.CATEGORICAL,
    text: Sequence[str] = (),
) -> FeatureSet:
    """Drop every input that is entirely null or constant in `df` (one aggregate pass), logging the reason;
    `text` fields (wanted only with `text_features`) are screened alike: one that is always empty goes."""
    columns = [*numeric, *flags, *categorical, *text]
    stats = df.agg(
        F.count(F.lit(1)).alias("_rows"),
        *[
            agg(c).alias(f"{name}__{c}")
            for c in columns
            for name, agg in (("n", F.count), ("lo", F.min), ("hi", F.max))
        ],
    ).collect()[0]  # a global aggregate: one row
    rows = stats["_rows"]
    excluded: dict[str, str] = {}
    for c in columns:
        if stats[f"n__{c}"] == 0:
            excluded[c] = f"entirely null in the {rows} rows fitted on"
        elif stats[f"lo__{c}"] == stats[f"hi__{c}"]:
            excluded[c] = f"constant ({stats[f'lo__{c}']!r} in every non-null row of the {rows} fitted on)"
    if excluded:
        log.warning(
            "left out of the model (column drift): %s", "; ".join(f"{c}: {r}" for c, r in excluded.items())
        )
    keep = [c for c in columns if c not in excluded]
    if not keep:
        raise ValueError(
            f"no feature can be fitted on: every input is null or constant in the {rows} rows ({excluded})"
        )
    return FeatureSet(
        [c for c in numeric if c in keep],
        [c for c in flags if c in keep],
        [c for c in categorical if c in keep],
        excluded,
        [c for c in text if c in keep],
    )
