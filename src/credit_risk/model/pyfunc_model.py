"""The champion as an MLflow pyfunc model: the portable export replayed with numpy, no Spark, no Java.

Why a second logged model: a Spark MLlib model needs a JVM in whatever serves it (Databricks Model Serving,
`mlflow models serve`). `register` therefore logs this pyfunc on the training run, beside the Spark model,
and registers *it* as the model version; the `champion` and `challenger` aliases point at it, so an
endpoint (or `mlflow models serve -m models:/<name>@champion`) serves plain numpy. The Spark model stays
logged on the same run (`runs:/<version.run_id>/model`, also tagged on the version as `spark_model`): batch
scoring reads it there, on Spark, and the FastAPI service keeps reading the run's portable export. Both
score the same fitted pipeline: the parity tests hold the pyfunc to Spark within 1e-6.

The pyfunc is a model from code (`pyfunc_code.py`, executed by MLflow at load time): nothing is pickled.
Its data is the portable JSON document; its code is this package, bundled with `code_paths`, so a server
needs only numpy, pandas and mlflow (the pinned requirements). The input signature lists the columns the
exported pipeline reads (`input_columns`, read from the document, not from the feature allow-list), so a
model that uses fewer features asks for fewer; the output is PD, decision and scorecard score per row.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from credit_risk.model.portable import PORTABLE_ARTIFACT, PortableModel
from credit_risk.model.scoring import score_points

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

PYFUNC_NAME = "pyfunc"  # the logged model's name on the training run
PORTABLE_KEY = "portable"  # the document's key among the pyfunc's artifacts
SPARK_MODEL_TAG = "spark_model"  # model version tag: where the Spark model of the same fit is logged
OUTPUTS = ("pd", "decision", "score")


def input_columns(document: dict[str, Any]) -> dict[str, str]:
    """Columns the exported pipeline reads, in order, with their MLflow type (double or string).

    A column is an input when a stage reads it and no earlier stage produced it: the imputer's numbers,
    the indexer's categories and the tokenizer's text (strings), the flags the assembler takes as they are.
    """
    produced: set[str] = set()
    out: dict[str, str] = {}

    def read(name: str, kind: str) -> None:
        if name not in produced and name not in out:
            out[name] = kind

    for stage in document["stages"]:
        kind = stage["kind"]
        names = stage.get("inputs") or ([stage["input"]] if "input" in stage else [])
        for name in names:
            text = kind in ("string_indexer", "tokenizer") or stage.get("categorical")
            read(name, "string" if text else "double")
        produced.update(stage.get("outputs") or [])
        produced.update(o for o in (stage.get("output"),) if o)
    return out


def typical_row(document: dict[str, Any]) -> pd.DataFrame:
    """One plausible applicant (training medians, most frequent categories, flags off): the input example."""
    row: dict[str, Any] = {}
    for stage in document["stages"]:
        if stage["kind"] == "imputer":
            row.update(zip(stage["inputs"], stage["surrogates"], strict=True))
        if stage["kind"] == "string_indexer":
            row.update(
                {
                    c: labels[0] if labels else None
                    for c, labels in zip(stage["inputs"], stage["labels"], strict=True)
                }
            )
        if stage["kind"] == "woe" and stage["categorical"]:  # a scorecard: a category of its first bin
            row.update({c: b["categories"][0][0] for c, b in stage["bins"].items() if b["categories"]})
        if stage["kind"] == "tokenizer":  # a text field: no words
            row[stage["input"]] = ""
    columns = input_columns(document)
    return pd.DataFrame([{c: row.get(c, 0.0) for c in columns}]).astype(
        {c: "float64" for c, t in columns.items() if t == "double"}
    )


def score_frame(model: PortableModel, threshold: float, frame: pd.DataFrame) -> pd.DataFrame:
    """PD, decision at the threshold and scorecard points per row, as the API computes them."""
    pd_ = model.predict_pd(frame)
    return pd.DataFrame(
        {
            "pd": pd_,
            "decision": np.where(pd_ >= threshold, "decline", "approve"),
            "score": np.rint(score_points(pd_)).astype(np.int64),
        }
    )


class PortablePD(PythonModel):
    """pyfunc over the portable export: `predict(frame)` -> one row of pd / decision / score per loan."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = PortableModel.load(context.artifacts[PORTABLE_KEY])
        self.threshold = float(context.model_config["decision_threshold"])
        self.columns = list(input_columns(self.model.document))

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks the model's columns {missing}")
        return score_frame(self.model, self.threshold, frame)


def signature(document: dict[str, Any]) -> ModelSignature:
    """Inputs: the pipeline's columns (numbers as double, categories as string); outputs: pd, decision, score."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    inputs = Schema(
        [
            ColSpec(DataType.double if t == "double" else DataType.string, c)
            for c, t in input_columns(document).items()
        ]
    )
    outputs = Schema(
        [
            ColSpec(DataType.double, "pd"),
            ColSpec(DataType.string, "decision"),
            ColSpec(DataType.long, "score"),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def requirements() -> list[str]:
    """What a server installs: mlflow (its scoring server), numpy and pandas, pinned to the versions used here."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "numpy", "pandas")]


def log_pyfunc(run_id: str, decision_threshold: float) -> ModelInfo:
    """Log the pyfunc on training run `run_id` (its portable export as data, this package as code); ModelInfo.

    Logged with `Model.log(run_id=...)`: the training run gets the model as an output without being
    reopened (its status and end time stay as training left them).
    """
    import mlflow
    from mlflow.models import Model

    import credit_risk

    with tempfile.TemporaryDirectory() as tmp:
        document = mlflow.artifacts.load_dict(f"runs:/{run_id}/{PORTABLE_ARTIFACT}")
        path = Path(tmp) / "model.json"
        path.write_text(json.dumps(document))
        package = Path(tmp) / "code" / "credit_risk"
        shutil.copytree(
            Path(credit_risk.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        info: ModelInfo = Model.log(
            artifact_path=None,
            name=PYFUNC_NAME,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            flavor_name="pyfunc.ModelFromCode",
            python_model=str(Path(__file__).with_name("pyfunc_code.py")),
            artifacts={PORTABLE_KEY: str(path)},
            code_paths=[str(package)],
            model_config={"decision_threshold": float(decision_threshold)},
            signature=signature(document),
            input_example=typical_row(document),
            pip_requirements=requirements(),
            metadata={
                "pd_odds_factor": document["odds_factor"],
                "calibration": (document.get("calibration") or {"method": "none"})["method"],
                "model_type": document.get("info", {}).get("model_type", "unknown"),
            },
        )
        return info
