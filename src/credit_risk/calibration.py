"""Calibration maps from a model's PD to an observed default rate, fitted on validation PDs in numpy.

Class weighting and the prior correction (`pd_column`) put the PD level right on average for the training
vintages, not per score band nor for a younger vintage. A map fitted on the validation split's PDs corrects
that: Platt (a logistic regression on logit(PD), a few Newton steps) keeps the ranking and is smooth;
isotonic (pool-adjacent-violators, as MLlib's IsotonicRegression) is free-form but steps the PD, so ties
can shift the AUC a little. The map is a small JSON document (`{"method": ...}`), logged with every training
run (`CALIBRATION_ARTIFACT`, the portable export's `calibration`), and applied the same way by Spark
(`spark_column`) and numpy (`apply`) so that batch, evaluation and serving PDs agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import Column

METHODS = ("platt", "isotonic", "none")
CALIBRATION_ARTIFACT = "calibration.json"
_CLIP = 1e-12
Calibration = dict[str, Any]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), _CLIP, 1 - _CLIP)
    out: np.ndarray = np.log(p / (1 - p))
    return out


def fit_platt(y: np.ndarray, p: np.ndarray, steps: int = 50, ridge: float = 1e-6) -> Calibration:
    """PD -> sigmoid(slope * logit(PD) + intercept), maximum likelihood by Newton's method (a tiny ridge keeps
    the Hessian invertible when a split is separable or all one class)."""
    y, x = np.asarray(y, float), _logit(p)
    design = np.column_stack([x, np.ones_like(x)])
    w = np.array([1.0, 0.0])  # the identity map: a no-op if the PDs are already calibrated
    for _ in range(steps):
        q = 1 / (1 + np.exp(-(design @ w)))
        grad = design.T @ (q - y) + ridge * w
        hess = (design * (q * (1 - q))[:, None]).T @ design + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return {"method": "platt", "slope": float(w[0]), "intercept": float(w[1])}


def fit_isotonic(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> Calibration:
    """Increasing step map by pool-adjacent-violators, with MLlib IsotonicRegression's rules: equal PDs pooled
    first, adjacent blocks with equal means merged, a block of several PDs kept by its first and last PD, and
    prediction by linear interpolation between those boundaries (constant beyond them)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    w = np.ones_like(y) if w is None else np.asarray(w, float)
    keep = w > 0
    y, p, w = y[keep], p[keep], w[keep]
    x, inverse = np.unique(p, return_inverse=True)
    weight = np.bincount(inverse, weights=w)
    mean = np.bincount(inverse, weights=w * y) / weight
    # blocks as a stack of [start, end, weight, weighted sum]
    blocks: list[list[float]] = []
    for i in range(len(x)):
        blocks.append([i, i, weight[i], weight[i] * mean[i]])
        while len(blocks) > 1 and blocks[-2][3] / blocks[-2][2] >= blocks[-1][3] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1][1], blocks[-1][2], blocks[-1][3] = (
                last[1],
                blocks[-1][2] + last[2],
                blocks[-1][3] + last[3],
            )
    boundaries: list[float] = []
    predictions: list[float] = []
    for start, end, total, wsum in blocks:
        level = wsum / total
        boundaries.append(float(x[int(start)]))
        predictions.append(float(level))
        if end > start:
            boundaries.append(float(x[int(end)]))
            predictions.append(float(level))
    return {"method": "isotonic", "boundaries": boundaries, "predictions": predictions}


def fit(method: str, y: np.ndarray, p: np.ndarray) -> Calibration:
    """The map `method` (platt | isotonic | none) fitted on outcomes `y` and PDs `p`."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if y.shape != p.shape or not (np.isin(y, (0.0, 1.0)).all() and np.isfinite(p).all()):
        raise ValueError("calibration needs finished loans: outcomes 0 or 1 and a finite PD for each")
    if method == "platt":
        return fit_platt(y, p)
    if method == "isotonic":
        return fit_isotonic(y, p)
    if method == "none":
        return {"method": "none"}
    raise ValueError(f"unknown calibration {method!r}: choose from {METHODS}")


def apply(calibration: Calibration | None, p: np.ndarray) -> np.ndarray:
    """Calibrated PDs (numpy), the same numbers as `spark_column` gives."""
    p = np.asarray(p, float)
    method = (calibration or {}).get("method", "none")
    if method == "none":
        return p
    assert calibration is not None
    if method == "platt":
        z = np.clip(
            calibration["slope"] * _logit(p) + calibration["intercept"], -700.0, 700.0
        )  # exp stays finite
        out: np.ndarray = 1 / (1 + np.exp(-z))
        return out
    if method == "isotonic":
        return np.interp(p, calibration["boundaries"], calibration["predictions"])
    raise ValueError(f"unknown calibration {method!r}: choose from {METHODS}")


def spark_column(calibration: Calibration | None, pd_col: Column) -> Column:
    """The calibrated PD of a Spark PD column (`apply` on Spark)."""
    from pyspark.sql import functions as F

    method = (calibration or {}).get("method", "none")
    if method == "none":
        return pd_col
    assert calibration is not None
    if method == "platt":
        clipped = F.least(F.greatest(pd_col, F.lit(_CLIP)), F.lit(1 - _CLIP))
        z = F.lit(calibration["slope"]) * F.log(clipped / (1 - clipped)) + F.lit(calibration["intercept"])
        return 1 / (1 + F.exp(-z))
    if method == "isotonic":
        xs, ys = calibration["boundaries"], calibration["predictions"]
        out = F.when(pd_col <= F.lit(xs[0]), F.lit(ys[0]))
        for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:], strict=False):
            slope = (y1 - y0) / (x1 - x0)
            out = out.when(pd_col <= F.lit(x1), F.lit(y0) + F.lit(slope) * (pd_col - F.lit(x0)))
        return out.otherwise(F.lit(ys[-1]))
    raise ValueError(f"unknown calibration {method!r}: choose from {METHODS}")


def cross_fitted(method: str, y: np.ndarray, p: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each PD calibrated by a map fitted on the other folds: an honest calibrated validation PD (the map fitted
    on all of validation has seen each loan's outcome)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    out = np.empty_like(p)
    for k in range(folds):
        held = fold == k
        if held.any():
            out[held] = apply(fit(method, y[~held], p[~held]), p[held])
    return out


def run_calibration(run_id: str) -> Calibration:
    """The map logged on training run `run_id`; runs from before calibration have none (identity)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/{CALIBRATION_ARTIFACT}"))
    except (MlflowException, OSError):
        return {"method": "none"}
