"""The shipped knowledge base: no diagnosis label may name two diseases; aliases state their own finding."""

from __future__ import annotations

import json
from pathlib import Path

from agentsim.offline.kb import KBDisease, KnowledgeBase, duplicate_labels, load_kb


def _disease(disease_id: str, name: str, synonyms: list[str]) -> KBDisease:
    return KBDisease(
        id=disease_id, name=name, synonyms=synonyms, specialty="test", prevalence="common",
        findings=[{"text": t, "kind": "symptom", "frequency": 0.5} for t in ("fever", "cough", "fatigue")],
    )


def test_shipped_kb_has_no_duplicate_labels() -> None:
    dups = duplicate_labels(load_kb())
    assert dups == [], "labels naming two diseases: " + "; ".join(f"{lab!r}: {a} / {b}" for lab, a, b in dups)


def test_planted_duplicate_is_found_after_normalisation() -> None:
    kb = KnowledgeBase(diseases=[
        _disease("graves_disease", "Graves disease", ["Graves' disease", "toxic diffuse goiter"]),
        _disease("toxic_adenoma", "Toxic adenoma", ["hot nodule"]),
        _disease("thyroiditis", "Thyroiditis", ["GRAVES-DISEASE", "graves disease"]),
    ])
    # The same label twice within one disease is not a duplicate; across diseases it is, once per pair.
    assert duplicate_labels(kb) == [("graves disease", "graves_disease", "thyroiditis")]


def test_id_read_as_words_counts_as_a_label(tmp_path: Path) -> None:
    diseases = [_disease("hot_nodule", "Toxic adenoma", []), _disease("scan_finding", "Scan finding", ["Hot nodule"])]
    (tmp_path / "tiny.json").write_text(json.dumps({
        "source": "test fixture, written for this test",
        "specialty_group": "test",
        "diseases": [d.model_dump() for d in diseases],
    }), encoding="utf-8")
    assert duplicate_labels(load_kb(tmp_path)) == [("hot nodule", "hot_nodule", "scan_finding")]


#: (word of a finding's text, alias it must not have): each alias names a neighbouring finding, a
#: trigger or a consequence, so a patient saying it would show the finding it is filed under.
_NOT_THE_FINDING = [
    ("spleen", "enlarged liver"),
    ("fever", "chills"),
    ("vomiting", "nausea"),
    ("cramps", "vomiting"),
    ("fainting", "hypotension"),
    ("fasting", "fever"),
    ("insulin", "infection"),
]


def test_aliases_do_not_name_a_neighbouring_finding() -> None:
    bad = [(d.id, f.text, alias) for d in load_kb().diseases for f in d.findings
           for word, alias in _NOT_THE_FINDING
           if word in f.text.lower() and alias not in f.text.lower() and alias in map(str.lower, f.aliases)]
    assert bad == []
