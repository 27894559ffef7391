"""Models load without unpickling; .env is never committed (a whole job run's outputs are searched for secrets in
test_real_data_job.py)."""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_env_file_is_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be listed in .gitignore"


def test_models_load_without_unpickling(serving_registry, monkeypatch):
    """The API's model store reads JSON only: with pickle disabled, the champion still loads and scores."""
    from credit_risk.model.champion import load_champion

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = load_champion(serving_registry["cfg"].model_name, "champion", 0.2)
    assert loaded.scorer.model.model_kind == "logistic_regression"


def test_a_portable_document_cannot_name_code(serving_registry):
    from credit_risk.model.portable import FORMAT, PortableModel

    with pytest.raises(ValueError, match="unknown stage kind"):
        PortableModel(
            {
                "format": FORMAT,
                "odds_factor": 1.0,
                "stages": [
                    {"kind": "imputer", "inputs": ["a"], "outputs": ["b"], "surrogates": [0.0]},
                    {"kind": "os.system", "input": "b"},
                    {"kind": "logistic_regression", "input": "b", "coefficients": [1.0], "intercept": 0.0},
                ],
            }
        ).predict_pd({"a": [1.0]})
