"""Experience memory: one record per finished episode, retrieved by similarity of findings.

A record holds what the doctor saw (demographics, complaint, the answers and results that
carried information), what it did (questions, tests), what it concluded, the correct answer, the
verdict and a short lesson. The lesson is templated; pass a :data:`LessonWriter` (e.g.
:func:`llm_lesson_writer`) to have a model write it.

Leakage rules: :meth:`ExperienceMemory.query` always takes the case being evaluated and never
returns that case's own records (each hit's stored ``case_id`` is checked, and the search
continues past excluded records until ``k`` others are found; see
:func:`agentsim.memory.store.query_excluding`); ``writes_enabled=False`` (or
:meth:`ExperienceMemory.frozen`) stops writes so a benchmark cannot learn from the cases it is
scoring.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from agentsim.memory.mixins import LazyTextEmbedder, WriteSwitch
from agentsim.memory.store import MemoryStore, query_excluding
from agentsim.participants import Message
from agentsim.results import EpisodeResult
from agentsim.tools import CaseHit
from agentsim.views import DoctorView

_NEGATIVE = re.compile(r"^\s*(no|nope|not|never|none|nothing|i (do not|don't|haven't|have not|didn't|did not))\b",
                       re.IGNORECASE)
_MAX_FINDINGS = 8
_MAX_CHARS = 220


class ExperienceRecord(BaseModel):
    """One past episode, as stored."""

    id: str
    case_id: str
    specialty: str = ""
    doctor: str = ""
    summary: str
    key_findings: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    final_diagnosis: str = ""
    correct_diagnosis: str = ""
    correct: bool | None = None
    verdict_method: str = ""
    lesson: str = ""
    created_at: float = Field(default_factory=time.time)

    def document(self) -> str:
        """The text that is embedded: what a later doctor's findings are compared with."""
        return " ".join([self.summary, *self.key_findings])

    def to_hit(self, score: float) -> CaseHit:
        """As the retrieval tool returns it."""
        return CaseHit(id=self.id, score=score, case_id=self.case_id, summary=self.summary,
                       key_findings=self.key_findings, tests=self.tests, final_diagnosis=self.final_diagnosis,
                       correct_diagnosis=self.correct_diagnosis, correct=self.correct, lesson=self.lesson)


#: Writes a lesson for a record (called only when a model is configured); returns plain text.
LessonWriter = Callable[[ExperienceRecord], Awaitable[str]]


