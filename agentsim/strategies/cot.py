"""Chain-of-thought: the doctor reasons before each action; the reasoning stays private.

LLM doctors are asked to write their reasoning between ``<reasoning>`` tags before the one tool
call. :class:`CoTDoctor` moves that text (and any other free text that accompanies a tool call)
into :attr:`Reply.reasoning`, which the engine stores in the transcript's doctor message and never
routes to the patient. Reasoning tags are also stripped from a question's text, and a reply with
reasoning but no action is sent back as an empty action (the engine then asks for a tool call)
instead of being read to the patient as a question.
"""

from __future__ import annotations

import re

from agentsim.participants import Message, Reply, ToolCall
from agentsim.strategies.common import DoctorWrapper, append_extra

COT_INSTRUCTION = """Before every action, think it through in writing between <reasoning> and </reasoning>:
summarise what you have learned, list your differential ranked with rough probabilities, and say which
single question or test would best separate the leading diagnoses (or why you are ready to diagnose).
Then make exactly one tool call. The patient never sees your reasoning, so never put reasoning inside a
question to the patient."""

# <think> is what several open reasoning models emit on their own.
_BLOCK = re.compile(r"<(reasoning|think|thinking)>(.*?)(?:</\1>|$)", re.IGNORECASE | re.DOTALL)
_STRAY_TAG = re.compile(r"</?(reasoning|think|thinking)>", re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, remainder) of a model's text: tagged blocks are reasoning, the rest remains."""
    blocks = [m.group(2).strip() for m in _BLOCK.finditer(text or "")]
    rest = _STRAY_TAG.sub("", _BLOCK.sub("", text or "")).strip()
    return "\n".join(b for b in blocks if b), rest


def _clean_call(call: ToolCall) -> tuple[ToolCall, str]:
    """Strip reasoning blocks from a question argument; returns the cleaned call and what was removed."""
    q = call.arguments.get("question")
    if call.name != "ask_patient" or not isinstance(q, str):
        return call, ""
    removed, rest = split_reasoning(q)
    if not removed and rest == q.strip():
        return call, ""
    return call.model_copy(update={"arguments": {**call.arguments, "question": rest or q}}), removed


class CoTDoctor(DoctorWrapper):
    """Adds the reasoning instruction to an LLM doctor's prompt and keeps reasoning private.

    For a doctor without a prompt (the offline reasoner) it only guarantees the same privacy
    rule; the offline doctor already records its ranked differential as reasoning.
    """

    def __init__(self, inner: object, instruction: str = COT_INSTRUCTION):
        super().__init__(inner)
        self.prompted = append_extra(self, instruction)

    async def respond(self, message: Message) -> Reply:
        """The inner doctor's action with its free text moved into ``reasoning``."""
        reply = await self.inner.respond(message)
        return privatize(reply)


def privatize(reply: Reply) -> Reply:
    """Move all reasoning out of patient-facing text (see the module docstring)."""
    tagged, rest = split_reasoning(reply.content)
    reasoning = [r for r in (reply.reasoning.strip(), tagged) if r]
    calls = []
    for call in reply.tool_calls:
        cleaned, removed = _clean_call(call)
        if removed:
            reasoning.append(removed)
        calls.append(cleaned)
    content = ""
    if calls:
        # With an action, any free text is commentary: it belongs to the reasoning, not the patient.
        if rest:
            reasoning.append(rest)
    elif not tagged:
        # Untagged text without a tool call is the doctor talking to the patient (engine: ask_patient).
        content = rest
    elif rest and rest.endswith("?"):
        content = rest
    elif rest:
        reasoning.append(rest)
    return reply.model_copy(update={"content": content, "tool_calls": calls,
                                    "reasoning": "\n\n".join(reasoning)})
