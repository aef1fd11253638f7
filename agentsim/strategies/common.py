"""Helpers shared by the doctor strategies: the case log, action keys and usage sums.

Multi-doctor strategies (panel, ensemble) show their members the consultation so far as one
plain-text *case log* built only from what the doctor seat received and did, never from the
case file, so no member can see the answer or a candidate list derived from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agentsim.participants import Message, Reply, ToolCall, Usage
from agentsim.views import DoctorView


@runtime_checkable
class AdoptsActions(Protocol):
    """A doctor that can be told which action was actually taken this turn (see
    :meth:`agentsim.agents.doctor.LLMDoctor.adopt_action`)."""

    def adopt_action(self, call: ToolCall) -> None:
        """Record ``call`` as this turn's action in place of the doctor's own proposal."""
        ...


class LogEntry(BaseModel):
    """One step of the consultation as the doctor seat experienced it."""

    incoming: Message
    action: ToolCall | None = None


class CaseLog(BaseModel):
    """What the doctor seat has seen and done so far (no answer, no case file)."""

    view: DoctorView | None = None
    entries: list[LogEntry] = Field(default_factory=list)

    def received(self, message: Message) -> None:
        """Note an incoming message."""
        self.entries.append(LogEntry(incoming=message))

    def acted(self, call: ToolCall | None) -> None:
        """Note the action taken in reply to the last incoming message."""
        if self.entries:
            self.entries[-1].action = call

    def render(self, max_chars: int = 12000) -> str:
        """The consultation as text for a model prompt (oldest entries shortened first)."""
        lines: list[str] = []
        if self.view is not None:
            lines.append(f"Patient: {self.view.demographics}.")
            if self.view.images:
                lines.append("Images on file: " + ", ".join(f"{im.id} ({im.modality})" for im in self.view.images))
        for e in self.entries:
            lines.append(_render_incoming(e.incoming))
            if e.action is not None:
                lines.append(render_action(e.action))
        text = "\n".join(lines)
        if len(text) > max_chars:
            text = "[earlier part of the consultation shortened]\n" + text[-max_chars:]
        return text


def _render_incoming(m: Message) -> str:
    text = (m.content or "(no content)").strip()
    if m.metadata.get("opening"):
        return f"Patient (presenting complaint): {text}"
    if m.metadata.get("error"):
        return f"Tool error: {text}"
    if m.role == "patient":
        return f"Patient: {text}"
    if m.role == "measurement":
        test = m.metadata.get("test")
        return f"Result{f' ({test})' if test else ''}: {text}"
    if m.role == "tool":
        return f"Memory search result: {text}"
    return f"Instruction: {text}"


def render_action(call: ToolCall) -> str:
    """One doctor action as a log line."""
    a = call.arguments
    if call.name == "ask_patient":
        return f"Doctor asked: {a.get('question', '')}"
    if call.name == "order_test":
        return f"Doctor ordered: {a.get('test', '')}"
    if call.name == "search_similar_cases":
        return f"Doctor searched memory: {a.get('query_text', '')} {a.get('image_id', '')}".rstrip()
    if call.name == "diagnose":
        return f"Doctor diagnosed: {a.get('diagnosis', '')}"
    return f"Doctor called {call.name}: {json.dumps(a)[:200]}"


def action_key(call: ToolCall | None) -> str:
    """A key under which identical proposals are counted together in a vote."""
    if call is None:
        return "none"
    from agentsim.scoring import normalize_dx

    a = call.arguments
    if call.name == "ask_patient":
        return "ask:" + normalize_dx(str(a.get("question", "")))
    if call.name == "order_test":
        from agentsim.catalog import default_catalog

        test = str(a.get("test", ""))
        try:
            entry = default_catalog().lookup(test)
        except Exception:  # noqa: BLE001 - an unknown name still votes under its own spelling
            entry = None
        return "test:" + (entry.name.lower() if entry is not None else normalize_dx(test))
    if call.name == "diagnose":
        return "dx:" + normalize_dx(str(a.get("diagnosis", "")))
    return call.name + ":" + normalize_dx(json.dumps(a, sort_keys=True))


def sum_usage(usages: Iterable[Usage]) -> Usage:
    """The total of several calls' usage."""
    total = Usage()
    for u in usages:
        total.add(u)
    return total


def first_call(reply: Reply) -> ToolCall | None:
    """A reply's action as the engine will read it (free text means a question)."""
    if reply.tool_calls:
        return reply.tool_calls[0]
    if reply.content.strip():
        return ToolCall(id="", name="ask_patient", arguments={"question": reply.content.strip()})
    return None


def content_text(ai: Any) -> str:
    """Text content of a LangChain message (list contents joined)."""
    c = getattr(ai, "content", "")
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in c)
    return str(c or "")


class DoctorWrapper:
    """Base of single-doctor strategy wrappers: delegates everything to ``inner``.

    ``system_extra`` reads and writes through to the wrapped doctor, so a prompt addition made
    by an outer wrapper (reflections, a bias persona) reaches the model whatever the nesting.
    """

    role = "doctor"

    def __init__(self, inner: Any):
        self.inner = inner

    @property
    def label(self) -> str:
        return str(getattr(self.inner, "label", type(self.inner).__name__))

    @property
    def system_extra(self) -> str | None:
        return getattr(self.inner, "system_extra", None)

    @system_extra.setter
    def system_extra(self, text: str) -> None:
        if hasattr(self.inner, "system_extra"):
            self.inner.system_extra = text

    async def start(self, view: DoctorView, seed: int) -> None:
        """Start the wrapped doctor."""
        await self.inner.start(view, seed)

    async def respond(self, message: Message) -> Reply:
        """Delegate to the wrapped doctor."""
        return await self.inner.respond(message)

    def adopt_action(self, call: ToolCall) -> None:
        """Pass an adopted action down (see :class:`AdoptsActions`)."""
        if not isinstance(self.inner, AdoptsActions):
            raise TypeError(f"{type(self.inner).__name__} cannot adopt an action it did not propose")
        self.inner.adopt_action(call)


def can_adopt(doctor: Any) -> bool:
    """True when ``doctor`` (through any wrappers) can adopt an action it did not propose."""
    while isinstance(doctor, DoctorWrapper):
        doctor = doctor.inner
    return isinstance(doctor, AdoptsActions)


def append_extra(doctor: Any, text: str) -> bool:
    """Append ``text`` to the doctor's ``system_extra`` (LLM prompt); False when it has none."""
    if not text or getattr(doctor, "system_extra", None) is None:
        return False
    current = doctor.system_extra or ""
    doctor.system_extra = (current + "\n" + text).strip() if current else text
    return True
