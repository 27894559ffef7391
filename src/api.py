"""The original design's API module: the scoring service of `credit_risk.serving`, under the design's names.

`uvicorn src.api:app --port 8000` serves the same FastAPI app as `credit-risk serve` (the registry's
champion, configured from the environment). `load_model()` and `predict()` score in-process with the same
model store and scorer, for a notebook or a script.
"""

from __future__ import annotations

from typing import Any


def load_model(model_name: str | None = None, alias: str | None = None) -> Any:
    """The registry's model at `alias` (default: the service's settings, i.e. `credit_risk_pd@champion`)."""
    from credit_risk.model.champion import load_champion
    from credit_risk.serving.settings import ServeSettings

    settings = ServeSettings.from_env()
    return load_champion(model_name or settings.model_name, alias or settings.alias, settings.threshold)


def predict(
    applications: dict[str, Any] | list[dict[str, Any]], model: Any = None, explain: bool = True
) -> list[dict[str, Any]]:
    """PD, score, band, decision (and reason codes) for loan applications, validated as `/predict` validates them."""
    from credit_risk.serving.routes import RECORDS
    from credit_risk.serving.schema import to_features

    model = model or load_model()
    records = applications if isinstance(applications, list) else [applications]
    valid = RECORDS.validate_python(records)
    frame = to_features([a.model_dump() for a in valid], model.scorer.known_titles)
    return model.scorer.score(frame, explain=explain)


def __getattr__(name: str) -> Any:
    """`app` is built on first access (uvicorn's `getattr(module, "app")`), so importing this module is cheap."""
    if name == "app":
        from credit_risk.serving.app import create_app

        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
