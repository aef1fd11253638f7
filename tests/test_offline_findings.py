"""Free text to findings: clause splitting, negation scope, synonyms, lab values, lexical matching.

These tests need no model: matching runs with a bag-of-words test embedder, so what is checked is
the negation logic and the synonym normalisation, not the sentence embedder.
"""

from __future__ import annotations

import pytest
from offline_fixtures import HashingEmbedder

from agentsim.offline.findings import (
    DENIED_ALIAS_WEIGHT,
    PART_ALIAS_WEIGHT,
    FindingMatcher,
    FindingSpec,
    is_demographic,
    is_normal_state,
    normalize_text,
    split_clauses,
    split_sentences,
)
from agentsim.offline.labs import is_bare_measurement, read_values, states_value


def polarity(text: str) -> dict[str, bool]:
    """clause text -> negated, for the fragments (not the joined runs)."""
    return {c.text: c.negated for c in split_clauses(text, runs=False)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no chest pain", {"chest pain": True}),
        ("Denies SOB.", {"dyspnea": True}),
        ("I have shortness of breath", {"dyspnea": False}),
        ("She is short of breath when climbing stairs", {"dyspnea": False, "climbing stairs": False}),
        ("Denies recent fever, chest pain, wheezing, or cough.",
         {"fever": True, "chest pain": True, "wheezing": True, "cough": True}),
        ("Denies fever but reports wheezing.", {"fever": True, "wheezing": False}),
        ("She has not had fever but has a cough.", {"fever": True, "cough": False}),
        ("No, I haven't had any fever.", {"fever": True}),
        ("Negative for intraepithelial lesion or malignancy",
         {"intraepithelial lesion": True, "malignancy": True}),
        ("Coombs test: negative", {"coombs test": True}),
        ("Occult blood test: positive", {"occult blood test": False}),
        ("Afebrile.", {"fever": True}),
        ("Non-smoker.", {"smoker": True}),
        # "non-" before a noun qualifies it and negates nothing else in the list
        ("A non-tender mass and fever.", {"nontender mass": False, "fever": False}),
        ("Non-productive cough and malaise.", {"nonproductive cough": False, "malaise": False}),
        ("Abdomen soft, non-tender.", {"tender": True}),
        ("Absent bowel sounds.", {"absent bowel sounds": False}),
        ("Pulses absent in the left foot.", {"absent pulses in the left foot": False}),
        ("Vomited twice without blood.", {"vomiting twice": False, "blood": True}),
    ],
)
def test_negation_scope(text: str, expected: dict[str, bool]) -> None:
    got = polarity(text)
    for clause, negated in expected.items():
        assert clause in got, f"{clause!r} not among {got}"
        assert got[clause] is negated, f"{clause!r} in {text!r}: negated={got[clause]}"


def test_negation_scope_ends_at_a_new_clause() -> None:
    got = polarity("Afebrile, heart rate 110.")
    assert got["fever"] is True
    assert got.get("heart rate 110") is False


def test_normal_statements_assert_nothing() -> None:
    assert polarity("Heart sounds normal. Lungs unremarkable.") == {}
    # normal results in other words, and organs merely listed, state no finding either
    assert polarity("Oriented x3; mucous membranes moist; percussion resonant; full range of motion. "
                    "Cornea clear, retina attached. Liver, spleen and gallbladder unremarkable.") == {}
    assert polarity("Moist crackles at both bases.") == {"moist crackles at both bases": False}
    assert polarity("Urinary calcium excretion within reference ranges.") == {}


def test_a_test_named_before_negative_for_is_no_finding() -> None:
    # "urea breath test" must not match "positive urea breath test"
    assert polarity("Urea breath test negative for Helicobacter pylori.") == {"helicobacter pylori": True}
    assert polarity("Urine drug screen negative for opioids, positive for cocaine.") == {
        "opioids": True, "cocaine": False}
    assert polarity("Blood cultures positive for S. aureus.")["blood cultures"] is False


def test_a_one_letter_abbreviation_ends_no_sentence() -> None:
    got = polarity("No Salmonella, Shigella or Shiga toxin-producing E. coli detected.")
    assert got == {"salmonella": True, "shigella": True, "shiga toxin-producing e. coli": True}
    assert split_sentences("he has hepatitis b. he denies fever.") == ["he has hepatitis b.", "he denies fever."]


