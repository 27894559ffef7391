"""The model card of a registered version: what the model is for, what it learned from, how well it works.

Written by `register` for every version it makes, as Markdown and HTML, under
reports/model_card/<model>/<version>/ and as artifacts of the training run (the version's `model_card` tag
points there). The card is built from what the run and the validation task recorded, never recomputed, so
it states the figures the promotion decision was taken on.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTIONS = (
    "Purpose and target",
    "Data lineage",
    "Features",
    "Performance",
    "Calibration",
    "Stability",
    "Segments",
    "Validation and promotion",
    "Limitations",
    "Monitoring plan",
)


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states, gathered by `register` from the run, its validation report and the Config."""

    model_name: str
    version: str
    run_id: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    validation: dict[str, Any]  # the validation task's report (empty when validation was disabled or absent)
    registration: dict[str, Any]  # register_run's result: champion, reasons, previous champion
    decision_threshold: float
    drift_policy: dict[str, float]
    extra_limitations: list[str] = field(default_factory=list)


def _num(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(str(c) for c in r) + " |" for r in rows), ""]


def _lineage(f: CardFacts) -> list[str]:
    t = f.tags
    lines = [
        f"- training run: `{f.run_id}` ({t.get('model_type', 'unknown model type')})",
        f"- data source: {t.get('data_source', 'unknown')}",
        f"- Delta versions: gold features v{t.get('gold_version', '?')}, splits v{t.get('splits_version', '?')}",
        f"- code: git commit {t.get('git_sha') or 'not recorded'}",
        "",
    ]
    counts = f.validation.get("rows_by_vintage") or {}
    years = sorted({int(y) for by_year in counts.values() for y in by_year})
    if years:
        splits = sorted(counts)
        rows = [[y, *(f"{int(counts[s].get(str(y), counts[s].get(y, 0))):,}" for s in splits)] for y in years]
        lines += ["Loans per vintage and split:", "", *_table(["issue year", *splits], rows)]
    else:
        lines += ["Loans per vintage: not recorded (validation did not run).", ""]
    return lines


def _performance(f: CardFacts) -> list[str]:
    test = f.validation.get("summary") or {
        k[5:]: v for k, v in f.metrics.items() if k.startswith("test_") and not k.startswith("test_psi")
    }
    names = ["auc", "gini", "ks", "pr_auc", "brier", "log_loss", "ece"]
    rows = [[n, _num(f.metrics.get(f"val_{n}")), _num(test.get(n))] for n in names]
    return _table(["metric", "validation split", "test split"], rows)


def _calibration(f: CardFacts) -> list[str]:
    bins = f.validation.get("calibration") or []
    if not bins:
        return ["Not recorded (validation did not run).", ""]
    rows = [[i, _num(b["mean_pd"], 3), _num(b["default_rate"], 3), b["n"]] for i, b in enumerate(bins, 1)]
    return [
        f"Expected calibration error on the test split: {_num((f.validation.get('summary') or {}).get('ece'))}.",
        "",
        *_table(["PD decile", "mean PD", "observed default rate", "loans"], rows),
    ]


def _stability(f: CardFacts) -> list[str]:
    drift = f.validation.get("stability") or {}
    if not drift:
        return ["Not recorded (validation did not run).", ""]
    lines = _table(
        ["training loans against", "PSI of the PD"], [[k, _num(v)] for k, v in drift["score_psi"].items()]
    )
    if drift.get("not_judged"):
        lines += [
            "Too few loans to judge: " + ", ".join(f"{k} ({n})" for k, n in drift["not_judged"].items()),
            "",
        ]
    warnings = f.validation.get("verdict", {}).get("validation_warnings", "none")
    if warnings != "none":
        lines += [f"Warnings (inputs that moved; not blocking): {warnings}", ""]
    top = sorted(drift["feature_csi"].get("test", {}).items(), key=lambda kv: -(kv[1] or 0))[:10]
    return [*lines, "Largest feature CSI, training loans against the test split:", "",
            *_table(["feature", "CSI"], [[c, _num(v)] for c, v in top])]  # fmt: skip


def _segments(f: CardFacts) -> list[str]:
    rows = f.validation.get("segments") or []
    if not rows:
        return ["Not recorded (validation did not run, or no segment had enough test loans).", ""]
    body = [
        [
            r["segment"],
            r["value"],
            r["rows"],
            _num(r["auc"], 3),
            _num(r["default_rate"], 3),
            _num(r["mean_pd"], 3),
            "**flagged**" if r["flagged"] else "",
        ]  # fmt: skip
        for r in rows
    ]
    return _table(["segment", "value", "loans", "AUC", "default rate", "mean PD", "disparity"], body)


