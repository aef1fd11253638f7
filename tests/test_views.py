"""Each participant's view holds only its seat's knowledge, and never the answer."""

from __future__ import annotations

import pytest

from agentsim.leakage import contains_answer
from agentsim.scenario import load_scenarios
from agentsim.views import build_views


def _cases():
    from agentsim.scenario import default_scenarios_dir

    return load_scenarios(default_scenarios_dir())


@pytest.mark.parametrize("loaded", _cases(), ids=lambda ls: ls.scenario.id)
def test_views_never_contain_the_answer(loaded):
    v = build_views(loaded)
    for view in (v.doctor, v.patient, v.measurement):
        assert not contains_answer(view.model_dump_json(), v.answer.terms), type(view).__name__


def test_doctor_view_has_no_results(appendicitis):
    v = build_views(appendicitis)
    text = v.doctor.model_dump_json()
    assert "WBC 14.8" not in text and "McBurney" not in text and "Mesenteric" not in text
    assert v.answer.diagnosis == "Acute appendicitis" and "appendicitis" in v.answer.terms


def test_test_bound_images_are_hidden_until_ordered():
    cases = [ls for ls in _cases() if any(t.images for t in ls.scenario.tests)]
    if not cases:
        pytest.skip("no case attaches an image to a test")
    ls = cases[0]
    v = build_views(ls)
    bound = {i for t in ls.scenario.tests for i in t.images}
    assert not bound & {im.id for im in v.doctor.images}
    assert bound <= set(v.measurement.images)