def test_synonyms_share_one_canonical_term() -> None:
    assert normalize_text("shortness of breath") == normalize_text("dyspnea") == "dyspnea"
    assert normalize_text("SOB") == "dyspnea"
    assert normalize_text("throwing up") == "vomiting"
    # an abbreviation is only expanded in capitals; longer terms are not rewritten inside
    assert normalize_text("night sweats") == "night sweats"
    assert "sob" in normalize_text("she started to sob")


def test_lab_values_become_words() -> None:
    found = {(v.text, v.negated) for v in read_values(
        "Hemoglobin: 8.2 g/dL; Platelet count: 18,000/mm3; Temperature 39.3°C; BP 85/50 mm Hg; SpO2 98%")}
    assert ("anemia", False) in found
    assert ("thrombocytopenia", False) in found
    assert ("fever", False) in found
    assert ("hypotension", False) in found
    assert ("hypoxemia", True) in found  # a normal saturation argues against hypoxemia
    assert read_values("WBC 7.2 x10^9/L, platelets 250 x10^9/L") == []
    # a ratio's parts are not values of their own
    assert read_values("Urine albumin/creatinine ratio 8 mg/g; BUN/creatinine ratio 25") == []
    # a word result is the result; the next number belongs to another test ("pulse pressure" is no pulse)
    assert read_values("vitamin B12 normal, 25-OH vitamin D 31 ng/mL") == []
    assert [v.text for v in read_values("Wide pulse pressure, temperature 38.2 C")] == ["fever", "temperature 38.2 c"]
    assert read_values("serum-ascites albumin gradient 1.6 g/dL") == []
    # a bare "T" is a temperature only with a temperature's number and unit
    assert [v.text for v in read_values("T 38.5 C")] == ["fever", "temperature 38.5 c"]
    assert read_values("CD4 T cells 150/uL; T-score -2.8") == []
    assert [(v.analyte, v.negated) for v in read_values("troponin T 6 ng/L")] == [("troponin", True)]
    assert [v.text for v in read_values("K+ 6.1, Na+ 128")] == ["hyponatremia", "hyperkalemia"]
    # tumour markers named "CA" are not calcium
    assert read_values("CEA 1.8 ng/mL, CA 19-9 12 U/mL, CA-125 15 U/mL") == []
    assert [v.text for v in read_values("CA-125 450 U/mL, Ca 11.6 mg/dL")] == ["hypercalcemia"]
    assert states_value("glucose 5.2 mmol/l") and not states_value("cough for 3 weeks")


def test_values_of_other_body_fluids_are_not_blood_values() -> None:
    # a urine sodium of 10 is no hyponatremia, a urine pH of 6.0 no acidosis, a CSF white count of 1 no leukopenia
    assert [v.text for v in read_values("Urine sodium 10 mmol/L; serum sodium 128 mmol/L")] == ["hyponatremia"]
    assert read_values("Clear yellow, specific gravity 1.015, pH 6.0", "Urinalysis") == []
    assert read_values("Vaginal pH 4.2, no clue cells") == []
    assert read_values("Small volume clear fluid: WBC 150/uL, no crystals", "Arthrocentesis") == []
    assert read_values("WBC 1/uL, RBC 0/uL, protein 35 mg/dL, glucose 62 mg/dL", "CSF analysis") == []
    # CSF is read against CSF limits, by the test's name or by the words before the values
    meningitis = "WBC 1,250/uL, protein 180 mg/dL, glucose 22 mg/dL"
    assert {v.text for v in read_values(meningitis, "Lumbar puncture")} == {
        "csf pleocytosis", "low csf glucose", "elevated csf protein"}
    assert {v.text for v in read_values("CSF: " + meningitis + ". Serum glucose 300 mg/dL.")} == {
        "csf pleocytosis", "low csf glucose", "elevated csf protein", "hyperglycemia"}


def test_units_and_names_that_look_like_other_values() -> None:
    assert read_values("Coronary calcium score 0. No coronary stenosis.") == []
    assert read_values("PT 12.1 s, INR 1.0, aPTT 30 s, fibrinogen 3.0 g/L.") == []
    assert [v.text for v in read_values("Fibrinogen 90 mg/dL")] == ["low fibrinogen"]
    assert [v.text for v in read_values("Total cholesterol 7.8 mmol/L, HDL 2.1 mmol/L")] == [
        "hypercholesterolemia high cholesterol"]
    # "mmHg" and "mmol" are not millimetres: such a number only reports a value
    assert is_bare_measurement("intraocular pressure 15 mmhg right")
    assert is_bare_measurement("sweat chloride 18 mmol/l")
    assert not is_bare_measurement("endometrium 12 mm") and not is_bare_measurement("2.5-cm mass")


