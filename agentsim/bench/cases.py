"""Resolving ``--scenarios`` to cases: named sets, case folders, case files, AgentClinic JSONL.

``dev``, ``test`` and ``all`` are the shipped cases by split. A ``.jsonl`` file is converted in
memory by the AgentClinic importer; its malformed records are reported, not fatal. Several
sources may be joined with commas; a case id may appear only once.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agentsim.errors import ConfigError, ScenarioError
from agentsim.scenario import LoadedScenario, default_scenarios_dir, load_scenarios

NAMED_SETS = ("dev", "test", "all")


class CaseSet(BaseModel):
    """The cases of a run plus what could not be loaded."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    cases: list[LoadedScenario] = Field(default_factory=list)
    datasets: dict[str, str] = Field(default_factory=dict, description="case id -> dataset label")
    failures: list[str] = Field(default_factory=list, description="skipped records: 'file line N: reason'")

    def digests(self) -> dict[str, str]:
        """case id -> SHA-256 of the case's canonical JSON (what the config hash covers)."""
        return {ls.scenario.id: hashlib.sha256(ls.scenario.model_dump_json().encode()).hexdigest()
                for ls in self.cases}


def _dataset_label(ls: LoadedScenario) -> str:
    s = ls.scenario
    if s.split == "imported":
        m = re.search(r"([A-Za-z0-9_.\-]+)\.jsonl", s.source)
        return m.group(1) if m else "imported"
    return s.split


def _import_jsonl(path: Path, out: CaseSet) -> list[LoadedScenario]:
    try:
        from agentsim.importers.agentclinic import import_agentclinic
    except ImportError as exc:
        raise ConfigError(f"{path}: reading AgentClinic JSONL needs agentsim.importers.agentclinic ({exc})") from None
    report = import_agentclinic(path)
    for failure in report.failures:
        line, reason = (failure[0], failure[1]) if isinstance(failure, tuple | list) else ("?", failure)
        out.failures.append(f"{path} line {line}: {reason}")
    loaded = []
    for sc in report.scenarios:
        ls = LoadedScenario(scenario=sc, path=path.resolve(), base_dir=path.parent.resolve())
        out.datasets[sc.id] = path.stem
        loaded.append(ls)
    return loaded


def resolve_cases(spec: str, scenarios_dir: Path | None = None) -> CaseSet:
    """Load the cases named by ``spec`` (see the module docstring)."""
    out = CaseSet()
    seen: dict[str, str] = {}
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ConfigError("--scenarios is empty")
    for part in parts:
        if part in NAMED_SETS:
            root = scenarios_dir or default_scenarios_dir()
            found = load_scenarios(root, split=None if part == "all" else part)
        else:
            p = Path(part).expanduser()
            if not p.exists():
                raise ScenarioError(part, f"no such case folder or file (named sets: {', '.join(NAMED_SETS)})")
            found = _import_jsonl(p, out) if p.suffix.lower() == ".jsonl" else load_scenarios(p)
        for ls in found:
            cid = ls.scenario.id
            if cid in seen:
                raise ScenarioError(str(ls.path), f"duplicate case id (also in {seen[cid]})", cid, "id")
            seen[cid] = str(ls.path)
            out.cases.append(ls)
            out.datasets.setdefault(cid, _dataset_label(ls))
    if not out.cases:
        raise ConfigError(f"--scenarios {spec!r} selects no cases")
    return out
