"""Experience: reflections from similar past episodes, shown to the doctor before it starts.

At ``start`` the wrapper queries the experience memory with what the doctor seat knows (the
patient's demographics and presenting complaint), never returning the current case's own records:
the query always carries ``exclude_case_id`` and hits are filtered again here. When the case id is
unknown (a caller that did not pass it), a hit whose summary is the very same presentation is
dropped as well.

* LLM doctors (anything with ``system_extra``) get the hits as few-shot reflections in the prompt.
* The offline doctor gets them as soft evidence through ``add_past_cases(hits, weight)``: past
  diagnoses of similar presentations raise those diagnoses' prior.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, runtime_checkable

from agentsim.participants import Message, Reply
from agentsim.strategies.common import DoctorWrapper
from agentsim.tools import CaseHit
from agentsim.views import DoctorView


@runtime_checkable
class ExperienceSource(Protocol):
    """Read side of an experience memory (:class:`agentsim.memory.experience.ExperienceMemory`)."""

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[CaseHit]:
        """Past episodes most similar to ``findings``, never from ``exclude_case_id``."""
        ...


@runtime_checkable
class TakesPastCases(Protocol):
    """A doctor that folds past cases in as soft evidence (the offline doctor)."""

    def add_past_cases(self, hits: list[CaseHit], weight: float = 1.0) -> None:
        """Use the diagnoses of similar past cases as soft evidence for this episode."""
        ...


def presentation(view: DoctorView) -> str:
    """The query text: the same shape as an experience record's summary."""
    return f"{view.demographics or 'Patient'}: {view.opening_line}"


def render_reflections(hits: list[CaseHit]) -> str:
    """Few-shot reflections for an LLM prompt."""
    if not hits:
        return ""
    lines = ["Reflections from your earlier consultations with OTHER patients whose presentation was similar "
             "(hints about what to check and what is easy to miss; they are not facts about this patient):"]
    for i, h in enumerate(hits, 1):
        outcome = {True: "you were right", False: "you were wrong", None: "outcome unknown"}[h.correct]
        parts = [f"{i}. {h.summary}"]
        if h.key_findings:
            parts.append("Key findings: " + "; ".join(h.key_findings[:4]) + ".")
        if h.tests:
            parts.append("Tests: " + ", ".join(h.tests[:5]) + ".")
        concl = f"You concluded {h.final_diagnosis or 'nothing'}"
        if h.correct_diagnosis:
            concl += f"; the diagnosis was {h.correct_diagnosis} ({outcome})"
        parts.append(concl + ".")
        if h.lesson:
            parts.append("Lesson: " + h.lesson)
        lines.append(" ".join(parts))
    return "\n".join(lines)


def give_past_cases(doctor: Any, hits: list[CaseHit], weight: float) -> bool:
    """Hand ``hits`` to the first doctor in a wrapper chain that takes soft evidence."""
    target = doctor
    while not isinstance(target, TakesPastCases) and isinstance(target, DoctorWrapper):
        target = target.inner
    if isinstance(target, TakesPastCases):
        target.add_past_cases(list(hits), weight)
        return True
    return False


class ExperienceDoctor(DoctorWrapper):
    """Injects reflections from past episodes (see the module docstring)."""

    def __init__(self, inner: Any, source: ExperienceSource | None, *, k: int = 3, min_score: float = 0.3,
                 weight: float = 1.0, case_id: str | None = None):
        super().__init__(inner)
        self.source = source
        self.k = k
        self.min_score = min_score
        self.weight = weight
        self.case_id = case_id
        self._base_extra = self.system_extra
        self.hits: list[CaseHit] = []
        self._note: dict[str, Any] = {}

    async def lookup(self, view: DoctorView) -> list[CaseHit]:
        """Similar past episodes for this view, never the current case."""
        if self.source is None:
            return []
        query = presentation(view)
        hits = await asyncio.to_thread(self.source.query, query, self.k, exclude_case_id=self.case_id or "",
                                       min_score=self.min_score)
        if self.case_id:
            hits = [h for h in hits if h.case_id != self.case_id]
        else:
            hits = [h for h in hits if h.summary.strip() != query.strip()]
        return hits[: self.k]

    async def start(self, view: DoctorView, seed: int) -> None:
        """Look up similar episodes, hand them to the doctor, then start it."""
        self.hits = await self.lookup(view)
        self._note = {"hits": [{"id": h.id, "case_id": h.case_id, "score": round(h.score, 4)} for h in self.hits],
                      "source": type(self.source).__name__ if self.source is not None else None}
        if self._base_extra is not None:
            text = render_reflections(self.hits)
            self.system_extra = (self._base_extra + "\n" + text).strip() if text else self._base_extra
            self._note["mode"] = "prompt"
            await self.inner.start(view, seed)
            return
        await self.inner.start(view, seed)
        self._note["mode"] = "evidence" if give_past_cases(self.inner, self.hits, self.weight) else "unsupported"

    async def respond(self, message: Message) -> Reply:
        """Forward; the opening reply records which past episodes were used."""
        reply = await self.inner.respond(message)
        if message.metadata.get("opening"):
            reply = reply.model_copy(update={"metadata": {**reply.metadata, "experience": self._note}})
        return reply