@pytest.mark.parametrize("text", [
    "tenderness around the 2nd toe", "in the bottom 10th percentile for height",  # ordinals
    "grade 2/6 systolic ejection murmur", "pain 8/10", "pain 8 out of 10",  # grades and scores
    "irregularly irregular rate varying from 88 to 110 bpm",  # a sign with its readings
    "regained consciousness within 30 seconds", "difficulty staying awake past 6 pm",  # times
    "anxiety according to phq-9 and gad-7 screenings",  # names with a number
    "brother died at the age of 84 due to hematologic malignancy",  # an age
])
def test_numbers_that_are_no_measurement_keep_the_clause(text: str) -> None:
    assert not is_bare_measurement(text)


@pytest.mark.parametrize("text", ["170/92 mm hg", "98% on room air", "strength 5/5 in all extremities",
                                  "osmolar gap 6"])
def test_bare_readings_stay_bare(text: str) -> None:
    assert is_bare_measurement(text)


def test_a_normal_examination_states_no_finding() -> None:
    # a normal state closing a list holds for every item of it; "X not raised" denies the raised X
    assert polarity("Biceps, triceps, supinator, knee and ankle reflexes 2+ and symmetrical.") == {
        "absent ankle reflexes": True}
    assert polarity("Light touch, pinprick, vibration and joint position sense intact in all four limbs. "
                    "Heart sounds S1 and S2 normal. Insight and judgement intact.") == {}
    assert polarity("Skin warm and dry. Pupils equal and reactive to light. Neck supple, trachea central.") == {}
    assert polarity("JVP not raised. Apex beat not displaced.") == {
        "jugular venous pressure raised": True, "apex beat displaced": True}
    # "not detected" closing a list still denies the list
    assert polarity("Protein, glucose and ketones not detected.") == {"protein": True, "glucose": True,
                                                                       "ketones": True}
    # a list closed by a normal state of its own subject keeps its findings
    assert polarity("Swollen red knee, other joints normal.") == {"swollen red knee": False}
    assert polarity("She has fatigue and her blood pressure is normal.") == {"fatigue": False}
    assert polarity("Tachycardia and otherwise normal.") == {"tachycardia": False}


def test_a_level_after_a_label_is_part_of_the_finding() -> None:
    assert polarity("ESR: Elevated; CRP: Elevated") == {"elevated esr": False, "elevated crp": False}
    assert polarity("Potassium: low") == {"low potassium": False}
    assert polarity("Coombs test: negative") == {"coombs test": True}


def test_normally_present_structures() -> None:
    # absent: a finding; present: the denial of its absence; "no pathological reflexes" is no absent reflex
    assert polarity("Cremasteric reflex absent.") == {"absent cremasteric reflex": False}
    assert polarity("No lung sliding on the right.") == {"absent lung sliding on the right": False}
    assert polarity("Absent thymic shadow.") == {"absent thymic shadow": False}
    assert polarity("Pulses palpable.") == {"absent pulses": True}
    assert polarity("Bowel sounds normal.") == {"absent bowel sounds": True}
    assert "absent pathological reflexes" not in polarity("Normal reflexes with no pathological reflexes.")
    assert polarity("Edema absent, rash present.") == {"edema": True, "rash": False}


def test_a_closing_negative_negates_the_list_before_it() -> None:
    got = {c.text: c.negated for c in split_clauses(
        "Urinalysis: protein, glucose, ketones and nitrite negative; rash present, edema absent", runs=False)}
    assert got["protein"] and got["glucose"] and got["ketones"] and got["nitrite"]
    assert got["edema"] and not got["rash"]


def test_spirometry_values_become_words() -> None:
    # "0.41" and "41%" are the same ratio; a ratio under 0.7 is airflow obstruction.
    assert [v.text for v in read_values("FEV1/FVC 0.41")] == ["obstructive pattern airflow obstruction"]
    assert [v.text for v in read_values("FEV1/FVC ratio of 65%")] == ["obstructive pattern airflow obstruction"]
    assert read_values("FEV1/FVC 0.82") == []
    assert [v.text for v in read_values("DLCO: 60% of predicted value")] == ["reduced diffusing capacity"]
    assert [v.text for v in read_values("hemoglobin 7.9 g/dL")] == ["anemia"]


