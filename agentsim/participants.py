"""The one participant interface and the message types that cross it.

Every seat (doctor, patient, measurement) is filled by an object implementing
:class:`Participant`: an LLM agent, the offline engine, a scripted test double, or a person.
The engine never asks which kind it has.

A participant is started with its own *view* of the case (see :mod:`agentsim.views`) and then
answers one incoming :class:`Message` at a time with a :class:`Reply`. The doctor's replies carry
exactly one :class:`ToolCall` (its action); patient and measurement replies carry text.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["doctor", "patient", "measurement", "tool", "system"]

#: The doctor's tools. ``search_similar_cases`` is the retrieval-memory tool.
ToolName = Literal["ask_patient", "order_test", "search_similar_cases", "diagnose"]
TOOL_NAMES: tuple[str, ...] = ("ask_patient", "order_test", "search_similar_cases", "diagnose")


class Usage(BaseModel):
    """Token usage of one or more model calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    cached_calls: int = 0

    def add(self, other: Usage) -> None:
        """Accumulate ``other`` into this object."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.cost_usd += other.cost_usd
        self.cached_calls += other.cached_calls

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ToolCall(BaseModel):
    """A doctor action. ``arguments`` follow the tool's JSON schema (see :mod:`agentsim.tools`)."""

    id: str = ""
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One entry of a transcript."""

    role: Role
    content: str = ""
    name: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str = ""
    reasoning: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    images: list[str] = Field(default_factory=list, description="image paths shown with the message")
    timestamp: float = Field(default_factory=time.time)
    elapsed_ms: float = 0.0
    turn: int = 0


class Reply(BaseModel):
    """What a participant returns for one incoming message."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    reasoning: str = ""
    usage: Usage = Field(default_factory=Usage)
    metadata: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Participant(Protocol):
    """One seat in an episode.

    ``start`` hands the participant its own view of the case (never the answer) and the
    episode's seed; ``respond`` answers one message. Implementations keep their own history.
    """

    role: Role

    async def start(self, view: Any, seed: int) -> None:
        """Begin a new episode with this participant's view of the case."""
        ...

    async def respond(self, message: Message) -> Reply:
        """Answer one incoming message."""
        ...
