"""The episode engine: the turn loop between doctor, patient and measurement participants.

No UI, no CLI, no file I/O: the engine is handed participants, a case and optional retrieval,
and returns an :class:`~agentsim.results.EpisodeResult`. Callers observe progress through the
``on_message`` callback and can stop an episode through ``stop``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agentsim.catalog import TestCatalog, default_catalog
from agentsim.errors import EpisodeStopped, LLMError
from agentsim.leakage import contains_answer, redact
from agentsim.participants import Message, Participant, Reply, ToolCall, Usage
from agentsim.results import CostBreakdown, EpisodeResult, ErrorInfo, Transcript, Verdict
from agentsim.scenario import LoadedScenario
from agentsim.tools import (
    AskPatientArgs,
    DiagnoseArgs,
    OrderTestArgs,
    RetrievalQuery,
    RetrievalTool,
    SearchSimilarCasesArgs,
    ToolArgumentError,
    parse_tool_args,
)
from agentsim.views import AnswerKey, CaseViews, build_views

FINAL_INSTRUCTION = "Turn limit reached. Call diagnose now with your final diagnosis."

OnMessage = Callable[[Message], Awaitable[None] | None]


class EpisodeConfig(BaseModel):
    """Settings of one episode."""

    max_turns: int = Field(default=20, ge=1, le=200, description="doctor actions before a forced diagnosis")
    seed: int = 0
    budget_usd: float | None = Field(default=None, ge=0, description="stop test ordering beyond this spend")
    retrieval_k: int = Field(default=5, ge=1, le=50)
    max_invalid_actions: int = Field(default=3, ge=1, description="consecutive bad doctor replies tolerated")
    charge_visit_per_question: bool = True


@runtime_checkable
class Scorer(Protocol):
    """Grades a diagnosis against the answer key (implementations in :mod:`agentsim.scoring`)."""

    async def grade(self, answer: AnswerKey, diagnosis: str | None, differential: list[str]) -> Verdict:
        """Return the verdict for a final diagnosis and ranked differential."""
        ...


class _Tally:
    """Running counts of one episode."""

    def __init__(self) -> None:
        self.questions = 0
        self.tests: list[str] = []
        self.searches = 0
        self.last_action = ""
        self.cost = CostBreakdown()
        self.usage: dict[str, Usage] = {}

    def add_usage(self, role: str, usage: Usage) -> None:
        self.usage.setdefault(role, Usage()).add(usage)


def _error_info(exc: BaseException, default_kind: str) -> ErrorInfo:
    if isinstance(exc, EpisodeStopped):
        kind = "stopped"
    elif isinstance(exc, LLMError):
        kind = exc.kind
    elif isinstance(exc, asyncio.TimeoutError | TimeoutError | ConnectionError | OSError):
        kind = "infrastructure"
    else:
        kind = default_kind
    return ErrorInfo(kind=kind, error_class=type(exc).__name__, message=str(exc)[:2000])


async def run_episode(
    loaded: LoadedScenario,
    doctor: Participant,
    patient: Participant,
    measurement: Participant,
    config: EpisodeConfig | None = None,
    *,
    scorer: Scorer | None = None,
    retrieval: RetrievalTool | None = None,
    catalog: TestCatalog | None = None,
    on_message: OnMessage | None = None,
    stop: asyncio.Event | None = None,
    views: CaseViews | None = None,
    metadata: dict[str, Any] | None = None,
) -> EpisodeResult:
    """Run one diagnostic episode to a verdict.

    Participant failures never escape: they end the episode with ``result.error`` set (kind
    ``infrastructure``/``agent``/``patient``), keeping the transcript so far.
    """
    cfg = config or EpisodeConfig()
    cat = catalog or default_catalog()
    views = views or build_views(loaded)
    transcript = Transcript(case_id=views.case_id)
    tally = _Tally()
    started = time.time()
    tools = ["ask_patient", "order_test", "diagnose"]
    if retrieval is not None:
        tools.insert(2, "search_similar_cases")

    async def emit(msg: Message) -> None:
        transcript.messages.append(msg)
        if on_message is not None:
            res = on_message(msg)
            if inspect.isawaitable(res):
                await res

    def budget_left() -> float | None:
        if cfg.budget_usd is None:
            return None
        return cfg.budget_usd - tally.cost.clinical_usd

    diagnosis: DiagnoseArgs | None = None
    error: ErrorInfo | None = None
    turn = 0
    try:
        for role, part, view in (("doctor", doctor, views.doctor), ("patient", patient, views.patient),
                                 ("measurement", measurement, views.measurement)):
            try:
                await part.start(view, cfg.seed)
            except Exception as exc:  # noqa: BLE001 - any participant failure ends the episode cleanly
                raise _SeatError(role, exc) from exc

        to_doctor = Message(
            role="patient",
            content=views.doctor.opening_line,
            turn=0,
            metadata={"tools": tools, "turns_left": cfg.max_turns, "budget_left_usd": budget_left(),
                      "opening": True, "images": [im.path for im in views.doctor.images]},
            images=[im.path for im in views.doctor.images],
        )
        await emit(to_doctor)
        invalid = 0
        final_demanded = False
        while True:
            if stop is not None and stop.is_set():
                error = ErrorInfo(kind="stopped", error_class="Stopped", message="episode stopped by the user")
                break
            reply = await _call(doctor, to_doctor, "doctor", "agent")
            tally.add_usage("doctor", reply.usage)
            call = _doctor_action(reply)
            turn += 1
            doc_msg = Message(role="doctor", content=reply.content, tool_calls=[call] if call else [],
                              reasoning=reply.reasoning, turn=turn, metadata=reply.metadata,
                              elapsed_ms=reply.metadata.get("elapsed_ms", 0.0))
            await emit(doc_msg)
            turns_left = cfg.max_turns - turn
            if call is None:
                invalid += 1
                to_doctor = Message(role="tool", content="Error: empty reply; call one of the tools.", turn=turn,
                                    metadata={"error": True, "turns_left": turns_left})
            else:
                try:
                    args = parse_tool_args(call.name, call.arguments)
                    if call.name == "search_similar_cases" and retrieval is None:
                        raise ToolArgumentError("search_similar_cases is not available in this episode")
                except ToolArgumentError as exc:
                    invalid += 1
                    to_doctor = Message(role="tool", content=f"Error: {exc}", tool_call_id=call.id, turn=turn,
                                        name=call.name, metadata={"error": True, "turns_left": turns_left})
                else:
                    invalid = 0
                    if isinstance(args, DiagnoseArgs):
                        diagnosis = args
                        break
                    to_doctor = await _act(args, call, views, loaded, patient, measurement, retrieval, cat,
                                           cfg, tally, turn, budget_left)
                    to_doctor.metadata["turns_left"] = turns_left
            if invalid >= cfg.max_invalid_actions:
                await emit(to_doctor)
                error = ErrorInfo(kind="agent", error_class="InvalidActions",
                                  message=f"{invalid} consecutive invalid doctor replies; last: {to_doctor.content}")
                break
            if turns_left <= 0:
                if final_demanded:
                    await emit(to_doctor)
                    error = ErrorInfo(kind="agent", error_class="NoDiagnosis",
                                      message="the doctor did not diagnose after the turn limit")
                    break
                final_demanded = True
                # The doctor still receives its last result; the flag asks it to diagnose now.
                to_doctor.metadata["final"] = True
                await emit(to_doctor)
                await emit(Message(role="system", turn=turn, content=FINAL_INSTRUCTION, metadata={"final": True}))
                continue
            await emit(to_doctor)
    except _SeatError as exc:
        error = _error_info(exc.cause, exc.default_kind)
        await emit(Message(role="system", content=f"Episode ended: {error.error_class}: {error.message}",
                           turn=turn, metadata={"error": error.model_dump()}))
    except asyncio.CancelledError:
        raise

    verdict: Verdict | None = None
    if diagnosis is not None and scorer is not None:
        verdict = await scorer.grade(views.answer, diagnosis.diagnosis, diagnosis.differential)
        if verdict.usage.calls:
            tally.add_usage("judge", verdict.usage)
    result = EpisodeResult(
        case_id=views.case_id,
        specialty=views.specialty,
        dataset=loaded.scenario.split,
        seed=cfg.seed,
        doctor=getattr(doctor, "label", type(doctor).__name__),
        patient=getattr(patient, "label", type(patient).__name__),
        diagnosis=diagnosis.diagnosis if diagnosis else None,
        differential=list(diagnosis.differential) if diagnosis else [],
        confidence=diagnosis.confidence if diagnosis else None,
        correct_diagnosis=views.answer.diagnosis,
        correct=bool(verdict and verdict.correct),
        verdict=verdict,
        turns=turn,
        questions=tally.questions,
        tests_ordered=tally.tests,
        searches=tally.searches,
        cost=tally.cost,
        usage=tally.usage,
        error=error,
        started_at=started,
        duration_s=time.time() - started,
        metadata=dict(metadata or {}),
        transcript=transcript,
    )
    result.update_tokens_usd()
    return result


class _SeatError(Exception):
    def __init__(self, role: str, cause: BaseException):
        self.role = role
        self.cause = cause
        self.default_kind = "agent" if role == "doctor" else ("patient" if role == "patient" else "internal")
        super().__init__(f"{role}: {cause}")


async def _call(part: Participant, msg: Message, role: str, default_kind: str) -> Reply:
    t0 = time.perf_counter()
    try:
        reply = await part.respond(msg)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - participant failures end the episode, never the process
        raise _SeatError(role, exc) from exc
    if not isinstance(reply, Reply):
        raise _SeatError(role, TypeError(f"{role} returned {type(reply).__name__}, expected Reply"))
    reply.metadata.setdefault("elapsed_ms", (time.perf_counter() - t0) * 1000)
    return reply


def _guard(text: str, views: CaseViews) -> tuple[str, bool]:
    """Last line of defence for model-generated replies: the views are already redacted, but an LLM
    patient or measurement model could still guess and say the answer."""
    if contains_answer(text, views.answer.terms):
        return redact(text, views.answer.terms), True
    return text, False


def _doctor_action(reply: Reply) -> ToolCall | None:
    """The doctor's one action; free text without a tool call is a question to the patient."""
    if reply.tool_calls:
        return reply.tool_calls[0]
    if reply.content.strip():
        return ToolCall(id="", name="ask_patient", arguments={"question": reply.content.strip()})
    return None


