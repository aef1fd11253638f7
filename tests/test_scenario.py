"""Scenario loading and validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsim.errors import ScenarioError
from agentsim.scenario import load_scenario, load_scenarios, resolve_scenario


def _write(tmp: Path, data, name: str = "case.json") -> Path:
    p = tmp / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.fixture
def good(appendicitis) -> dict:
    return json.loads(appendicitis.path.read_text())


def test_shipped_cases_load(scenarios_dir):
    cases = load_scenarios(scenarios_dir)
    assert len(cases) >= 1
    assert len({c.scenario.id for c in cases}) == len(cases)


def test_resolve_by_id_and_path(appendicitis):
    assert resolve_scenario("gs-appendicitis-01").scenario.id == "gs-appendicitis-01"
    assert resolve_scenario(str(appendicitis.path)).scenario.id == "gs-appendicitis-01"
    with pytest.raises(ScenarioError, match="no-such-case"):
        resolve_scenario("no-such-case")


def test_bad_json_names_file_and_line(tmp_path):
    p = _write(tmp_path, '{"id": "x",\n  "specialty": }')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert str(p) in str(e.value) and "line 2" in str(e.value)


def test_missing_field(tmp_path, good):
    del good["patient"]["demographics"]
    with pytest.raises(ScenarioError) as e:
        load_scenario(_write(tmp_path, good))
    msg = str(e.value)
    assert "gs-appendicitis-01" in msg and "patient.demographics" in msg and "case.json" in msg


def test_wrong_type(tmp_path, good):
    good["patient"]["age_years"] = "twenty-two"
    with pytest.raises(ScenarioError) as e:
        load_scenario(_write(tmp_path, good))
    assert "patient.age_years" in str(e.value)


def test_unknown_field(tmp_path, good):
    good["tests"][0]["units"] = "g/dL"
    with pytest.raises(ScenarioError) as e:
        load_scenario(_write(tmp_path, good))
    assert "tests[0].units" in str(e.value) and "Extra inputs" in str(e.value)


def test_missing_image_file(tmp_path, good):
    good["images"] = [{"id": "im1", "path": "nope.png", "modality": "X-ray"}]
    with pytest.raises(ScenarioError) as e:
        load_scenario(_write(tmp_path, good))
    assert "images[0].path" in str(e.value) and "nope.png" in str(e.value)


def test_duplicate_ids_in_folder(tmp_path, good):
    _write(tmp_path, good, "a.json")
    _write(tmp_path, good, "b.json")
    with pytest.raises(ScenarioError, match="duplicate case id"):
        load_scenarios(tmp_path)
