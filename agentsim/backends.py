"""Building participants and scorers from settings: the one place that maps a backend name to
classes. The CLI, the benchmark runner and the app all go through :func:`build_episode_parts`.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentsim.llm import LLMConfig
from agentsim.participants import Participant

Backend = Literal["offline", "openai"]


class Settings(BaseModel):
    """Which engine fills each seat. ``offline`` needs no server, key or weights."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "offline"
    doctor: LLMConfig | None = None
    patient: LLMConfig | None = None
    judge: LLMConfig | None = None
    max_turns: int = Field(default=20, ge=1, le=200)
    seed: int = 0
    budget_usd: float | None = None
    doctor_strategy: str = "plain"
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    doctor_bias: str = ""
    patient_bias: str = ""

    def describe(self) -> str:
        """One-line summary without secrets."""
        if self.backend == "offline":
            return "offline engine"
        parts = [f"doctor={self.doctor.label if self.doctor else 'offline'}",
                 f"patient={self.patient.label if self.patient else 'offline'}"]
        if self.judge:
            parts.append(f"judge={self.judge.label}")
        return ", ".join(parts)


def settings_from_env(backend: str | None = None, model: str | None = None, base_url: str | None = None,
                      patient_model: str | None = None, judge_model: str | None = None,
                      **kwargs: Any) -> Settings:
    """Settings from explicit values, falling back to AGENTSIM_* / OPENAI_* environment variables.

    ``AGENTSIM_BACKEND`` (offline|openai), ``AGENTSIM_MODEL``, ``AGENTSIM_PATIENT_MODEL``,
    ``AGENTSIM_JUDGE_MODEL`` and ``OPENAI_BASE_URL`` select an OpenAI-compatible server.
    """
    backend = backend or os.environ.get("AGENTSIM_BACKEND") or "offline"
    model = model or os.environ.get("AGENTSIM_MODEL")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    patient_model = patient_model or os.environ.get("AGENTSIM_PATIENT_MODEL") or model
    judge_model = judge_model or os.environ.get("AGENTSIM_JUDGE_MODEL")
    if backend == "offline":
        return Settings(backend="offline", **kwargs)
    if not model:
        from agentsim.errors import ConfigError

        raise ConfigError("backend 'openai' needs a model: pass --model or set AGENTSIM_MODEL")
    doctor = LLMConfig(model=model, base_url=base_url)
    patient = LLMConfig(model=patient_model, base_url=base_url) if patient_model else doctor
    judge = LLMConfig(model=judge_model, base_url=base_url) if judge_model else None
    return Settings(backend="openai", doctor=doctor, patient=patient, judge=judge, **kwargs)


def make_doctor(settings: Settings) -> Participant:
    """The doctor participant for these settings (strategy wrappers applied)."""
    if settings.backend == "openai" and settings.doctor is not None:
        from agentsim.agents.doctor import LLMDoctor

        return LLMDoctor(settings.doctor, max_turns=settings.max_turns)
    from agentsim.offline.doctor import OfflineDoctor

    return OfflineDoctor()


def make_patient(settings: Settings) -> Participant:
    """The patient participant for these settings."""
    if settings.backend == "openai" and settings.patient is not None:
        from agentsim.agents.patient import LLMPatient

        return LLMPatient(settings.patient)
    from agentsim.offline.patient import OfflinePatient

    return OfflinePatient()


def make_measurement(settings: Settings) -> Participant:
    """The measurement participant (rule-based for every backend: results come from the case)."""
    from agentsim.agents.measurement import MeasurementAgent

    return MeasurementAgent()


def make_scorer(settings: Settings) -> Any:
    """A judge scorer when a judge model is set, else the offline scorer."""
    from agentsim.scoring import JudgeScorer, OfflineScorer

    if settings.judge is not None:
        from agentsim.llm import make_chat_model

        return JudgeScorer(make_chat_model(settings.judge), label=settings.judge.label)
    return OfflineScorer()
