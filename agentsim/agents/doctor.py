"""The LLM doctor: a chat model that acts through tool calls.

The doctor sees only its :class:`~agentsim.views.DoctorView` and the results of its own actions.
It keeps the OpenAI tool-calling message discipline: every tool call in the history is
answered by a tool message with the same id, so any OpenAI-compatible server accepts it.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path
from typing import Any

from agentsim.errors import LLMError
from agentsim.llm import LLMConfig, classify_error, make_chat_model, usage_of
from agentsim.participants import Message, Reply, ToolCall
from agentsim.tools import tool_schemas
from agentsim.views import DoctorView

DOCTOR_SYSTEM = """You are a physician seeing a patient. {objective}
Patient: {demographics}.
Work like a careful clinician: take a focused history (one question per ask_patient call), request the
examinations and tests that discriminate between your leading diagnoses with order_test (one per call),
{search_hint}and when you are confident call diagnose with the single most likely diagnosis and a ranked
differential. You have at most {max_turns} actions. Every action must be exactly one tool call."""


def _image_part(path: str) -> dict[str, Any] | None:
    p = Path(path)
    if not p.is_file():
        return None
    mime = mimetypes.guess_type(p.name)[0] or "image/png"
    data = base64.b64encode(p.read_bytes()).decode()
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


class LLMDoctor:
    """Doctor participant over any OpenAI-compatible chat model."""

    role = "doctor"

    def __init__(self, cfg: LLMConfig, chat: Any | None = None, system_extra: str = "", max_turns: int = 20):
        self.cfg = cfg
        self.label = cfg.label
        self._chat = chat
        self.system_extra = system_extra
        self.max_turns = max_turns
        self.history: list[Any] = []
        self._pending_id: str | None = None
        self._tools: list[str] = []

    def _model(self, seed: int) -> Any:
        return self._chat if self._chat is not None else make_chat_model(self.cfg, seed=seed)

    async def start(self, view: DoctorView, seed: int) -> None:
        """Reset the conversation for a new case."""
        self.view = view
        self.seed = seed
        self.history = []
        self._pending_id = None
        self._bound: Any = None

    def _system(self, tools: list[str]) -> str:
        search = ("search memory for similar past cases and images with search_similar_cases when it could help, "
                  if "search_similar_cases" in tools else "")
        text = DOCTOR_SYSTEM.format(objective=self.view.objective, demographics=self.view.demographics,
                                    search_hint=search, max_turns=self.max_turns)
        if self.view.images:
            text += "\nCase images on file: " + ", ".join(f"{im.id} ({im.modality})" for im in self.view.images)
        return text + ("\n" + self.system_extra if self.system_extra else "")

    def _incoming(self, message: Message) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

        prefix = {"patient": "Patient", "measurement": "Result", "tool": "Tool", "system": "Instruction"}
        text = message.content or "(no content)"
        out: list[Any] = []
        if self._pending_id is not None:
            out.append(ToolMessage(content=text, tool_call_id=self._pending_id))
            self._pending_id = None
            if message.role == "system":
                out.append(HumanMessage(content=text))
        elif message.role == "system":
            out.append(SystemMessage(content=text) if not self.history else HumanMessage(content=text))
        else:
            out.append(HumanMessage(content=f"{prefix.get(message.role, message.role)}: {text}"))
        if self.cfg.vision and message.images:
            parts = [p for p in (_image_part(i) for i in message.images) if p]
            if parts:
                out.append(HumanMessage(content=[{"type": "text", "text": "Images:"}, *parts]))
        return out

    async def respond(self, message: Message) -> Reply:
        """Turn an incoming message into the next action (one tool call)."""
        from langchain_core.messages import AIMessage, SystemMessage

        if message.metadata.get("opening"):
            self._tools = list(message.metadata.get("tools", []))
            self.history = [SystemMessage(content=self._system(self._tools))]
            self._bound = self._model(self.seed).bind_tools(tool_schemas(self._tools))
        self.history.extend(self._incoming(message))
        if message.metadata.get("final") and message.role != "system":
            from langchain_core.messages import HumanMessage

            from agentsim.episode import FINAL_INSTRUCTION

            self.history.append(HumanMessage(content=FINAL_INSTRUCTION))
        try:
            ai = await self._bound.ainvoke(self.history)
        except Exception as exc:  # noqa: BLE001 - classified for the benchmark statistics
            raise classify_error(exc, "doctor", self.cfg) from exc
        if not isinstance(ai, AIMessage):
            raise LLMError(f"doctor model returned {type(ai).__name__}", "agent")
        call = self._first_call(ai)
        if call is not None:
            # Keep one tool call per turn so the history stays valid for every server.
            self.history.append(AIMessage(content=ai.content or "", tool_calls=[
                {"id": call.id, "name": call.name, "args": call.arguments}]))
            self._pending_id = call.id
        else:
            self.history.append(AIMessage(content=ai.content or ""))
        content = ai.content if isinstance(ai.content, str) else json.dumps(ai.content)
        return Reply(content=content, tool_calls=[call] if call else [], usage=usage_of(ai, self.cfg))

    def adopt_action(self, call: ToolCall) -> None:
        """Record ``call`` as this turn's action in place of the model's own proposal.

        Used by strategies where several doctors propose and one action is taken (ensembles,
        panels, a forced memory search): the next tool result then answers the call that was
        actually made, so the history stays truthful and valid for every server.
        """
        from langchain_core.messages import AIMessage

        call_id = call.id or self._pending_id or "call_adopted"
        if self.history and isinstance(self.history[-1], AIMessage):
            self.history.pop()
        self.history.append(AIMessage(content="", tool_calls=[
            {"id": call_id, "name": call.name, "args": dict(call.arguments)}]))
        self._pending_id = call_id

    @staticmethod
    def _first_call(ai: Any) -> ToolCall | None:
        for tc in ai.tool_calls or []:
            return ToolCall(id=tc.get("id") or "call_0", name=tc["name"], arguments=dict(tc.get("args") or {}))
        for tc in getattr(ai, "invalid_tool_calls", None) or []:
            # Malformed JSON arguments: surface them so the engine reports the error to the doctor.
            return ToolCall(id=tc.get("id") or "call_0", name=tc.get("name") or "invalid",
                            arguments={"_unparsed_arguments": str(tc.get("args"))[:500]})
        return None
