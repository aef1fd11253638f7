"""Panel: several role-prompted doctors discuss before each action; a chair takes one action.

The roles follow MAI-DxO's virtual panel: *hypothesis* keeps a probability-ranked differential,
*test_chooser* picks the most discriminating next questions/tests, *challenger* looks for
anchoring and contradicting evidence, *stewardship* guards cost, *checklist* checks test names,
consistency and readiness to diagnose.

:class:`PanelDoctor` (LLM) makes ``len(roles) x rounds`` discussion calls and one chair call per
action; the chair call has the tools bound and its tool call is the panel's action. The
discussion is the reply's ``reasoning`` (private, stored in the transcript); the ``Usage`` of all
calls is summed into the reply. Every member sees only the case log built from what the doctor
seat received (:class:`~agentsim.strategies.common.CaseLog`): no answer, no candidate list derived
from the case file.

:class:`OfflinePanelDoctor` plays the same roles with rules over offline doctors (see its docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentsim.llm import LLMConfig, classify_error, make_chat_model, usage_of
from agentsim.participants import Message, Reply, ToolCall, Usage
from agentsim.strategies.common import CaseLog, content_text, render_action, sum_usage
from agentsim.tools import tool_schemas
from agentsim.views import DoctorView

ROLE_TITLES = {
    "hypothesis": "Dr. Hypothesis",
    "test_chooser": "Dr. Test-Chooser",
    "challenger": "Dr. Challenger",
    "stewardship": "Dr. Stewardship",
    "checklist": "Dr. Checklist",
}

ROLE_BRIEFS = {
    "hypothesis": "Keep the panel's differential: the three most likely diagnoses with probabilities that sum to at "
                  "most 100%, updated with every new finding. Say what changed since the last turn and why.",
    "test_chooser": "Name up to three questions or tests that would best separate the leading diagnoses, with what "
                    "each result would mean, and say which one to do next.",
    "challenger": "Be the devil's advocate: look for anchoring on the favourite, findings that do not fit it, and a "
                  "dangerous alternative nobody has excluded. Propose the action that could prove the favourite "
                  "wrong.",
    "stewardship": "Guard cost: prefer questions and cheap tests when they answer the same question, object to tests "
                   "that would not change the decision, and weigh the remaining turns and budget.",
    "checklist": "Do quality control: are proposed tests specific, orderable names? Is the reasoning consistent "
                 "with the log? Is the evidence enough to diagnose now? End with 'ready to diagnose' or 'not ready' "
                 "and the reason.",
}

MEMBER_SYSTEM = """You are {title}, one of a panel of physicians jointly managing one patient. {objective}
The panel acts through a single doctor; the patient does not hear the panel. Use only the case log: never
invent findings. Reply in at most 120 words.
Your role: {brief}{extra}"""

CHAIR_SYSTEM = """You chair a panel of physicians jointly managing one patient. {objective}
Read the case log and the panel's discussion, weigh the arguments, and take the panel's consensus decision:
exactly one tool call (one question to the patient, one test or examination, a memory search, or the final
diagnosis with a ranked differential when the panel is confident). At most {turns_left} actions remain.{extra}"""

FINAL_NOTE = "The turn limit is reached: the panel must commit now. Call diagnose."


def _status(message: Message) -> str:
    bits = []
    if message.metadata.get("turns_left") is not None:
        bits.append(f"actions left: {message.metadata['turns_left']}")
    if message.metadata.get("budget_left_usd") is not None:
        bits.append(f"test budget left: ${float(message.metadata['budget_left_usd']):.0f}")
    return ("(" + ", ".join(bits) + ")") if bits else ""


class PanelDoctor:
    """LLM panel over any OpenAI-compatible chat model (see the module docstring)."""

    role = "doctor"

    def __init__(self, cfg: LLMConfig, *, roles: list[str] | None = None, rounds: int = 1, max_turns: int = 20,
                 system_extra: str = "", chat: Any | None = None):
        self.cfg = cfg
        self.roles = list(roles or ROLE_TITLES)
        self.rounds = rounds
        self.max_turns = max_turns
        self.system_extra = system_extra
        self._chat = chat
        self.label = f"panel[{len(self.roles)}x{rounds}]:{cfg.label}"
        self.log = CaseLog()
        self.tools: list[str] = []

    @property
    def calls_per_action(self) -> int:
        """Model calls the panel makes for one action."""
        return len(self.roles) * self.rounds + 1

    async def start(self, view: DoctorView, seed: int) -> None:
        """Reset the log for a new case."""
        self.view = view
        self.seed = seed
        self.log = CaseLog(view=view)
        self.tools = []
        self._model = self._chat if self._chat is not None else make_chat_model(self.cfg, seed=seed)

    def adopt_action(self, call: ToolCall) -> None:
        """Record an action taken on the panel's behalf (e.g. a forced memory search)."""
        self.log.acted(call)

    def _extra(self) -> str:
        return ("\n" + self.system_extra) if self.system_extra else ""

    async def _ask(self, messages: list[Any], bound: Any | None = None) -> tuple[Any, Usage]:
        try:
            ai = await (bound or self._model).ainvoke(messages)
        except Exception as exc:  # noqa: BLE001 - classified for the benchmark statistics
            raise classify_error(exc, "doctor", self.cfg) from exc
        return ai, usage_of(ai, self.cfg)

    async def respond(self, message: Message) -> Reply:
        """Discuss, then let the chair take one action."""
        from langchain_core.messages import HumanMessage, SystemMessage

        if message.metadata.get("opening"):
            self.tools = list(message.metadata.get("tools") or [])
        self.log.received(message)
        final = bool(message.metadata.get("final")) or message.role == "system"
        log_text = self.log.render()
        status = _status(message)
        usages: list[Usage] = []
        discussion: list[str] = []
        for rnd in range(self.rounds):
            for role in self.roles:
                title = ROLE_TITLES[role]
                system = MEMBER_SYSTEM.format(title=title, objective=self.view.objective, brief=ROLE_BRIEFS[role],
                                              extra=self._extra())
                said = "\n".join(discussion) if discussion else "(nobody has spoken yet)"
                prompt = (f"Case log {status}:\n{log_text}\n\nPanel discussion so far:\n{said}\n\n"
                          f"Round {rnd + 1} of {self.rounds}. {title}, your contribution:")
                if final:
                    prompt += f"\n{FINAL_NOTE}"
                ai, usage = await self._ask([SystemMessage(content=system), HumanMessage(content=prompt)])
                usages.append(usage)
                discussion.append(f"{title}: {content_text(ai).strip() or '(no comment)'}")
        tools = ["diagnose"] if final else (self.tools or ["ask_patient", "order_test", "diagnose"])
        bound = self._model.bind_tools(tool_schemas(tools))
        turns_left = message.metadata.get("turns_left", self.max_turns)
        chair_sys = CHAIR_SYSTEM.format(objective=self.view.objective, turns_left=turns_left, extra=self._extra())
        chair_prompt = f"Case log {status}:\n{log_text}\n\nPanel discussion:\n" + "\n".join(discussion)
        chair_prompt += f"\n\n{FINAL_NOTE}" if final else "\n\nTake the panel's decision now: one tool call."
        ai, usage = await self._ask([SystemMessage(content=chair_sys), HumanMessage(content=chair_prompt)], bound)
        usages.append(usage)
        call = None
        for tc in getattr(ai, "tool_calls", None) or []:
            call = ToolCall(id=tc.get("id") or f"panel_{len(self.log.entries)}", name=tc["name"],
                            arguments=dict(tc.get("args") or {}))
            break
        if call is None:
            for tc in getattr(ai, "invalid_tool_calls", None) or []:
                call = ToolCall(id=tc.get("id") or "panel_invalid", name=tc.get("name") or "invalid",
                                arguments={"_unparsed_arguments": str(tc.get("args"))[:500]})
                break
        chair_text = content_text(ai).strip()
        reasoning = "\n".join(discussion)
        if chair_text:
            reasoning += f"\nChair: {chair_text}"
        # No tool call: the engine reports an empty action back and the panel tries again.
        self.log.acted(call)
        meta = {"panel": {"roles": self.roles, "rounds": self.rounds, "calls": len(usages)}}
        # The chair's free text is the panel's deliberation, never a question to the patient.
        return Reply(content="", tool_calls=[call] if call else [], reasoning=reasoning, usage=sum_usage(usages),
                     metadata=meta)



