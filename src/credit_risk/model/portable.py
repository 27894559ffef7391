"""JVM-free scoring: a fitted Spark pipeline, exported to plain numbers (`export`), evaluated with numpy.

Why not ONNX: onnxmltools covers neither Spark's Imputer nor its MLP, and its tree converter rounds
thresholds to float32, which breaks parity. The fitted parameters of Spark's stock stages are few and
public, so `export_pipeline()` writes them to one JSON document (logged with the model in MLflow) and
`PortableModel` replays every stage the way Spark computes it, in float64:

  Imputer (surrogates) -> StringIndexer (labels; unseen and null -> the extra index) -> OneHotEncoder
  (dropLast / keep) -> [RegexTokenizer -> NGram -> HashingTF -> IDF, per text field] -> VectorAssembler
  -> StandardScaler -> LogisticRegression | RandomForest | GBT | MLP,

then the PD prior correction and the calibration map of `train_supervised.pd_column`. A parity test holds it to Spark within 1e-6.
Loading is `json.loads`: nothing is unpickled, so a model file cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from credit_risk import calibration
from credit_risk.model.text import TEXT_KINDS, apply_text

FORMAT = "credit-risk-portable/1"
PORTABLE_ARTIFACT = "portable/model.json"  # beside the Spark model in every training run
PD_CLIP = 1e-12
# What the model reads: a DataFrame, or columns as lists (`serving.schema.to_features`, fast for one loan)
Frame = pd.DataFrame | Mapping[str, Sequence[Any]]


def n_rows(frame: Frame) -> int:
    """Rows of a DataFrame or of a mapping column -> values."""
    return len(frame) if isinstance(frame, pd.DataFrame) else len(next(iter(frame.values())))


def _column(frame: Frame, name: str) -> np.ndarray:
    """A numeric input as float64 with nulls as NaN (what Spark's Imputer treats as missing)."""
    values = frame[name]
    if isinstance(values, pd.Series):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _labels(frame: Frame, name: str) -> list[Any]:
    """A categorical input as a list with None for missing (pandas NaN included)."""
    values = frame[name]
    values = values.tolist() if isinstance(values, pd.Series) else values
    return [None if v is None or (isinstance(v, float) and v != v) else v for v in values]


def _depth(tree: dict[str, Any]) -> int:
    depth, frontier = 0, [0]
    while frontier:
        frontier = [c for n in frontier for c in (tree["left"][n], tree["right"][n]) if c >= 0]
        depth += 1 if frontier else 0
    return depth


class _Forest:
    """All trees of an ensemble in flat arrays, walked together: one numpy step per tree level."""

    def __init__(self, trees: list[dict[str, Any]]) -> None:
        offsets = np.cumsum([0] + [len(t["left"]) for t in trees])[:-1]

        def joined(key: str, dtype: Any) -> np.ndarray:
            return np.concatenate([np.asarray(t[key], dtype=dtype) for t in trees])

        def children(key: str) -> np.ndarray:
            return np.concatenate(
                [
                    np.where(np.asarray(t[key]) >= 0, np.asarray(t[key]) + o, -1)
                    for t, o in zip(trees, offsets, strict=True)
                ]
            )

        self.roots = offsets.astype(np.int64)
        self.left, self.right = children("left"), children("right")
        self.is_leaf = self.left < 0
        self.feature = np.maximum(joined("feature", np.int64), 0)
        self.threshold = joined("threshold", np.float64)
        self.greater = joined("left_if_greater", bool)
        self.prediction = joined("prediction", np.float64)
        share = np.zeros((len(self.left), 2))
        for i, st in enumerate(s for t in trees for s in t["stats"]):
            if len(st) >= 2 and st[0] + st[1] > 0:  # classification trees keep class counts (GBT: moments)
                share[i] = (st[0] / (st[0] + st[1]), st[1] / (st[0] + st[1]))
        self.class_share = share
        self.depth = max(_depth(t) for t in trees)

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """(rows, trees) leaf indices."""
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            value = x[rows, self.feature[node]]
            threshold = self.threshold[node]
            go_left = np.where(self.greater[node], value > threshold, value <= threshold)
            node = np.where(self.is_leaf[node], node, np.where(go_left, self.left[node], self.right[node]))
        return node


def one_hot_width(stage: dict[str, Any], size: int) -> int:
    """Output width of Spark's OneHotEncoder for an input of `size` categories (dropLast / keep rules)."""
    keep, drop = stage["handle_invalid"] == "keep", stage["drop_last"]
    return size + 1 if keep and not drop else size - 1 if drop and not keep else size


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


class PortableModel:
    """A fitted credit-risk pipeline without Spark: `predict_pd(frame)` -> PDs as Spark would give them."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != FORMAT:
            raise ValueError(
                f"not a portable credit-risk model (format {document.get('format')!r}, expected {FORMAT!r})"
            )
        self.document = document
        self.stages = document["stages"]
        self.odds_factor = float(document["odds_factor"])
        # the training run's calibration map (credit_risk.calibration); documents from before it have none
        self.calibration = document.get("calibration") or {"method": "none"}
        self.info = document.get("info", {})
        for stage in self.stages:
            if "trees" in stage:
                stage["_forest"] = _Forest(stage["trees"])
            if stage["kind"] == "string_indexer":
                stage["_index"] = [
                    {label: float(i) for i, label in enumerate(labels)} for labels in stage["labels"]
                ]
            if stage["kind"] == "mlp":
                stage["_matrices"] = self._mlp_matrices(stage)
        first = self.stages[0]
        self.numeric_inputs = first["inputs"] if first["kind"] == "imputer" else []
        indexers = [s for s in self.stages if s["kind"] == "string_indexer"]
        self.categorical_inputs = indexers[0]["inputs"] if indexers else []
        self.text_inputs = [s["input"] for s in self.stages if s["kind"] == "tokenizer"]
        self.categories = {
            c: labels for s in indexers for c, labels in zip(s["inputs"], s["labels"], strict=True)
        }
        woe = [s for s in self.stages if s["kind"] == "woe"]  # a scorecard: WoE per bin, then LR
        self.categories.update(
            {
                c: [x for cats in b["categories"] for x in cats]
                for s in woe
                if s["categorical"]
                for c, b in s["bins"].items()
            }
        )
        self.model_kind = "scorecard" if woe else self.stages[-1]["kind"]

    @classmethod
    def load(cls, path: str | Path) -> PortableModel:
        return cls(json.loads(Path(path).read_text()))

    @staticmethod
    def _mlp_matrices(stage: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Spark's flat MLP weights: per layer a column-major (out x in) matrix, then the bias."""
        weights, layers, offset, out = np.asarray(stage["weights"]), stage["layers"], 0, []
        for n_in, n_out in zip(layers[:-1], layers[1:], strict=True):
            w = weights[offset : offset + n_in * n_out].reshape((n_out, n_in), order="F")
            offset += n_in * n_out
            b = weights[offset : offset + n_out]
            offset += n_out
            out.append((w, b))
        return out

    # -- stages

    def _apply(self, stage: dict[str, Any], cols: dict[str, np.ndarray], frame: Frame) -> None:
        kind = stage["kind"]
        if kind == "imputer":
            for name, out, value in zip(stage["inputs"], stage["outputs"], stage["surrogates"], strict=True):
                x = _column(frame, name)
                cols[out] = np.where(np.isnan(x), value, x)
        elif kind == "string_indexer":
            for name, out, index in zip(stage["inputs"], stage["outputs"], stage["_index"], strict=True):
                unseen = float(len(index)) if stage["handle_invalid"] == "keep" else np.nan
                cols[out] = np.array([index.get(v, unseen) for v in _labels(frame, name)], dtype=np.float64)
        elif kind == "one_hot":
            for name, out, size in zip(
                stage["inputs"], stage["outputs"], stage["category_sizes"], strict=True
            ):
                width = one_hot_width(stage, size)
                idx = cols[name]
                valid = (idx >= 0) & (idx < size) & (idx == np.floor(idx))
                position = np.where(valid, idx, size).astype(np.int64)
                block = np.zeros((len(idx), width))
                hit = position < width
                block[np.flatnonzero(hit), position[hit]] = 1.0
                cols[out] = block
        elif kind == "assembler":
            parts = [cols[c] if c in cols else _column(frame, c) for c in stage["inputs"]]
            cols[stage["output"]] = np.column_stack([p.reshape(n_rows(frame), -1) for p in parts])
        elif kind == "scaler":
            x = cols[stage["input"]]
            mean, std = np.asarray(stage["mean"]), np.asarray(stage["std"])
            if stage["with_mean"]:
                x = x - mean
            if stage["with_std"]:
                x = np.where(std != 0, x / np.where(std != 0, std, 1.0), 0.0)
            cols[stage["output"]] = x
        elif kind == "woe":
            from credit_risk.model.scorecard import apply_woe

            apply_woe(stage, cols, frame)
        elif kind in TEXT_KINDS:  # hashed word n-grams of a text field (credit_risk.model.text)
            if kind == "tokenizer" and stage["input"] not in frame:
                raise ValueError(f"this model reads the text field {stage['input']!r}: the input lacks it")
            texts = _labels(frame, stage["input"]) if kind == "tokenizer" else None
            apply_text(stage, cols, texts)
        else:
            raise ValueError(f"unknown stage kind {kind!r}")

    def _probability(self, stage: dict[str, Any], x: np.ndarray) -> np.ndarray:
        """Spark's probability of class 1 for the model stage."""
        kind = stage["kind"]
        if kind == "logistic_regression":
            return _sigmoid(x @ np.asarray(stage["coefficients"]) + stage["intercept"])
        if kind == "random_forest":
            forest = stage["_forest"]
            votes = np.einsum(
                "rtc,t->rc", forest.class_share[forest.leaves(x)], np.asarray(stage["tree_weights"])
            )
            total = votes.sum(axis=1)
            share: np.ndarray = np.divide(votes[:, 1], total, out=np.zeros(len(x)), where=total > 0)
            return share
        if kind == "gbt":
            forest = stage["_forest"]
            margin = forest.prediction[forest.leaves(x)] @ np.asarray(stage["tree_weights"])
            link: np.ndarray = 1.0 / (1.0 + np.exp(-2.0 * margin))  # Spark's log-loss link
            return link
        if kind == "mlp":
            a = x
            matrices = stage["_matrices"]
            for w, b in matrices[:-1]:
                a = _sigmoid(a @ w.T + b)
            w, b = matrices[-1]
            z = a @ w.T + b
            z = np.exp(z - z.max(axis=1, keepdims=True))
            softmax: np.ndarray = z / z.sum(axis=1, keepdims=True)
            return softmax[:, 1]
        raise ValueError(f"unknown model kind {kind!r}")

    def features(self, frame: Frame) -> np.ndarray:
        """The model's input matrix (after every feature stage)."""
        cols: dict[str, np.ndarray] = {}
        for stage in self.stages[:-1]:
            self._apply(stage, cols, frame)
        return cols[self.stages[-1]["input"]]

    def probability_from_matrix(self, x: np.ndarray) -> np.ndarray:
        """The model stage's probability of default (before prior correction) for a feature matrix."""
        return self._probability(self.stages[-1], x)

    def prior_corrected(self, raw: np.ndarray) -> np.ndarray:
        """`train_supervised.pd_column`: clip, then odds x the training odds factor."""
        raw = np.clip(raw, PD_CLIP, 1 - PD_CLIP)
        odds = raw / (1 - raw) * self.odds_factor
        corrected: np.ndarray = odds / (1 + odds)
        return corrected

    def pd_from_probability(self, raw: np.ndarray) -> np.ndarray:
        """The PD of the model stage's probabilities: prior-corrected, then calibrated (`pd_column` on Spark)."""
        return calibration.apply(self.calibration, self.prior_corrected(raw))

    def predict_pd(self, frame: Frame) -> np.ndarray:
        """Calibrated PD of every row (the same number `train_supervised.pd_column` gives on Spark)."""
        if n_rows(frame) == 0:
            return np.zeros(0)
        return self.pd_from_probability(self.probability_from_matrix(self.features(frame)))