def test_demographic_findings_are_recognised() -> None:
    assert is_demographic("older man") and is_demographic("onset before age 40")
    assert not is_demographic("works in health care") and not is_demographic("chest pain")


def test_normal_states_are_recognised() -> None:
    for text in ("normal lung examination", "clear lungs on chest X-ray", "negative blood cultures",
                 "afebrile with normal exam", "otherwise healthy", "normal PT and aPTT",
                 "normal white count and inflammatory markers", "distance vision normal",
                 "few findings on auscultation", "passive range of motion preserved", "preserved elbow motion"):
        assert is_normal_state(text), text
    for text in ("normal anion gap metabolic acidosis", "absent reflexes", "no fever", "chest pain",
                 "hyponatremia with normal potassium", "clear fluid from the nose", "clear lungs with wheezing",
                 "short stature with normal growth velocity", "normal strength between attacks"):
        assert not is_normal_state(text), text


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> FindingMatcher:
    mp = pytest.MonkeyPatch()
    mp.setenv("AGENTSIM_CACHE_DIR", str(tmp_path_factory.mktemp("offline-cache")))
    specs = [
        FindingSpec(text="shortness of breath", aliases=("breathlessness",), frequency=0.8, kind="symptom", disease=0),
        FindingSpec(text="abdominal pain", frequency=0.9, kind="symptom", disease=0),
        FindingSpec(text="crushing chest pain", aliases=("chest pressure",), frequency=0.9, kind="symptom", disease=1),
        FindingSpec(text="hypertension", frequency=0.5, kind="risk_factor", disease=1),
        FindingSpec(text="no fever", frequency=0.9, kind="sign", disease=2),
        FindingSpec(text="joint pain", frequency=0.8, kind="symptom", disease=2),
    ]
    try:
        return FindingMatcher(specs, 3, HashingEmbedder(), tag="test")
    finally:
        mp.undo()


def test_matching_uses_synonyms_and_negation(matcher: FindingMatcher) -> None:
    clauses = split_clauses("Denies SOB. No chest pain.")
    assert all(c.negated for c in clauses)
    conf = matcher.match([c.text for c in clauses])
    texts = [c.text for c in clauses]
    assert conf[texts.index("dyspnea"), 0] == pytest.approx(1.0)  # "SOB" -> shortness of breath
    assert conf[texts.index("chest pain"), 2] > 0.5  # chest pain ~ crushing chest pain
    assert conf[texts.index("chest pain"), 1] < 0.5  # ... but not abdominal pain


def test_antonyms_do_not_match(matcher: FindingMatcher) -> None:
    conf = matcher.match([normalize_text("low blood pressure")])
    assert conf[0, 3] == 0.0  # hypotension is not hypertension


def test_opposite_sides_durations_and_courses_do_not_match() -> None:
    from agentsim.offline.findings import PhraseIndex

    phrases = PhraseIndex(["right lower quadrant pain", "morning stiffness less than 30 minutes", "chronic cough",
                           "free air on upright film", "crackles over one lung"], HashingEmbedder(), tag="test")
    conf = phrases.lexical(["left lower quadrant pain", "morning stiffness more than an hour", "acute cough",
                            "free air under the left hemidiaphragm", "bilateral crackles over the lungs"])
    assert conf[0, 0] == 0.0 and conf[1, 1] == 0.0 and conf[2, 2] == 0.0 and conf[4, 4] == 0.0
    # sides are whole words: "upright" does not say "right"
    assert conf[3, 3] > 0.0
    assert phrases.lexical(["bibasilar crackles"])[0, 4] == 0.0


def test_right_and_left_is_one_bilateral_finding() -> None:
    clauses = split_clauses("Rales in the lower right and left lung lobes.")
    assert [c.text for c in clauses] == ["rales in the lower bilateral lung lobes"]


