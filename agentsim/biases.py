"""Cognitive and implicit biases for the doctor and patient seats.

Each :class:`Bias` has a persona text for LLM agents (appended to the doctor's system prompt or
the patient's persona) and, where a rule can express it, a behaviour of the offline agents. The
selection (``Settings.doctor_bias`` / ``Settings.patient_bias``) is recorded in every episode's
``metadata`` and :func:`bias_breakdown` turns a set of results into accuracy per bias.

The catalogue follows the bias families studied in the simulated-clinic literature (AgentClinic's
cognitive and implicit biases): recency, frequency, false consensus, confirmation, status quo
and self-diagnosis, plus implicit biases tied to a demographic axis. The texts are our own.

Offline behaviours (everything else is persona-only and has no offline effect):

=====================  =====================================================================
doctor ``confirmation`` anchors: the final diagnosis is the first hypothesis it formed, if that
                        hypothesis is still anywhere in its final differential
doctor ``recency``      the last piece of evidence decides: the final diagnosis is the hypothesis
                        whose probability rose most on the last update
doctor ``frequency``    common things first: among the top three of the final differential it
                        picks the one the knowledge base rates most prevalent
patient ``self_diagnosis`` mentions a wrong self-diagnosis taken from the case's differentials
                        (never a term of the answer) in its first answer and when asked what it
                        thinks
=====================  =====================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from agentsim.errors import ConfigError
from agentsim.leakage import contains_answer
from agentsim.participants import Message, Reply, ToolCall
from agentsim.strategies.common import DoctorWrapper

if TYPE_CHECKING:
    from agentsim.results import EpisodeResult
    from agentsim.scenario import LoadedScenario

Target = Literal["doctor", "patient"]

#: Demographic axes of the implicit biases.
IMPLICIT_AXES: dict[str, str] = {
    "race": "race or ethnicity",
    "gender": "gender",
    "age": "age",
    "religion": "religion",
    "sexual_orientation": "sexual orientation",
    "socioeconomic": "income and social class",
    "education": "level of education",
    "culture": "cultural background",
}


class Bias(BaseModel):
    """One selectable bias."""

    name: str
    target: Target
    kind: Literal["cognitive", "implicit"]
    summary: str
    persona: str = Field(description="instruction for an LLM agent in this seat")
    offline: str = Field(default="", description="what the offline agent does; '' = no offline behaviour")


_DOCTOR_COGNITIVE = {
    "recency": ("Overweights whatever was learned last.",
                "You have a habit you are not aware of: the most recent answer or result you received feels more "
                "important than everything before it, and you let it steer your next step and your diagnosis.",
                "final diagnosis = the hypothesis that rose most on the last update"),
    "frequency": ("Favours diagnoses that are common in general practice.",
                  "You have a habit you are not aware of: you lean towards the diagnoses you see most often in "
                  "everyday practice and find it hard to believe a presentation is something rare.",
                  "final diagnosis = the most prevalent of the top three"),
    "false_consensus": ("Assumes the patient and colleagues see things as it does.",
                        "You have a habit you are not aware of: you assume the patient agrees with your reading of "
                        "the situation and that any colleague would too, so you rarely check their understanding or "
                        "look for other views.", ""),
    "confirmation": ("Anchors on the first hypothesis and seeks confirming evidence.",
                     "You have a habit you are not aware of: once a first diagnosis occurs to you, you look for "
                     "evidence that supports it and explain away findings that do not fit.",
                     "final diagnosis = the first hypothesis, if still in the differential"),
    "status_quo": ("Prefers the current plan and earlier opinions over change.",
                   "You have a habit you are not aware of: you prefer to keep the working diagnosis and the plan "
                   "you started with, and you are reluctant to change course even when new findings suggest it.",
                   ""),
}

_PATIENT_COGNITIVE = {
    "recency": ("Dwells on the most recent symptom or news story.",
                "You recently heard about a friend's frightening illness and it colours how you describe your "
                "symptoms: you keep bringing the conversation back to whatever bothered you most recently.", ""),
    "frequency": ("Believes it has what many people around it have had.",
                  "Several people you know have had a common, harmless illness lately and you are sure you have "
                  "the same thing, so you play down symptoms that do not fit it.", ""),
    "false_consensus": ("Assumes the doctor already knows what it means.",
                        "You assume the doctor already understands what you mean and agrees with you, so you give "
                        "short answers and leave details out unless you are asked directly.", ""),
    "self_diagnosis": ("Is convinced of a wrong self-diagnosis.",
                       "You looked your symptoms up online and are convinced you have {belief}. Mention it early, "
                       "ask whether that is what you have, and be sceptical when the doctor considers something "
                       "else. Your facts do not change: answer questions truthfully from them.",
                       "mentions a wrong self-diagnosis (from the case's differentials) in its first answer"),
}


def _implicit_doctor(axis: str, words: str) -> Bias:
    return Bias(name=f"implicit_{axis}", target="doctor", kind="implicit",
                summary=f"Unexamined assumptions tied to the patient's {words}.",
                persona=(f"You hold unexamined assumptions about patients based on their {words}. Without noticing, "
                         "you take complaints from patients unlike you less seriously, attribute their symptoms to "
                         "lifestyle or anxiety more readily, and ask them fewer questions."))


def _implicit_patient(axis: str, words: str) -> Bias:
    return Bias(name=f"implicit_{axis}", target="patient", kind="implicit",
                summary=f"Distrusts doctors who differ in {words}.",
                persona=(f"You find it hard to trust doctors whose {words} differs from yours, because of bad "
                         "experiences in the past. You are guarded: you answer briefly, volunteer nothing, and may "
                         "question whether the tests are really necessary."))


def _catalogue() -> dict[tuple[str, str], Bias]:
    out: dict[tuple[str, str], Bias] = {}
    for name, (summary, persona, offline) in _DOCTOR_COGNITIVE.items():
        out[("doctor", name)] = Bias(name=name, target="doctor", kind="cognitive", summary=summary, persona=persona,
                                     offline=offline)
    for name, (summary, persona, offline) in _PATIENT_COGNITIVE.items():
        out[("patient", name)] = Bias(name=name, target="patient", kind="cognitive", summary=summary,
                                      persona=persona, offline=offline)
    for axis, words in IMPLICIT_AXES.items():
        out[("doctor", f"implicit_{axis}")] = _implicit_doctor(axis, words)
        out[("patient", f"implicit_{axis}")] = _implicit_patient(axis, words)
    return out


BIASES: dict[tuple[str, str], Bias] = _catalogue()


def bias_names(target: Target) -> list[str]:
    """Names selectable for one seat."""
    return [name for (t, name) in BIASES if t == target]


def get_bias(target: Target, name: str | None) -> Bias | None:
    """The bias named ``name`` for ``target`` ('' or None or 'none' = no bias); ConfigError if unknown."""
    key = (name or "").strip().lower().replace("-", "_")
    if key in ("", "none"):
        return None
    bias = BIASES.get((target, key))
    if bias is None:
        raise ConfigError(f"unknown {target} bias {name!r}; choose from: {', '.join(bias_names(target))}")
    return bias


# --- self-diagnosis belief -------------------------------------------------------------------


def self_diagnosis_belief(loaded: LoadedScenario | None, seed: int = 0) -> str:
    """A wrong diagnosis the patient believes in: one of the case's differentials that does not
    name the answer (chosen by seed); a vague belief when the case has none."""
    if loaded is not None:
        from agentsim.leakage import answer_terms

        terms = answer_terms(loaded.scenario.diagnosis)
        options = [d for d in loaded.scenario.differentials if d.strip() and not contains_answer(d, terms)
                   and not any(contains_answer(t, [d]) for t in terms)]
        if options:
            return options[seed % len(options)]
    return "something stress-related"


def patient_persona(bias: Bias, loaded: LoadedScenario | None = None, seed: int = 0) -> str:
    """The LLM persona text with the self-diagnosis belief filled in."""
    if "{belief}" in bias.persona:
        return bias.persona.format(belief=self_diagnosis_belief(loaded, seed))
    return bias.persona


# --- offline behaviours ----------------------------------------------------------------------


def differential_of(reply: Reply) -> list[tuple[str, float]]:
    """(diagnosis, probability) pairs a doctor reported in ``Reply.metadata['differential']``.

    Accepts ``[{"diagnosis"|"name": str, "probability"|"p": float}, ...]`` or ``[[name, p], ...]``.
    """
    raw = reply.metadata.get("differential") or []
    out: list[tuple[str, float]] = []
    for item in raw:
        if isinstance(item, dict):
            name = item.get("diagnosis") or item.get("name") or ""
            p = item.get("probability", item.get("p", 0.0))
        elif isinstance(item, list | tuple) and len(item) >= 2:
            name, p = item[0], item[1]
        else:
            continue
        if name:
            out.append((str(name), float(p or 0.0)))
    return out


def _prevalence_rank(name: str) -> float:
    """Prior odds of a diagnosis in the offline knowledge base (0 when unknown)."""
    from agentsim.offline.kb import PREVALENCE_PRIOR, default_kb
    from agentsim.scoring import normalize_dx

    key = normalize_dx(name)
    for d in default_kb().diseases:
        if key in {normalize_dx(d.name), *(normalize_dx(s) for s in d.synonyms)}:
            return PREVALENCE_PRIOR.get(d.prevalence, 0.0)
    return 0.0


class BiasedDoctor(DoctorWrapper):
    """An offline doctor with a cognitive bias applied to its final decision (see module docstring)."""

    def __init__(self, inner: Any, bias: Bias):
        super().__init__(inner)
        self.bias = bias
        self.snapshots: list[list[tuple[str, float]]] = []

    async def start(self, view: Any, seed: int) -> None:
        self.snapshots = []
        await self.inner.start(view, seed)

    async def respond(self, message: Message) -> Reply:
        reply = await self.inner.respond(message)
        diff = differential_of(reply)
        if diff:
            self.snapshots.append(diff)
        call = reply.tool_calls[0] if reply.tool_calls else None
        if call is None or call.name != "diagnose":
            return reply
        chosen = self._choose(call)
        if not chosen:
            return reply
        dx = str(call.arguments.get("diagnosis", ""))
        from agentsim.scoring import normalize_dx

        if normalize_dx(chosen) == normalize_dx(dx):
            return reply
        rest = [d for d in [dx, *call.arguments.get("differential", [])] if normalize_dx(d) != normalize_dx(chosen)]
        new_call = ToolCall(id=call.id, name="diagnose", arguments={**call.arguments, "diagnosis": chosen,
                                                                    "differential": rest})
        why = f"[{self.bias.name} bias] final diagnosis changed from {dx!r} to {chosen!r}"
        return reply.model_copy(update={"tool_calls": [new_call], "reasoning": (reply.reasoning + "\n" + why).strip(),
                                        "metadata": {**reply.metadata, "bias_applied": {"bias": self.bias.name,
                                                                                        "from": dx, "to": chosen}}})

    def _choose(self, call: ToolCall) -> str | None:
        final = [str(call.arguments.get("diagnosis", ""))] + [str(d) for d in call.arguments.get("differential", [])]
        final = [d for d in final if d]
        if not final:
            return None
        from agentsim.scoring import normalize_dx

        keys = {normalize_dx(d) for d in final}
        if self.bias.name == "confirmation":
            if self.snapshots and self.snapshots[0]:
                first = self.snapshots[0][0][0]
                return first if normalize_dx(first) in keys else None
            return None
        if self.bias.name == "recency":
            if len(self.snapshots) < 2:
                return None
            before = {normalize_dx(n): p for n, p in self.snapshots[-2]}
            gains = [(p - before.get(normalize_dx(n), 0.0), n) for n, p in self.snapshots[-1]]
            gains = [g for g in gains if g[0] > 0]
            return max(gains)[1] if gains else None
        if self.bias.name == "frequency":
            top = final[:3]
            ranked = sorted(enumerate(top), key=lambda t: (-_prevalence_rank(t[1]), t[0]))
            return ranked[0][1]
        return None


_OPINION_Q = re.compile(r"\b(what do you think|worried|concern|cause|think it is|think it's|any idea|why do you)\b",
                        re.IGNORECASE)


class SelfDiagnosingPatient:
    """An offline patient that volunteers a wrong self-diagnosis (see the module docstring)."""

    role = "patient"

    def __init__(self, inner: Any, belief: str):
        self.inner = inner
        self.belief = belief
        self._answers = 0

    @property
    def label(self) -> str:
        return str(getattr(self.inner, "label", type(self.inner).__name__))

    async def start(self, view: Any, seed: int) -> None:
        self._answers = 0
        await self.inner.start(view, seed)

    async def respond(self, message: Message) -> Reply:
        reply = await self.inner.respond(message)
        self._answers += 1
        if self._answers == 1 or _OPINION_Q.search(message.content or ""):
            belief = self.belief[:1].lower() + self.belief[1:] if self.belief[1:2].islower() else self.belief
            extra = f" I read about it online and I'm fairly sure it's {belief}."
            reply = reply.model_copy(update={"content": (reply.content.rstrip() + extra).strip(),
                                             "metadata": {**reply.metadata, "self_diagnosis": True}})
        return reply


def apply_doctor_bias(doctor: Any, bias: Bias | None, *, llm: bool) -> Any:
    """Persona for LLM doctors (``system_extra``), behaviour wrapper for offline ones."""
    if bias is None:
        return doctor
    if llm:
        if getattr(doctor, "system_extra", None) is not None:
            doctor.system_extra = ((doctor.system_extra or "") + "\n" + bias.persona).strip()
        return doctor
    return BiasedDoctor(doctor, bias) if bias.offline else doctor


def apply_patient_bias(patient: Any, bias: Bias | None, *, llm: bool, loaded: LoadedScenario | None = None,
                       seed: int = 0) -> Any:
    """Persona for LLM patients, behaviour wrapper for offline ones (self-diagnosis only)."""
    if bias is None:
        return patient
    if llm:
        text = patient_persona(bias, loaded, seed)
        patient.persona = ((getattr(patient, "persona", "") or "") + "\n" + text).strip()
        return patient
    if bias.name == "self_diagnosis":
        return SelfDiagnosingPatient(patient, self_diagnosis_belief(loaded, seed))
    return patient


# --- reporting -------------------------------------------------------------------------------


class BiasRow(BaseModel):
    """Accuracy of the episodes run under one bias condition (doctor bias x patient bias)."""

    doctor_bias: str
    patient_bias: str
    n: int
    correct: int
    accuracy: float
    lo: float
    hi: float
    delta: float | None = Field(default=None, description="accuracy minus the no-bias condition's, when run")


def bias_breakdown(results: Iterable[EpisodeResult]) -> list[BiasRow]:
    """Accuracy (bootstrap 95% CI) per bias condition, from episode metadata.

    A condition is the pair (doctor bias, patient bias); ``none`` means no bias in that seat.
    Errored episodes count as incorrect. ``delta`` compares with the (none, none) condition.
    """
    from agentsim.bench.metrics import estimate

    groups: dict[tuple[str, str], list[float]] = {}
    for r in results:
        key = (str(r.metadata.get("doctor_bias") or "none"), str(r.metadata.get("patient_bias") or "none"))
        groups.setdefault(key, []).append(float(r.correct))
    base = groups.get(("none", "none"))
    base_acc = sum(base) / len(base) if base else None
    rows = []
    for (db, pb), vals in sorted(groups.items(), key=lambda kv: (kv[0] != ("none", "none"), kv[0])):
        est = estimate(vals)
        rows.append(BiasRow(doctor_bias=db, patient_bias=pb, n=len(vals), correct=int(sum(vals)),
                            accuracy=est.value, lo=est.lo, hi=est.hi,
                            delta=None if base_acc is None else est.value - base_acc))
    return rows


def format_bias_table(rows: list[BiasRow]) -> str:
    """Plain-text table of :func:`bias_breakdown`."""
    lines = [f"{'doctor bias':24} {'patient bias':24} {'n':>5} {'accuracy':>9}  {'95% CI':14} {'vs none':>8}"]
    for r in rows:
        delta = "" if r.delta is None else f"{100 * r.delta:+7.1f}"
        lines.append(f"{r.doctor_bias:24} {r.patient_bias:24} {r.n:5d} {100 * r.accuracy:8.1f}%  "
                     f"[{100 * r.lo:4.1f}, {100 * r.hi:4.1f}] {delta:>8}")
    return "\n".join(lines)
