"""Doctor strategies: how the doctor seat thinks, remembers and decides.

A strategy string names one or more components joined by ``+`` (``"retrieval+cot"``,
``"ensemble+experience"``). :func:`parse_strategy` validates it into a :class:`StrategySpec`;
:func:`build_doctor` wraps base doctors accordingly. :func:`agentsim.backends.make_doctor` is the
one caller, so the CLI, the benchmark runner and the app all get the same behaviour.

==============  ============================================================================
component       what it does
==============  ============================================================================
``plain``       the base doctor alone (cannot be combined)
``cot``         reasoning before every action, kept out of patient-facing text and stored in
                the transcript's ``reasoning`` field
``retrieval``   an early ``search_similar_cases`` call (``retrieval_mode``: ``force`` makes it
                the first action, ``encourage`` only prompts for it); needs the memory tool
``experience``  reflections from similar past episodes (experience memory) injected as
                few-shot context (LLM) or as soft evidence (offline doctor)
``panel``       MAI-DxO-style roles discuss before each action; a chair takes one action
``ensemble``    N independent doctors vote on the final diagnosis (majority or confidence)
==============  ============================================================================

``panel`` and ``ensemble`` are exclusive (an ensemble of panels multiplies calls by N x roles);
every other pair combines. Options live in ``Settings.strategy_options`` and are validated by
:class:`StrategyOptions`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentsim.errors import ConfigError

#: Every component, in the order wrappers are applied (innermost first after the base doctors).
COMPONENTS: tuple[str, ...] = ("plain", "panel", "ensemble", "cot", "retrieval", "experience")
MULTI_DOCTOR: tuple[str, ...] = ("panel", "ensemble")
#: Roles of the panel (after MAI-DxO's virtual panel of physicians).
PANEL_ROLES: tuple[str, ...] = ("hypothesis", "test_chooser", "challenger", "stewardship", "checklist")

PanelRole = Literal["hypothesis", "test_chooser", "challenger", "stewardship", "checklist"]

_EXCLUSIVE = {frozenset({"panel", "ensemble"}):
              "'panel' and 'ensemble' cannot be combined: an ensemble of panels multiplies model calls by "
              "ensemble_size x roles x rounds; choose one"}


class StrategyOptions(BaseModel):
    """Knobs of the strategies (``Settings.strategy_options``; unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid")

    panel_rounds: int = Field(default=1, ge=1, le=5, description="discussion rounds before each panel action")
    panel_roles: list[PanelRole] = Field(default_factory=lambda: list(PANEL_ROLES),
                                         description="roles that speak, in speaking order")
    ensemble_size: int = Field(default=3, ge=2, le=15, description="independent doctors in an ensemble")
    ensemble_vote: Literal["majority", "confidence"] = "majority"
    ensemble_temperature: float | None = Field(
        default=None, ge=0, le=2, description="sampling temperature of LLM voters (default: max(doctor's, 0.7))")
    experience_k: int = Field(default=3, ge=1, le=20, description="past episodes injected per case")
    experience_min_score: float = Field(default=0.3, ge=-1, le=1, description="minimum cosine similarity")
    experience_weight: float = Field(default=1.0, ge=0, le=10,
                                     description="offline doctor: strength of past-case evidence")
    retrieval_mode: Literal["force", "encourage"] = "force"
    patient_verifier: int = Field(default=0, ge=0, le=5,
                                  description="LLM patients: regenerations allowed after a failed fact check "
                                              "(0 = verifier off)")

    @field_validator("panel_roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        if not roles:
            raise ValueError("panel_roles needs at least one role")
        if len(set(roles)) != len(roles):
            raise ValueError("panel_roles repeats a role")
        return roles


class StrategySpec(BaseModel):
    """A validated strategy: its components (canonical order) and options."""

    model_config = ConfigDict(frozen=True)

    components: tuple[str, ...]
    options: StrategyOptions = Field(default_factory=StrategyOptions)

    @property
    def name(self) -> str:
        """Canonical ``+``-joined name (e.g. ``ensemble+cot``)."""
        return "+".join(self.components)

    def has(self, component: str) -> bool:
        """True when the strategy includes ``component``."""
        return component in self.components

    @property
    def needs_memory_tool(self) -> bool:
        """The doctor needs ``search_similar_cases`` (the runner must pass a retrieval tool)."""
        return self.has("retrieval")

    @property
    def needs_experience(self) -> bool:
        """The doctor reads the experience memory."""
        return self.has("experience")


def parse_options(options: dict[str, Any] | None) -> StrategyOptions:
    """Validate ``strategy_options`` with a message naming the bad key."""
    try:
        return StrategyOptions.model_validate(dict(options or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "<options>"
        known = ", ".join(StrategyOptions.model_fields)
        raise ConfigError(f"strategy option {loc!r}: {err['msg']} (known options: {known})") from None


def parse_strategy(text: str | None, options: dict[str, Any] | None = None, *,
                   backend: str = "offline") -> StrategySpec:
    """Parse ``"retrieval+cot"``-style names; raise :class:`ConfigError` for unknown or impossible combos.

    Every component works with the offline engine as well (``panel`` then uses rule-based roles
    over offline doctors; ``cot`` keeps the offline reasoner's ranked differential as reasoning).
    """
    raw = (text or "plain").strip().lower().replace(" ", "")
    parts = [p for p in raw.replace(",", "+").split("+") if p]
    if not parts:
        parts = ["plain"]
    unknown = [p for p in parts if p not in COMPONENTS]
    if unknown:
        raise ConfigError(f"--doctor-strategy {text!r}: unknown strategy {unknown[0]!r}; "
                          f"choose from {', '.join(COMPONENTS)} (combine with '+', e.g. retrieval+cot)")
    dupes = sorted({p for p in parts if parts.count(p) > 1})
    if dupes:
        raise ConfigError(f"--doctor-strategy {text!r}: {dupes[0]!r} is named twice")
    if "plain" in parts and len(parts) > 1:
        raise ConfigError(f"--doctor-strategy {text!r}: 'plain' means no strategy and cannot be combined")
    for pair, why in _EXCLUSIVE.items():
        if pair <= set(parts):
            raise ConfigError(f"--doctor-strategy {text!r}: {why}")
    if backend not in ("offline", "openai"):
        raise ConfigError(f"unknown backend {backend!r}")
    comps = tuple(c for c in COMPONENTS if c in parts)
    return StrategySpec(components=comps, options=parse_options(options))


def describe_strategies() -> str:
    """One line per component for ``--help`` texts."""
    return ("plain | cot | retrieval | experience | panel | ensemble; combine with '+' "
            "(panel and ensemble are exclusive)")


__all__ = ["COMPONENTS", "MULTI_DOCTOR", "PANEL_ROLES", "StrategyOptions", "StrategySpec", "describe_strategies",
           "parse_options", "parse_strategy"]
