"""Re-grading a finished run's saved diagnoses without rerunning any episode.

Every record with a diagnosis gets an offline grade and, when a judge model is given, a rubric
grade; the primary ``verdict``/``correct`` become the judge's (the offline grade when the judge
is absent or failed). The previous ``episodes.jsonl`` is kept as a timestamped backup and the
manifest's judge and config hash are updated, so a later ``--resume`` grades new episodes the
same way.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentsim.bench.cases import resolve_cases
from agentsim.bench.config import RunConfig, config_hash
from agentsim.bench.limiter import AdaptiveLimiter, CallStats, RetryPolicy
from agentsim.bench.metrics import Agreement, agreement
from agentsim.bench.runner import (
    EPISODES,
    MANIFEST,
    SUPERSEDED,
    EpisodeLog,
    answer_key,
    read_manifest,
    read_records,
    write_atomic,
)
from agentsim.errors import ConfigError
from agentsim.llm import LLMConfig
from agentsim.participants import Usage
from agentsim.results import EpisodeResult
from agentsim.views import AnswerKey


class RescoreOutcome(BaseModel):
    """What a rescoring pass changed."""

    graded: int
    changed: int
    judge_failures: int
    accuracy_before: float
    accuracy_after: float
    agreement: Agreement | None
    backup: str
    warnings: list[str]


def _answer_keys(config: dict[str, Any], digests: dict[str, str], warnings: list[str]) -> dict[str, AnswerKey]:
    try:
        cases = resolve_cases(config.get("scenarios") or "dev")
    except Exception as exc:  # noqa: BLE001 - fall back to the reference stored in each record
        warnings.append(f"cannot reload the run's cases ({exc}); grading against each record's stored diagnosis "
                        "name only (no synonyms)")
        return {}
    out = {}
    now = cases.digests()
    for ls in cases.cases:
        cid = ls.scenario.id
        if digests.get(cid) not in (None, now[cid]):
            warnings.append(f"case {cid} changed since the run; grading against its stored diagnosis name")
            continue
        out[cid] = answer_key(ls)
    return out


async def _rescore(records: list[EpisodeResult], keys: dict[str, AnswerKey], judge: LLMConfig | None,
                   concurrency: int, progress: bool) -> tuple[int, int]:
    from tqdm import tqdm

    from agentsim.scoring import JudgeScorer, OfflineScorer

    offline = OfflineScorer()
    judge_scorer = None
    if judge is not None:
        from agentsim.llm import make_chat_model

        judge_scorer = JudgeScorer(make_chat_model(judge), fallback=offline, label=judge.label, config=judge)
    sem = asyncio.Semaphore(concurrency)
    graded = failures = 0
    todo = [r for r in records if r.diagnosis]
    bar = tqdm(total=len(todo), unit="ep", file=sys.stderr, disable=not progress, desc="rescore")

    async def one(r: EpisodeResult) -> None:
        nonlocal graded, failures
        key = keys.get(r.case_id) or AnswerKey(case_id=r.case_id, diagnosis=r.correct_diagnosis)
        async with sem:
            grades = {"offline": offline.grade_sync(key, r.diagnosis, r.differential)}
            verdict = grades["offline"]
            if judge_scorer is not None:
                jv = await judge_scorer.grade(key, r.diagnosis, r.differential)
                # Re-grading is money spent on this episode too: it adds to the record's judge usage.
                if jv.usage.calls:
                    r.usage.setdefault("judge", Usage()).add(jv.usage)
                    r.update_tokens_usd()
                if jv.method == "judge":
                    grades["judge"] = jv
                    verdict = jv
                else:
                    failures += 1
        r.grades = grades
        r.verdict = verdict
        r.correct = verdict.correct
        graded += 1
        bar.update(1)

    try:
        await asyncio.gather(*(one(r) for r in todo))
    finally:
        bar.close()
    return graded, failures


def rescore_run(run_dir: str | Path, judge: LLMConfig | None = None, concurrency: int = 8,
                cache: str | None = None, progress: bool = True) -> RescoreOutcome:
    """Re-grade every saved diagnosis of ``run_dir`` (see the module docstring)."""
    from agentsim.llm import CHAT_MODEL_HOOK

    rd = Path(run_dir)
    manifest = read_manifest(rd)
    if manifest is None:
        raise ConfigError(f"{rd}: no {MANIFEST}; not a benchmark run directory")
    path = rd / EPISODES
    records, bad = read_records(path)
    if not records:
        raise ConfigError(f"{path}: no finished episodes to rescore")
    warnings: list[str] = []
    keys = _answer_keys(manifest.config, manifest.cases, warnings)
    before = sum(r.correct for r in records) / len(records)
    old_correct = [r.correct for r in records]

    async def go() -> tuple[int, int]:
        token = None
        if judge is not None:
            from agentsim.bench.cache import ResponseCache
            from agentsim.bench.chat import CallContext, make_chat_hook, make_http_client, make_session

            ctx = CallContext(policy=RetryPolicy(timeout_s=judge.timeout_s), limiter=AdaptiveLimiter(concurrency),
                              cache=ResponseCache(cache) if cache else None, stats=CallStats(),
                              rng=random.Random(0), http_client=make_http_client(concurrency),
                              session=make_session(concurrency))
            token = CHAT_MODEL_HOOK.set(make_chat_hook(ctx))
        try:
            return await _rescore(records, keys, judge, concurrency, progress)
        finally:
            if token is not None:
                CHAT_MODEL_HOOK.reset(token)
                await ctx.http_client.aclose()
                await ctx.session.close()
                if ctx.cache is not None:
                    ctx.cache.close()

    graded, failures = asyncio.run(go())
    backup = rd / f"episodes.before-rescore-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    shutil.copy2(path, backup)
    if bad:
        sup = EpisodeLog(rd / SUPERSEDED)
        for line in bad:
            sup.append(line)
        sup.close()
    write_atomic(path, "".join(r.model_dump_json() + "\n" for r in records))
    cfg = RunConfig.model_validate({**manifest.config, "judge": judge.model_dump() if judge else None})
    manifest.config = cfg.model_dump(mode="json")
    manifest.result_fields = cfg.result_fields()
    manifest.config_hash = config_hash(manifest.result_fields, manifest.cases, manifest.catalog_digest)
    manifest.updated_at = time.time()
    manifest.history.append({"rescored_at": manifest.updated_at, "judge": judge.label if judge else "offline",
                             "graded": graded, "judge_failures": failures, "backup": backup.name})
    write_atomic(rd / MANIFEST, manifest.model_dump_json(indent=1))
    changed = sum(1 for r, old in zip(records, old_correct, strict=True) if r.correct != old)
    return RescoreOutcome(graded=graded, changed=changed, judge_failures=failures, accuracy_before=before,
                          accuracy_after=sum(r.correct for r in records) / len(records),
                          agreement=agreement(records), backup=str(backup), warnings=warnings)
