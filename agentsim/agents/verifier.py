"""Patient-simulator fidelity: check each LLM patient reply against the case facts, regenerate if needed.

:class:`VerifiedPatient` wraps an :class:`~agentsim.agents.patient.LLMPatient`. After every reply
it runs two checks:

1. **Leak check** (no model): the reply must not name the diagnosis. The harness may pass the
   answer's terms (``answer_terms``); they are used only for this string match and never reach a
   model. Independently, the model check below flags any diagnosis the patient states or guesses.
2. **Fact check** (one model call): a verifier model compares the reply with the patient's own
   facts (the same redacted :class:`~agentsim.views.PatientView` the patient has) and lists
   invented facts, contradictions, named diagnoses and test results the patient cannot know.

A failed reply is regenerated (up to ``max_regenerations`` times) with a private note to the actor
naming the problems; the note is removed from the patient's history afterwards, so the
conversation history holds the doctor's question and the accepted reply only. Each reply carries
``metadata["verifier"]`` (checks, regenerations, corrected, unresolved, problems); the verifier's
calls are added to the reply's ``usage`` (the patient's role in the episode's token accounting)
and listed separately in the metadata. :func:`verifier_stats` sums them over an episode.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agentsim.leakage import contains_answer, redact
from agentsim.llm import LLMConfig, classify_error, make_chat_model, usage_of
from agentsim.participants import Message, Reply, Usage
from agentsim.views import PatientView

if TYPE_CHECKING:
    from agentsim.results import EpisodeResult

VERIFIER_SYSTEM = """You check a simulated patient's reply for fidelity to the patient's case facts.
The patient may only use the facts below. Flag a problem when the reply:
- states a symptom, history item, medication, result or other fact that the facts do not contain,
- contradicts the facts,
- names, guesses or hints at a diagnosis,
- mentions test or examination results (the patient has not seen any).
Saying "no", "I don't know" or "I haven't noticed" about something the facts do not mention is fine,
and so is plain paraphrase. Answer with JSON only: {{"ok": true}} or {{"ok": false, "problems": ["..."]}}.

Patient's opening complaint: {opening}
Patient's facts:
{facts}"""

LEAK_PROBLEM = "the reply names a diagnosis; the patient does not know their diagnosis"

_JSON = re.compile(r"\{.*\}", re.DOTALL)


class Check(BaseModel):
    """Outcome of one verification."""

    ok: bool
    problems: list[str] = []
    parsed: bool = True


def parse_verdict(text: str) -> Check:
    """The verifier model's JSON verdict; unparseable text counts as a pass (and is flagged)."""
    m = _JSON.search(text or "")
    if m:
        try:
            data = json.loads(m.group(0))
            ok = bool(data.get("ok", True))
            problems = [str(p)[:300] for p in (data.get("problems") or []) if str(p).strip()]
            if not ok and not problems:
                problems = ["the reply does not match the facts"]
            return Check(ok=ok, problems=[] if ok else problems)
        except (json.JSONDecodeError, AttributeError):
            pass
    low = (text or "").strip().lower()
    if low.startswith("ok") or low in ("true", "yes"):
        return Check(ok=True)
    return Check(ok=True, parsed=False)