def test_a_quantity_that_breaks_a_stated_limit_does_not_match() -> None:
    from agentsim.offline.findings import PhraseIndex

    phrases = PhraseIndex(["morning stiffness less than 30 minutes", "morning stiffness more than 1 hour",
                           "symptoms for more than six months", "lymph node over 1.5 cm"], HashingEmbedder(),
                          tag="test")
    conf = phrases.match(["morning stiffness lasting about 50 minutes", "morning stiffness for 2 hours",
                          "symptoms for 3 weeks", "symptoms for 2 years", "a 2-cm lymph node", "morning stiffness"])
    assert conf[0, 0] == 0.0 and conf[0, 1] == 0.0  # 50 minutes is neither under 30 minutes nor over an hour
    assert conf[1, 1] > 0.0 and conf[1, 0] == 0.0  # hours and minutes compare
    assert conf[2, 2] == 0.0 and conf[3, 2] > 0.0
    assert conf[4, 3] > 0.0
    assert conf[5, 0] > 0.0  # no quantity, no contradiction
    # a finding that is only a duration needs one: "symptoms started" says nothing of six months
    conf = phrases.match(["symptoms started", "symptoms for 2 years"])
    assert conf[0, 2] == 0.0 and conf[1, 2] > 0.0


def test_a_localised_finding_is_not_a_widespread_one() -> None:
    from agentsim.offline.findings import PhraseIndex

    phrases = PhraseIndex(["widespread body pain", "generalized weakness"], HashingEmbedder(), tag="test")
    conf = phrases.lexical(["widespread pain in the body", "body pain in the knee", "weakness of the left arm",
                            "generalized weakness"])
    assert conf[0, 0] > 0.0 and conf[1, 0] == 0.0 and conf[2, 1] == 0.0 and conf[3, 1] > 0.0


def test_an_alias_naming_one_part_of_a_conjunction_shows_it_only_partly() -> None:
    specs = [FindingSpec(text="hypertension and tachycardia", aliases=("high blood pressure", "fast heart rate"),
                         frequency=0.8, kind="sign", disease=0)]
    m = FindingMatcher(specs, 1, HashingEmbedder(), tag="test")
    assert m.match(["hypertension"])[0, 0] == pytest.approx(PART_ALIAS_WEIGHT)
    # a denial of one part denies the whole
    assert m.match(["hypertension"], negated=True)[0, 0] == pytest.approx(1.0)


def test_findings_stated_as_absence_are_inverted(matcher: FindingMatcher) -> None:
    assert matcher.inverted.tolist() == [False, False, False, False, True, False]
    # "no fever" is matched through its positive wording; the reasoner flips the polarity
    assert matcher.match(["fever"])[0, 4] == pytest.approx(1.0)


def test_a_denied_alias_denies_the_finding_only_partly() -> None:
    specs = [FindingSpec(text="confusion", aliases=("seizure",), frequency=0.9, kind="symptom", disease=0)]
    m = FindingMatcher(specs, 1, HashingEmbedder(), tag="test")
    assert m.match(["seizure"])[0, 0] == pytest.approx(1.0)  # a seizure shows it
    assert DENIED_ALIAS_WEIGHT < 1.0
    assert m.match(["seizure"], negated=True)[0, 0] == pytest.approx(DENIED_ALIAS_WEIGHT)
    assert m.match(["confusion"], negated=True)[0, 0] == pytest.approx(1.0)


def test_an_alias_stated_as_an_absence_does_not_match_what_it_denies() -> None:
    specs = [FindingSpec(text="hot dry skin", aliases=("no sweating",), frequency=0.5, kind="sign", disease=0),
             FindingSpec(text="sweating", frequency=0.6, kind="sign", disease=1)]
    m = FindingMatcher(specs, 2, HashingEmbedder(), tag="test")
    conf = m.match([normalize_text("sweating")])
    assert conf[0, 0] == 0.0 and conf[0, 1] == pytest.approx(1.0)
    assert m.match([normalize_text("hot dry skin")])[0, 0] == pytest.approx(1.0)


def test_two_letter_abbreviations_are_words() -> None:
    from agentsim.offline.findings import PhraseIndex, content_tokens

    assert content_tokens("high ck") == ["high", "ck"] and "c4" in content_tokens("low c4")
    assert "st" not in content_tokens("1st degree av block")  # an ordinal's suffix is no abbreviation
    phrases = PhraseIndex(["high ck", "prolonged qt interval"], HashingEmbedder(), tag="test")
    conf = phrases.lexical(["high fever", "prolonged labour", "high ck"])
    assert conf[0, 0] == 0.0 and conf[1, 1] == 0.0 and conf[2, 0] == pytest.approx(1.0)


