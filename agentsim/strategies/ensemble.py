"""Ensemble: N independent doctors vote on the final diagnosis.

Member 0 (the *lead*) conducts the consultation. When it commits (or the turn limit forces a
diagnosis), every other member gives its own diagnosis from the same evidence and the ensemble
answers with the vote's winner:

* ``majority``: one vote per member (ties: higher summed confidence, then the lead's side);
* ``confidence``: each vote weighs the member's stated confidence (0.5 when it gave none).

Voters come in two kinds. :class:`LLMVoter` makes one call at the end (the case log as context,
only the ``diagnose`` tool, its own seed and a sampling temperature), so an LLM ensemble of N costs
the lead's calls plus N - 1. :class:`ReplayVoter` is a full doctor participant (e.g. an offline
doctor with its own reasoner constants, since the offline doctor is deterministic for a seed; see
:func:`agentsim.strategies.build.offline_member_reasoner`) that sees every message the lead sees
and adopts the lead's actions, so its belief state follows the same evidence; at the end it is
asked to diagnose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel

from agentsim.llm import LLMConfig, classify_error, make_chat_model, usage_of
from agentsim.participants import Message, Participant, Reply, ToolCall, Usage
from agentsim.strategies.common import CaseLog, can_adopt, first_call, sum_usage
from agentsim.tools import DiagnoseArgs, ToolArgumentError, parse_tool_args, tool_schemas
from agentsim.views import DoctorView

VOTER_NOTE = ("You are one of several doctors who each give an independent final diagnosis for the consultation "
              "below. Call diagnose with your single most likely diagnosis, a ranked differential and your "
              "confidence between 0 and 1.")


class Opinion(BaseModel):
    """One member's final diagnosis."""

    member: int
    diagnosis: str
    differential: list[str] = []
    confidence: float | None = None


class VoteResult(BaseModel):
    """The outcome of a vote."""

    diagnosis: str
    differential: list[str]
    share: float
    tally: dict[str, float]


def vote(opinions: list[Opinion], method: str = "majority") -> VoteResult | None:
    """Winner, merged differential and winning share of the opinions (None when nobody voted)."""
    from agentsim.scoring import normalize_dx

    if not opinions:
        return None
    weight: dict[str, float] = {}
    conf: dict[str, float] = {}
    first: dict[str, tuple[int, str]] = {}
    for op in opinions:
        key = normalize_dx(op.diagnosis) or op.diagnosis.lower()
        c = op.confidence if op.confidence is not None else 0.5
        weight[key] = weight.get(key, 0.0) + (c if method == "confidence" else 1.0)
        conf[key] = conf.get(key, 0.0) + c
        if key not in first or op.member < first[key][0]:
            first[key] = (op.member, op.diagnosis)
    ranked = sorted(weight, key=lambda k: (-weight[k], -conf[k], first[k][0]))
    total = sum(weight.values()) or 1.0
    winner = ranked[0]
    differential: list[str] = []
    seen = {winner}
    for key in ranked[1:]:
        differential.append(first[key][1])
        seen.add(key)
    for op in sorted(opinions, key=lambda o: o.member):
        for d in op.differential:
            k = normalize_dx(d)
            if k and k not in seen:
                seen.add(k)
                differential.append(d)
    return VoteResult(diagnosis=first[winner][1], differential=differential[:10], share=weight[winner] / total,
                      tally={first[k][1]: round(weight[k], 4) for k in ranked})


def opinion_from_call(member: int, call: ToolCall | None) -> Opinion | None:
    """An opinion from a diagnose call (None for anything else or invalid arguments)."""
    if call is None or call.name != "diagnose":
        return None
    try:
        args = parse_tool_args("diagnose", call.arguments)
    except ToolArgumentError:
        return None
    assert isinstance(args, DiagnoseArgs)
    return Opinion(member=member, diagnosis=args.diagnosis, differential=list(args.differential),
                   confidence=args.confidence)


