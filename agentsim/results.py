"""Episode outputs: transcript, verdict, cost and the :class:`EpisodeResult` record.

An ``EpisodeResult`` is one line of ``episodes.jsonl``; everything downstream (metrics, reports,
replay in the app, rescoring) reads these records and nothing else.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from agentsim.participants import Message, Usage

ErrorKind = Literal["infrastructure", "agent", "patient", "stopped", "internal"]


class ErrorInfo(BaseModel):
    """Why an episode did not finish normally."""

    kind: ErrorKind
    error_class: str
    message: str


class Verdict(BaseModel):
    """A grade of the final diagnosis."""

    correct: bool
    score: float = Field(description="1-5 rubric score for judges; similarity in [0,1] for offline")
    method: str = Field(description="exact | synonym | embedding | judge | none")
    matched: str = ""
    reasoning: str = ""
    top_k_correct: dict[int, bool] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage, description="model calls spent on grading (judge)")


class CostBreakdown(BaseModel):
    """Money spent in an episode: simulated clinical cost plus model tokens."""

    visits_usd: float = 0.0
    tests_usd: float = 0.0
    tokens_usd: float = 0.0
    priced_tests: list[tuple[str, float]] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clinical_usd(self) -> float:
        """Visits plus tests (serialized, so readers of episodes.jsonl need no arithmetic)."""
        return self.visits_usd + self.tests_usd


class Transcript(BaseModel):
    """Every message of an episode, in order."""

    case_id: str
    messages: list[Message] = Field(default_factory=list)


class EpisodeResult(BaseModel):
    """Everything known about one finished (or failed) episode."""

    case_id: str
    specialty: str = ""
    dataset: str = ""
    trial: int = 0
    seed: int = 0
    doctor: str = ""
    patient: str = ""
    strategy: str = "plain"
    diagnosis: str | None = None
    differential: list[str] = Field(default_factory=list)
    confidence: float | None = None
    correct_diagnosis: str = ""
    correct: bool = False
    verdict: Verdict | None = None
    grades: dict[str, Verdict] = Field(
        default_factory=dict, description="every grade by scorer ('offline', 'judge'); `verdict` is the primary one")
    turns: int = 0
    questions: int = 0
    tests_ordered: list[str] = Field(default_factory=list)
    searches: int = 0
    cost: CostBreakdown = Field(default_factory=CostBreakdown)
    usage: dict[str, Usage] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    started_at: float = 0.0
    duration_s: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)
    transcript: Transcript

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens over all roles (serialized as a top-level field)."""
        return sum(u.total_tokens for u in self.usage.values())

    def update_tokens_usd(self) -> float:
        """Set ``cost.tokens_usd`` to the summed cost of every role's ``usage`` and return it.

        Call after ``usage`` changes (e.g. a re-grade adds judge calls) so the cost breakdown
        stays consistent with the usage it is derived from.
        """
        self.cost.tokens_usd = sum(u.cost_usd for u in self.usage.values())
        return self.cost.tokens_usd