async def _act(
    args: Any,
    call: ToolCall,
    views: CaseViews,
    loaded: LoadedScenario,
    patient: Participant,
    measurement: Participant,
    retrieval: RetrievalTool | None,
    cat: TestCatalog,
    cfg: EpisodeConfig,
    tally: _Tally,
    turn: int,
    budget_left: Callable[[], float | None],
) -> Message:
    """Carry out one non-final doctor action and return the message for the doctor."""
    if isinstance(args, AskPatientArgs):
        tally.questions += 1
        # SDBench-style accounting: a run of consecutive questions is one physician visit.
        if cfg.charge_visit_per_question and tally.last_action != "ask_patient":
            tally.cost.visits_usd += cat.visit_fee_usd
        tally.last_action = "ask_patient"
        reply = await _call(patient, Message(role="doctor", content=args.question, turn=turn), "patient", "patient")
        tally.add_usage("patient", reply.usage)
        content, redacted = _guard(reply.content, views)
        return Message(role="patient", content=content, tool_call_id=call.id, turn=turn,
                       metadata={"tool": "ask_patient", **reply.metadata, **({"redacted": True} if redacted else {})})
    if isinstance(args, OrderTestArgs):
        priced = cat.price_request(args.test)
        price = sum(p for _, p in priced)
        left = budget_left()
        if left is not None and price > left:
            return Message(role="tool", name="order_test", tool_call_id=call.id, turn=turn,
                           content=f"Not ordered: {args.test} costs ${price:.0f} and only ${max(left, 0):.0f} of "
                                   "the budget remains. Diagnose with what you have.",
                           metadata={"tool": "order_test", "budget_exceeded": True})
        tally.last_action = "order_test"
        tally.tests.append(args.test)
        tally.cost.tests_usd += price
        tally.cost.priced_tests.extend(priced)
        # The measurement view names tests in redacted words ("IgM antibodies to the suspected
        # condition zoster virus"); a request naming the answer ("varicella zoster IgM") is put in
        # the same words so it still finds the case's result instead of a catalogue normal.
        request = redact(args.test, views.answer.hidden_terms)
        reply = await _call(measurement, Message(role="doctor", content=request, turn=turn),
                            "measurement", "internal")
        tally.add_usage("measurement", reply.usage)
        images = list(reply.metadata.get("images", []))
        content, redacted = _guard(reply.content, views)
        if redacted:
            reply.metadata["redacted"] = True
        return Message(role="measurement", content=content, tool_call_id=call.id, turn=turn, images=images,
                       metadata={"tool": "order_test", "test": args.test, "price_usd": price,
                                 **{k: v for k, v in reply.metadata.items() if k != "images"}})
    if isinstance(args, SearchSimilarCasesArgs):
        assert retrieval is not None
        tally.searches += 1
        tally.last_action = "search_similar_cases"
        image_path = ""
        if args.image_id:
            ref = views.measurement.images.get(args.image_id)
            if ref is None:
                return Message(role="tool", name="search_similar_cases", tool_call_id=call.id, turn=turn,
                               content=f"Error: no case image with id {args.image_id!r}",
                               metadata={"error": True, "tool": "search_similar_cases"})
            image_path = ref.path
        query = RetrievalQuery(query_text=args.query_text, image_path=image_path,
                               exclude_case_id=views.case_id, k=cfg.retrieval_k)
        try:
            result = await retrieval.search(query)
        except Exception as exc:  # noqa: BLE001 - a memory failure is reported to the doctor, not fatal
            return Message(role="tool", name="search_similar_cases", tool_call_id=call.id, turn=turn,
                           content=f"Error: retrieval failed: {exc}",
                           metadata={"error": True, "tool": "search_similar_cases"})
        return Message(role="tool", name="search_similar_cases", tool_call_id=call.id, turn=turn,
                       content=result.render(),
                       metadata={"tool": "search_similar_cases", "query": query.model_dump(),
                                 "result": result.model_dump()})
    raise AssertionError(f"unhandled action {call.name}")
