"""Building participants and scorers from settings: the one place that maps a backend name to
classes. The CLI, the benchmark runner and the app all go through :func:`build_episode_parts`.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _check_strategy(self) -> Settings:
        # Fail at configuration time (CLI flag, run config, app form), not mid-run; raises ConfigError.
        from agentsim.biases import get_bias
        from agentsim.strategies import parse_strategy

        parse_strategy(self.doctor_strategy, self.strategy_options, backend=self.backend)
        get_bias("doctor", self.doctor_bias)
        get_bias("patient", self.patient_bias)
        return self

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


def make_doctor(settings: Settings, *, case: Any | None = None, experience: Any | None = None) -> Participant:
    """The doctor participant for these settings, with the doctor strategy and bias applied.

    ``case`` (the LoadedScenario about to run) lets the experience strategy exclude the case's own
    past records by id; ``experience`` overrides the default experience memory. See
    :mod:`agentsim.strategies` for the strategies and :mod:`agentsim.biases` for the biases.
    """
    from agentsim.strategies.build import build_doctor

    return build_doctor(settings, case=case, experience=experience)


def make_patient(settings: Settings, *, case: Any | None = None) -> Participant:
    """The patient participant for these settings, with the patient bias (and, for LLM patients,
    the optional fact verifier: ``strategy_options.patient_verifier``) applied."""
    from agentsim.strategies.build import build_patient

    return build_patient(settings, case=case)


def make_measurement(settings: Settings) -> Participant:
    """The measurement participant (rule-based for every backend: results come from the case)."""
    from agentsim.agents.measurement import MeasurementAgent

    return MeasurementAgent()


def make_scorer(settings: Settings) -> Any:
    """A judge scorer when a judge model is set, else the offline scorer."""
    from agentsim.scoring import JudgeScorer, OfflineScorer

    if settings.judge is not None:
        from agentsim.llm import make_chat_model

        return JudgeScorer(make_chat_model(settings.judge), label=settings.judge.label, config=settings.judge)
    return OfflineScorer()
