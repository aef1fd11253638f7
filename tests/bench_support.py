"""Helpers shared by the benchmark-harness tests: a tiny price table and marked case copies."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BASE_CASE = REPO / "scenarios" / "cases" / "gs-appendicitis-01.json"

TINY_CATALOG = {"price_basis": "test stand-in", "default_price_usd": 50, "visit_fee_usd": 300, "entries": [
    {"id": "cbc", "name": "Complete blood count", "aliases": ["CBC", "full blood count"], "category": "lab",
     "price_usd": 10, "normal_result": "WBC 7.0 x10^9/L, Hb 14 g/dL, platelets 250 x10^9/L."},
    {"id": "crp", "name": "C-reactive protein", "aliases": ["CRP"], "category": "lab", "price_usd": 12,
     "normal_result": "CRP 2 mg/L."},
    {"id": "ct_abdomen", "name": "CT abdomen and pelvis", "aliases": ["CT abdomen"], "category": "imaging",
     "price_usd": 400, "normal_result": "Normal CT of the abdomen and pelvis."},
]}

_MARK = re.compile(r"\[m:([a-z0-9_]+)\]")


def write_catalog(folder: Path) -> Path:
    """Write the tiny catalogue and return its path."""
    p = folder / "catalog.json"
    p.write_text(json.dumps(TINY_CATALOG))
    return p


def make_cases(folder: Path, markers: list[str], splits: list[str] | None = None,
               specialties: list[str] | None = None) -> Path:
    """Copies of the appendicitis case whose opening line carries ``[m:<marker>]`` (for routing faults)."""
    base = json.loads(BASE_CASE.read_text())
    out = folder / "cases"
    out.mkdir(parents=True, exist_ok=True)
    for i, marker in enumerate(markers):
        case = dict(base)
        case["id"] = f"bc-{i:02d}-{marker.replace('_', '-')}"
        case["opening_line"] = f"{base['opening_line']} [m:{marker}]"
        if splits:
            case["split"] = splits[i % len(splits)]
        if specialties:
            case["specialty"] = specialties[i % len(specialties)]
        (out / f"{case['id']}.json").write_text(json.dumps(case))
    return out


def marker_of(body: dict[str, Any]) -> str:
    """The case marker found in a chat request (the opening line reaches both doctor and patient)."""
    m = _MARK.search(json.dumps(body.get("messages", [])))
    return m.group(1) if m else ""


def episodes(run_dir: Path) -> list[dict[str, Any]]:
    """Raw JSON records of a run's episodes.jsonl."""
    path = Path(run_dir) / "episodes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
