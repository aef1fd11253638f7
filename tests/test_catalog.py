"""The shipped test catalogue: schema, uniqueness and lookup by the wordings doctors use."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from agentsim.catalog import CATALOG_PATH, CatalogFile, default_catalog, load_catalog, normalize_name
from agentsim.errors import ConfigError


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_file_validates_and_is_large_enough():
    data = CatalogFile.model_validate(json.loads(CATALOG_PATH.read_text(encoding="utf-8")))
    assert len(data.entries) >= 170
    assert data.visit_fee_usd == 300
    assert data.default_price_usd > 0
    assert "not copied" in data.price_basis
    cats = Counter(e.category for e in data.entries)
    for needed in ("exam", "vitals", "lab", "imaging", "cardiac", "procedure", "pathology", "microbiology"):
        assert cats[needed] > 0, needed


def test_ids_unique(cat):
    ids = [e.id for e in cat.entries]
    assert len(ids) == len(set(ids))


def test_no_alias_points_at_two_entries(cat):
    owner: dict[str, str] = {}
    conflicts = []
    for e in cat.entries:
        for key in cat.keys(e):
            assert key, f"{e.id}: a name or alias normalizes to nothing"
            if key in owner and owner[key] != e.id:
                conflicts.append((key, owner[key], e.id))
            owner[key] = e.id
    assert conflicts == []


def test_exam_components_are_free_and_tests_are_priced(cat):
    for e in cat.entries:
        if e.category in ("exam", "vitals"):
            assert e.price_usd == 0, e.id
        else:
            assert 1 <= e.price_usd <= 5000, e.id
        assert len(e.normal_result) > 10, e.id


@pytest.mark.parametrize(("a", "b"), [
    ("CBC", "complete blood count"),
    ("full blood count", "blood count"),
    ("CXR", "chest radiograph"),
    ("chest x ray", "X-ray chest"),
    ("BMP", "urea and electrolytes"),
    ("LFTs", "liver function tests"),
    ("ECG", "EKG"),
    ("echo", "TTE"),
    ("ABG", "arterial blood gas"),
    ("CTPA", "CT pulmonary angiogram"),
    ("UA", "urine dipstick"),
    ("TSH", "thyroid function tests"),
    ("beta-hCG", "serum hCG"),
    ("LP", "spinal tap"),
    ("DRE", "rectal exam"),
])
def test_synonyms_find_the_same_entry(cat, a, b):
    ea, eb = cat.lookup(a), cat.lookup(b)
    assert ea is not None and ea == eb


@pytest.mark.parametrize(("request_text", "entry_id"), [
    ("chest xray", "chest_xray"),
    ("Chest_X-ray", "chest_xray"),
    ("x-ray of the chest", "chest_xray"),
    ("CT abdomen/pelvis with IV contrast", "ct_abdomen_pelvis"),
    ("CT scan of the head without contrast", "ct_head"),
    ("MRI of the lumbar spine", "mri_spine"),
    ("troponin x2", "troponin"),
    ("Please order a lipid panel", "lipid_panel"),
    ("fundoscopic exam", "fundoscopy"),
    ("Abdominal_Examination", "abdominal_exam"),
    ("lumbar puncture with CSF analysis", "lumbar_puncture"),
    ("transvaginal ultrasound", "us_transvaginal"),
    ("Doppler ultrasound of the legs", "doppler_venous"),
    ("skin biopsy of lesion", "skin_biopsy"),
    ("KOH prep of scraping", "koh_prep"),
    ("slit lamp exam with fluorescein", "slit_lamp"),
])
def test_lookup_by_typical_wording(cat, request_text, entry_id):
    entry = cat.lookup(request_text)
    assert entry is not None and entry.id == entry_id


def test_different_tests_stay_different(cat):
    assert cat.lookup("chest x-ray").id != cat.lookup("CT chest").id
    assert cat.lookup("urine hCG").id != cat.lookup("serum beta-hCG").id
    assert cat.lookup("MRI brain").id != cat.lookup("CT head").id
    assert cat.lookup("blood cultures").id != cat.lookup("urine culture").id
    # a word shared with another test's name is no match: these once ordered a dexamethasone suppression test
    # for a urine copper, a venous study for mesenteric arteries and a blood pressure for compartment pressures
    for request, wrong in [("24-hour urine copper", "dexamethasone_suppression"),
                           ("24-hour urine calcium", "dexamethasone_suppression"),
                           ("mesenteric Doppler ultrasound", "doppler_venous"),
                           ("carotid Doppler ultrasound", "doppler_venous"),
                           ("compartment pressure measurement", "blood_pressure"),
                           ("anti-PLA2R antibody", "rf_ccp"), ("urine cytology", "urinalysis")]:
        entry = cat.lookup(request)
        assert entry is not None and entry.id != wrong, request


def test_every_knowledge_base_angiogram_names_its_site(cat):
    """A bare "CT angiography" resolved to the pulmonary study for limb, carotid and mesenteric disease."""
    from agentsim.offline.kb import default_kb

    for disease in default_kb().diseases:
        for t in disease.tests:
            entry = cat.lookup(t.test)
            if entry is not None and entry.id == "ctpa":
                assert disease.specialty == "pulmonology", (disease.name, t.test)


def test_prices_in_expected_ranges(cat):
    assert cat.price("CBC") < 20
    assert 20 <= cat.price("chest X-ray") <= 60
    assert 250 <= cat.price("CT abdomen with contrast") <= 500
    assert 350 <= cat.price("MRI brain") <= 600
    assert cat.price("colonoscopy") >= 500
    assert cat.price("abdominal examination") == 0
    assert cat.price("vital signs") == 0
    assert cat.price("quantum flux assay") == cat.data.default_price_usd


def test_unknown_request_finds_nothing(cat):
    assert cat.lookup("quantum flux assay") is None
    assert cat.lookup("") is None


def test_normal_results_are_normal(cat):
    # Normal results must not name a disease (the measurement agent returns them for unlisted tests).
    for word in ("consistent with", "suggestive of", "diagnosis"):
        hits = [e.id for e in cat.entries if word in e.normal_result.lower()]
        assert hits == [], word


def test_normal_results_read_as_normal_to_the_offline_doctor(cat):
    """A test the case does not list comes back as its catalogue normal: the reader must take it as normal,
    or the result is evidence for nothing ("triphasic waveforms throughout" once was)."""
    from agentsim.offline.reasoner import is_normal_report, read_report

    unread = []
    for e in cat.entries:
        if e.category in ("exam", "vitals"):
            continue
        for result in [e.normal_result, *e.normal_by_sex.values()]:
            clauses, values = read_report(e.name, result)
            if not is_normal_report(result, clauses, values):
                unread.append((e.id, result))
    assert unread == []
    clauses, values = read_report("ECG", "Normal sinus rhythm with ST elevation in leads II, III and aVF.")
    assert any(not c.negated and "st elevation" in c.text for c in clauses)


def test_normalize_ignores_filler_and_punctuation():
    assert normalize_name("Please order the CBC test") == "cbc"
    assert normalize_name("Chest_X-ray") == normalize_name("chest x ray")


def test_bad_catalogue_file_is_a_config_error(tmp_path):
    p = tmp_path / "cat.json"
    p.write_text(json.dumps({"price_basis": "x", "default_price_usd": 1, "visit_fee_usd": 1,
                             "entries": [{"id": "Bad Id", "name": "x", "category": "lab", "price_usd": 1,
                                          "normal_result": "ok"}]}))
    with pytest.raises(ConfigError, match="cat.json"):
        load_catalog(p)


def test_default_catalog_is_cached():
    assert default_catalog() is default_catalog()


def test_panels_name_the_entries_they_report(tmp_path):
    cat = default_catalog()
    assert cat.related("cmp", "bmp") and cat.related("bmp", "cmp") and cat.related("cmp", "lft")
    assert not cat.related("lft", "bmp") and not cat.related("cbc", "bmp")
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    data["entries"][0]["includes"] = ["no_such_test"]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_test"):
        load_catalog(p)
