"""The differential moves the right way on evidence (small fixture knowledge base, bundled embedder)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from offline_fixtures import index_fixture  # noqa: F401 - fixture

from agentsim.catalog import default_catalog
from agentsim.offline.kb import load_kb
from agentsim.offline.reasoner import Differential, KBIndex, ReasonerConfig


def small_index(tmp_path, index: KBIndex, *diseases: dict) -> KBIndex:
    """An index over a knowledge base of just ``diseases`` (written to ``tmp_path``), with the bundled embedder."""
    (tmp_path / "k.json").write_text(json.dumps({"source": "general textbook knowledge", "specialty_group": "test",
                                                 "diseases": list(diseases)}), encoding="utf-8")
    return KBIndex(load_kb(tmp_path), index.embedder, default_catalog())


def prob(diff: Differential, disease_id: str) -> float:
    i = next(k for k, d in enumerate(diff.index.diseases) if d.id == disease_id)
    return float(diff.posterior()[i])


def test_a_finding_tied_to_a_disease_raises_it(index: KBIndex) -> None:
    diff = Differential(index, age=40, sex="male")
    before = prob(diff, "ureteric_colic")
    diff.observe_text("I have severe colicky pain in my flank that goes down to the groin.")
    after = prob(diff, "ureteric_colic")
    assert after > 2 * before
    assert diff.ranked(1)[0].disease_id == "ureteric_colic"


def test_denial_lowers_and_confirmation_raises(index: KBIndex) -> None:
    base = Differential(index, age=25, sex="male")
    base.observe_text("Pain in the lower right abdomen since yesterday.")
    p0 = prob(base, "appendicitis")

    denied = Differential(index, age=25, sex="male")
    denied.observe_text("Pain in the lower right abdomen since yesterday.")
    denied.observe_text("No loss of appetite, no nausea and no fever.")
    confirmed = Differential(index, age=25, sex="male")
    confirmed.observe_text("Pain in the lower right abdomen since yesterday.")
    confirmed.observe_text("I have lost my appetite and I feel nauseous.")
    assert prob(denied, "appendicitis") < p0 < prob(confirmed, "appendicitis")


def test_synonyms_and_abbreviations_count_as_the_same_finding(index: KBIndex) -> None:
    a = Differential(index, age=60, sex="male")
    a.observe_text("Crushing chest pain with sweating. SOB.")
    b = Differential(index, age=60, sex="male")
    b.observe_text("Crushing chest pain with diaphoresis. Shortness of breath.")
    assert a.ranked(1)[0].disease_id == b.ranked(1)[0].disease_id == "stemi"
    assert prob(a, "stemi") == pytest.approx(prob(b, "stemi"), rel=0.05)


def test_test_results_confirm_and_exclude(index: KBIndex) -> None:
    def with_troponin(result: str) -> float:
        d = Differential(index, age=60, sex="male")
        d.observe_text("Chest pressure for an hour.")
        d.observe_test("troponin", result)
        return prob(d, "stemi")

    neutral = Differential(index, age=60, sex="male")
    neutral.observe_text("Chest pressure for an hour.")
    assert with_troponin("Troponin normal.") < prob(neutral, "stemi") < with_troponin("Elevated troponin.")


def test_a_mention_repeated_counts_once(index: KBIndex) -> None:
    once = Differential(index, age=30, sex="female")
    once.observe_text("I have watery diarrhea.")
    thrice = Differential(index, age=30, sex="female")
    for _ in range(3):
        thrice.observe_text("I have watery diarrhea.")
    assert np.allclose(once.posterior(), thrice.posterior())


def test_sex_and_age_compatibility(index: KBIndex) -> None:
    text = "Sudden severe lower abdominal pain on one side with nausea."
    woman = Differential(index, age=25, sex="female")
    woman.observe_text(text)
    man = Differential(index, age=25, sex="male")
    man.observe_text(text)
    assert prob(man, "ovarian_torsion") < 0.05 * prob(woman, "ovarian_torsion")
    child = Differential(index, age=8, sex="male")
    adult = Differential(index, age=50, sex="male")
    assert prob(child, "stemi") < prob(adult, "stemi")


def test_ranked_output_is_a_distribution_and_deterministic(index: KBIndex) -> None:
    def run() -> list[tuple[str, float]]:
        d = Differential(index, age=45, sex="female")
        d.observe_text("Cough with yellow sputum and fever for three days. Denies chest pain.")
        return [(r.disease_id, r.probability) for r in d.ranked(6)]

    first = run()
    assert first == run()
    probs = [p for _, p in first]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) == pytest.approx(1.0, abs=1e-3)
    assert first[0][0] == "pneumonia"


def test_hints_from_memory_are_soft(index: KBIndex) -> None:
    d = Differential(index, age=45, sex="female")
    d.observe_text("Cough with yellow sputum and fever.")
    before = prob(d, "gastroenteritis")
    d.observe_hint(next(i for i, x in enumerate(index.diseases) if x.id == "gastroenteritis"), 1.0)
    assert before < prob(d, "gastroenteritis") < 0.5  # raised, but the clinical evidence still wins
    assert d.ranked(1)[0].disease_id == "pneumonia"


def test_labels_map_to_diseases(index: KBIndex) -> None:
    assert index.diseases[index.disease_for_label("Kidney stone")].id == "ureteric_colic"
    assert index.diseases[index.disease_for_label("acute appendicitis (perforated)")].id == "appendicitis"
    assert index.disease_for_label("Psoriasis") is None


def test_a_normal_state_result_is_a_normal_result(tmp_path, index: KBIndex) -> None:
    # "clear lungs" is what most patients show: it must be read as a normal result (supported by
    # a normal report), not as a rare finding whose every mention is strong evidence.
    disease = {"id": "cold", "name": "Cold", "specialty": "infectious_disease", "prevalence": "common",
               "findings": [{"text": t, "kind": "symptom", "frequency": 0.8} for t in ("runny nose", "sneezing",
                                                                                       "sore throat")],
               "tests": [{"test": "chest X-ray", "result": "clear lungs", "sensitivity": 0.9, "specificity": 0.2}]}
    small = small_index(tmp_path, index, disease)
    assert [t.negative for t in small.tests] == [True]


def test_a_finding_many_diseases_list_weighs_less(index: KBIndex) -> None:
    # The base rate grows with the share of diseases listing a finding, whatever their entries' frequency.
    plain = Differential(index, ReasonerConfig(listing_leak=0.0))
    leaky = Differential(index, ReasonerConfig(listing_leak=0.3))
    rate = index.listing_rate
    common, rare = int(rate.argmax()), int(rate.argmin())
    assert rate[common] > rate[rare]
    assert plain._lr_pos[common] - leaky._lr_pos[common] > plain._lr_pos[rare] - leaky._lr_pos[rare] - 1e-6


def test_unmentioned_typical_findings_count_as_weak_denials(index: KBIndex) -> None:
    text = "Pain in the lower right abdomen since yesterday."
    ignoring = Differential(index, ReasonerConfig(unmentioned_weight=0.0), age=25, sex="male")
    counting = Differential(index, ReasonerConfig(unmentioned_weight=0.2), age=25, sex="male")
    for d in (ignoring, counting):
        d.observe_text(text)
    i = next(k for k, d in enumerate(index.diseases) if d.id == "appendicitis")
    assert counting.log_scores()[i] < ignoring.log_scores()[i]
    # a denial still weighs more than silence
    denied = Differential(index, ReasonerConfig(unmentioned_weight=0.2), age=25, sex="male")
    denied.observe_text(text + " No nausea, no fever and no loss of appetite.")
    assert denied.log_scores()[i] < counting.log_scores()[i]
    # age and sex are never "unmentioned"
    assert not (index.expected & index.demographic).any()


def test_a_finding_listed_twice_by_one_disease_counts_once(tmp_path, index: KBIndex) -> None:
    # "leukocytosis" as a finding and as the CBC's characteristic result is one piece of evidence.
    def disease(did: str, twice: bool) -> dict:
        tests = [{"test": "CBC", "result": "leukocytosis", "sensitivity": 0.8, "specificity": 0.6}] if twice else []
        return {"id": did, "name": did.title(), "specialty": "infectious_disease", "prevalence": "common",
                "findings": [{"text": "leukocytosis", "kind": "lab", "frequency": 0.8},
                             {"text": "productive cough", "kind": "symptom", "frequency": 0.8},
                             {"text": "pleuritic chest pain", "kind": "symptom", "frequency": 0.5}],
                "tests": tests}

    small = small_index(tmp_path, index, disease("once", False), disease("twice", True))
    d = Differential(small)
    d.observe_text("White cell count 18,000/mm3.")
    scores = d.log_scores()
    assert len(small.restated) == 1
    assert scores[0] == pytest.approx(scores[1], abs=1e-5)


def test_a_normal_result_counts_once_and_weakly(tmp_path, index: KBIndex) -> None:
    # A normal troponin denies "elevated troponin", the KB test's characteristic result. It counts against
    # the disease once (through the test) and, read from a report of any name, no more than the floor:
    # a simulated case lists only its key tests, so an unlisted test comes back normal.
    disease = {"id": "mi", "name": "Mi", "specialty": "cardiology", "prevalence": "common",
               "findings": [{"text": t, "kind": "symptom", "frequency": 0.8}
                            for t in ("crushing chest pain", "sweating", "pain spreading to the left arm")],
               "tests": [{"test": "troponin", "result": "elevated troponin", "sensitivity": 0.95,
                          "specificity": 0.9}]}
    other = {"id": "gerd", "name": "Gerd", "specialty": "gastroenterology", "prevalence": "common",
             "findings": [{"text": t, "kind": "symptom", "frequency": 0.8}
                          for t in ("heartburn", "sour taste in the mouth", "pain after meals")], "tests": []}
    small = small_index(tmp_path, index, disease, other)
    floor = float(np.log(ReasonerConfig().test_negative_floor))
    normal = "Troponin I 3 ng/L (99th percentile < 16)."

    def shift(d: Differential) -> float:
        s = d.log_scores()
        return float(s[0] - s[1] - (before[0] - before[1]))

    before = Differential(small).log_scores()
    ordered = Differential(small)
    ordered.observe_test("troponin", normal)
    assert ordered.test_scores()[0] == pytest.approx(floor, abs=1e-5)
    assert shift(ordered) == pytest.approx(floor, abs=1e-4)

    in_a_report = Differential(small)
    in_a_report.observe_text(normal)
    assert in_a_report.neg[small.tests[0].finding] == pytest.approx(1.0)
    assert shift(in_a_report) == pytest.approx(floor, abs=1e-4)


def test_a_missing_normal_structure_is_a_finding(tmp_path, index: KBIndex) -> None:
    # "absent cremasteric reflex" is rare in other diseases: its absence raises torsion and the reflex being
    # there lowers it (it used to be read as "no cremasteric reflex", an absence most patients share).
    torsion = {"id": "torsion", "name": "Torsion", "specialty": "urology", "prevalence": "uncommon",
               "findings": [{"text": "sudden severe testicular pain", "kind": "symptom", "frequency": 0.9},
                            {"text": "absent cremasteric reflex", "kind": "sign", "frequency": 0.9},
                            {"text": "nausea and vomiting", "kind": "symptom", "frequency": 0.6}], "tests": []}
    other = {"id": "epididymitis", "name": "Epididymitis", "specialty": "urology", "prevalence": "common",
             "findings": [{"text": t, "kind": "symptom", "frequency": 0.8}
                          for t in ("gradual testicular pain", "burning on urination", "fever")], "tests": []}
    small = small_index(tmp_path, index, torsion, other)
    assert not small.matcher.inverted.any()

    def torsion_odds(exam: str) -> float:
        d = Differential(small)
        d.observe_text(exam)
        s = d.log_scores()
        return float(s[0] - s[1])

    neutral = torsion_odds("Testis examined.")
    for absent in ("Cremasteric reflex absent on the left.", "Absent cremasteric reflex.",
                   "No cremasteric reflex on the left."):
        assert torsion_odds(absent) > neutral + 0.8, absent
    for present in ("Cremasteric reflex present.", "Cremasteric reflex intact on both sides."):
        assert torsion_odds(present) < neutral - 0.8, present


def test_a_report_that_says_normal_still_shows_what_it_shows(index: KBIndex) -> None:
    mi = next(i for i, t in enumerate(index.tests) if t.result.startswith("ST elevation"))
    diff = Differential(index, age=60, sex="male")
    diff.observe_test("ECG", "Normal sinus rhythm with ST elevation in contiguous leads II, III and aVF.")
    assert diff.test_shown[mi] == 1.0
    plain = Differential(index, age=60, sex="male")
    plain.observe_test("ECG", "Normal sinus rhythm.")
    assert plain.test_shown[mi] == 0.0
