"""The experience loop: train on one split, evaluate on another, and the learning curve.

Protocol (:func:`run_learning_curve`):

1. The test split is evaluated with the memory as it stands (checkpoint 0: usually empty).
2. Training episodes run on the train split in a fixed, seed-derived order (cycling with new seeds
   when the split is exhausted). After each one its experience record is written to the memory.
3. At every checkpoint (e.g. 0, 25, 50, 100 training episodes) the *whole* test split is evaluated
   again with writes off (:meth:`ExperienceMemory.frozen`); the memory's record count is checked
   before and after, and an evaluation that wrote anything is an error.

Leakage rules, enforced here whatever the store does: every query made while a case is being
evaluated or trained carries that case's id as ``exclude_case_id``, and hits from that case are
filtered out again before the doctor sees them (:class:`GuardedExperience` counts any it had to
drop, so a store that ignored the exclusion shows up in ``LearningCurve.own_case_hits_dropped``).
A case listed in both splits is therefore still never shown its own experience. Test seeds are
fixed per case, so checkpoints differ only by what the memory holds.

:func:`train_then_test` is the single-checkpoint form (train on every train case once, then test).
:func:`run_learn` is the file-writing entry point behind ``agentsim learn`` and ``bench --learn``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentsim.backends import Settings
from agentsim.errors import ConfigError
from agentsim.memory.mixins import LazyTextEmbedder, WriteSwitch
from agentsim.results import EpisodeResult
from agentsim.scenario import LoadedScenario
from agentsim.tools import CaseHit, RetrievalQuery, RetrievalResult
from agentsim.views import DoctorView, build_views

DEFAULT_CHECKPOINTS: tuple[int, ...] = (0, 25, 50, 100)


@runtime_checkable
class ExperienceStore(Protocol):
    """What the protocol needs from a memory (:class:`agentsim.memory.experience.ExperienceMemory`)."""

    writes_enabled: bool

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[CaseHit]:
        """Similar past episodes, never from ``exclude_case_id``."""
        ...

    async def record(self, result: EpisodeResult, view: DoctorView) -> Any:
        """Store one finished episode (a no-op when writes are off)."""
        ...

    def count(self) -> int:
        """Number of stored records."""
        ...

    def frozen(self) -> contextlib.AbstractContextManager[Any]:
        """A block with writes disabled."""
        ...


class InMemoryExperience(LazyTextEmbedder, WriteSwitch):
    """A process-local experience store with the :class:`ExperienceStore` interface.

    Same records and lessons as the Chroma-backed memory (it reuses
    :meth:`ExperienceMemory.build_record`), exact cosine search in numpy. For tests and quick
    curves; the Chroma store is what ``agentsim learn`` uses by default.
    """

    def __init__(self, text_embedder: Any | None = None, *, writes_enabled: bool = True):
        self._text = text_embedder
        self.writes_enabled = writes_enabled
        self.records: list[Any] = []
        self._vecs: list[Any] = []

    def count(self) -> int:
        return len(self.records)

    async def record(self, result: EpisodeResult, view: DoctorView) -> Any:
        from agentsim.memory.experience import ExperienceMemory

        if not self.writes_enabled or result.error is not None or not result.diagnosis:
            return None
        rec = ExperienceMemory.build_record(result, view)
        self.records.append(rec)
        self._vecs.append(self.text_embedder.encode([rec.document()])[0])
        return rec

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str, min_score: float = 0.0) -> list[CaseHit]:
        import numpy as np

        if not self.records or not findings.strip():
            return []
        q = self.text_embedder.encode([findings])[0]
        scores = np.stack(self._vecs) @ q
        out: list[CaseHit] = []
        for i in np.argsort(-scores):
            rec = self.records[int(i)]
            if exclude_case_id and rec.case_id == exclude_case_id:
                continue
            if float(scores[i]) < min_score or len(out) >= k:
                break
            out.append(rec.to_hit(float(scores[i])))
        return out


class GuardedExperience:
    """Read-only view of a store for one case: excludes the case and counts what it had to drop."""

    def __init__(self, store: ExperienceStore, case_id: str):
        self.store = store
        self.case_id = case_id
        self.queries = 0
        self.dropped = 0

    def query(self, findings: str, k: int = 5, *, exclude_case_id: str = "", min_score: float = 0.0) -> list[CaseHit]:
        self.queries += 1
        hits = self.store.query(findings, k, exclude_case_id=self.case_id, min_score=min_score)
        kept = [h for h in hits if h.case_id != self.case_id]
        self.dropped += len(hits) - len(kept)
        return kept


class ExperienceRetrieval:
    """The ``search_similar_cases`` tool over an experience store (past cases only, no images)."""

    def __init__(self, store: ExperienceStore, min_score: float = 0.2):
        self.store = store
        self.min_score = min_score
        self.dropped = 0

    async def search(self, query: RetrievalQuery) -> RetrievalResult:
        t0 = time.perf_counter()
        hits = await asyncio.to_thread(self.store.query, query.query_text, query.k,
                                       exclude_case_id=query.exclude_case_id, min_score=self.min_score)
        kept = [h for h in hits if h.case_id != query.exclude_case_id]
        self.dropped += len(hits) - len(kept)
        return RetrievalResult(cases=kept, elapsed_ms=(time.perf_counter() - t0) * 1000,
                               note="searched past cases by text")


# --- results ---------------------------------------------------------------------------------


class LearningPoint(BaseModel):
    """Test-split accuracy after some number of training episodes."""

    train_episodes: int
    memory_records: int
    n_cases: int
    correct: int
    accuracy: float
    lo: float
    hi: float
    top3: float
    mean_turns: float
    mean_clinical_usd: float
    tokens: int
    llm_calls: int
    train_accuracy: float | None = Field(default=None, description="accuracy of the training episodes since "
                                                                   "the previous checkpoint")
    case_correct: dict[str, bool] = Field(default_factory=dict)


class LearningCurve(BaseModel):
    """A learning curve and how it was produced."""

    strategy: str
    settings: str
    train_cases: list[str]
    test_cases: list[str]
    checkpoints: list[int]
    points: list[LearningPoint] = Field(default_factory=list)
    test_queries: int = 0
    own_case_hits_dropped: int = 0
    elapsed_s: float = 0.0

    def table(self) -> str:
        """Plain-text table."""
        lines = [f"{'train eps':>9} {'memory':>7} {'test acc':>9}  {'95% CI':>15} {'top-3':>6} {'turns':>6} "
                 f"{'cost $':>8} {'tokens':>8} {'train acc':>9}"]
        for p in self.points:
            ta = "" if p.train_accuracy is None else f"{100 * p.train_accuracy:8.1f}%"
            lines.append(f"{p.train_episodes:9d} {p.memory_records:7d} {100 * p.accuracy:8.1f}%  "
                         f"[{100 * p.lo:5.1f}, {100 * p.hi:5.1f}] {100 * p.top3:5.1f}% {p.mean_turns:6.1f} "
                         f"{p.mean_clinical_usd:8.0f} {p.tokens:8d} {ta:>9}")
        return "\n".join(lines)


def _point(n_train: int, records: int, results: list[EpisodeResult], train_acc: float | None) -> LearningPoint:
    from agentsim.bench.metrics import estimate, top_k_hit

    vals = [float(r.correct) for r in results]
    est = estimate(vals)
    n = max(1, len(results))
    return LearningPoint(
        train_episodes=n_train, memory_records=records, n_cases=len(results), correct=int(sum(vals)),
        accuracy=est.value, lo=est.lo, hi=est.hi, top3=sum(top_k_hit(r, 3) for r in results) / n,
        mean_turns=sum(r.turns for r in results) / n, mean_clinical_usd=sum(r.cost.clinical_usd for r in results) / n,
        tokens=sum(r.total_tokens for r in results), llm_calls=sum(u.calls for r in results for u in r.usage.values()),
        train_accuracy=train_acc, case_correct={r.case_id: r.correct for r in results})


def hash_split(cases: Sequence[LoadedScenario], test_fraction: float, seed: int = 0
               ) -> tuple[list[LoadedScenario], list[LoadedScenario]]:
    """(train, test) of one case source, split by a hash of each case id (stable across runs and
    independent of file order). Same-diagnosis cases land on either side by chance, never by design."""
    train: list[LoadedScenario] = []
    test: list[LoadedScenario] = []
    for ls in cases:
        h = int(hashlib.sha256(f"split:{seed}:{ls.scenario.id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (test if h < test_fraction else train).append(ls)
    return train, test


def training_order(cases: Sequence[LoadedScenario], seed: int) -> list[LoadedScenario]:
    """The fixed, seed-derived order in which training cases are visited."""
    return sorted(cases, key=lambda ls: hashlib.sha256(f"learn:{seed}:{ls.scenario.id}".encode()).hexdigest())


OnResult = Callable[[str, EpisodeResult], Awaitable[None] | None]
#: Builds the doctor for one episode from the case and its guarded experience view (default:
#: :func:`agentsim.backends.make_doctor`); lets tests and custom agents join the protocol.
DoctorFactory = Callable[[LoadedScenario, Any], Any]
PatientFactory = Callable[[LoadedScenario], Any]


async def _episode(ls: LoadedScenario, settings: Settings, store: ExperienceStore, seed: int, trial: int,
                   scorer: Any, catalog: Any, use_tool: bool, doctor_factory: DoctorFactory | None,
                   patient_factory: PatientFactory | None) -> tuple[EpisodeResult, GuardedExperience, int]:
    from agentsim.api import run_case
    from agentsim.backends import make_doctor

    guard = GuardedExperience(store, ls.scenario.id)
    if doctor_factory is not None:
        doctor = doctor_factory(ls, guard)
    else:
        doctor = make_doctor(settings, case=ls, experience=guard)
    patient = patient_factory(ls) if patient_factory is not None else None
    retrieval = ExperienceRetrieval(store) if use_tool else None
    result = await run_case(ls, settings, doctor=doctor, patient=patient, scorer=scorer, retrieval=retrieval,
                            seed=seed, trial=trial, catalog=catalog)
    dropped = guard.dropped + (retrieval.dropped if retrieval else 0)
    return result, guard, dropped


async def run_learning_curve(
    train: Sequence[LoadedScenario],
    test: Sequence[LoadedScenario],
    settings: Settings,
    store: ExperienceStore,
    checkpoints: Sequence[int] = DEFAULT_CHECKPOINTS,
    *,
    concurrency: int = 1,
    scorer: Any | None = None,
    catalog: Any | None = None,
    on_result: OnResult | None = None,
    doctor_factory: DoctorFactory | None = None,
    patient_factory: PatientFactory | None = None,
) -> tuple[LearningCurve, list[EpisodeResult], list[EpisodeResult]]:
    """Run the protocol of the module docstring; returns the curve, training and test results.

    ``on_result(phase, result)`` is called after every episode (phase ``train`` or ``test@N``).
    Training episodes run ``concurrency`` at a time (records written after each batch);
    evaluations run ``concurrency`` episodes at a time.
    """
    from agentsim.backends import make_scorer
    from agentsim.bench.seeds import derive_seed
    from agentsim.strategies.build import spec_of

    if not train and max(checkpoints, default=0) > 0:
        raise ConfigError("learning curve: the training split has no cases")
    if not test:
        raise ConfigError("learning curve: the test split has no cases")
    points_at = sorted({int(c) for c in checkpoints})
    if not points_at or points_at[0] < 0:
        raise ConfigError(f"learning curve: checkpoints must be >= 0, got {list(checkpoints)}")
    spec = spec_of(settings)
    scorer = scorer or make_scorer(settings)
    use_tool = spec.needs_memory_tool
    order = training_order(train, settings.seed)
    curve = LearningCurve(strategy=spec.name, settings=settings.describe(),
                          train_cases=[ls.scenario.id for ls in order], test_cases=[ls.scenario.id for ls in test],
                          checkpoints=points_at)
    train_results: list[EpisodeResult] = []
    test_results: list[EpisodeResult] = []
    sem = asyncio.Semaphore(max(1, concurrency))
    t0 = time.time()

    async def notify(phase: str, r: EpisodeResult) -> None:
        if on_result is not None:
            res = on_result(phase, r)
            if asyncio.iscoroutine(res):
                await res

    async def evaluate(n_train: int, since: list[EpisodeResult]) -> None:
        before = store.count()

        async def one(ls: LoadedScenario) -> EpisodeResult:
            async with sem:
                seed = derive_seed(settings.seed, ls.scenario.id, 0)
                r, guard, dropped = await _episode(ls, settings, store, seed, 0, scorer, catalog, use_tool,
                                                  doctor_factory, patient_factory)
            curve.test_queries += guard.queries
            curve.own_case_hits_dropped += dropped
            r.metadata["learning"] = {"phase": "test", "train_episodes": n_train, "memory_records": before}
            await notify(f"test@{n_train}", r)
            return r

        with store.frozen():
            results = list(await asyncio.gather(*(one(ls) for ls in test)))
        after = store.count()
        if after != before:
            raise RuntimeError(f"evaluation wrote to the experience memory ({before} -> {after} records)")
        test_results.extend(results)
        train_acc = (sum(r.correct for r in since) / len(since)) if since else None
        curve.points.append(_point(n_train, before, results, train_acc))

    done = 0
    since: list[EpisodeResult] = []
    for target in points_at:
        while done < target:
            batch = []
            while done + len(batch) < target and len(batch) < max(1, concurrency):
                i = done + len(batch)
                ls = order[i % len(order)]
                batch.append((ls, i // len(order)))

            async def train_one(ls: LoadedScenario, rep: int) -> EpisodeResult:
                seed = derive_seed(settings.seed, ls.scenario.id, 1000 + rep)
                r, _guard, dropped = await _episode(ls, settings, store, seed, rep, scorer, catalog, use_tool,
                                                   doctor_factory, patient_factory)
                curve.own_case_hits_dropped += dropped
                return r

            results = list(await asyncio.gather(*(train_one(ls, rep) for ls, rep in batch)))
            for (ls, rep), r in zip(batch, results, strict=True):
                # Writes happen after the batch so concurrent episodes see the same memory.
                await store.record(r, build_views(ls).doctor)
                r.metadata["learning"] = {"phase": "train", "index": done, "pass": rep}
                done += 1
                train_results.append(r)
                since.append(r)
                await notify("train", r)
        await evaluate(done, since)
        since = []
    curve.elapsed_s = time.time() - t0
    return curve, train_results, test_results


async def train_then_test(train: Sequence[LoadedScenario], test: Sequence[LoadedScenario], settings: Settings,
                          store: ExperienceStore, **kwargs: Any) -> tuple[LearningCurve, list[EpisodeResult],
                                                                         list[EpisodeResult]]:
    """One training pass over every train case, then one evaluation of the test split (plus the
    baseline evaluation before training)."""
    return await run_learning_curve(train, test, settings, store, (0, len(train)), **kwargs)


# --- the file-writing entry point ------------------------------------------------------------


class LearnConfig(BaseModel):
    """Everything ``agentsim learn`` / ``agentsim bench --learn`` needs."""

    model_config = ConfigDict(extra="forbid")

    train: str = Field(default="dev", description="training cases: dev | test | all | folder | AgentClinic .jsonl")
    test: str = Field(default="test", description="evaluation cases (same forms as train)")
    checkpoints: list[int] = Field(default_factory=lambda: list(DEFAULT_CHECKPOINTS))
    settings: Settings = Field(default_factory=lambda: Settings(doctor_strategy="experience"))
    store: str = Field(default="chroma", pattern="^(chroma|memory)$",
                       description="chroma: a fresh embedded Chroma experience collection; memory: in-process")
    memory_dir: Path | None = Field(default=None, description="Chroma folder (default: a new one inside out)")
    chroma_url: str | None = None
    concurrency: int = Field(default=1, ge=1, le=64)
    out: Path = Path("runs/learn")
    scenarios_dir: Path | None = None
    max_test_cases: int | None = Field(default=None, ge=1)
    split_fraction: float | None = Field(default=None, gt=0, lt=1,
                                         description="split the train cases by hashed id into train and this "
                                                     "fraction of test (the test spec is then ignored)")

    @field_validator("checkpoints")
    @classmethod
    def _cps(cls, v: list[int]) -> list[int]:
        if not v or min(v) < 0:
            raise ValueError("checkpoints must be non-negative integers")
        return sorted(set(v))


def open_store(cfg: LearnConfig) -> ExperienceStore:
    """A fresh experience store for a learning run (never the user's default memory: a curve must
    start from what the run itself wrote)."""
    if cfg.store == "memory":
        return InMemoryExperience()
    from agentsim.memory.experience import ExperienceMemory
    from agentsim.memory.store import MemoryConfig, MemoryStore

    data_dir = cfg.memory_dir or (cfg.out / "memory")
    prefix = "learn-" + hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:8]
    mcfg = MemoryConfig(data_dir=data_dir, chroma_url=cfg.chroma_url, prefix=prefix)
    return ExperienceMemory(MemoryStore.open(mcfg), writes_enabled=True)


def _write_jsonl(path: Path, results: list[EpisodeResult]) -> None:
    from agentsim.api import append_jsonl

    for r in results:
        append_jsonl(path, r.model_dump(mode="json"))


def plot_curve(curve: LearningCurve, path: Path, title: str = "") -> Path:
    """PNG of test accuracy (with 95% CI) against training episodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p.train_episodes for p in curve.points]
    ys = [100 * p.accuracy for p in curve.points]
    lo = [100 * p.lo for p in curve.points]
    hi = [100 * p.hi for p in curve.points]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.fill_between(xs, lo, hi, alpha=0.2, label="95% bootstrap CI")
    ax.plot(xs, ys, marker="o", label=f"test accuracy ({len(curve.test_cases)} cases)")
    ax.plot(xs, [100 * p.top3 for p in curve.points], marker="s", linestyle="--", label="top-3 accuracy")
    ax.set_xlabel("training episodes (experience records written)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"Learning curve: {curve.strategy} ({curve.settings})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def load_split(spec: str, scenarios_dir: Path | None = None) -> list[LoadedScenario]:
    """Cases of one split spec (named set, folder, file or AgentClinic JSONL)."""
    from agentsim.bench.cases import resolve_cases

    return list(resolve_cases(spec, scenarios_dir).cases)


def run_learn(cfg: LearnConfig, *, progress: bool = True) -> LearningCurve:
    """Run the protocol and write ``curve.json``, ``learning_curve.png``, ``train.jsonl`` and
    ``test.jsonl`` under ``cfg.out``. This is what ``bench --learn`` calls."""
    import sys

    train = load_split(cfg.train, cfg.scenarios_dir)
    if cfg.split_fraction:
        train, test = hash_split(train, cfg.split_fraction, cfg.settings.seed)
    else:
        test = load_split(cfg.test, cfg.scenarios_dir)
    if cfg.max_test_cases:
        test = test[: cfg.max_test_cases]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    store = open_store(cfg)
    total = max(cfg.checkpoints) + len(test) * len(cfg.checkpoints)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="ep", file=sys.stderr, dynamic_ncols=True, desc="learn")

    def tick(phase: str, r: EpisodeResult) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(phase=phase, refresh=False)

    try:
        curve, tr, te = asyncio.run(run_learning_curve(train, test, cfg.settings, store, cfg.checkpoints,
                                                       concurrency=cfg.concurrency, on_result=tick))
    finally:
        if bar is not None:
            bar.close()
    for name in ("train.jsonl", "test.jsonl"):
        (out / name).unlink(missing_ok=True)
    _write_jsonl(out / "train.jsonl", tr)
    _write_jsonl(out / "test.jsonl", te)
    (out / "curve.json").write_text(json.dumps({"config": json.loads(cfg.model_dump_json()),
                                                "curve": curve.model_dump(mode="json")}, indent=1))
    plot_curve(curve, out / "learning_curve.png")
    return curve
