"""The offline doctor: a knowledge-base reasoner that takes a history, examines, tests and diagnoses.

No language model is involved. The doctor keeps a :class:`~agentsim.offline.reasoner.Differential`
and updates it from every message it receives (the opening complaint, the visit objective, each
answer, each examination or test result, retrieved similar cases). Each turn it picks one action:

1. **History** (open questions): the story, other symptoms, past history and medicines, social
   history, family history; questions that cost a turn each and nothing else (all questions
   form one visit).
2. **Targeted questions**: yes/no questions about knowledge-base findings, chosen by *expected
   information gain* (mutual information between the answer and the diagnosis under the current
   differential), while a question still gains at least ``min_question_gain`` bits.
3. **Physical examination** (free in the catalogue): one general examination.
4. **Memory**: when ``search_similar_cases`` is offered, one search with the findings so far (and
   one per case image); diagnoses of similar past cases and labels of similar images become
   soft evidence.
5. **Tests**: the knowledge-base test with the highest information gain per unit cost, where a
   test costs one turn plus its catalogue price in units of ``usd_per_turn``; results are grouped
   into outcomes (normal, or each distinct characteristic result) to compute the gain.
6. **Diagnose** when the top diagnosis reaches ``confidence_stop`` (after ordering its
   confirming knowledge-base test, if one is affordable and not yet done), when no action is worth its
   cost, or when turns or budget run out: the top knowledge-base disease name, the next ones as
   the differential, and the top probability as confidence.

The doctor sees only what an LLM doctor sees: its :class:`~agentsim.views.DoctorView` and the
messages of the episode. It is deterministic: the same case and seed give the same actions.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agentsim.catalog import TestCatalog
from agentsim.offline.findings import content_tokens, normalize_text
from agentsim.offline.reasoner import Differential, KBIndex, RankedDiagnosis, ReasonerConfig, kb_index
from agentsim.participants import Message, Reply, ToolCall, Usage
from agentsim.tools import CaseHit
from agentsim.views import DoctorView

DEFAULT_OBJECTIVE = "Take a history, order the examinations and tests you need, and diagnose."

#: Open history questions, in order (the patient answers each topic it recognises).
OPEN_QUESTIONS: tuple[str, ...] = (
    "Can you tell me more about your symptoms and how they started?",
    "Have you noticed any other symptoms?",
    "Do you have any medical conditions or past illnesses, and do you take any medications?",
    "What about your lifestyle and habits: do you smoke, drink alcohol or use recreational drugs, what work do "
    "you do, and have you travelled recently?",
    "Has anyone in your family had any illnesses?",
)
GENERAL_EXAM = "physical examination"
_IMPERATIVE = re.compile(
    r"^(?:please\s+)?(?:(?:perform|evaluate|assess|examine|diagnose|identify|determine|manage|take|order|"
    r"investigate|work up|treat|conduct|and|the|a|an|patient|clinical|evaluation|assessment|of)\s+)+", re.I)
_YES = re.compile(r"^\W*(yes|yeah|yep|correct|that's right|sometimes|a little|i do|i did)\b(?!\s*not\b)", re.I)
# "I have ..." agrees only when it names what was asked; "I have no known medical problems" or an
# unrelated past illness is not a yes to the question's finding.
_I_HAVE = re.compile(r"^\W*(i have|i've had|i've|i had)\b(?!\s+(?:no|not|never)\b)", re.I)
_NO = re.compile(r"^\W*(no|nope|not|never|nothing|none|i don't|i do not|i didn't|i did not|i haven't|i have not|"
                 r"i have no|i've never|i have never|i've not|i'm not sure|not sure|i don't know|i am not sure)\b",
                 re.I)
#: a risk factor that names what the patient is ("heavy smoker", "farmer")
_PERSON = re.compile(r"\b(?:smoker|drinker|user|worker|athlete|vegetarian|vegan|travell?er|runner|farmer|hunter|miner|"
                     r"owner|handler)$")
_IMAGE_LINE = re.compile(r"^\[image [^\]]*\]$")


class OfflineDoctorConfig(BaseModel):
    """Policy settings of the offline doctor."""

    model_config = ConfigDict(frozen=True)

    open_questions: tuple[str, ...] = OPEN_QUESTIONS
    max_targeted_questions: int = Field(default=6, ge=0)
    min_question_gain: float = Field(default=0.03, ge=0, description="bits a targeted question must gain")
    max_tests: int = Field(default=8, ge=0)
    min_test_value: float = Field(default=0.01, ge=0, description="bits per cost unit a test must gain")
    usd_per_turn: float = Field(default=200.0, gt=0, description="price that counts as much as one turn")
    confidence_stop: float = Field(
        default=0.97, gt=0, le=1,
        description="top probability at which the doctor confirms and diagnoses (the differential is sharp: "
                    "at 0.9 it stopped on wrong first impressions)")
    candidate_diseases: int = Field(default=25, ge=2, description="diseases considered when choosing actions")
    differential_size: int = Field(default=5, ge=1)
    max_searches: int = Field(default=2, ge=0)
    unknown_answer_weight: float = Field(default=0.5, ge=0, le=1,
                                         description="weight of 'not that I noticed' as a denial")
    objective_weight: float = Field(default=0.8, ge=0, le=1)


class _TestOption(BaseModel):
    key: str
    name: str
    price: float
    gain: float
    value: float


class OfflineDoctor:
    """Knowledge-base doctor (implements :class:`agentsim.participants.Participant`)."""

    role = "doctor"
    label = "offline"

    def __init__(self, index: KBIndex | None = None, config: OfflineDoctorConfig | None = None,
                 reasoner: ReasonerConfig | None = None, catalog: TestCatalog | None = None):
        self._index = index
        self.config = config or OfflineDoctorConfig()
        self.reasoner_config = reasoner or ReasonerConfig()
        self._catalog = catalog
        self.view: DoctorView | None = None
        self.seed = 0
        self._reset()

    # --- lifecycle ------------------------------------------------------------------------------

    def _reset(self) -> None:
        self.diff: Differential | None = None
        self.tools: list[str] = []
        self.turns_left: int | None = None
        self.budget_left: float | None = None
        self._open_i = 0
        self._targeted = 0
        self._asked: set[str] = set()
        self._asked_findings: set[int] = set()
        self._pending: dict[str, Any] = {}
        self._exam_done = False
        self._tests_ordered: list[str] = []
        self._searches = 0
        self._searched_images: set[str] = set()
        self._images: list[str] = []
        self._phase = "history"
        self._snapshot: dict[str, Any] | None = None
        self._proposal: ToolCall | None = None
        self.log: list[str] = []

    @property
    def index(self) -> KBIndex:
        if self._index is None:
            self._index = kb_index(catalog=self.catalog)
        return self._index

    @property
    def catalog(self) -> TestCatalog | None:
        if self._catalog is None:
            from agentsim.catalog import default_catalog
            from agentsim.errors import ConfigError

            try:
                self._catalog = default_catalog()
            except ConfigError:
                return None
        return self._catalog

    async def start(self, view: DoctorView, seed: int) -> None:
        """Begin an episode: a fresh differential from the patient's age and sex."""
        self._reset()
        self.view = view
        self.seed = seed
        self.diff = Differential(self.index, self.reasoner_config, age=view.age_years, sex=view.sex)
        self.diff.observe_demographics(view.age_years, view.sex)
        self.diff.observe_text(view.demographics, source="demographics")
        objective = view.objective.strip()
        if objective and objective != DEFAULT_OBJECTIVE:
            self.diff.observe_text(_IMPERATIVE.sub("", objective), source="objective",
                                   weight=self.config.objective_weight)
        self._images = [im.id for im in view.images]

    async def respond(self, message: Message) -> Reply:
        """Read one message, then take one action."""
        if self.diff is None or self.view is None:
            raise RuntimeError("doctor used before start()")
        t0 = time.perf_counter()
        self._read(message)
        self._snapshot = self._policy_state()
        call = self._decide(message)
        self._proposal = call
        top = self.diff.ranked(self.config.differential_size)
        reasoning = "Differential: " + "; ".join(f"{r.name} {r.probability:.2f}" for r in top)
        if self.log:
            reasoning += ". " + self.log[-1]
        return Reply(tool_calls=[call], reasoning=reasoning, usage=Usage(),
                     metadata={"differential": [r.model_dump() for r in top],
                               "elapsed_ms": (time.perf_counter() - t0) * 1000})

    # --- strategies: adopted actions and past cases --------------------------------------------

    def _policy_state(self) -> dict[str, Any]:
        return {"open_i": self._open_i, "targeted": self._targeted, "asked": set(self._asked),
                "asked_findings": set(self._asked_findings), "exam_done": self._exam_done,
                "tests_ordered": list(self._tests_ordered), "searches": self._searches,
                "searched_images": set(self._searched_images), "phase": self._phase}

    def adopt_action(self, call: ToolCall) -> None:
        """Record ``call`` as this turn's action in place of this doctor's own proposal.

        Used by multi-doctor strategies (panel, ensemble, forced memory search): the next message
        is then read as the result of ``call``.
        """
        proposal = self._proposal
        if proposal is not None and proposal.name == call.name and proposal.arguments == call.arguments:
            return
        if self._snapshot is not None:
            s = self._snapshot
            self._open_i, self._targeted = s["open_i"], s["targeted"]
            self._asked, self._asked_findings = set(s["asked"]), set(s["asked_findings"])
            self._exam_done, self._tests_ordered = s["exam_done"], list(s["tests_ordered"])
            self._searches, self._searched_images, self._phase = s["searches"], set(s["searched_images"]), s["phase"]
        self._proposal = call
        args = call.arguments or {}
        if call.name == "ask_patient":
            question = str(args.get("question", ""))
            self._asked.add(question)
            if question in self.config.open_questions:
                self._open_i = max(self._open_i, self.config.open_questions.index(question) + 1)
            self._pending = {"kind": "targeted", "target": question_target(question)}
        elif call.name == "order_test":
            name = str(args.get("test", ""))
            if normalize_text(name).strip() in ("physical examination", "physical exam", "examination"):
                self._exam_done = True
                self._pending = {"kind": "test", "exam": True, "name": name}
            else:
                key = self.index.test_key(name)
                self._tests_ordered.append(key)
                self._pending = {"kind": "test", "key": key, "name": name}
        elif call.name == "search_similar_cases":
            self._searches += 1
            if args.get("image_id"):
                self._searched_images.add(str(args["image_id"]))
            self._pending = {"kind": "search"}
        else:
            self._pending = {}

    def add_past_cases(self, hits: list[CaseHit], weight: float = 1.0) -> None:
        """Fold the diagnoses of similar past episodes in as soft evidence (after :meth:`start`)."""
        if self.diff is None:
            raise RuntimeError("add_past_cases() before start()")
        result = {"cases": [h.model_dump() if isinstance(h, CaseHit) else dict(h) for h in hits]}
        self._read_retrieval(result, weight=weight)

    # --- reading --------------------------------------------------------------------------------

    def _read(self, msg: Message) -> None:
        assert self.diff is not None
        meta = msg.metadata or {}
        if "turns_left" in meta and meta["turns_left"] is not None:
            self.turns_left = int(meta["turns_left"])
        if "budget_left_usd" in meta:
            self.budget_left = meta["budget_left_usd"]
        if meta.get("opening"):
            self.tools = list(meta.get("tools", []))
            self.diff.observe_text(msg.content, source="opening")
            return
        pending, self._pending = self._pending, {}
        if meta.get("budget_exceeded"):
            self.budget_left = 0.0  # the refusal is not a result; order nothing more
            return
        if meta.get("error") or msg.role == "system":
            return
        kind = pending.get("kind")
        if msg.role == "patient" or kind in ("open", "targeted"):
            self._read_answer(msg.content, pending)
        elif msg.role == "measurement" or kind == "test":
            self._read_result(msg, pending)
        elif msg.role == "tool" and meta.get("tool") == "search_similar_cases":
            self._read_retrieval(meta.get("result") or {})
        for image_id in meta.get("image_ids", []) or []:
            if image_id not in self._images:
                self._images.append(image_id)

    def _read_answer(self, text: str, pending: dict[str, Any]) -> None:
        assert self.diff is not None
        self.diff.observe_text(text, source="answer")
        target = pending.get("target")
        if target is None:
            return
        present, restated = answer_polarity(text, target)
        if present is False:
            # "No, I haven't had chest pain" denies it outright; "not that I've noticed" only weakly.
            weight = 1.0 if restated else self.config.unknown_answer_weight
            self.diff.observe_finding(target, present=False, weight=weight)
        elif present:
            # "Yes. I have intermittent flank pain" to "sudden flank pain and shock?" confirms in other words:
            # the answer's own words (read above) carry the rest.
            said = re.sub(r"^\W*\w+\W*", "", text).strip()  # the words after "Yes."
            partial = bool(content_tokens(normalize_text(said))) and not restated
            self.diff.observe_finding(target, present=True, weight=0.5 if partial else 1.0)

    def _read_result(self, msg: Message, pending: dict[str, Any]) -> None:
        assert self.diff is not None
        lines = [ln for ln in msg.content.splitlines() if ln.strip() and not _IMAGE_LINE.match(ln.strip())]
        text = "\n".join(lines)
        name = pending.get("name") or (msg.metadata or {}).get("test", "")
        if pending.get("exam"):
            for ln in lines:
                self.diff.observe_text(ln, source="exam")
            return
        keys = [pending["key"]] if pending.get("key") else None
        if keys is not None:
            # A report answers every test it names: "ESR and CRP: ..." to an order for CRP also reports the
            # ESR, and "Rheumatoid factor: Negative / Anti-CCP: Negative" both antibodies. The measurement
            # agent lists the names; a line's own headings ("Protein: 80 mg/dL" in a CSF report) are no tests.
            for title in (msg.metadata or {}).get("reported", []):
                # a title without separators is its own only part: look it up once
                for part in dict.fromkeys(p for p in [title, *_REPORT_PARTS.split(title)] if p.strip()):
                    keys += [k for k in self.index.keys_for_test_name(part) if k not in keys]
        self.diff.observe_test(name, text, keys=keys)

    def _read_retrieval(self, result: dict[str, Any], weight: float = 1.0) -> None:
        assert self.diff is not None
        votes: dict[int, float] = {}
        total = 0.0
        for hit in result.get("images", []) or []:
            label = hit.get("label") or ""
            score = max(float(hit.get("score", 0.0)), 0.0)
            total += score
            d = self.index.disease_for_label(label) if label else None
            if d is not None:
                votes[d] = votes.get(d, 0.0) + score
        for hit in result.get("cases", []) or []:
            label = hit.get("correct_diagnosis") or (hit.get("final_diagnosis") if hit.get("correct") else "")
            score = max(float(hit.get("score", 0.0)), 0.0)
            total += score
            d = self.index.disease_for_label(label) if label else None
            if d is not None:
                votes[d] = votes.get(d, 0.0) + score
        if total <= 0:
            return
        for d, v in votes.items():
            self.diff.observe_hint(d, weight * v / total)
        if votes:
            best = max(votes, key=lambda k: votes[k])
            self.log.append(f"Memory suggests {self.index.diseases[best].name} ({votes[best] / total:.2f} of hits)")

    # --- deciding -------------------------------------------------------------------------------

    def _decide(self, msg: Message) -> ToolCall:
        assert self.diff is not None
        cfg = self.config
        final = bool((msg.metadata or {}).get("final"))
        turns = self.turns_left if self.turns_left is not None else 20
        if final or turns <= 1:
            return self._diagnose("turn limit")
        post = self.diff.posterior()
        confident = float(post.max()) >= cfg.confidence_stop
        if self._phase == "history":
            # Keep a turn for the examination, one for a test and one to diagnose. The history is
            # taken even when the opening complaint already looks conclusive: a confident first
            # impression from one sentence is exactly what the history is there to test.
            if self._open_i < len(cfg.open_questions) and turns > 4:
                q = cfg.open_questions[self._open_i]
                self._open_i += 1
                return self._ask(q, kind="open")
            self._phase = "targeted"
        if self._phase == "targeted":
            if self._targeted < cfg.max_targeted_questions and turns > 3 and not confident:
                best = self._best_question(post)
                if best is not None:
                    j, gain = best
                    self._targeted += 1
                    self._asked_findings.add(j)
                    target = self.index.matcher.finding_text[j]
                    self.log.append(f"Asking about '{target}' (expected gain {gain:.2f} bits)")
                    return self._ask(_question_for(target, self.index.matcher.finding_kind[j]), kind="targeted",
                                     target=target)
            self._phase = "exam"
        if self._phase == "exam":
            self._phase = "search"
            if not self._exam_done:
                self._exam_done = True
                self._pending = {"kind": "test", "exam": True, "name": GENERAL_EXAM}
                self.log.append("Examining the patient")
                return ToolCall(id=self._call_id(), name="order_test", arguments={"test": GENERAL_EXAM})
        if self._phase == "search":
            call = self._search()
            if call is not None:
                return call
            self._phase = "tests"
        if self._phase == "tests":
            room = len(self._tests_ordered) < cfg.max_tests
            if confident:
                # Confidence from history and examination alone is what a confirmatory test is for:
                # order the leading disease's own confirming test before committing to it.
                option = self._confirming_test(int(np.argmax(post))) if room else None
                if option is None:
                    return self._diagnose(f"confident ({float(post.max()):.2f})")
                return self._order(option, f"to confirm, ${option.price:.0f}")
            if room:
                option = self._best_test(post)
                if option is not None:
                    return self._order(option, f"gain {option.gain:.2f} bits, ${option.price:.0f}")
        return self._diagnose("no test worth its cost")

    def _order(self, option: _TestOption, why: str) -> ToolCall:
        self._tests_ordered.append(option.key)
        self._pending = {"kind": "test", "key": option.key, "name": option.name}
        self.log.append(f"Ordering {option.name} ({why})")
        return ToolCall(id=self._call_id(), name="order_test", arguments={"test": option.name})

    def _known(self, key: str) -> bool:
        """True when a test was ordered, or its result came with another's report."""
        return key in self._tests_ordered or (self.diff is not None and key in self.diff.tests_done)

    def _orderable(self, key: str, kb_name: str) -> tuple[str, float] | None:
        """(name to order, price) of a KB test key, or None when it is pointless or unaffordable."""
        entry = self.catalog.get(key) if self.catalog is not None else None
        if entry is not None and entry.category in ("exam", "vitals") and self._exam_done:
            return None  # the general examination already showed every examination finding
        name = entry.name if entry is not None else kb_name
        price = self.index.price(name)
        if self.budget_left is not None and price > self.budget_left:
            return None
        return name, price

    def _confirming_test(self, disease: int) -> _TestOption | None:
        """The not yet ordered, affordable KB test that confirms ``disease`` (most specific, then cheapest)."""
        best: tuple[float, float] | None = None
        choice: _TestOption | None = None
        for t in self.index.tests:
            if t.disease != disease or not t.confirms or self._known(t.key):
                continue
            orderable = self._orderable(t.key, t.name)
            if orderable is None:
                continue
            name, price = orderable
            rank = (-t.specificity, price)
            if best is None or rank < best:
                best = rank
                choice = _TestOption(key=t.key, name=name, price=price, gain=0.0, value=0.0)
        return choice

    def _call_id(self) -> str:
        n = len(self._asked) + len(self._tests_ordered) + self._searches + int(self._exam_done)
        return f"offline_{self.seed}_{n}"

    def _ask(self, question: str, kind: str, target: str | None = None) -> ToolCall:
        self._asked.add(question)
        self._pending = {"kind": kind, "target": target}
        return ToolCall(id=self._call_id(), name="ask_patient", arguments={"question": question})

    def _diagnose(self, why: str) -> ToolCall:
        assert self.diff is not None
        top = self.diff.ranked(self.config.differential_size)
        self.log.append(f"Diagnosing ({why})")
        return ToolCall(id=self._call_id(), name="diagnose",
                        arguments={"diagnosis": top[0].name, "differential": [r.name for r in top[1:]],
                                   "confidence": round(float(top[0].probability), 4)})

    def _search(self) -> ToolCall | None:
        assert self.diff is not None
        if "search_similar_cases" not in self.tools or self._searches >= self.config.max_searches:
            return None
        image = next((i for i in self._images if i not in self._searched_images), "")
        if self._searches > 0 and not image:
            return None
        if image:
            self._searched_images.add(image)
        self._searches += 1
        positives = [c.text for c in self.diff.clauses if not c.negated and len(c.text.split()) <= 8]
        query = "; ".join(dict.fromkeys(positives))[:600]
        self._pending = {"kind": "search"}
        return ToolCall(id=self._call_id(), name="search_similar_cases",
                        arguments={"query_text": query, "image_id": image})

    # --- choosing by information gain -----------------------------------------------------------

    def _candidates(self, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Indices of the top diseases, their renormalised probabilities and the remaining mass."""
        k = min(self.config.candidate_diseases, len(post))
        top = np.argsort(-post, kind="stable")[:k]
        return top, post[top], float(max(0.0, 1.0 - post[top].sum()))

    def _best_question(self, post: np.ndarray) -> tuple[int, float] | None:
        assert self.diff is not None
        idx = self.index
        m = idx.matcher
        top, p_top, rest = self._candidates(post)
        in_top = np.isin(m.finding_disease, top)
        known = np.maximum(self.diff.pos, self.diff.neg) >= 0.5
        cand = np.flatnonzero(in_top & idx.askable & ~known)
        asked = {int(m.primary_phrase[j]) for j in self._asked_findings}
        cand = np.array([j for j in cand if int(m.primary_phrase[j]) not in asked], dtype=np.int64)
        if cand.size == 0:
            return None
        # one question per wording
        _, first = np.unique(m.primary_phrase[cand], return_index=True)
        cand = cand[np.sort(first)]
        y_top = np.clip(idx.q[np.ix_(cand, top)], 0.02, 0.98)
        y_rest = np.clip(self.diff.base[cand], 0.02, 0.98)
        probs = np.concatenate([p_top, [rest]])
        y = np.concatenate([y_top, y_rest[:, None]], axis=1)
        gain = _binary_information(y, probs)
        best = int(np.argmax(gain))
        if gain[best] < self.config.min_question_gain:
            return None
        return int(cand[best]), float(gain[best])

    def _best_test(self, post: np.ndarray) -> _TestOption | None:
        idx = self.index
        top, p_top, rest = self._candidates(post)
        probs = np.concatenate([p_top, [rest]])
        keys: dict[str, list[int]] = {}
        top_set = {int(t): n for n, t in enumerate(top)}
        for i, t in enumerate(idx.tests):
            if t.disease in top_set and not self._known(t.key):
                keys.setdefault(t.key, []).append(i)
        best: _TestOption | None = None
        for key, infos in sorted(keys.items()):
            orderable = self._orderable(key, idx.tests[infos[0]].name)
            if orderable is None:
                continue
            name, price = orderable
            gain = _test_information(idx, infos, top_set, probs)
            value = gain / (1.0 + price / self.config.usd_per_turn)
            if value >= self.config.min_test_value and (best is None or value > best.value):
                best = _TestOption(key=key, name=name, price=price, gain=gain, value=value)
        return best

    def ranked(self, k: int = 10) -> list[RankedDiagnosis]:
        """The current differential."""
        return self.diff.ranked(k) if self.diff is not None else []


#: the tests a joint report's title names ("ESR and CRP", "BUN/creatinine")
_REPORT_PARTS = re.compile(r"\s*(?:,|&|/|\band\b)\s*", re.IGNORECASE)


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log2(p)).sum(axis=axis)


def _binary_information(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Mutual information (bits) between each yes/no question (rows of P(yes | disease)) and the disease."""
    p_yes = y @ probs
    h = _entropy(np.stack([p_yes, 1 - p_yes], axis=-1))
    h_cond = (_entropy(np.stack([y, 1 - y], axis=-1)) * probs[None, :]).sum(axis=1)
    return h - h_cond


def _test_information(idx: KBIndex, infos: list[int], top_set: dict[int, int], probs: np.ndarray) -> float:
    """Mutual information (bits) between a test's outcome and the disease.

    Outcomes: 0 normal, 1 an abnormal result no candidate predicts, then one per group of similar
    characteristic results (cosine >= 0.8 between result texts).
    """
    m = idx.matcher
    groups: list[np.ndarray] = []
    outcome_of: dict[int, int] = {}
    for i in infos:
        t = idx.tests[i]
        if t.negative:
            continue
        vec = m.phrases.emb[m.primary_phrase[t.finding]]
        for g, gv in enumerate(groups):
            if float(gv @ vec) >= 0.8:
                outcome_of[i] = 2 + g
                break
        else:
            groups.append(vec)
            outcome_of[i] = 2 + len(groups) - 1
    n_out = 2 + len(groups)
    n = len(probs)
    table = np.zeros((n, n_out), dtype=np.float64)
    table[:, 0] = 0.85
    table[:, 1] = 0.15
    seen: set[int] = set()
    for i in infos:
        t = idx.tests[i]
        col = top_set.get(t.disease)
        if col is None:
            continue
        if col not in seen:
            table[col] = 0.0
            table[col, 0] = 1.0
            seen.add(col)
        if t.negative:
            continue
        o = outcome_of[i]
        table[col, o] = max(table[col, o], t.sensitivity)
    for col in seen:
        abnormal = table[col, 1:].sum()
        if abnormal > 0.95:
            table[col, 1:] *= 0.95 / abnormal
        table[col, 0] = 1.0 - table[col, 1:].sum()
    p_out = probs @ table
    return float(_entropy(p_out) - (probs * _entropy(table, axis=1)).sum())


def _question_for(text: str, kind: str) -> str:
    t = text.strip().rstrip(".?")
    low = t.lower()
    if low.startswith(("history of", "family history", "recent", "exposure", "contact with", "use of")):
        return f"Do you have any {t}?" if not low.startswith("recent") else f"Have you had any {t}?"
    if kind == "risk_factor" and low.endswith(("use", "exposure", "history", "smoking", "drinking")):
        return f"Do you have any {t}?"
    if kind in ("risk_factor", "history") and _PERSON.search(low):
        return f"Are you {'an' if low[:1] in 'aeiou' else 'a'} {t}?"  # "Are you a heavy smoker?"
    return f"Have you had {t}?"


def answer_polarity(answer: str, target: str) -> tuple[bool | None, bool]:
    """(whether ``answer`` says the asked-about ``target`` is present, or None; whether it names the target).

    "I have no known medical problems" denies, "Yes, ..." and "I do" affirm, and "I have ..." affirms
    only when it names what was asked (an unrelated past illness is no yes to the question).
    """
    restated = set(content_tokens(normalize_text(target))) <= set(content_tokens(normalize_text(answer)))
    if _NO.match(answer):
        return False, restated
    if _YES.match(answer) or (restated and _I_HAVE.match(answer)):
        return True, restated
    return None, restated


_STEM = re.compile(r"^(?:have you (?:had|noticed|felt|experienced|ever had|been having)|do you (?:have|get|feel)|"
                   r"did you (?:have|notice)|are you (?:having|experiencing)|any)\s+(?:any\s+)?", re.I)


def question_target(question: str) -> str | None:
    """What a yes/no question asks about ("Have you had a fever?" -> "a fever"), or None."""
    q = question.strip().rstrip("?. ")
    m = _STEM.match(q)
    if m is None or len(q) == m.end():
        return None
    return q[m.end():]

