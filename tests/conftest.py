"""Shared fixtures. Tests run offline: no hub look-ups, no telemetry."""

from __future__ import annotations

import os

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return REPO / "scenarios"


@pytest.fixture(scope="session")
def appendicitis():
    from agentsim.scenario import load_scenario

    return load_scenario(REPO / "scenarios" / "cases" / "gs-appendicitis-01.json")
