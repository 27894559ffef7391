"""Credit-model metrics on (PD, outcome) arrays: ranking, calibration and stability."""

from __future__ import annotations

import numpy as np


def _arrays(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if y.shape != p.shape or y.size == 0:
        raise ValueError("outcomes and PDs must be non-empty and of the same length")
    return y, p


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half)."""
    from scipy.stats import rankdata

    y, p = _arrays(y, p)
    pos, neg = y.sum(), len(y) - y.sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def gini(y: np.ndarray, p: np.ndarray) -> float:
    return 2 * auc(y, p) - 1


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision: precision at each default, averaged over defaults (highest PD first)."""
    y, p = _arrays(y, p)
    order = np.argsort(-p, kind="stable")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Largest gap between the PD distributions of defaulters and non-defaulters."""
    y, p = _arrays(y, p)
    grid = np.unique(p)
    bad = np.searchsorted(np.sort(p[y == 1]), grid, side="right") / max((y == 1).sum(), 1)
    good = np.searchsorted(np.sort(p[y == 0]), grid, side="right") / max((y == 0).sum(), 1)
    return float(np.max(np.abs(bad - good)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    y, p = _arrays(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray, eps: float = 1e-15) -> float:
    y, p = _arrays(y, p)
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per PD decile: mean PD, observed default rate, count (equal-count bins)."""
    y, p = _arrays(y, p)
    order = np.argsort(p, kind="stable")
    return [
        {"mean_pd": float(p[idx].mean()), "default_rate": float(y[idx].mean()), "n": int(len(idx))}
        for idx in np.array_split(order, bins)
        if len(idx)
    ]


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: count-weighted |mean PD - default rate| over PD deciles."""
    table = calibration(y, p, bins)
    total = sum(b["n"] for b in table)
    return float(sum(b["n"] * abs(b["mean_pd"] - b["default_rate"]) for b in table) / total)


def lift_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Deciles from riskiest: default rate, lift over the base rate, cumulative share of defaults (gain)."""
    y, p = _arrays(y, p)
    order = np.argsort(-p, kind="stable")
    base, total_bad = y.mean(), max(y.sum(), 1)
    rows, captured = [], 0.0
    for i, idx in enumerate(np.array_split(order, bins), start=1):
        captured += y[idx].sum()
        rate = float(y[idx].mean()) if len(idx) else 0.0
        rows.append(
            {
                "decile": i,
                "default_rate": rate,
                "lift": rate / base if base else float("nan"),
                "gain": float(captured / total_bad),
            }
        )
    return rows


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of a score between a reference and a current sample (decile bins of the reference)."""
    expected, actual = np.asarray(expected, float), np.asarray(actual, float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _stability_index(expected_counts: np.ndarray, actual_counts: np.ndarray) -> float:
    e = np.clip(expected_counts / max(expected_counts.sum(), 1), 1e-6, None)
    a = np.clip(actual_counts / max(actual_counts.sum(), 1), 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def csi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Characteristic stability index of one feature between a reference and a current sample.

    The PSI of the feature itself: decile bins of the reference for a number (missing values a bin of their
    own, as a feature that starts arriving empty has moved), the reference's categories for text (categories
    the reference never saw share one bin).
    """
    try:
        e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        e_text = np.array(["\0missing" if v is None else str(v) for v in expected])
        a_text = np.array(["\0missing" if v is None else str(v) for v in actual])
        categories = np.unique(e_text)
        position = np.searchsorted(categories, a_text).clip(0, len(categories) - 1)
        a_index = np.where(categories[position] == a_text, position, len(categories))
        e_index = np.searchsorted(categories, e_text)
        size = len(categories) + 1
    else:
        finite = e[~np.isnan(e)]
        inner = (
            np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))[1:-1] if finite.size else np.empty(0)
        )
        size = len(inner) + 2  # the value bins, then the missing bin
        e_index = np.where(np.isnan(e), size - 1, np.searchsorted(inner, e, side="right"))
        a_index = np.where(np.isnan(a), size - 1, np.searchsorted(inner, a, side="right"))
    return _stability_index(
        np.bincount(e_index, minlength=size).astype(float), np.bincount(a_index, minlength=size).astype(float)
    )


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The metrics every model run logs."""
    return {
        "auc": auc(y, p),
        "pr_auc": pr_auc(y, p),
        "ks": ks(y, p),
        "gini": gini(y, p),
        "brier": brier(y, p),
        "log_loss": log_loss(y, p),
        "ece": ece(y, p),
    }
