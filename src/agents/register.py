"""Step `register`: the job's `validate` and `register` tasks, then the champion exported to `models/`.

The best supervised run becomes a model version (alias `challenger`, and `champion` if it passes the gates).
`models/champion/` then holds the champion's portable export (`model.json`, the numpy pipeline the API
scores with) and `metadata.json`: name, version, alias, run, metrics and the Delta versions it was trained on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.agents import _run

if TYPE_CHECKING:
    from credit_risk.runtime.config import Config

LINEAGE_TAGS = ("gold_version", "splits_version", "git_sha", "data_source", "features_used")


def export_champion(cfg: Config, out: Path) -> dict[str, Any]:
    """Download the registry champion's portable export into `out` and write its metadata beside it."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from credit_risk.model.portable import PORTABLE_ARTIFACT
    from credit_risk.pipeline.register import CHAMPION, registered_name
    from credit_risk.tables import GOLD_FEATURES, GOLD_SPLITS

    client = MlflowClient(tracking_uri=cfg.mlflow_tracking_uri, registry_uri=cfg.mlflow_registry_uri)
    name = registered_name(cfg)
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        raise _run.StepError(
            f"model {name} has no {CHAMPION} in {cfg.mlflow_registry_uri}: no version passed "
            "the promotion gates (see the version's refusal_reasons tag)"
        ) from exc
    if not version.run_id:
        raise _run.StepError(f"model {name} version {version.version} has no training run to export from")
    run = client.get_run(version.run_id)
    tags = dict(run.data.tags)
    parent = tags.get("mlflow.parentRunId")
    if parent:  # the lineage tags are set on the training task's parent run
        tags = {**client.get_run(parent).data.tags, **tags}
    out.mkdir(parents=True, exist_ok=True)
    local = mlflow.artifacts.download_artifacts(
        run_id=version.run_id,
        artifact_path=PORTABLE_ARTIFACT,
        dst_path=str(out / "_download"),
        tracking_uri=cfg.mlflow_tracking_uri,
    )
    model = out / "model.json"
    Path(local).replace(model)
    for leftover in sorted((out / "_download").rglob("*"), reverse=True):
        leftover.rmdir() if leftover.is_dir() else leftover.unlink()
    (out / "_download").rmdir()
    metadata = {
        "name": name,
        "version": int(version.version),
        "alias": CHAMPION,
        "run_id": version.run_id,
        "model_type": tags.get("model_type", ""),
        "model_uri": f"models:/{name}@{CHAMPION}",
        "tracking_uri": cfg.mlflow_tracking_uri,
        "metrics": dict(sorted(run.data.metrics.items())),
        "delta_versions": {
            GOLD_FEATURES: _int(tags.get("gold_version")),
            GOLD_SPLITS: _int(tags.get("splits_version")),
        },
        "lineage": {k: tags[k] for k in LINEAGE_TAGS if k in tags},
        "portable_model": str(model),
    }
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


def _register(bundle) -> None:
    cfg = _run.config(bundle)
    _run.require_value(bundle, "train_supervised", "best_run_id", "trained model")
    _run.require_value(bundle, "evaluate", "test_auc", "evaluated model")
    # validate first, as the job does: register itself refuses a run whose verdict is failed
    _run.run_tasks(bundle, ["validate", "register"])
    out = cfg.home / "models" / "champion"
    meta = export_champion(cfg, out)
    m = meta["metrics"]
    print(
        f"champion: {meta['name']} version {meta['version']} ({meta['model_type']}), test AUC "
        f"{m.get('test_auc', float('nan')):.4f}, KS {m.get('test_ks', float('nan')):.4f}, "
        f"ECE {m.get('test_ece', float('nan')):.4f}"
    )
    _run.report(bundle, ["register"], [], [out / "model.json", out / "metadata.json"])


def main(argv: list[str] | None = None) -> int:
    return _run.main_of("register", __doc__, _register, argv)


if __name__ == "__main__":
    sys.exit(main())