def _validation(f: CardFacts) -> list[str]:
    t, reg = f.tags, f.registration
    passed = t.get("validation_passed", "not validated")
    lines = [
        f"- validation verdict: {passed} (mode {t.get('validation_mode', 'n/a')}): {t.get('validation_reason', 'n/a')}",
        f"- registry: {'champion' if reg.get('champion') else 'challenger only'}"
        + (
            f", replacing v{reg['previous_champion']}"
            if reg.get("champion") and reg.get("previous_champion")
            else ""
        ),
    ]
    lines += [f"- promotion refused: {r}" for r in reg.get("reasons") or []]
    thresholds = f.validation.get("thresholds") or {}
    if thresholds:
        lines += ["", *_table(["threshold", "value"], [[k, v] for k, v in thresholds.items()])]
    return [*lines, ""]


def _limitations(f: CardFacts) -> list[str]:
    rows = (f.validation.get("thresholds") or {}).get("validation_min_segment_rows", "the minimum")
    items = [
        "Scores applications at origination only; it says nothing about a loan once it is running.",
        "Trained on finished loans: the youngest vintages hold early defaults more than late repayments, so "
        "their observed default rates run high until they mature.",
        f"Segments with fewer than {rows} test loans were not judged.",
        "The segments checked are grade, term, home ownership and state; no protected attribute is in the data, "
        "so fairness with respect to one cannot be measured here.",
    ]
    if f.tags.get("data_source") == "generated":
        items.append("Trained on synthetic loans: the figures describe the generator, not a real portfolio.")
    excluded = json.loads(f.tags.get("features_excluded") or "{}")
    if excluded:
        items.append(
            "Left out by the feature screen: " + ", ".join(f"{k} ({v})" for k, v in excluded.items())
        )
    return [*(f"- {i}" for i in [*items, *f.extra_limitations]), ""]


def model_card_markdown(f: CardFacts) -> str:
    p = f.drift_policy
    used = [c for c in f.tags.get("features_used", "").split(",") if c]
    body: dict[str, list[str]] = {
        "Purpose and target": [
            "Probability of default (PD) of a consumer loan application, from what is known at origination; "
            f"applications above a PD of {f.decision_threshold} are declined.",
            "",
            f"Target: {f.tags.get('target_definition', 'not recorded')}.",
            "",
        ],
        "Data lineage": _lineage(f),
        "Features": [f"{len(used)} model inputs: " + ", ".join(f"`{c}`" for c in used), ""],
        "Performance": _performance(f),
        "Calibration": _calibration(f),
        "Stability": _stability(f),
        "Segments": _segments(f),
        "Validation and promotion": _validation(f),
        "Limitations": _limitations(f),
        "Monitoring plan": [
            "The monitoring job (`credit_risk_monitoring`, daily) compares the champion's inputs and PDs with "
            "its training loans and retrains when:",
            "",
            f"- more than {p['max_drift_share']:.0%} of the model inputs drifted (per-feature tests);",
            f"- the PSI of the PD between training and the current window exceeds {p['max_score_psi']};",
            f"- a matured vintage's AUC falls more than {p['max_auc_drop']} below the validation AUC;",
            f"- the current window is the inference log once it holds {int(p['min_rows'])} predictions.",
            "",
        ],
    }
    lines = [f"# Model card: {f.model_name} v{f.version}", ""]
    for section in SECTIONS:
        lines += [f"## {section}", "", *body[section]]
    return "\n".join(lines)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def markdown_to_html(markdown: str, title: str) -> str:
    """HTML of the card's own Markdown (headings, bullet lists, tables, paragraphs): no renderer needed."""
    out: list[str] = []
    table: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
        if table:
            head, *rows = [
                [c.strip() for c in r.strip("|").split("|")] for r in table if not r.startswith("|---")
            ]
            out.append(
                "<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows)
                + "</tbody></table>"
            )  # fmt: skip
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        if line.startswith("- "):
            items.append(line[2:])
            continue
        flush()
        if heading := re.match(r"(#+) (.*)", line):
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    style = "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )


def write_model_card(facts: CardFacts, folder: Path) -> dict[str, Path]:
    """model_card.md and model_card.html in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown = model_card_markdown(facts)
    files = {"markdown": folder / "model_card.md", "html": folder / "model_card.html"}
    files["markdown"].write_text(markdown)
    files["html"].write_text(markdown_to_html(markdown, f"{facts.model_name} v{facts.version}"))
    return files