def _clip(text: str, n: int = _MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _key_findings(messages: list[Message]) -> tuple[list[str], list[str], list[str]]:
    """(findings that carried information, questions asked, tests ordered) from a transcript."""
    findings: list[str] = []
    questions: list[str] = []
    tests: list[str] = []
    pending_q = ""
    for m in messages:
        if m.role == "doctor" and m.tool_calls:
            call = m.tool_calls[0]
            if call.name == "ask_patient":
                pending_q = str(call.arguments.get("question", ""))
                questions.append(_clip(pending_q, 160))
            elif call.name == "order_test":
                tests.append(str(call.arguments.get("test", "")))
        elif m.role == "patient" and m.metadata.get("tool") == "ask_patient":
            # Denials narrow the differential but make poor retrieval keys; positives are kept.
            if m.content and not _NEGATIVE.match(m.content):
                findings.append(_clip(f"{pending_q} -> {m.content}" if pending_q else m.content))
        elif m.role == "measurement" and m.metadata.get("tool") == "order_test":
            # Results the case itself lists carry information; catalogue defaults are normal fillers.
            if m.metadata.get("found_in_case", True) and m.content:
                findings.append(_clip(m.content))
    return findings[:_MAX_FINDINGS], questions, tests


def template_lesson(rec: ExperienceRecord) -> str:
    """A short offline lesson from the record's outcome."""
    evidence = ", ".join(rec.tests[:4]) if rec.tests else "history alone"
    if rec.correct is True:
        return _clip(f"Presentation like this was correctly diagnosed as {rec.correct_diagnosis} using {evidence}.",
                     300)
    if rec.correct is False:
        wrong = rec.final_diagnosis or "no diagnosis"
        return _clip(f"Diagnosed {wrong} but it was {rec.correct_diagnosis}; with these findings keep "
                     f"{rec.correct_diagnosis} on the differential and seek a test that separates it from {wrong}.",
                     300)
    return ""


class ExperienceMemory(LazyTextEmbedder, WriteSwitch):
    """Past episodes in the ``<prefix>-experience`` collection, embedded with the text embedder."""

    def __init__(self, store: MemoryStore, text_embedder: Any | None = None, *, writes_enabled: bool = True,
                 lesson_writer: LessonWriter | None = None):
        self.store = store
        self._text = text_embedder
        self.writes_enabled = writes_enabled
        self.lesson_writer = lesson_writer
        self._col: Any | None = None

    @classmethod
    def open(cls, config=None, **kwargs: Any) -> ExperienceMemory:
        """Open with a :class:`~agentsim.memory.store.MemoryConfig` (default: from the environment)."""
        from agentsim.memory.store import MemoryConfig

        cfg = config or MemoryConfig.from_env()
        kwargs.setdefault("writes_enabled", cfg.experience_writes)
        return cls(MemoryStore.open(cfg), **kwargs)

    @property
    def collection(self):
        if self._col is None:
            te = self.text_embedder
            self._col = self.store.collection("experience", te.name, te.dim)
        return self._col

    def count(self) -> int:
        """Number of stored episodes."""
        return int(self.collection.count())

    @staticmethod
    def build_record(result: EpisodeResult, view: DoctorView) -> ExperienceRecord:
        """The record of one episode (pure: no I/O, templated lesson)."""
        findings, questions, tests = _key_findings(result.transcript.messages)
        who = view.demographics or "Patient"
        summary = _clip(f"{who}: {view.opening_line}", 400)
        correct = result.verdict.correct if result.verdict is not None else None
        key = f"{result.case_id}|{result.doctor}|{result.trial}|{result.seed}|{result.started_at:.6f}"
        rec = ExperienceRecord(
            id="exp:" + hashlib.sha256(key.encode()).hexdigest()[:24], case_id=result.case_id,
            specialty=result.specialty, doctor=result.doctor, summary=summary, key_findings=findings,
            questions=questions, tests=tests or list(result.tests_ordered), final_diagnosis=result.diagnosis or "",
            correct_diagnosis=result.correct_diagnosis, correct=correct,
            verdict_method=result.verdict.method if result.verdict else "")
        return rec.model_copy(update={"lesson": template_lesson(rec)})

    async def record(self, result: EpisodeResult, view: DoctorView) -> ExperienceRecord | None:
        """Build and store the record of a finished episode; None when writes are off or it failed.

        Episodes that ended in an error or without a diagnosis teach nothing and are skipped.
        A failing lesson writer falls back to the templated lesson.
        """
        if not self.writes_enabled or result.error is not None or not result.diagnosis:
            return None
        rec = self.build_record(result, view)
        if self.lesson_writer is not None:
            try:
                text = (await self.lesson_writer(rec)).strip()
                if text:
                    rec = rec.model_copy(update={"lesson": _clip(text, 400)})
            except Exception:  # noqa: BLE001 - a lesson is optional; the record is not
                pass
        await asyncio.to_thread(self.add, rec)
        return rec

    def add(self, rec: ExperienceRecord) -> None:
        """Store (or overwrite) a record; a no-op when writes are disabled."""
        if not self.writes_enabled:
            return
        meta = {"case_id": rec.case_id, "correct": -1 if rec.correct is None else int(rec.correct),
                "record": rec.model_dump_json(), "created_at": rec.created_at, "specialty": rec.specialty}
        self.collection.upsert(ids=[rec.id], embeddings=self.text_embedder.encode([rec.document()]),
                               documents=[rec.document()], metadatas=[meta])

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[CaseHit]:
        """Past episodes most similar to ``findings``, never from ``exclude_case_id``.

        ``exclude_case_id`` is required (pass ``""`` deliberately to search everything).
        """
        col = self.collection
        if not findings.strip():
            return []
        skip = (lambda _rid, meta: meta.get("case_id") == exclude_case_id) if exclude_case_id else None
        hits = []
        for _, meta, score in query_excluding(col, self.text_embedder.encode([findings])[0], k, skip):
            rec = ExperienceRecord.model_validate_json(meta["record"])
            if exclude_case_id and rec.case_id == exclude_case_id:  # belt and braces: never the case itself
                continue
            if score >= min_score:
                hits.append(rec.to_hit(score))
        return hits


def llm_lesson_writer(chat_model: Any) -> LessonWriter:
    """A :data:`LessonWriter` over any LangChain chat model (``ainvoke``)."""

    async def write(rec: ExperienceRecord) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        outcome = ("correct" if rec.correct else "incorrect") if rec.correct is not None else "not graded"
        prompt = (f"Case: {rec.summary}\nKey findings: {'; '.join(rec.key_findings) or 'none recorded'}\n"
                  f"Tests: {', '.join(rec.tests) or 'none'}\nDoctor's diagnosis: {rec.final_diagnosis}\n"
                  f"Correct diagnosis: {rec.correct_diagnosis}\nOutcome: {outcome}")
        reply = await chat_model.ainvoke([
            SystemMessage(content="You review finished diagnostic consultations. In one or two sentences, state "
                                  "the transferable lesson for a future doctor seeing a similar presentation."),
            HumanMessage(content=prompt)])
        return str(getattr(reply, "content", reply))

    return write
