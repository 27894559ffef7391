"""Turning PDs into answers: decision, score and band, risk segment, reason codes.

Reason codes are counterfactual: for each model input, the PD is recomputed with that input set to a
typical applicant's value (the training median for numbers, the most frequent category, flags off); the
inputs whose own value raised the PD the most are the reasons, each with the PD it added. The
computation happens on the model's feature matrix, one vectorised pass for a whole batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from credit_risk import features
from credit_risk.model.portable import Frame, PortableModel, one_hot_width
from credit_risk.model.text import TEXT_KINDS

BAND_EDGES = (0.05, 0.10, 0.15, 0.20, 0.30)  # PD upper bounds of bands A..E; F above
BANDS = "ABCDEF"
# Scorecard scaling: 600 points at 50:1 good:bad odds, 20 points to double the odds.
BASE_SCORE, BASE_ODDS, PDO = 600.0, 50.0, 20.0


def score_points(pd_: np.ndarray) -> np.ndarray:
    """Scorecard points from PD (higher is safer)."""
    p = np.clip(pd_, 1e-9, 1 - 1e-9)
    points: np.ndarray = BASE_SCORE + PDO / math.log(2) * (np.log((1 - p) / p) - math.log(BASE_ODDS))
    return points


def score_band(pd_: float) -> str:
    for edge, band in zip(BAND_EDGES, BANDS, strict=False):
        if pd_ < edge:
            return band
    return BANDS[-1]


def _reference_row(model: PortableModel) -> pd.DataFrame:
    """A typical applicant: training medians, most frequent categories, no missing-value flags, no text."""
    row: dict[str, Any] = {c: 0.0 for c in features.MISSING_FLAGS}
    imputer = next((s for s in model.stages if s["kind"] == "imputer"), None)
    if imputer:
        row.update(dict(zip(imputer["inputs"], imputer["surrogates"], strict=True)))
    for column, labels in model.categories.items():
        row[column] = labels[0] if labels else None
    row.update({c: "" for c in model.text_inputs})  # no words: the text adds nothing of its own
    return pd.DataFrame([{c: row.get(c) for c in [*features.FEATURES, *model.text_inputs]}])


def _input_columns(model: PortableModel) -> dict[str, np.ndarray]:
    """Which columns of the model's feature matrix each gold feature feeds, following every stage's outputs
    (imputer, indexer, one-hot, text, assemblers and scalers) back to the gold column it came from."""
    slots: dict[str, list[str]] = {}  # stage output -> the gold feature behind each of its columns
    for stage in model.stages[:-1]:
        kind = stage["kind"]
        if kind == "one_hot":
            for i, o, size in zip(stage["inputs"], stage["outputs"], stage["category_sizes"], strict=True):
                slots[o] = slots.get(i, [i]) * one_hot_width(stage, size)
        elif kind in ("imputer", "string_indexer", "woe"):
            for i, o in zip(stage["inputs"], stage["outputs"], strict=True):
                slots[o] = slots.get(i, [i])
        elif kind in TEXT_KINDS:
            width = stage.get("num_features", 1)
            slots[stage["output"]] = [slots.get(stage["input"], [stage["input"]])[0]] * width
        elif kind == "assembler":
            slots[stage["output"]] = [o for c in stage["inputs"] for o in slots.get(c, [c])]
        elif kind == "scaler":
            slots[stage["output"]] = slots[stage["input"]]
    origin = slots[model.stages[-1]["input"]]
    probe = model.features(_reference_row(model))
    if len(origin) != probe.shape[1]:
        raise ValueError(f"feature matrix has {probe.shape[1]} columns, the stages account for {len(origin)}")
    out: dict[str, list[int]] = {}
    for position, name in enumerate(origin):
        out.setdefault(name, []).append(position)
    return {k: np.asarray(v) for k, v in out.items()}


@dataclass
class Segmenter:
    """KMeans risk segments without Spark: nearest centre after the training pipeline's imputation and scaling."""

    model: PortableModel
    segment_of_cluster: dict[int, int]

    def assign(self, frame: Frame) -> np.ndarray:
        x = self.model.features(frame)
        centres = np.asarray(self.model.stages[-1]["centers"])
        cluster = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        return np.array([self.segment_of_cluster.get(int(c), 0) for c in cluster])


class Scorer:
    """A loaded champion with everything needed to answer `/predict`."""

    def __init__(
        self,
        model: PortableModel,
        threshold: float,
        segmenter: Segmenter | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.model, self.threshold, self.segmenter = model, threshold, segmenter
        self.meta = meta or {}
        self.reference = model.features(_reference_row(model))[0]
        self.groups = _input_columns(model)
        titles = model.categories.get("emp_title_clean", [])
        self.known_titles = [t for t in titles if t not in ("other", "missing")]
        self.points = None  # a scorecard's reasons are its points below the best per characteristic
        if model.model_kind == "scorecard":
            from credit_risk.model.scorecard import points_table

            self.points = points_table(model.document)

    def reason_codes(self, x: np.ndarray, pd_: np.ndarray, top: int = 3) -> list[list[dict[str, Any]]]:
        """Per row, the inputs that raised the PD most versus a typical applicant, with the PD each added."""
        if self.points is not None:
            return self.points.reasons(x, pd_, top)
        names = list(self.groups)
        n, g = len(x), len(names)
        variants = np.repeat(x[None, :, :], g, axis=0)  # (g, n, d)
        for j, name in enumerate(names):
            idx = self.groups[name]
            variants[j][:, idx] = self.reference[idx]
        raw = self.model.probability_from_matrix(variants.reshape(g * n, -1)).reshape(g, n)
        effect = pd_[None, :] - self.model.pd_from_probability(raw)  # PD this input's value added
        out = []
        for i in range(n):
            order = np.argsort(-effect[:, i])[:top]
            out.append(
                [
                    {"feature": names[j], "pd_added": round(float(effect[j, i]), 6)}
                    for j in order
                    if effect[j, i] > 1e-9
                ]
            )
        return out

    def score(self, frame: Frame, explain: bool = True) -> list[dict[str, Any]]:
        """Per loan: PD, decision, score and band, segment, reasons."""
        x = self.model.features(frame)
        pd_ = self.model.pd_from_probability(self.model.probability_from_matrix(x))
        reasons = self.reason_codes(x, pd_) if explain else [None] * len(x)
        segments = self.segmenter.assign(frame) if self.segmenter else [None] * len(x)
        points = score_points(pd_)
        return [
            {
                "loan_id": lid,
                "pd": float(p),
                "decision": "decline" if p >= self.threshold else "approve",
                "score": int(round(s)),
                "score_band": score_band(p),
                "risk_segment": int(seg) if seg is not None else None,
                "reason_codes": r,
            }
            for lid, p, s, seg, r in zip(frame[features.KEY], pd_, points, segments, reasons, strict=True)
        ]
