"""Building strategy-wrapped doctors and bias/verifier-wrapped patients from settings.

:func:`agentsim.backends.make_doctor` and :func:`~agentsim.backends.make_patient` delegate here, so
every caller (CLI, benchmark runner, learning protocol, app) gets the same composition:

doctor: base doctor(s) with the doctor bias -> ``panel`` | ``ensemble`` -> ``cot`` -> ``retrieval``
-> ``experience`` (outermost, so its reflections reach every member's prompt).

patient: base patient -> patient bias -> verifier (LLM patients, ``patient_verifier > 0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentsim.biases import apply_doctor_bias, apply_patient_bias, get_bias
from agentsim.errors import ConfigError
from agentsim.participants import Participant
from agentsim.strategies import StrategySpec, parse_strategy

if TYPE_CHECKING:
    from agentsim.backends import Settings
    from agentsim.scenario import LoadedScenario
    from agentsim.strategies.experience import ExperienceSource


class LazyExperience:
    """Opens the default experience memory (:meth:`MemoryConfig.from_env`) on first use, read-only."""

    def __init__(self) -> None:
        self._mem: Any = None

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[Any]:
        if self._mem is None:
            from agentsim.memory.experience import ExperienceMemory

            self._mem = ExperienceMemory.open(writes_enabled=False)
        return self._mem.query(findings, k, exclude_case_id=exclude_case_id, min_score=min_score)


def spec_of(settings: Settings) -> StrategySpec:
    """The validated strategy of these settings."""
    return parse_strategy(settings.doctor_strategy, settings.strategy_options, backend=settings.backend)


def _llm_doctor(settings: Settings) -> bool:
    return settings.backend == "openai" and settings.doctor is not None


#: Policy overrides of the offline doctor per panel role (the hypothesis doctor keeps the defaults):
#: the test-chooser stops later and values tests more, the challenger questions more and needs more
#: certainty to stop, stewardship weighs prices more heavily.
OFFLINE_ROLE_POLICY: dict[str, dict[str, Any]] = {
    "hypothesis": {},
    "test_chooser": {"confidence_stop": 0.95, "min_test_value": 0.005, "max_targeted_questions": 4},
    "challenger": {"confidence_stop": 0.97, "max_targeted_questions": 8},
    "stewardship": {"usd_per_turn": 75.0, "min_test_value": 0.02},
}


def offline_member_reasoner(member: int) -> dict[str, float]:
    """Reasoner settings of ensemble member ``member`` (0 = the defaults).

    The offline doctor is deterministic, so members differ by reasoner constants instead of
    sampling noise: prior weight, evidence tempering, the floor of a denied finding's likelihood,
    the floor of a non-matching test result and the result-match threshold are drawn from a fixed,
    member-indexed pseudo-random spread around the defaults. A narrower spread (prior and tempering
    only) made members disagree on 1 of 85 dev cases; this one on 8 (see benchmarks/strategies.py).
    """
    if member == 0:
        return {}
    import hashlib

    u = [b / 255.0 for b in hashlib.sha256(f"ensemble-member:{member}".encode()).digest()[:5]]
    return {"prior_exponent": round(0.2 + 0.7 * u[0], 3), "evidence_scale": round(0.5 + 0.7 * u[1], 3),
            "absent_floor": round(0.08 + 0.22 * u[2], 3), "test_negative_floor": round(0.15 + 0.35 * u[3], 3),
            "result_match": round(0.35 + 0.2 * u[4], 3)}


def _offline_doctor(role: str = "hypothesis", member: int = 0) -> Participant:
    from agentsim.offline.doctor import OfflineDoctor, OfflineDoctorConfig
    from agentsim.offline.reasoner import ReasonerConfig

    policy = OFFLINE_ROLE_POLICY.get(role, {})
    reasoner = offline_member_reasoner(member)
    return OfflineDoctor(config=OfflineDoctorConfig(**policy) if policy else None,
                         reasoner=ReasonerConfig(**reasoner) if reasoner else None)


def build_doctor(settings: Settings, *, case: LoadedScenario | None = None,
                 experience: ExperienceSource | None = None, chat: Any | None = None) -> Participant:
    """The doctor seat for ``settings`` (see the module docstring).

    ``case`` is used only for its id (so the experience memory never returns the case's own
    records); ``experience`` overrides the default memory; ``chat`` replaces the chat model
    (tests).
    """
    spec = spec_of(settings)
    opts = spec.options
    llm = _llm_doctor(settings)
    bias = get_bias("doctor", settings.doctor_bias)

    def base(role: str = "hypothesis", member: int = 0) -> Participant:
        if llm:
            from agentsim.agents.doctor import LLMDoctor

            assert settings.doctor is not None
            return LLMDoctor(settings.doctor, chat=chat, max_turns=settings.max_turns)
        return apply_doctor_bias(_offline_doctor(role, member), bias, llm=False)

    doctor: Any
    if spec.has("panel"):
        if llm:
            from agentsim.strategies.panel import PanelDoctor

            assert settings.doctor is not None
            doctor = PanelDoctor(settings.doctor, roles=list(opts.panel_roles), rounds=opts.panel_rounds,
                                 max_turns=settings.max_turns, chat=chat)
        else:
            from agentsim.strategies.panel import OfflinePanelDoctor

            doctor = OfflinePanelDoctor(base, roles=list(opts.panel_roles), rounds=opts.panel_rounds)
    elif spec.has("ensemble"):
        from agentsim.strategies.ensemble import EnsembleDoctor, LLMVoter, ReplayVoter

        voters: list[Any]
        if llm:
            assert settings.doctor is not None
            temp = opts.ensemble_temperature
            if temp is None:
                temp = max(settings.doctor.temperature, 0.7)
            voters = [LLMVoter(i, settings.doctor, temperature=temp, max_turns=settings.max_turns, chat=chat)
                      for i in range(1, opts.ensemble_size)]
        else:
            voters = [ReplayVoter(i, lambda i=i: base(member=i)) for i in range(1, opts.ensemble_size)]
        doctor = EnsembleDoctor(base(), voters, method=opts.ensemble_vote)
    else:
        doctor = base()
    if llm:
        doctor = apply_doctor_bias(doctor, bias, llm=True)
    if spec.has("cot"):
        from agentsim.strategies.cot import CoTDoctor

        doctor = CoTDoctor(doctor)
    if spec.has("retrieval"):
        from agentsim.strategies.retrieval import RetrievalDoctor

        doctor = RetrievalDoctor(doctor, opts.retrieval_mode)
    if spec.has("experience"):
        from agentsim.strategies.experience import ExperienceDoctor

        doctor = ExperienceDoctor(doctor, experience if experience is not None else LazyExperience(),
                                  k=opts.experience_k, min_score=opts.experience_min_score,
                                  weight=opts.experience_weight, case_id=case.scenario.id if case else None)
    return doctor


def build_patient(settings: Settings, *, case: LoadedScenario | None = None, chat: Any | None = None,
                  verifier_chat: Any | None = None) -> Participant:
    """The patient seat: bias persona/behaviour and, for LLM patients, the optional verifier.

    ``case`` supplies the self-diagnosis belief (a wrong differential) and the answer terms for the
    verifier's leak check; neither reaches the patient model.
    """
    opts = spec_of(settings).options
    bias = get_bias("patient", settings.patient_bias)
    if settings.backend == "openai" and settings.patient is not None:
        from agentsim.agents.patient import LLMPatient

        patient: Any = LLMPatient(settings.patient, chat=chat)
        patient = apply_patient_bias(patient, bias, llm=True, loaded=case, seed=settings.seed)
        if opts.patient_verifier > 0:
            from agentsim.agents.verifier import VerifiedPatient
            from agentsim.leakage import answer_terms

            terms = answer_terms(case.scenario.diagnosis) if case is not None else None
            patient = VerifiedPatient(patient, settings.patient, max_regenerations=opts.patient_verifier,
                                      answer_terms=terms, chat=verifier_chat)
        return patient
    if opts.patient_verifier > 0:
        raise ConfigError("strategy option patient_verifier needs an LLM patient (backend openai with a patient "
                          "model); the offline patient answers only from the case facts")
    from agentsim.offline.patient import OfflinePatient

    return apply_patient_bias(OfflinePatient(), bias, llm=False, loaded=case, seed=settings.seed)