def test_temperatures_compare_in_celsius() -> None:
    from agentsim.offline.findings import PhraseIndex, quantities, thresholds

    assert quantities(normalize_text("Temperature 104°F")) == [(pytest.approx(40.0), "celsius")]
    assert thresholds("core temperature above 40 c") == [(False, 40.0, "celsius")]
    assert quantities("hepatitis c") == [] and quantities("vitamin c 500 mg") == []
    phrases = PhraseIndex(["core temperature above 40 c", "core temperature below 35 c"], HashingEmbedder(),
                          tag="test")
    conf = phrases.match(["core temperature 41.1 c", "core temperature 38.2 c"])
    assert conf[0, 0] > 0.0 and conf[0, 1] == 0.0
    assert conf[1, 0] == 0.0 and conf[1, 1] == 0.0
    # the vital sign states its value, so that such limits can be checked
    texts = [v.text for v in read_values("Temperature: 106°F (41.1°C)", "vital signs")]
    assert "temperature 41.1 c" in texts and "high fever" in texts
    assert not any(t.startswith("temperature") for t in
                   (v.text for v in read_values("Temperature: 37.0°C", "vital signs")))


def test_a_fever_with_its_reading_is_a_fever() -> None:
    def read(text: str) -> list[tuple[str, bool]]:
        return [(v.text, v.negated) for v in read_values(text, "history")]

    # before, "fever of 102°F" was a bare measurement: dropped, and the fever with it
    assert read("I had a fever of 102°F") == [("fever", False), ("temperature 38.9 c", False)]
    assert states_value("fever of 38.9 c")
    assert ("high fever", False) in read("febrile to 39.6 °C")
    # the writer calls it a fever: a low reading does not deny it
    assert read("low-grade fever of 37.8 C") == [("fever", False)]
    assert read("fever for 3 days") == []


def test_a_sign_named_with_its_reading_is_kept() -> None:
    from agentsim.offline.reasoner import _with_values

    def kept(text: str) -> list[str]:
        return [c.text for c in _with_values(split_clauses(text), read_values(text, "exam"), "exam", 1.0)]

    # "tachycardic to 130" states tachycardia in words; before, the number made it a bare measurement
    assert kept("tachycardic to 130") == ["tachycardic to 130"]
    assert kept("hypoxic to 85%") == ["hypoxic to 85%"]
    assert kept("saturating 88% on room air") == ["hypoxemia"]
    assert kept("serum osmolality 288 mOsm/kg") == []


def test_a_measurement_of_the_topic_that_meets_the_limit_states_the_finding() -> None:
    from agentsim.offline.findings import PhraseIndex, meets, thresholds

    assert meets([(41.1, "celsius")], thresholds("core temperature above 40 c"))
    assert not meets([(39.0, "celsius")], thresholds("core temperature above 40 c"))
    assert not meets([(3.0, "time")], thresholds("core temperature above 40 c"))  # nothing of its dimension
    phrases = PhraseIndex(["core temperature above 40 c", "glucose below 70 mg/dl"], HashingEmbedder(), tag="test")
    conf = phrases.match(["temperature 41.1 c", "glucose 45 mg/dl", "glucose 95 mg/dl",
                          "skin temperature 41.1 c"])
    assert conf[0, 0] == pytest.approx(1.0) and conf[1, 1] == pytest.approx(1.0)
    assert conf[2, 1] == 0.0
    # a measurement of something the phrase does not name keeps its word match only
    assert conf[3, 0] < 1.0


def test_seconds_are_a_time_unit() -> None:
    from agentsim.offline.findings import TIME_UNIT_WORDS, contradicts, quantities, thresholds

    assert quantities("spells lasting 30 seconds") == [(pytest.approx(0.5), "time")]
    assert not contradicts(quantities("lasting 30 seconds"), thresholds("episode under 1 minute"))
    assert contradicts(quantities("lasting 90 seconds"), thresholds("episode under 1 minute"))
    assert {"seconds", "minutes", "hours", "days", "weeks", "months", "years"} <= set(TIME_UNIT_WORDS)


def test_ancestry_is_read_from_demographics_not_asked_as_a_symptom():
    from agentsim.offline.findings import is_ancestry

    assert is_ancestry("African American man") and is_ancestry("Ashkenazi Jewish descent")
    assert not is_ancestry("black skin lesion") and not is_ancestry("white patches on the tongue")
