"""Scripted participants: deterministic test doubles that fill any seat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentsim.participants import Message, Reply, ToolCall


class ScriptedDoctor:
    """Plays a fixed list of actions: ``("ask_patient", {"question": ...})`` or ToolCall objects."""

    role = "doctor"
    label = "scripted"

    def __init__(self, actions: Sequence[ToolCall | tuple[str, dict[str, Any]]]):
        self.actions = [a if isinstance(a, ToolCall) else ToolCall(id=f"call_{i}", name=a[0], arguments=a[1])
                        for i, a in enumerate(actions)]
        self.received: list[Message] = []

    async def start(self, view: Any, seed: int) -> None:
        """Rewind the script."""
        self.view = view
        self._i = 0
        self.received = []

    async def respond(self, message: Message) -> Reply:
        """Next scripted action; after the script, an empty diagnosis."""
        self.received.append(message)
        if self._i < len(self.actions):
            call = self.actions[self._i]
            self._i += 1
            return Reply(tool_calls=[call])
        return Reply(tool_calls=[ToolCall(id="call_end", name="diagnose", arguments={"diagnosis": "unknown"})])


class ScriptedPatient:
    """Answers from a list (cycling), recording every question."""

    role = "patient"
    label = "scripted"

    def __init__(self, answers: Sequence[str] = ("I'm not sure.",)):
        self.answers = list(answers)
        self.questions: list[str] = []

    async def start(self, view: Any, seed: int) -> None:
        """Forget earlier questions."""
        self.view = view
        self.questions = []

    async def respond(self, message: Message) -> Reply:
        """The next scripted answer."""
        self.questions.append(message.content)
        return Reply(content=self.answers[(len(self.questions) - 1) % len(self.answers)])
