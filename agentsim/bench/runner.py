"""The benchmark runner: many (case, trial) episodes, concurrently, durably and resumably.

Run directory layout::

    RUN_DIR/manifest.json     config, config hash, versions, case digests, seeds, status, call stats
    RUN_DIR/episodes.jsonl    one EpisodeResult per finished episode (appended, flushed, fsynced)
    RUN_DIR/superseded.jsonl  records replaced on resume (infrastructure failures that were rerun)
    RUN_DIR/report.html       written at the end of a run

Durability: a record is appended only when its episode has finished, with ``fsync``, so killing
the process (even ``kill -9``) loses at most the episodes still in flight; a torn last line is
dropped on resume. Resume: finished (case, trial) pairs are skipped; pairs whose record ended in
an infrastructure error are moved to ``superseded.jsonl`` and rerun, so ``episodes.jsonl`` holds
each pair exactly once. A directory whose manifest has a different config hash is refused.

Concurrency: ``concurrency`` episodes run at once on one event loop; model calls go through one
:class:`~agentsim.bench.limiter.AdaptiveLimiter` (halved on HTTP 429, regrown on success), with a
per-call deadline and retries. An episode that still ends in an infrastructure error is rerun up
to ``episode_retries`` times before its failure is recorded; only its final attempt is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agentsim.bench.cases import CaseSet, resolve_cases
from agentsim.bench.config import RunConfig, config_hash, diff_fields
from agentsim.bench.limiter import AdaptiveLimiter, CallStats, LimiterStats, RetryPolicy
from agentsim.bench.metrics import NON_AGENT_ERRORS
from agentsim.bench.seeds import seed_table
from agentsim.errors import ConfigError
from agentsim.participants import Participant
from agentsim.results import EpisodeResult
from agentsim.scenario import LoadedScenario

Status = Literal["running", "complete", "aborted", "interrupted"]

MANIFEST = "manifest.json"
EPISODES = "episodes.jsonl"
SUPERSEDED = "superseded.jsonl"

#: Builds (doctor, patient, measurement) for one episode; None seats use the configured backend.
PartsFactory = Callable[[LoadedScenario, int], tuple[Participant | None, Participant | None, Participant | None]]


class Manifest(BaseModel):
    """``RUN_DIR/manifest.json``."""

    run_id: str
    name: str
    created_at: float
    updated_at: float
    status: Status
    config: dict[str, Any]
    result_fields: dict[str, Any]
    config_hash: str
    versions: dict[str, str]
    cases: dict[str, str] = Field(description="case id -> content digest")
    datasets: dict[str, str] = Field(default_factory=dict)
    case_failures: list[str] = Field(default_factory=list)
    catalog_digest: str
    seeds: dict[str, list[int]]
    totals: dict[str, int] = Field(default_factory=dict)
    limiter: LimiterStats | None = None
    calls: CallStats | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)


class RunOutcome(BaseModel):
    """What one ``bench`` invocation did."""

    run_dir: str
    status: Status
    total: int
    skipped: int = Field(description="pairs already finished before this invocation")
    ran: int
    errors: dict[str, int] = Field(default_factory=dict)
    aborted_reason: str = ""
    elapsed_s: float
    calls: CallStats
    limiter: LimiterStats | None = None


def package_versions() -> dict[str, str]:
    """Versions that can change results, for the manifest."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("agentsim", "pydantic", "langchain-core", "langchain-openai", "openai", "numpy",
                "sentence-transformers", "torch"):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_manifest(run_dir: str | Path) -> Manifest | None:
    """The run's manifest, or None when the directory has none."""
    p = Path(run_dir) / MANIFEST
    if not p.exists():
        return None
    try:
        return Manifest.model_validate_json(p.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ConfigError(f"{p}: unreadable run manifest: {exc}") from None


def read_records(path: Path) -> tuple[list[EpisodeResult], list[str]]:
    """Parse an episodes file: (records, raw lines that do not parse). Never raises on bad lines."""
    good: list[EpisodeResult] = []
    bad: list[str] = []
    if not path.exists():
        return good, bad
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                good.append(EpisodeResult.model_validate_json(line))
            except ValueError:
                bad.append(line.rstrip("\n"))
    return good, bad


class EpisodeLog:
    """Appends records to ``episodes.jsonl`` with flush + fsync through one open handle."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the whole run

    def append(self, line: str) -> None:
        """Write one JSON line durably."""
        self._fh.write(line if line.endswith("\n") else line + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


#: Error kinds that are the harness's or the server's fault: such records are rerun on resume.
RERUN_KINDS = ("infrastructure", "internal")


def _counts_as_error(r: EpisodeResult) -> bool:
    return r.error is not None and r.error.kind in NON_AGENT_ERRORS


def _internal_failure(ls: LoadedScenario, trial: int, seed: int, exc: BaseException) -> EpisodeResult:
    """A record for an episode that crashed the harness itself (a bug), so the run goes on."""
    from agentsim.results import ErrorInfo, Transcript

    return EpisodeResult(case_id=ls.scenario.id, specialty=ls.scenario.specialty, trial=trial, seed=seed,
                         correct_diagnosis=ls.scenario.diagnosis.name, started_at=time.time(),
                         error=ErrorInfo(kind="internal", error_class=type(exc).__name__, message=str(exc)[:2000]),
                         transcript=Transcript(case_id=ls.scenario.id))


@dataclass
class _Progress:
    """Episodes written by this invocation (kept up to date, so an interrupted run still reports them)."""

    ran: int = 0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class _Plan:
    config: RunConfig
    run_dir: Path
    cases: CaseSet
    digest: str
    manifest: Manifest
    pending: list[tuple[LoadedScenario, int, int]]
    done: int
    catalog: Any
    log: list[str] = field(default_factory=list)


class BenchRunner:
    """Runs a :class:`RunConfig` into its run directory.

    ``cases`` skips resolving ``config.scenarios`` (tests); ``parts`` supplies participants per
    episode instead of the configured backend (tests and scripted baselines).
    """

    def __init__(self, config: RunConfig, *, cases: CaseSet | None = None, parts: PartsFactory | None = None,
                 progress: bool = True, echo: Callable[[str], None] | None = None):
        if not config.out:
            raise ConfigError("a benchmark run needs a run directory (--out RUN_DIR)")
        self.config = config
        self.run_dir = Path(config.out)
        self._cases = cases
        self._parts = parts
        self.progress = progress
        self.echo = echo or (lambda msg: print(msg, file=sys.stderr, flush=True))

    # ----- planning (synchronous: validation errors surface before anything runs) -----

    def _catalog(self) -> tuple[Any, str]:
        from agentsim.catalog import CATALOG_PATH, default_catalog, load_catalog

        if self.config.prices:
            path = Path(self.config.prices)
            cat = load_catalog(path)
        else:
            path = CATALOG_PATH
            cat = default_catalog()
        return cat, hashlib.sha256(path.read_bytes()).hexdigest()

    def plan(self) -> _Plan:
        """Resolve cases, check the run directory, compact old records, list pending episodes."""
        cfg = self.config
        case_set = self._cases or resolve_cases(cfg.scenarios)
        catalog, cat_digest = self._catalog()
        digests = case_set.digests()
        result_fields = cfg.result_fields()
        h = config_hash(result_fields, digests, cat_digest)
        old = read_manifest(self.run_dir)
        episodes = self.run_dir / EPISODES
        if old is None and episodes.exists() and episodes.stat().st_size > 0:
            raise ConfigError(f"{self.run_dir}: has {EPISODES} but no {MANIFEST}; it is not a benchmark run "
                              "directory (choose another --out)")
        if old is not None and old.config_hash != h:
            diffs = diff_fields(old.result_fields, result_fields)
            if old.cases != digests:
                added = sorted(set(digests) - set(old.cases))
                removed = sorted(set(old.cases) - set(digests))
                changed = sorted(c for c in set(digests) & set(old.cases) if digests[c] != old.cases[c])
                diffs.append(f"cases: {len(added)} added, {len(removed)} removed, {len(changed)} changed"
                             + (f" (e.g. {(added + removed + changed)[0]})" if added or removed or changed else ""))
            if old.catalog_digest != cat_digest:
                diffs.append("price table (test catalogue) changed")
            raise ConfigError(
                f"{self.run_dir} holds a run with a different configuration (hash {old.config_hash}, now {h}); "
                f"refusing to mix results. Differences: {'; '.join(diffs) or 'unknown'}. "
                "Use a new --out, or resume with the original settings (agentsim bench --resume --out "
                f"{self.run_dir})")
        done_pairs, log = self._compact()
        seeds = seed_table(cfg.seed, [ls.scenario.id for ls in case_set.cases], cfg.trials)
        now = time.time()
        manifest = Manifest(
            run_id=old.run_id if old else uuid.uuid4().hex[:12],
            name=cfg.name or self.run_dir.name,
            created_at=old.created_at if old else now,
            updated_at=now,
            status="running",
            config=cfg.model_dump(mode="json"),
            result_fields=result_fields,
            config_hash=h,
            versions=package_versions(),
            cases=digests,
            datasets=case_set.datasets,
            case_failures=case_set.failures,
            catalog_digest=cat_digest,
            seeds=seeds,
            history=list(old.history) if old else [],
        )
        for role in ("doctor", "patient", "judge"):
            was, now = ((old.config.get(role) or {}).get("base_url") if old else None), getattr(cfg, role)
            if old and now is not None and was != now.base_url:
                log.append(f"note: the {role} model {now.model!r} was served from {was}, now from {now.base_url}")
        if old and old.versions.get("agentsim") != manifest.versions.get("agentsim"):
            log.append(f"note: run started with agentsim {old.versions.get('agentsim')}, resuming with "
                       f"{manifest.versions.get('agentsim')}")
        pending = [(ls, t, seeds[ls.scenario.id][t]) for ls in case_set.cases for t in range(cfg.trials)
                   if (ls.scenario.id, t) not in done_pairs]
        wanted = {(ls.scenario.id, t) for ls in case_set.cases for t in range(cfg.trials)}
        return _Plan(config=cfg, run_dir=self.run_dir, cases=case_set, digest=h, manifest=manifest,
                     pending=pending, done=len(done_pairs & wanted), catalog=catalog, log=log)

    def _compact(self) -> tuple[set[tuple[str, int]], list[str]]:
        """Keep one finished record per pair; move infrastructure failures and junk aside."""
        path = self.run_dir / EPISODES
        records, bad = read_records(path)
        log: list[str] = []
        keep: dict[tuple[str, int], EpisodeResult] = {}
        moved: list[str] = list(bad)
        for r in records:
            key = (r.case_id, r.trial)
            if r.error is not None and r.error.kind in RERUN_KINDS:
                moved.append(r.model_dump_json())
                continue
            if key in keep:
                moved.append(keep[key].model_dump_json())
            keep[key] = r
        if moved:
            sup = EpisodeLog(self.run_dir / SUPERSEDED)
            for line in moved:
                sup.append(line)
            sup.close()
            write_atomic(path, "".join(r.model_dump_json() + "\n" for r in keep.values()))
            n_infra = len(moved) - len(bad)
            log.append(f"resume: {len(keep)} finished episodes kept; {n_infra} superseded record(s) "
                       f"(infrastructure/internal errors are rerun) and {len(bad)} torn line(s) moved to {SUPERSEDED}")
        elif keep:
            log.append(f"resume: {len(keep)} finished episodes kept")
        return set(keep), log

    # ----- running -----

    def run(self) -> RunOutcome:
        """Plan and run synchronously (Ctrl-C marks the run interrupted; finished episodes are kept)."""
        return asyncio.run(self.run_plan(self.plan()))

    async def run_plan(self, plan: _Plan) -> RunOutcome:
        """Run the pending episodes of ``plan``."""
        from agentsim.llm import CHAT_MODEL_HOOK

        cfg = plan.config
        for line in plan.log:
            self.echo(line)
        for failure in plan.cases.failures:
            self.echo(f"warning: skipped case record: {failure}")
        self._preflight(self._settings())  # before the manifest: a run that cannot start leaves no trace
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.run_dir / MANIFEST, plan.manifest.model_dump_json(indent=1))
        started = time.monotonic()
        stats = CallStats()
        limiter = AdaptiveLimiter(cfg.effective_llm_concurrency)
        hook_token = None
        cache = None
        http_client = session = None
        if cfg.backend == "openai" or cfg.judge is not None:
            from agentsim.bench.cache import ResponseCache
            from agentsim.bench.chat import CallContext, make_chat_hook, make_http_client, make_session

            cache = ResponseCache(cfg.cache) if cfg.cache else None
            policy = RetryPolicy(retries=cfg.call_retries, rate_limit_retries=cfg.rate_limit_retries,
                                 backoff_base_s=cfg.backoff_base_s, backoff_max_s=cfg.backoff_max_s)
            http_client = make_http_client(cfg.effective_llm_concurrency)
            session = make_session(cfg.effective_llm_concurrency)
            ctx = CallContext(policy=policy, limiter=limiter, cache=cache, stats=stats, rng=random.Random(cfg.seed),
                              http_client=http_client, session=session)
            hook_token = CHAT_MODEL_HOOK.set(make_chat_hook(ctx))
        tally = _Progress()
        status: Status = "complete"
        reason = ""
        try:
            status, reason = await self._run_episodes(plan, limiter, stats, tally)
        except asyncio.CancelledError:
            status, reason = "interrupted", "cancelled (Ctrl-C)"
            raise
        except BaseException as exc:
            status, reason = "interrupted", f"{type(exc).__name__}: {exc}"[:500]
            raise
        finally:
            if hook_token is not None:
                CHAT_MODEL_HOOK.reset(hook_token)
            if http_client is not None:
                await http_client.aclose()
            if session is not None:
                await session.close()
            if cache is not None:
                cache.close()
            elapsed = time.monotonic() - started
            self._finish(plan, status, tally.errors, limiter, stats, tally.ran, elapsed, reason)
        return RunOutcome(run_dir=str(self.run_dir), status=status, total=plan.done + len(plan.pending),
                          skipped=plan.done, ran=tally.ran, errors=tally.errors, aborted_reason=reason,
                          elapsed_s=elapsed,
                          calls=stats, limiter=limiter.stats if hook_token is not None else None)

    def _finish(self, plan: _Plan, status: Status, errors: dict[str, int], limiter: AdaptiveLimiter | None,
                stats: CallStats | None, ran: int, elapsed: float, reason: str) -> None:
        m = plan.manifest
        m.status = status
        m.updated_at = time.time()
        m.limiter = limiter.stats if limiter is not None and stats is not None and stats.calls else None
        m.calls = stats
        # Earlier infrastructure failures were moved aside when planning, so the ones left are this run's.
        m.totals = {"pairs": len(plan.cases.cases) * plan.config.trials, "finished": plan.done + ran,
                    "infrastructure_errors": errors.get("infrastructure", 0)}
        m.history.append({"finished_at": m.updated_at, "status": status, "ran": ran, "skipped": plan.done,
                          "errors": errors, "elapsed_s": round(elapsed, 3), "reason": reason,
                          "concurrency": plan.config.concurrency})
        write_atomic(self.run_dir / MANIFEST, m.model_dump_json(indent=1))

    async def _run_episodes(self, plan: _Plan, limiter: AdaptiveLimiter, stats: CallStats,
                            tally: _Progress) -> tuple[Status, str]:
        from tqdm import tqdm

        from agentsim.backends import make_scorer

        cfg = plan.config
        settings = self._settings()
        scorer = make_scorer(settings)
        offline_scorer = None
        if cfg.judge is not None:
            from agentsim.scoring import OfflineScorer

            offline_scorer = OfflineScorer()
        retrieval = self._retrieval()
        queue: asyncio.Queue[tuple[LoadedScenario, int, int]] = asyncio.Queue()
        for item in plan.pending:
            queue.put_nowait(item)
        log = EpisodeLog(self.run_dir / EPISODES)
        write_lock = asyncio.Lock()
        abort = asyncio.Event()
        running: set[asyncio.Task[EpisodeResult]] = set()
        counted = 0
        correct = 0
        reason = ""
        bar = tqdm(total=plan.done + len(plan.pending), initial=plan.done, unit="ep", dynamic_ncols=True,
                   file=sys.stderr, disable=not self.progress, smoothing=0.05, desc=plan.manifest.name[:24],
                   mininterval=0.2 if sys.stderr.isatty() else 10.0)  # a log file gets a line per 10 s

        def account(result: EpisodeResult) -> None:
            nonlocal counted, correct, reason
            tally.ran += 1
            correct += int(result.correct)
            if result.error is not None:
                tally.errors[result.error.kind] = tally.errors.get(result.error.kind, 0) + 1
            if _counts_as_error(result):
                counted += 1
                if cfg.max_errors is not None and counted > cfg.max_errors and not abort.is_set():
                    reason = (f"{counted} infrastructure/simulator errors exceed --max-errors {cfg.max_errors} "
                              f"(last: {result.error.error_class}: {result.error.message[:200]})")
                    abort.set()
                    for t in list(running):
                        t.cancel()
            bar.update(1)
            post = {"acc": f"{correct / tally.ran:.0%}", "err": counted}
            if stats.calls:
                post["llm"] = limiter.limit  # the adaptive cap on model calls in flight
            bar.set_postfix(post, refresh=False)

        async def record(result: EpisodeResult) -> None:
            line = result.model_dump_json()
            async with write_lock:
                # fsync runs in a thread; once started, a Ctrl-C must not leave a written line uncounted.
                write = asyncio.ensure_future(asyncio.to_thread(log.append, line))
                try:
                    await asyncio.shield(write)
                except asyncio.CancelledError:
                    await write
                    account(result)
                    raise
            account(result)

        async def worker(i: int) -> None:
            # Staggered starts: episodes launched in the same millisecond keep their model calls in
            # lockstep (a burst of N requests, then N replies to parse at once) and invite HTTP 429s.
            if i and ramp:
                await asyncio.sleep(ramp * i / n_workers)
            while not abort.is_set():
                try:
                    ls, trial, seed = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                task = asyncio.create_task(self._episode(ls, trial, seed, settings, scorer, offline_scorer,
                                                         retrieval, plan))
                running.add(task)
                try:
                    result = await task
                except asyncio.CancelledError:
                    if abort.is_set():
                        return
                    raise
                except Exception as exc:  # noqa: BLE001 - one broken episode must not end a long run
                    result = _internal_failure(ls, trial, seed, exc)
                finally:
                    running.discard(task)
                await record(result)

        try:
            n_workers = max(1, min(cfg.concurrency, len(plan.pending)))
            ramp = cfg.effective_ramp_up_s
            await asyncio.gather(*(worker(i) for i in range(n_workers)))
        finally:
            bar.close()
            log.close()
        return ("aborted" if abort.is_set() else "complete"), reason

    def _settings(self) -> Any:
        from agentsim.backends import Settings

        c = self.config
        return Settings(backend=c.backend or "offline", doctor=c.doctor, patient=c.patient, judge=c.judge,
                        max_turns=c.max_turns, seed=c.seed, budget_usd=c.budget_usd,
                        doctor_strategy=c.doctor_strategy, strategy_options=c.strategy_options,
                        doctor_bias=c.doctor_bias, patient_bias=c.patient_bias)

    def _preflight(self, settings: Any) -> None:
        """Build the participants once so a missing engine is one clear error, not one per episode."""
        if self._parts is not None:
            return
        from agentsim.backends import make_doctor, make_patient

        try:
            make_doctor(settings)
            make_patient(settings)
        except ImportError as exc:
            raise ConfigError(f"backend {settings.backend!r}: cannot build the participants: {exc}") from None

    def _retrieval(self) -> Any:
        if not self.config.memory:
            return None
        try:
            from agentsim.memory.retrieval import MemoryRetrieval
        except ImportError as exc:
            raise ConfigError(f"memory: the retrieval memory (agentsim.memory) is not available: {exc}") from None
        return MemoryRetrieval.open_default()

    async def _episode(self, ls: LoadedScenario, trial: int, seed: int, settings: Any, scorer: Any,
                       offline_scorer: Any, retrieval: Any, plan: _Plan) -> EpisodeResult:
        from agentsim.agents.measurement import MeasurementAgent
        from agentsim.api import run_case

        cfg = plan.config
        attempts = 0
        while True:
            attempts += 1
            doctor = patient = measurement = None
            if self._parts is not None:
                doctor, patient, measurement = self._parts(ls, seed)
            if measurement is None and cfg.prices:
                measurement = MeasurementAgent(catalog=plan.catalog)
            result = await run_case(ls, settings, doctor=doctor, patient=patient, measurement=measurement,
                                    scorer=scorer, retrieval=retrieval, seed=seed, trial=trial,
                                    catalog=plan.catalog)
            if result.error is None or result.error.kind != "infrastructure" or attempts > cfg.episode_retries:
                break
            # The server may need a moment; every call inside already had its own retries.
            await asyncio.sleep(min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** attempts))
        result.dataset = plan.cases.datasets.get(ls.scenario.id, result.dataset)
        if result.verdict is not None:
            key = "judge" if result.verdict.method == "judge" else "offline"
            result.grades[key] = result.verdict
        if offline_scorer is not None and result.diagnosis and "offline" not in result.grades:
            result.grades["offline"] = offline_scorer.grade_sync(answer_key(ls), result.diagnosis,
                                                                 result.differential)
        result.metadata["run"] = {"config_hash": plan.digest, "run_id": plan.manifest.run_id, "attempts": attempts,
                                  "seed_base": cfg.seed}
        return result


def answer_key(ls: LoadedScenario) -> Any:
    """The scorer's answer key of a case (without building the participant views)."""
    from agentsim.leakage import answer_terms
    from agentsim.views import AnswerKey

    s = ls.scenario
    return AnswerKey(case_id=s.id, diagnosis=s.diagnosis.name, synonyms=list(s.diagnosis.synonyms),
                     terms=answer_terms(s.diagnosis), differentials=list(s.differentials))


def load_run_records(run_dir: str | Path) -> list[EpisodeResult]:
    """The finished records of a run (torn or foreign lines skipped), one per (case, trial)."""
    from agentsim.bench.metrics import latest_per_episode

    p = Path(run_dir)
    path = p / EPISODES if p.is_dir() else p
    if not path.exists():
        raise ConfigError(f"{p}: no {EPISODES} (not a run directory?)")
    records, _ = read_records(path)
    return latest_per_episode(records)


def manifest_json(m: Manifest) -> str:
    """Pretty JSON of a manifest (for ``--show``-style output)."""
    return json.dumps(m.model_dump(mode="json"), indent=1)
