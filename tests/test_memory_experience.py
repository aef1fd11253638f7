"""Experience memory: records from real episodes, lessons, the leakage rule and the write switch."""

from __future__ import annotations

import asyncio

import pytest
from memory_fixtures import chroma_server_fixture, memory_config_fixture  # noqa: F401 - fixtures

from agentsim.agents.measurement import MeasurementAgent
from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient
from agentsim.episode import EpisodeConfig, run_episode
from agentsim.memory.experience import ExperienceMemory, ExperienceRecord, template_lesson
from agentsim.memory.store import MemoryStore
from agentsim.scoring import OfflineScorer
from agentsim.views import build_views

ACTIONS = [("ask_patient", {"question": "Where is the pain now?"}),
           ("ask_patient", {"question": "Any diarrhoea?"}),
           ("order_test", {"test": "CBC"}),
           ("order_test", {"test": "lipase"})]


def _episode(loaded, diagnosis: str, seed: int = 0):
    doctor = ScriptedDoctor([*ACTIONS, ("diagnose", {"diagnosis": diagnosis})])
    patient = ScriptedPatient(["It moved to the lower right side of my belly.", "No, none at all."])
    return asyncio.run(run_episode(loaded, doctor, patient, MeasurementAgent(use_embeddings=False),
                                   EpisodeConfig(max_turns=10, seed=seed), scorer=OfflineScorer()))


def _other_case(loaded, case_id: str):
    return loaded.model_copy(update={"scenario": loaded.scenario.model_copy(update={"id": case_id})})


def test_record_from_episode(appendicitis):
    result = _episode(appendicitis, "Acute appendicitis")
    view = build_views(appendicitis).doctor
    rec = ExperienceMemory.build_record(result, view)
    assert rec.case_id == "gs-appendicitis-01" and rec.correct is True
    assert "22-year-old man" in rec.summary and "stomach has been hurting" in rec.summary
    # Positive answers and case results are kept; a denial and a catalogue-normal result are not.
    joined = " | ".join(rec.key_findings)
    assert "lower right side" in joined and "WBC 14.8" in joined
    assert "none at all" not in joined and "lipase" not in joined.lower()
    assert rec.tests == ["CBC", "lipase"] and len(rec.questions) == 2
    assert rec.final_diagnosis == "Acute appendicitis" and rec.correct_diagnosis == "Acute appendicitis"
    assert "correctly diagnosed as Acute appendicitis" in rec.lesson
    wrong = ExperienceMemory.build_record(_episode(appendicitis, "Gastroenteritis"), view)
    assert wrong.correct is False and "Diagnosed Gastroenteritis but it was Acute appendicitis" in wrong.lesson
    assert template_lesson(rec.model_copy(update={"correct": None})) == ""


def test_case_x_never_retrieves_its_own_experience(memory_config, appendicitis):
    """Many records of case X that match the query perfectly, one of case Y: excluding X returns only Y."""
    mem = ExperienceMemory(MemoryStore(memory_config))
    view = build_views(appendicitis).doctor
    x_result = _episode(appendicitis, "Acute appendicitis")
    for trial in range(25):  # more than the over-fetch margin, so exclusion must keep searching
        asyncio.run(mem.record(x_result.model_copy(update={"trial": trial}), view))
    other = _other_case(appendicitis, "gs-appendicitis-99")
    y_result = _episode(other, "Mesenteric adenitis")
    asyncio.run(mem.record(y_result, build_views(other).doctor))
    assert mem.count() == 26
    query = f"{view.demographics}: {view.opening_line}"
    hits = mem.query(query, k=5, exclude_case_id="gs-appendicitis-01")
    assert [h.case_id for h in hits] == ["gs-appendicitis-99"]
    assert hits[0].final_diagnosis == "Mesenteric adenitis" and hits[0].correct is False
    # Without the exclusion case X's own records are what comes back first (so the test above can fail).
    unfiltered = mem.query(query, k=5, exclude_case_id="")
    assert "gs-appendicitis-01" in {h.case_id for h in unfiltered}
    assert all(h.case_id == "gs-appendicitis-01" for h in mem.query(query, k=3, exclude_case_id="gs-appendicitis-99"))


def test_recording_is_idempotent_and_switchable(memory_config, appendicitis):
    view = build_views(appendicitis).doctor
    result = _episode(appendicitis, "Acute appendicitis")
    mem = ExperienceMemory(MemoryStore(memory_config))
    asyncio.run(mem.record(result, view))
    asyncio.run(mem.record(result, view))
    assert mem.count() == 1
    with mem.frozen():
        assert asyncio.run(mem.record(result.model_copy(update={"trial": 7}), view)) is None
    assert mem.count() == 1 and mem.writes_enabled
    off = ExperienceMemory(MemoryStore(memory_config), writes_enabled=False)
    assert asyncio.run(off.record(result.model_copy(update={"trial": 8}), view)) is None
    assert off.count() == 1
    failed = result.model_copy(update={"trial": 9, "diagnosis": None})
    assert asyncio.run(mem.record(failed, view)) is None


def test_lesson_writer_hook(memory_config, appendicitis):
    view = build_views(appendicitis).doctor
    result = _episode(appendicitis, "Acute appendicitis")
    seen: list[ExperienceRecord] = []

    async def writer(rec: ExperienceRecord) -> str:
        seen.append(rec)
        return "Migration of pain to the right iliac fossa with fever points to the appendix."

    mem = ExperienceMemory(MemoryStore(memory_config), lesson_writer=writer)
    rec = asyncio.run(mem.record(result, view))
    assert rec.lesson.startswith("Migration of pain") and seen and seen[0].correct is True

    async def broken(rec: ExperienceRecord) -> str:
        raise RuntimeError("model down")

    mem2 = ExperienceMemory(MemoryStore(memory_config), lesson_writer=broken)
    rec2 = asyncio.run(mem2.record(result.model_copy(update={"trial": 1}), view))
    assert rec2.lesson == template_lesson(rec2)


def test_llm_lesson_writer_through_chat_model(appendicitis):
    from agentsim.memory.experience import llm_lesson_writer

    class Chat:
        async def ainvoke(self, messages):
            assert "Correct diagnosis: Acute appendicitis" in messages[-1].content

            class R:
                content = "Check for migration of pain."

            return R()

    rec = ExperienceMemory.build_record(_episode(appendicitis, "Acute appendicitis"), build_views(appendicitis).doctor)
    assert asyncio.run(llm_lesson_writer(Chat())(rec)) == "Check for migration of pain."


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_query_returns_nothing(memory_config, text):
    assert ExperienceMemory(MemoryStore(memory_config)).query(text, exclude_case_id="x") == []
