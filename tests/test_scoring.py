"""Offline scorer and rubric judge."""

from __future__ import annotations

import asyncio

import pytest

from agentsim.scoring import JudgeScorer, OfflineScorer
from agentsim.views import AnswerKey


@pytest.fixture(scope="module")
def scorer() -> OfflineScorer:
    return OfflineScorer()


def key(name: str, synonyms=(), abbreviations=()) -> AnswerKey:
    from agentsim.leakage import answer_terms
    from agentsim.scenario import Diagnosis

    d = Diagnosis(name=name, synonyms=list(synonyms), abbreviations=list(abbreviations))
    return AnswerKey(case_id="c", diagnosis=name, synonyms=list(synonyms), terms=answer_terms(d))


@pytest.mark.parametrize("given", ["Myocardial infarction", "myocardial infarction.", "MYOCARDIAL-INFARCTION",
                                   "heart attack", "Acute myocardial infarction", "MI", "STEMI"])
def test_synonyms_and_variants_count(scorer, given):
    k = key("Myocardial infarction", synonyms=["heart attack", "STEMI"], abbreviations=["MI"])
    assert scorer.grade_sync(k, given).correct, given


@pytest.mark.parametrize("given", ["Seborrhoeic keratosis", "seborrheic keratoses", "Keratosis, seborrheic"])
def test_spelling_variants_count_by_embedding(scorer, given):
    v = scorer.grade_sync(key("Seborrheic keratosis"), given)
    assert v.correct and v.method in {"embedding", "exact", "synonym", "contains"}, v


@pytest.mark.parametrize("given", ["Pulmonary embolism", "Actinic keratosis", "Type 1 diabetes mellitus",
                                   "Hypothyroidism", "", "Diabetes"])
def test_different_disease_is_wrong(scorer, given):
    k = key("Type 2 diabetes mellitus") if "iabetes" in given or "thyroid" in given else key("Seborrheic keratosis")
    assert not scorer.grade_sync(k, given).correct, given


def test_top_k_from_differential(scorer):
    v = scorer.grade_sync(key("Pulmonary embolism"), "Pneumonia", ["Pneumothorax", "Pulmonary embolism"])
    assert not v.correct
    assert v.top_k_correct == {1: False, 3: True, 5: True, 10: True}


class _FakeChat:
    def __init__(self, text: str):
        self.text = text
        self.calls = 0

    async def ainvoke(self, messages):
        from langchain_core.messages import AIMessage

        self.calls += 1
        return AIMessage(content=self.text)


def test_judge_rubric_threshold():
    k = key("Pulmonary embolism")
    ok = asyncio.run(JudgeScorer(_FakeChat('{"score": 4, "reasoning": "equivalent"}')).grade(k, "PE", []))
    assert ok.correct and ok.method == "judge" and ok.score == 4
    no = asyncio.run(JudgeScorer(_FakeChat('{"score": 3, "reasoning": "related"}')).grade(k, "DVT", []))
    assert not no.correct


def test_judge_garbage_falls_back_to_offline():
    v = asyncio.run(JudgeScorer(_FakeChat("I think it's fine")).grade(key("Pulmonary embolism"),
                                                                       "pulmonary embolism", []))
    assert v.correct and v.method != "judge" and "judge failed" in v.reasoning


def test_judge_tokens_and_cost_are_counted_in_the_episode(appendicitis):
    from langchain_core.messages import AIMessage

    from agentsim.agents.measurement import MeasurementAgent
    from agentsim.agents.scripted import ScriptedDoctor, ScriptedPatient
    from agentsim.episode import EpisodeConfig, run_episode
    from agentsim.llm import LLMConfig

    class _MeteredChat:
        async def ainvoke(self, messages):
            return AIMessage(content='{"score": 5, "reasoning": "same"}',
                             usage_metadata={"input_tokens": 1000, "output_tokens": 200, "total_tokens": 1200})

    cfg = LLMConfig(model="judge-model", price_input_per_mtok=1.0, price_output_per_mtok=5.0)
    judge = JudgeScorer(_MeteredChat(), config=cfg)
    r = asyncio.run(run_episode(appendicitis, ScriptedDoctor([("diagnose", {"diagnosis": "appendicitis"})]),
                                ScriptedPatient(["Yes."]), MeasurementAgent(), EpisodeConfig(max_turns=3),
                                scorer=judge))
    assert r.verdict.method == "judge" and r.correct
    used = r.usage["judge"]
    assert (used.calls, used.prompt_tokens, used.completion_tokens) == (1, 1000, 200)
    assert r.cost.tokens_usd == pytest.approx((1000 * 1.0 + 200 * 5.0) / 1e6)