class Voter(Protocol):
    """A non-lead ensemble member."""

    async def start(self, view: DoctorView, seed: int) -> None:
        """Begin the case."""
        ...

    async def observe(self, message: Message, action: ToolCall | None) -> Usage:
        """See what the lead saw and which action it took."""
        ...

    def adopt(self, action: ToolCall) -> None:
        """The action of the current turn was replaced (e.g. a forced search)."""
        ...

    async def opinion(self, log: CaseLog, message: Message) -> tuple[Opinion | None, Usage]:
        """This member's final diagnosis (``message`` is the last incoming one, flagged final)."""
        ...


class LLMVoter:
    """One final ``diagnose`` call from the case log (see the module docstring)."""

    def __init__(self, member: int, cfg: LLMConfig, *, temperature: float, max_turns: int, chat: Any | None = None):
        self.member = member
        self.cfg = cfg.model_copy(update={"temperature": temperature})
        self.max_turns = max_turns
        self.system_extra = ""
        self._chat = chat

    async def start(self, view: DoctorView, seed: int) -> None:
        self.view = view
        self._model = self._chat if self._chat is not None else make_chat_model(self.cfg, seed=seed + self.member)

    async def observe(self, message: Message, action: ToolCall | None) -> Usage:
        return Usage()

    def adopt(self, action: ToolCall) -> None:
        return None

    async def opinion(self, log: CaseLog, message: Message) -> tuple[Opinion | None, Usage]:
        from langchain_core.messages import HumanMessage, SystemMessage

        from agentsim.agents.doctor import DOCTOR_SYSTEM

        system = DOCTOR_SYSTEM.format(objective=self.view.objective, demographics=self.view.demographics,
                                      search_hint="", max_turns=self.max_turns)
        system += "\n" + VOTER_NOTE + ("\n" + self.system_extra if self.system_extra else "")
        bound = self._model.bind_tools(tool_schemas(["diagnose"]))
        try:
            ai = await bound.ainvoke([SystemMessage(content=system),
                                      HumanMessage(content=f"Consultation so far:\n{log.render()}\n\n"
                                                           "Call diagnose now.")])
        except Exception as exc:  # noqa: BLE001 - classified for the benchmark statistics
            raise classify_error(exc, "doctor", self.cfg) from exc
        call = None
        for tc in getattr(ai, "tool_calls", None) or []:
            call = ToolCall(id=tc.get("id") or "vote", name=tc["name"], arguments=dict(tc.get("args") or {}))
            break
        return opinion_from_call(self.member, call), usage_of(ai, self.cfg)


class ReplayVoter:
    """A full doctor that follows the lead's consultation (see the module docstring)."""

    def __init__(self, member: int, factory: Callable[[], Participant]):
        self.member = member
        self.factory = factory
        self.diverged = 0

    async def start(self, view: DoctorView, seed: int) -> None:
        self.doctor = self.factory()
        if not can_adopt(self.doctor):
            raise TypeError(f"{type(self.doctor).__name__} cannot follow another doctor's actions (no adopt_action)")
        await self.doctor.start(view, seed + self.member)

    async def observe(self, message: Message, action: ToolCall | None) -> Usage:
        reply = await self.doctor.respond(message)
        proposed = first_call(reply)
        if action is not None and (proposed is None or proposed.name != action.name
                                   or proposed.arguments != action.arguments):
            self.diverged += 1
            self.doctor.adopt_action(action)  # type: ignore[attr-defined]
        return reply.usage

    def adopt(self, action: ToolCall) -> None:
        self.doctor.adopt_action(action)  # type: ignore[attr-defined]

    async def opinion(self, log: CaseLog, message: Message) -> tuple[Opinion | None, Usage]:
        final = message.model_copy(update={"metadata": {**message.metadata, "final": True}})
        reply = await self.doctor.respond(final)
        return opinion_from_call(self.member, first_call(reply)), reply.usage