class VerifiedPatient:
    """An LLM patient whose replies are fact-checked and regenerated (see the module docstring)."""

    role = "patient"

    def __init__(self, inner: Any, cfg: LLMConfig, *, max_regenerations: int = 2,
                 answer_terms: list[str] | None = None, chat: Any | None = None):
        self.inner = inner
        self.cfg = cfg
        self.max_regenerations = max_regenerations
        self._terms = list(answer_terms or [])
        self._chat = chat
        self.corrections = 0

    @property
    def label(self) -> str:
        return str(getattr(self.inner, "label", type(self.inner).__name__)) + "+verifier"

    @property
    def persona(self) -> str:
        return str(getattr(self.inner, "persona", ""))

    @persona.setter
    def persona(self, text: str) -> None:
        self.inner.persona = text

    async def start(self, view: PatientView, seed: int) -> None:
        """Start the patient and build the verifier's prompt from the same view."""
        from agentsim.agents.patient import render_facts

        await self.inner.start(view, seed)
        self.view = view
        self.corrections = 0
        self._system = VERIFIER_SYSTEM.format(opening=view.opening_line, facts=render_facts(view))
        self._model = self._chat if self._chat is not None else make_chat_model(self.cfg, seed=seed)

    async def check(self, question: str, answer: str) -> tuple[Check, Usage]:
        """Leak check, then the model's fact check."""
        from langchain_core.messages import HumanMessage, SystemMessage

        problems = [LEAK_PROBLEM] if self._terms and contains_answer(answer, self._terms) else []
        try:
            ai = await self._model.ainvoke([SystemMessage(content=self._system),
                                            HumanMessage(content=f"Doctor's question: {question}\n"
                                                                 f"Patient's reply: {answer}")])
        except Exception as exc:  # noqa: BLE001 - classified for the benchmark statistics
            raise classify_error(exc, "patient", self.cfg) from exc
        verdict = parse_verdict(ai.content if isinstance(ai.content, str) else "")
        problems += verdict.problems
        if self._terms:
            # A problem description may quote the leaked name: it goes back to the actor, so redact it.
            problems = [redact(p, self._terms) for p in problems]
        return Check(ok=not problems, problems=problems, parsed=verdict.parsed), usage_of(ai, self.cfg)

    async def respond(self, message: Message) -> Reply:
        """The patient's reply, checked and, if needed, regenerated."""
        from langchain_core.messages import HumanMessage

        question = message.content
        reply = await self.inner.respond(message)
        usage = Usage()
        usage.add(reply.usage)
        verifier_usage = Usage()
        regenerations = 0
        checks = 0
        history: list[str] = []
        while True:
            check, u = await self.check(question, reply.content)
            checks += 1
            verifier_usage.add(u)
            if check.ok or regenerations >= self.max_regenerations:
                break
            history.extend(check.problems)
            regenerations += 1
            # Drop the rejected exchange and ask again with a private note; the note is then
            # replaced by the plain question so the patient's history stays clean.
            del self.inner.history[-2:]
            note = ("\n\n(Private note from the simulation, not from the doctor: your previous answer was "
                    "rejected because " + "; ".join(check.problems) + ". Answer the question again using only "
                    "your facts; if they do not cover it, say you don't know or haven't noticed.)")
            reply = await self.inner.respond(message.model_copy(update={"content": question + note}))
            self.inner.history[-2] = HumanMessage(content=question)
            usage.add(reply.usage)
        usage.add(verifier_usage)
        corrected = regenerations > 0 and check.ok
        self.corrections += int(corrected)
        meta = {"checks": checks, "regenerations": regenerations, "corrected": corrected,
                "unresolved": not check.ok, "problems": history + ([] if check.ok else check.problems),
                "unparsed_verdicts": int(not check.parsed),
                "usage": verifier_usage.model_dump()}
        return reply.model_copy(update={"usage": usage, "metadata": {**reply.metadata, "verifier": meta}})


class VerifierStats(BaseModel):
    """Verifier activity over one or more episodes."""

    replies: int = 0
    checks: int = 0
    regenerations: int = 0
    corrected: int = 0
    unresolved: int = 0
    calls: int = 0
    tokens: int = 0


def verifier_stats(results: EpisodeResult | list[EpisodeResult]) -> VerifierStats:
    """Sum the verifier metadata of the patient messages of one or more episodes."""
    items = results if isinstance(results, list) else [results]
    st = VerifierStats()
    for r in items:
        for m in r.transcript.messages:
            v = m.metadata.get("verifier") if m.role == "patient" else None
            if not isinstance(v, dict):
                continue
            st.replies += 1
            st.checks += int(v.get("checks", 0))
            st.regenerations += int(v.get("regenerations", 0))
            st.corrected += int(bool(v.get("corrected")))
            st.unresolved += int(bool(v.get("unresolved")))
            u = v.get("usage") or {}
            st.calls += int(u.get("calls", 0))
            st.tokens += int(u.get("prompt_tokens", 0)) + int(u.get("completion_tokens", 0))
    return st
