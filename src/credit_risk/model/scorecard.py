"""The WoE scorecard without Spark: its bin tables as SQL, their numpy replay, points and adverse-action reasons.

The scorecard's Spark pipeline maps each characteristic to the weight of evidence (WoE) of its bin with a stock
SQLTransformer whose statement `woe_statement()` writes from the bin table; the table rides in the statement as
a trailing comment, so the export reads it back from the fitted model alone and checks that the SQL it
regenerates is the SQL Spark ran. Points use the API's scaling (`scoring.BASE_SCORE` at `BASE_ODDS`, `PDO`):
the characteristics' points add up to exactly the score `scoring.score_points` gives the PD.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from credit_risk.model.portable import Frame, _column, _labels
from credit_risk.model.scoring import BASE_ODDS, BASE_SCORE, PDO

WOE_SUFFIX = "__woe"
_MARK = "/* scorecard-woe "
FACTOR = PDO / math.log(2)  # points per unit of log-odds
OFFSET = BASE_SCORE - FACTOR * math.log(BASE_ODDS)  # points at even odds


def scaled_score(log_odds_good: np.ndarray | float) -> np.ndarray:
    """Points for good:bad log-odds: BASE_SCORE at BASE_ODDS, PDO more for each doubling of the odds."""
    return np.asarray(OFFSET + FACTOR * np.asarray(log_odds_good, dtype=np.float64))


def _double(value: float) -> str:
    """A float64 literal Spark reads back bit for bit (a bare decimal literal would be a DECIMAL)."""
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def _string(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _case(feature: str, bins: dict[str, Any], categorical: bool) -> str:
    woe = bins["woe"]
    if categorical:
        whens = [f"WHEN `{feature}` IS NULL THEN {_double(bins['missing'])}"]
        whens += [
            f"WHEN `{feature}` IN ({', '.join(_string(c) for c in cats)}) THEN {_double(w)}"
            for cats, w in zip(bins["categories"], woe, strict=True)
        ]
        default = bins["unseen"]
    else:
        x = f"CAST(`{feature}` AS DOUBLE)"
        whens = [f"WHEN {x} IS NULL OR isnan({x}) THEN {_double(bins['missing'])}"]
        whens += [
            f"WHEN {x} < {_double(s)} THEN {_double(w)}" for s, w in zip(bins["splits"], woe, strict=False)
        ]
        default = woe[-1]
    return f"CASE {' '.join(whens)} ELSE {_double(default)} END AS `{feature}{WOE_SUFFIX}`"


def woe_statement(table: dict[str, Any]) -> str:
    """The SQLTransformer statement of one bin table: {"categorical": bool, "bins": {feature: bins}}.

    Numeric bins: "splits" s_1..s_k and k + 1 "woe" values (bin i holds s_i <= x < s_i+1, as optbinning);
    categorical bins: "categories" per bin and their "woe". Null (and NaN) take "missing", unseen labels "unseen".
    """
    cases = [_case(f, b, table["categorical"]) for f, b in table["bins"].items()]
    comment = json.dumps(table).replace("*/", "*\\/")
    return f"SELECT *, {', '.join(cases)} FROM __THIS__ {_MARK}{comment} */"


def export_woe_stage(statement: str) -> dict[str, Any]:
    """The portable form of a WoE SQLTransformer, refused unless its SQL is exactly what its table makes."""
    if _MARK not in statement:
        raise ValueError("SQLTransformer has no portable form unless it is a scorecard's WoE mapping")
    table = json.loads(statement.split(_MARK, 1)[1].rsplit("*/", 1)[0])
    if woe_statement(table) != statement:
        raise ValueError("the WoE statement differs from the one its bin table makes: not exported")
    inputs = list(table["bins"])
    return {
        "kind": "woe",
        "categorical": table["categorical"],
        "inputs": inputs,
        "outputs": [f"{c}{WOE_SUFFIX}" for c in inputs],
        "bins": table["bins"],
    }


def apply_woe(stage: dict[str, Any], cols: dict[str, np.ndarray], frame: Frame) -> None:
    """Replay of the WoE CASE expressions with numpy."""
    for name, out in zip(stage["inputs"], stage["outputs"], strict=True):
        bins = stage["bins"][name]
        if stage["categorical"]:
            lookup = {c: w for cats, w in zip(bins["categories"], bins["woe"], strict=True) for c in cats}
            values = [
                bins["missing"] if v is None else lookup.get(v, bins["unseen"]) for v in _labels(frame, name)
            ]
            cols[out] = np.asarray(values, dtype=np.float64)
        else:
            x = _column(frame, name)
            woe = np.asarray(bins["woe"], dtype=np.float64)
            index = np.searchsorted(
                np.asarray(bins["splits"], dtype=np.float64), np.nan_to_num(x), side="right"
            )
            cols[out] = np.where(np.isnan(x), bins["missing"], woe[index])


@dataclass
class PointsTable:
    """Points per attribute of every characteristic, and what a row's points fall short of the best."""

    characteristics: list[str]
    coefficients: np.ndarray  # of the WoE columns, in the assembler's order
    base_points: float  # each characteristic's share of the intercept and the scaling offset
    best: np.ndarray  # the most points each characteristic can give

    def points(self, woe: np.ndarray) -> np.ndarray:
        """(rows, characteristics) points of WoE rows; each row sums to its score."""
        out: np.ndarray = self.base_points + FACTOR * woe * self.coefficients[None, :]
        return out

    def reasons(self, woe: np.ndarray, pd_: np.ndarray, top: int = 3) -> list[list[dict[str, Any]]]:
        """Adverse-action reasons: the characteristics whose points fall furthest below their maximum, each
        with the shortfall and the PD it adds (the PD were that characteristic at its best attribute)."""
        short = self.best[None, :] - self.points(woe)
        logit = np.log(pd_ / (1 - pd_))
        out = []
        for i in range(len(woe)):
            order = np.argsort(-short[i])[:top]
            out.append(
                [
                    {
                        "feature": self.characteristics[j].removesuffix(WOE_SUFFIX),
                        "points_below_max": round(float(short[i, j]), 3),
                        "pd_added": round(
                            float(pd_[i] - 1 / (1 + np.exp(-(logit[i] - short[i, j] / FACTOR)))), 6
                        ),
                    }
                    for j in order
                    if short[i, j] > 1e-9
                ]
            )
        return out

    def rows(self, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The points table, one row per attribute (the MLflow artifact)."""
        index = {c: j for j, c in enumerate(self.characteristics)}
        out = []
        for stage in (s for s in stages if s["kind"] == "woe"):
            for name, bins in stage["bins"].items():
                j = index[name + WOE_SUFFIX]
                labels = _attribute_labels(bins, stage["categorical"])
                for label, woe in zip(
                    labels, [*bins["woe"], bins["missing"], bins.get("unseen")], strict=False
                ):
                    if woe is None:
                        continue
                    points = self.base_points + FACTOR * self.coefficients[j] * woe
                    out.append(
                        {"characteristic": name, "attribute": label, "woe": woe, "points": float(points)}
                    )
        return out


def _attribute_labels(bins: dict[str, Any], categorical: bool) -> list[str]:
    if categorical:
        return [", ".join(map(str, c)) for c in bins["categories"]] + ["missing", "unseen"]
    edges = ["-inf", *map(repr, bins["splits"]), "inf"]
    return [f"[{lo}, {hi})" for lo, hi in zip(edges[:-1], edges[1:], strict=True)] + ["missing"]


def points_table(document: dict[str, Any]) -> PointsTable:
    """Points of a portable scorecard: score = OFFSET - FACTOR * (intercept + ln(odds factor) + sum b_j woe_j),
    the intercept and offset shared evenly over the characteristics."""
    stages = document["stages"]
    model, assembler = stages[-1], stages[-2]
    if model["kind"] != "logistic_regression" or assembler["kind"] != "assembler":
        raise ValueError("a scorecard ends in an assembler of WoE columns and a logistic regression")
    names = list(assembler["inputs"])
    coefficients = -np.asarray(model["coefficients"], dtype=np.float64)  # points rise with the odds of good
    intercept = model["intercept"] + math.log(float(document["odds_factor"]))
    base = (OFFSET - FACTOR * intercept) / len(names)
    woe_of = {
        o: [*bins["woe"], bins["missing"], *([bins["unseen"]] if s["categorical"] else [])]
        for s in stages
        if s["kind"] == "woe"
        for o, bins in zip(s["outputs"], s["bins"].values(), strict=True)
    }
    best = np.array(
        [max(FACTOR * c * w for w in woe_of[n]) for n, c in zip(names, coefficients, strict=True)]
    )
    return PointsTable(names, coefficients, base, base + best)