class EnsembleDoctor:
    """The lead plus voters; answers with the vote (see the module docstring)."""

    role = "doctor"

    def __init__(self, lead: Participant, voters: list[Voter], *, method: str = "majority"):
        self.lead = lead
        self.voters = voters
        self.method = method
        self.log = CaseLog()

    @property
    def size(self) -> int:
        return 1 + len(self.voters)

    @property
    def label(self) -> str:
        return f"ensemble[{self.size},{self.method}]:{getattr(self.lead, 'label', type(self.lead).__name__)}"

    @property
    def system_extra(self) -> str | None:
        return getattr(self.lead, "system_extra", None)

    @system_extra.setter
    def system_extra(self, text: str) -> None:
        if hasattr(self.lead, "system_extra"):
            self.lead.system_extra = text
        for v in self.voters:
            if isinstance(v, LLMVoter):
                v.system_extra = text

    async def start(self, view: DoctorView, seed: int) -> None:
        self.log = CaseLog(view=view)
        await self.lead.start(view, seed)
        for v in self.voters:
            await v.start(view, seed)

    def add_past_cases(self, hits: list[Any], weight: float = 1.0) -> None:
        """Experience for every member that takes soft evidence (offline doctors; after ``start``)."""
        from agentsim.strategies.experience import give_past_cases

        give_past_cases(self.lead, hits, weight)
        for v in self.voters:
            if isinstance(v, ReplayVoter):
                give_past_cases(v.doctor, hits, weight)

    def adopt_action(self, call: ToolCall) -> None:
        """Replace this turn's action for the lead and every replaying voter."""
        if not can_adopt(self.lead):
            raise TypeError(f"{type(self.lead).__name__} cannot adopt actions")
        self.lead.adopt_action(call)  # type: ignore[attr-defined]
        self.log.acted(call)
        for v in self.voters:
            v.adopt(call)

    async def respond(self, message: Message) -> Reply:
        """The lead's action; on a diagnosis, the ensemble's vote instead."""
        self.log.received(message)
        reply = await self.lead.respond(message)
        action = first_call(reply)
        final = bool(message.metadata.get("final"))
        usages = [reply.usage]
        if action is None or (action.name != "diagnose" and not final):
            for v in self.voters:
                usages.append(await v.observe(message, action))
            self.log.acted(action)
            return reply.model_copy(update={"usage": sum_usage(usages)})
        opinions: list[Opinion] = []
        lead_op = opinion_from_call(0, action)
        if lead_op is not None:
            opinions.append(lead_op)
        final_msg = message.model_copy(update={"metadata": {**message.metadata, "final": True}})
        for v in self.voters:
            op, usage = await v.opinion(self.log, final_msg)
            usages.append(usage)
            if op is not None:
                opinions.append(op)
        result = vote(opinions, self.method)
        self.log.acted(action)
        if result is None:
            return reply.model_copy(update={"usage": sum_usage(usages)})
        lines = [f"member {o.member}: {o.diagnosis}" + (f" ({o.confidence:.2f})" if o.confidence is not None else "")
                 for o in opinions]
        reasoning = (reply.reasoning + "\n" if reply.reasoning else "") + \
            f"Ensemble vote ({self.method}): " + "; ".join(lines) + f" -> {result.diagnosis} ({result.share:.0%})"
        call = ToolCall(id=action.id, name="diagnose",
                        arguments={"diagnosis": result.diagnosis, "differential": result.differential,
                                   "confidence": round(min(1.0, max(0.0, result.share)), 4)})
        meta = {**reply.metadata, "ensemble": {
            "size": self.size, "vote": self.method, "winner": result.diagnosis, "share": round(result.share, 4),
            "votes": [o.model_dump() for o in opinions], "abstained": self.size - len(opinions),
            "diverged_turns": {str(v.member): v.diverged for v in self.voters if isinstance(v, ReplayVoter)}}}
        return Reply(content="", tool_calls=[call], reasoning=reasoning, usage=sum_usage(usages), metadata=meta)