# --- offline panel ---------------------------------------------------------------------------

#: Roles played by a doctor of their own; ``checklist`` is a rule set over the others' proposals.
PROPOSING_ROLES = ("hypothesis", "test_chooser", "challenger", "stewardship")
#: The challenger objects to a diagnosis while the leading hypothesis is below this probability.
CHALLENGE_BELOW = 0.6

MemberFactory = Callable[[str], Any]


class OfflinePanelDoctor:
    """The panel with rule-based roles over offline doctors (no model calls).

    Each proposing role is an offline doctor of its own, built by ``member_factory(role)`` (the
    factory may configure it for the role, e.g. a test-chooser that stops later); all members see
    every message and adopt the action taken, so their beliefs follow the same evidence. Per
    action and round, the roles vote:

    * *hypothesis*, *test_chooser*: for their own proposal;
    * *challenger*: against a diagnosis while the hypothesis doctor's leading probability is below
      :data:`CHALLENGE_BELOW` and turns remain (for the best non-diagnostic proposal), else its own;
    * *stewardship*: for stopping when the leader is a confident diagnosis, otherwise for the
      cheapest way on (questions and searches cost nothing, tests their catalogue price);
    * *checklist*: removes invalid proposals first (a test the catalogue does not know when a known
      one is proposed, a repeated test or question) and then votes with the hypothesis.

    The plurality wins (ties: the hypothesis doctor's proposal). Further rounds re-run the votes
    with the previous winner as the leader. On the final turn only diagnoses are proposed and the
    vote is over diagnoses.
    """

    role = "doctor"

    def __init__(self, member_factory: MemberFactory, *, roles: list[str] | None = None, rounds: int = 1):
        self.member_factory = member_factory
        self.roles = list(roles or ROLE_TITLES)
        self.rounds = rounds
        self.proposers = [r for r in PROPOSING_ROLES if r in self.roles] or ["hypothesis"]
        self.members: dict[str, Any] = {}
        self.label = f"panel[{len(self.roles)}x{rounds}]:offline"
        self.system_extra = None

    async def start(self, view: DoctorView, seed: int) -> None:
        from agentsim.strategies.common import can_adopt

        self.log = CaseLog(view=view)
        self.done_tests: set[str] = set()
        self.asked: set[str] = set()
        self.members = {}
        for i, role in enumerate(self.proposers):
            doc = self.member_factory(role)
            if len(self.proposers) > 1 and not can_adopt(doc):
                raise TypeError(f"{type(doc).__name__} cannot adopt actions; an offline panel needs it")
            await doc.start(view, seed + i)
            self.members[role] = doc

    def add_past_cases(self, hits: list[Any], weight: float = 1.0) -> None:
        """Experience for every member (after ``start``)."""
        from agentsim.strategies.experience import give_past_cases

        for doc in self.members.values():
            give_past_cases(doc, hits, weight)

    def adopt_action(self, call: ToolCall) -> None:
        """Record an action taken on the panel's behalf for every member."""
        self.log.acted(call)
        for doc in self.members.values():
            doc.adopt_action(call)
        self._note_done(call)

    def _note_done(self, call: ToolCall | None) -> None:
        from agentsim.strategies.common import action_key

        if call is None:
            return
        if call.name == "order_test":
            self.done_tests.add(action_key(call))
        elif call.name == "ask_patient":
            self.asked.add(action_key(call))

    @staticmethod
    def _price(call: ToolCall) -> float:
        if call.name != "order_test":
            return 0.0
        from agentsim.catalog import default_catalog

        try:
            return float(default_catalog().price(str(call.arguments.get("test", ""))))
        except Exception:  # noqa: BLE001 - an unpriced test counts as expensive
            return 1e6

    def _valid(self, call: ToolCall, final: bool) -> str:
        """'' when the checklist accepts ``call``, else the reason it does not."""
        from agentsim.strategies.common import action_key

        if final and call.name != "diagnose":
            return "the turn limit requires a diagnosis"
        if call.name == "diagnose" and not str(call.arguments.get("diagnosis", "")).strip():
            return "empty diagnosis"
        if call.name == "order_test":
            if action_key(call) in self.done_tests:
                return "test already done"
            from agentsim.catalog import default_catalog

            try:
                known = default_catalog().lookup(str(call.arguments.get("test", ""))) is not None
            except Exception:  # noqa: BLE001 - without a catalogue every name is accepted
                known = True
            if not known:
                return "test name not in the catalogue"
        if call.name == "ask_patient" and action_key(call) in self.asked:
            return "question already asked"
        return ""

    async def respond(self, message: Message) -> Reply:
        """Every member proposes; the roles vote; every member adopts the winner."""
        from agentsim.biases import differential_of
        from agentsim.strategies.common import action_key, first_call

        self.log.received(message)
        final = bool(message.metadata.get("final"))
        turns_left = int(message.metadata.get("turns_left", 99) or 0)
        replies: dict[str, Reply] = {}
        for role, doc in self.members.items():
            replies[role] = await doc.respond(message)
        proposals = {role: first_call(r) for role, r in replies.items()}
        hyp_reply = replies.get("hypothesis") or next(iter(replies.values()))
        diff = differential_of(hyp_reply)
        top_p = diff[0][1] if diff else 1.0
        notes: list[str] = []
        rejected = {}
        for role, call in proposals.items():
            why = "missing action" if call is None else self._valid(call, final)
            if why:
                rejected[role] = why
        candidates = {role: c for role, c in proposals.items() if c is not None and role not in rejected}
        if not candidates:
            # Nothing passes the checklist: fall back to the hypothesis doctor's own proposal.
            candidates = {role: c for role, c in proposals.items() if c is not None}
        if "checklist" in self.roles and rejected:
            notes.append("Dr. Checklist: rejected " + "; ".join(f"{ROLE_TITLES[r]}'s proposal ({w})"
                                                                 for r, w in rejected.items()))
        keys = {role: action_key(c) for role, c in candidates.items()}
        by_key = {}
        for role in self.proposers:
            if role in candidates:
                by_key.setdefault(keys[role], candidates[role])
        hyp_key = keys.get("hypothesis") or next(iter(keys.values()))
        leader = hyp_key
        tally: dict[str, int] = {}
        for rnd in range(self.rounds):
            tally = {}
            for role in self.roles:
                choice = self._vote(role, keys, by_key, leader, hyp_key, top_p, turns_left, final)
                if choice:
                    tally[choice] = tally.get(choice, 0) + 1
            order = list(by_key)
            leader = max(tally, key=lambda k: (tally[k], k == hyp_key, -order.index(k))) if tally else hyp_key
            notes.append(f"Round {rnd + 1}: " + ", ".join(f"{render_action(by_key[k])} ({n})"
                                                          for k, n in sorted(tally.items(), key=lambda t: -t[1])))
        action = by_key[leader]
        if diff:
            notes.insert(0, "Dr. Hypothesis: " + ", ".join(f"{d} {p:.0%}" for d, p in diff[:3]))
        for role, doc in self.members.items():
            if proposals.get(role) is None or action_key(proposals[role]) != leader:
                doc.adopt_action(action)
        self.log.acted(action)
        self._note_done(action)
        usage = sum_usage(r.usage for r in replies.values())
        meta: dict[str, Any] = {"panel": {"roles": self.roles, "rounds": self.rounds, "calls": 0,
                                          "members": len(self.members),
                                          "proposals": {r: (render_action(c) if c else None)
                                                        for r, c in proposals.items()},
                                          "votes": tally}}
        if "differential" in hyp_reply.metadata:
            meta["differential"] = hyp_reply.metadata["differential"]
        return Reply(content="", tool_calls=[action], reasoning="\n".join(notes), usage=usage, metadata=meta)

    def _vote(self, role: str, keys: dict[str, str], by_key: dict[str, ToolCall], leader: str, hyp_key: str,
              top_p: float, turns_left: int, final: bool) -> str | None:
        if role in ("hypothesis", "test_chooser"):
            return keys.get(role, hyp_key)
        if role == "checklist":
            return hyp_key
        if role == "challenger":
            lead_call = by_key[leader]
            if not final and lead_call.name == "diagnose" and top_p < CHALLENGE_BELOW and turns_left > 1:
                others = [k for k, c in by_key.items() if c.name != "diagnose"]
                if others:
                    return keys.get("challenger") if keys.get("challenger") in others else others[0]
            return keys.get("challenger", leader)
        if role == "stewardship":
            # Stopping is the cheapest step once the leader is confident; otherwise the cheapest way on.
            lead_call = by_key[leader]
            onward = [(k, c) for k, c in by_key.items() if c.name != "diagnose"]
            if not onward or final or (lead_call.name == "diagnose" and top_p >= CHALLENGE_BELOW):
                return leader
            return min(onward, key=lambda kc: (self._price(kc[1]), kc[0] != leader))[0]
        return None
