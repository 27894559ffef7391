"""The export half of the portable model: a fitted Spark pipeline written out as one JSON document.

Runs at training time, where Spark is: each stock stage's fitted parameters (and every tree node, read from
Spark's own saved form) become plain numbers that `portable.PortableModel` replays with numpy. A stage
without a portable form stops the export, so a model that could not be served without a JVM is never logged.
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

from credit_risk.model.portable import FORMAT

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel


def _tree_tables(model: Any) -> list[dict[str, Any]]:
    """Trees of a RandomForest / GBT model, read from Spark's own saved form (one Parquet row per node)."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        model.write().overwrite().save(tmp + "/m")
        rows = pq.read_table(tmp + "/m/data").to_pylist()
    trees: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        trees.setdefault(row["treeID"], []).append(row["nodeData"])
    out = []
    for tree_id in sorted(trees):
        nodes = sorted(trees[tree_id], key=lambda n: n["id"])
        if [n["id"] for n in nodes] != list(range(len(nodes))):
            raise ValueError(f"tree {tree_id}: node ids are not 0..n-1")
        out.append(
            {
                "left": [n["leftChild"] for n in nodes],
                "right": [n["rightChild"] for n in nodes],
                "feature": [n["split"]["featureIndex"] for n in nodes],
                "threshold": [_threshold(n) for n in nodes],
                "left_if_greater": [
                    n["leftChild"] >= 0
                    and n["split"]["numCategories"] >= 0
                    and n["split"]["leftCategoriesOrThreshold"] == [1.0]
                    for n in nodes
                ],
                "prediction": [n["prediction"] for n in nodes],
                "stats": [n["impurityStats"] for n in nodes],
            }
        )
    return out


def _threshold(node: dict[str, Any]) -> float:
    """A split as `x <= t` (or `x > t`): continuous splits as they are; one-hot (binary) splits at 0.5.

    Spark treats the assembled one-hot columns as binary categorical features: "x in {0}" goes left (x <= 0.5)
    and "x in {1}" goes left (x > 0.5, flagged `left_if_greater`); NaN goes right in all three, as in Spark.
    """
    split = node["split"]
    if node["leftChild"] < 0:
        return 0.0
    if split["numCategories"] < 0:
        return float(split["leftCategoriesOrThreshold"][0])
    if split["numCategories"] == 2 and split["leftCategoriesOrThreshold"] in ([0.0], [1.0]):
        return 0.5
    raise ValueError(f"categorical split over {split['numCategories']} categories has no portable form")


def _export_stage(stage: Any) -> dict[str, Any]:
    kind = type(stage).__name__
    if kind == "ImputerModel":
        surrogates = stage.surrogateDF.first().asDict()
        return {
            "kind": "imputer",
            "inputs": stage.getInputCols(),
            "outputs": stage.getOutputCols(),
            "surrogates": [float(surrogates[c]) for c in stage.getInputCols()],
        }
    if kind == "StringIndexerModel":
        return {
            "kind": "string_indexer",
            "inputs": stage.getInputCols(),
            "outputs": stage.getOutputCols(),
            "labels": [list(labels) for labels in stage.labelsArray],
            "handle_invalid": stage.getHandleInvalid(),
        }
    if kind == "OneHotEncoderModel":
        return {
            "kind": "one_hot",
            "inputs": stage.getInputCols(),
            "outputs": stage.getOutputCols(),
            "category_sizes": list(stage.categorySizes),
            "drop_last": stage.getDropLast(),
            "handle_invalid": stage.getHandleInvalid(),
        }
    if kind == "RegexTokenizer":
        return {
            "kind": "tokenizer",
            "input": stage.getInputCol(),
            "output": stage.getOutputCol(),
            "pattern": stage.getPattern(),
            "gaps": stage.getGaps(),
            "min_token_length": stage.getMinTokenLength(),
            "to_lowercase": stage.getToLowercase(),
        }
    if kind == "NGram":
        return {
            "kind": "ngram",
            "input": stage.getInputCol(),
            "output": stage.getOutputCol(),
            "n": stage.getN(),
        }
    if kind == "HashingTF":
        return {
            "kind": "hashing_tf",
            "input": stage.getInputCol(),
            "output": stage.getOutputCol(),
            "num_features": stage.getNumFeatures(),
            "binary": stage.getBinary(),
        }
    if kind == "IDFModel":
        return {
            "kind": "idf",
            "input": stage.getInputCol(),
            "output": stage.getOutputCol(),
            "num_features": stage.idf.size,
            "idf": stage.idf.toArray().tolist(),
        }
    if kind == "VectorAssembler":
        return {"kind": "assembler", "inputs": stage.getInputCols(), "output": stage.getOutputCol()}
    if kind == "StandardScalerModel":
        return {
            "kind": "scaler",
            "input": stage.getInputCol(),
            "output": stage.getOutputCol(),
            "mean": stage.mean.toArray().tolist(),
            "std": stage.std.toArray().tolist(),
            "with_mean": stage.getWithMean(),
            "with_std": stage.getWithStd(),
        }
    if kind == "LogisticRegressionModel":
        if stage.numClasses != 2:
            raise ValueError("only binary logistic regression is exported")
        return {
            "kind": "logistic_regression",
            "input": stage.getFeaturesCol(),
            "coefficients": stage.coefficients.toArray().tolist(),
            "intercept": float(stage.intercept),
        }
    if kind == "RandomForestClassificationModel":
        return {
            "kind": "random_forest",
            "input": stage.getFeaturesCol(),
            "trees": _tree_tables(stage),
            "tree_weights": list(stage.treeWeights),
        }
    if kind == "GBTClassificationModel":
        return {
            "kind": "gbt",
            "input": stage.getFeaturesCol(),
            "trees": _tree_tables(stage),
            "tree_weights": list(stage.treeWeights),
        }
    if kind == "MultilayerPerceptronClassificationModel":
        return {
            "kind": "mlp",
            "input": stage.getFeaturesCol(),
            "layers": list(stage.getLayers()),
            "weights": stage.weights.toArray().tolist(),
        }
    if kind == "SQLTransformer":  # only a scorecard's WoE mapping, which carries its bin table
        from credit_risk.model.scorecard import export_woe_stage

        return export_woe_stage(stage.getStatement())
    if kind == "KMeansModel":
        return {
            "kind": "kmeans",
            "input": stage.getFeaturesCol(),
            "centers": [c.tolist() for c in stage.clusterCenters()],
        }
    raise ValueError(f"stage {kind} has no portable form: use only the stock stages of train_supervised")


def export_pipeline(model: PipelineModel, odds_factor: float, **info: Any) -> dict[str, Any]:
    """The fitted PipelineModel as a JSON-ready document (stages in order, PD odds factor, free `info`)."""
    return {
        "format": FORMAT,
        "odds_factor": float(odds_factor),
        "info": info,
        "stages": [_export_stage(s) for s in model.stages],
    }
