"""The library entry points shared by the CLI, the benchmark runner and the app."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from agentsim.backends import Settings, make_doctor, make_measurement, make_patient, make_scorer
from agentsim.catalog import TestCatalog
from agentsim.episode import EpisodeConfig, OnMessage, run_episode
from agentsim.participants import Participant
from agentsim.results import EpisodeResult
from agentsim.scenario import LoadedScenario
from agentsim.tools import RetrievalTool


async def run_case(
    loaded: LoadedScenario,
    settings: Settings | None = None,
    *,
    doctor: Participant | None = None,
    patient: Participant | None = None,
    measurement: Participant | None = None,
    scorer: object | None = None,
    retrieval: RetrievalTool | None = None,
    on_message: OnMessage | None = None,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
    trial: int = 0,
    catalog: TestCatalog | None = None,
) -> EpisodeResult:
    """Run one case with participants built from ``settings`` (any seat may be overridden,
    e.g. by a human participant) and grade it. ``catalog`` overrides the price table."""
    s = settings or Settings()
    cfg = EpisodeConfig(max_turns=s.max_turns, seed=s.seed if seed is None else seed, budget_usd=s.budget_usd)
    result = await run_episode(
        loaded,
        doctor or make_doctor(s, case=loaded),
        patient or make_patient(s, case=loaded),
        measurement or make_measurement(s),
        cfg,
        scorer=scorer or make_scorer(s),
        retrieval=retrieval,
        catalog=catalog,
        on_message=on_message,
        stop=stop,
        metadata={"settings": s.describe(), "doctor_bias": s.doctor_bias, "patient_bias": s.patient_bias,
                  "strategy_options": dict(s.strategy_options)},
    )
    result.trial = trial
    result.strategy = s.doctor_strategy
    return result


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON record and fsync, so a killed process never loses a finished line."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    with open(p, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def save_result(result: EpisodeResult, out_dir: str | Path) -> Path:
    """Append the result to ``out_dir/episodes.jsonl`` (the same format as benchmark runs)."""
    path = Path(out_dir) / "episodes.jsonl"
    append_jsonl(path, result.model_dump(mode="json"))
    return path


def load_results(path: str | Path) -> list[EpisodeResult]:
    """Read an episodes.jsonl file (or a run directory containing one); a torn last line is skipped."""
    p = Path(path)
    if p.is_dir():
        p = p / "episodes.jsonl"
    out: list[EpisodeResult] = []
    lines = p.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(EpisodeResult.model_validate_json(line))
        except ValueError:
            if i == len(lines) - 1:
                break  # a write cut short by a kill: the episode will be rerun on resume
            raise
    return out