def test_synonym_table_grades_other_names_of_the_same_disease():
    from agentsim.synonyms import SynonymGroups

    table = SynonymGroups([["Coccidioidomycosis", "Valley fever"], ["Blunt cardiac injury", "cardiac contusion"]])
    with_table = OfflineScorer(synonyms=table)
    without = OfflineScorer(synonyms=SynonymGroups([]))
    assert with_table.grade_sync(key("Valley fever"), "Coccidioidomycosis").method == "synonym table"
    assert not without.grade_sync(key("Valley fever"), "Coccidioidomycosis").correct
    assert with_table.grade_sync(key("Cardiac contusion"), "Blunt cardiac injury").correct
    # only exact names: a table name containing the reference says nothing ("German measles" is not measles)
    assert not with_table.grade_sync(key("contusion"), "Blunt cardiac injury").correct
    # a group says nothing about diseases it does not name
    assert not with_table.grade_sync(key("Histoplasmosis"), "Coccidioidomycosis").correct
    v = with_table.grade_sync(key("Valley fever"), "Pneumonia", ["Coccidioidomycosis"])
    assert not v.correct and v.top_k_correct[3]


def test_default_synonym_table_is_the_knowledge_base():
    from agentsim.offline.kb import default_kb
    from agentsim.synonyms import canonical_dx, default_synonyms

    table = default_synonyms()
    assert len(table) > 300
    d = next(d for d in default_kb().diseases if d.synonyms)
    assert canonical_dx(d.synonyms[0]) in table.equivalents(d.name)
    assert OfflineScorer().grade_sync(key(d.synonyms[0]), d.name).correct


@pytest.mark.parametrize(("reference", "given"), [
    ("ST-elevation myocardial infarction", "Non-ST-elevation myocardial infarction"),
    ("Small cell lung cancer", "Non-small cell lung cancer"),
    ("Eclampsia", "Pre-eclampsia"),
    ("Concussion", "Post-concussion syndrome"),
])
def test_an_opposing_prefix_is_another_disease(scorer, reference, given):
    assert not scorer.grade_sync(key(reference), given).correct


def test_a_more_specific_name_still_contains_the_reference(scorer):
    assert scorer.grade_sync(key("Appendicitis"), "Acute appendicitis with perforation").correct


@pytest.mark.parametrize(("reference", "given"), [
    ("Chronic kidney failure", "chronic renal failure"),
    ("Stomach cancer", "Gastric cancer"),
    ("Congestive heart failure", "Congestive cardiac failure"),
    ("Liver abscess", "Hepatic abscess"),
])
def test_an_organ_noun_and_its_adjective_name_one_disease(reference, given):
    from agentsim.synonyms import SynonymGroups

    # the empty table: the organ word alone must carry the match, not a knowledge-base synonym
    assert OfflineScorer(synonyms=SynonymGroups([])).grade_sync(key(reference), given).method == "exact"


def test_organ_words_reach_the_synonym_table():
    from agentsim.synonyms import SynonymGroups

    table = OfflineScorer(synonyms=SynonymGroups([["Chronic kidney disease", "chronic renal failure"]]))
    assert table.grade_sync(key("Chronic kidney failure"), "Chronic kidney disease").method == "synonym table"
    # another organ is another disease
    assert not table.grade_sync(key("Chronic liver failure"), "Chronic kidney disease").correct


def test_spacing_and_hyphens_alone_do_not_change_the_disease(scorer):
    assert scorer.grade_sync(key("Preeclampsia"), "Pre-eclampsia").correct
