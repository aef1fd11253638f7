"""The LLM patient: answers the doctor from the patient's own facts, in the first person."""

from __future__ import annotations

from typing import Any

from agentsim.errors import LLMError
from agentsim.llm import LLMConfig, classify_error, make_chat_model, usage_of
from agentsim.participants import Message, Reply
from agentsim.views import PatientView

PATIENT_SYSTEM = """You are role-playing a patient in a doctor's office. Stay in character.
Answer only what the doctor asks, briefly (1-3 sentences), in plain first-person language.
Use only the facts below. If asked about something the facts do not mention, say you have not
noticed it or do not know; never invent symptoms, results or history. You do not know your
diagnosis and never guess one; you have not seen any test results.

Opening complaint: {opening}
Facts about you:
{facts}"""


def render_facts(view: PatientView) -> str:
    """The patient's facts as a readable list (also shown to a human playing the patient)."""
    f = view.facts
    lines = [f"Who you are: {f.demographics}"]
    for label, value in [("Current illness", f.history_of_present_illness),
                         ("Past medical history", f.past_medical_history), ("Medications", f.medications),
                         ("Allergies", f.allergies), ("Social history", f.social_history),
                         ("Family history", f.family_history),
                         ("Other symptoms or their absence", f.review_of_systems)]:
        if value:
            lines.append(f"{label}: {value}")
    if f.symptoms:
        lines.append("Symptoms you have: " + "; ".join(f"{s.name} ({s.detail})" if s.detail else s.name
                                                       for s in f.symptoms))
    if f.denied_symptoms:
        lines.append("Symptoms you do NOT have: " + ", ".join(f.denied_symptoms))
    return "\n".join(lines)


class LLMPatient:
    """Patient participant over any OpenAI-compatible chat model."""

    role = "patient"

    def __init__(self, cfg: LLMConfig, chat: Any | None = None, persona: str = ""):
        self.cfg = cfg
        self.label = cfg.label
        self._chat = chat
        self.persona = persona
        self.history: list[Any] = []

    async def start(self, view: PatientView, seed: int) -> None:
        """Reset the conversation with this patient's facts."""
        from langchain_core.messages import SystemMessage

        self.view = view
        system = PATIENT_SYSTEM.format(opening=view.opening_line, facts=render_facts(view))
        if self.persona:
            system += "\n" + self.persona
        self.history = [SystemMessage(content=system)]
        self.model = self._chat if self._chat is not None else make_chat_model(self.cfg, seed=seed)

    async def respond(self, message: Message) -> Reply:
        """Answer one question from the doctor."""
        from langchain_core.messages import AIMessage, HumanMessage

        self.history.append(HumanMessage(content=message.content))
        try:
            ai = await self.model.ainvoke(self.history)
        except Exception as exc:  # noqa: BLE001 - classified for the benchmark statistics
            self.history.pop()
            raise classify_error(exc, "patient", self.cfg) from exc
        text = ai.content if isinstance(ai.content, str) else ""
        if not text.strip():
            self.history.pop()
            raise LLMError("patient model returned an empty reply", "patient")
        self.history.append(AIMessage(content=text))
        return Reply(content=text.strip(), usage=usage_of(ai, self.cfg))
