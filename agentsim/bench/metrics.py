"""Run metrics with honest uncertainty.

Trials of one case are correlated, so every confidence interval is a *case-level* (cluster)
percentile bootstrap: each case contributes the mean of its trials, and cases are resampled.
The RNG is seeded, so the same records always give the same intervals.

pass^k (tau-bench): the probability that all k trials of a case are correct, estimated per case
without bias from n trials with c correct as C(c, k) / C(n, k), then averaged over cases.
pass^1 is accuracy. pass@k (at least one of k correct) is reported alongside.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from math import comb

import numpy as np
from pydantic import BaseModel, Field

from agentsim.results import EpisodeResult

TOP_KS = (1, 3, 5, 10)
N_BOOT = 2000
#: Error kinds that are not the doctor's doing (counted by --max-errors, listed separately).
NON_AGENT_ERRORS = ("infrastructure", "patient", "internal")


class Estimate(BaseModel):
    """A mean over cases with a bootstrap 95% confidence interval."""

    value: float
    lo: float
    hi: float
    n: int = Field(description="number of cases")

    def fmt(self, pct: bool = False, digits: int = 1) -> str:
        """'71.2% [65.0, 77.1]' or '3.4 [3.1, 3.8]'."""
        if pct:
            return f"{100 * self.value:.{digits}f}% [{100 * self.lo:.{digits}f}, {100 * self.hi:.{digits}f}]"
        return f"{self.value:,.{digits}f} [{self.lo:,.{digits}f}, {self.hi:,.{digits}f}]"


class GroupStats(BaseModel):
    """Accuracy of one specialty or dataset."""

    group: str
    n_cases: int
    n_episodes: int
    accuracy: Estimate
    cost_per_case: float


class Agreement(BaseModel):
    """Agreement of the judge and the offline scorer on the same diagnoses."""

    n: int
    agree: int
    rate: float
    kappa: float | None = Field(description="Cohen's kappa; None when undefined (one class only)")
    both_correct: int
    judge_only: int
    offline_only: int
    both_wrong: int


class RunSummary(BaseModel):
    """Every reported number of one run."""

    label: str = ""
    n_cases: int
    n_episodes: int
    trials: int = Field(description="most trials any case has")
    accuracy: Estimate
    top_k: dict[int, Estimate]
    pass_hat_k: dict[int, Estimate]
    pass_at_k: dict[int, Estimate]
    mean_turns: Estimate
    tests_per_case: Estimate
    cost_per_case: Estimate = Field(description="clinical cost (visits + tests), USD")
    token_cost_per_case: Estimate
    tokens_per_case: Estimate
    usage_by_role: dict[str, dict[str, float]] = Field(default_factory=dict, description="per-episode means")
    errors: dict[str, int] = Field(default_factory=dict)
    model_calls: int = 0
    cached_calls: int = 0
    by_specialty: list[GroupStats] = Field(default_factory=list)
    by_dataset: list[GroupStats] = Field(default_factory=list)
    agreement: Agreement | None = None


def latest_per_episode(results: Iterable[EpisodeResult]) -> list[EpisodeResult]:
    """One record per (case, trial): the last one written wins (a rerun supersedes a failure)."""
    last: dict[tuple[str, int], EpisodeResult] = {}
    for r in results:
        last[(r.case_id, r.trial)] = r
    return list(last.values())


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of P(all k trials correct) from n trials with c correct (needs n >= k)."""
    if not 0 <= c <= n or k < 1 or n < k:
        raise ValueError(f"pass^k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    return comb(c, k) / comb(n, k)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of P(at least one of k trials correct) from n trials with c correct."""
    if not 0 <= c <= n or k < 1 or n < k:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    return 1.0 - comb(n - c, k) / comb(n, k)


def bootstrap_ci(values: Sequence[float], n_boot: int = N_BOOT, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (fixed RNG seed)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    if arr.size == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    # Chunked so a 10k-case run does not allocate n_boot x n at once.
    chunk = max(1, 2_000_000 // arr.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, arr.size, size=(stop - start, arr.size))
        means[start:stop] = arr[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def estimate(values: Sequence[float], seed: int = 0) -> Estimate:
    """Mean with its bootstrap interval."""
    if not values:
        return Estimate(value=float("nan"), lo=float("nan"), hi=float("nan"), n=0)
    lo, hi = bootstrap_ci(values, seed=seed)
    return Estimate(value=float(np.mean(values)), lo=lo, hi=hi, n=len(values))


def by_case(results: Iterable[EpisodeResult]) -> dict[str, list[EpisodeResult]]:
    """Records grouped by case id, trials in order."""
    out: dict[str, list[EpisodeResult]] = defaultdict(list)
    for r in results:
        out[r.case_id].append(r)
    for rs in out.values():
        rs.sort(key=lambda r: r.trial)
    return dict(sorted(out.items()))


def case_means(cases: dict[str, list[EpisodeResult]], fn: Callable[[EpisodeResult], float]) -> list[float]:
    """Per case, the mean of ``fn`` over its trials."""
    return [float(np.mean([fn(r) for r in rs])) for rs in cases.values()]


def top_k_hit(r: EpisodeResult, k: int) -> bool:
    """Whether the correct diagnosis is within the first k of (diagnosis, differential...)."""
    if r.verdict is None:
        return False
    tk = r.verdict.top_k_correct
    if k in tk:
        return bool(tk[k])
    smaller = [kk for kk in tk if kk <= k]
    return bool(tk[max(smaller)]) if smaller else r.correct


def agreement(results: Iterable[EpisodeResult]) -> Agreement | None:
    """Judge vs offline scorer on episodes graded by both (judge grades that fell back are skipped)."""
    pairs = [(r.grades["judge"].correct, r.grades["offline"].correct) for r in results
             if "judge" in r.grades and "offline" in r.grades and r.grades["judge"].method == "judge"]
    if not pairs:
        return None
    n = len(pairs)
    both = sum(1 for j, o in pairs if j and o)
    j_only = sum(1 for j, o in pairs if j and not o)
    o_only = sum(1 for j, o in pairs if o and not j)
    neither = n - both - j_only - o_only
    po = (both + neither) / n
    pj, poff = (both + j_only) / n, (both + o_only) / n
    pe = pj * poff + (1 - pj) * (1 - poff)
    kappa = None if pe >= 1.0 else (po - pe) / (1 - pe)
    return Agreement(n=n, agree=both + neither, rate=po, kappa=kappa, both_correct=both, judge_only=j_only,
                     offline_only=o_only, both_wrong=neither)


def _groups(results: list[EpisodeResult], key: Callable[[EpisodeResult], str]) -> list[GroupStats]:
    grouped: dict[str, list[EpisodeResult]] = defaultdict(list)
    for r in results:
        grouped[key(r) or "(none)"].append(r)
    out = []
    for name, rs in sorted(grouped.items()):
        cases = by_case(rs)
        out.append(GroupStats(group=name, n_cases=len(cases), n_episodes=len(rs),
                              accuracy=estimate(case_means(cases, lambda r: float(r.correct))),
                              cost_per_case=float(np.mean(case_means(cases, lambda r: r.cost.clinical_usd)))))
    return out


def summarize(results: Iterable[EpisodeResult], label: str = "") -> RunSummary:
    """All metrics of one run's records (deduplicated per (case, trial))."""
    rs = latest_per_episode(results)
    cases = by_case(rs)
    if not cases:
        raise ValueError("no episodes to summarize")
    trials = max(len(v) for v in cases.values())
    pass_hat: dict[int, Estimate] = {}
    pass_at: dict[int, Estimate] = {}
    for k in range(1, trials + 1):
        eligible = [v for v in cases.values() if len(v) >= k]
        counts = [(len(v), sum(r.correct for r in v)) for v in eligible]
        pass_hat[k] = estimate([pass_hat_k(n, c, k) for n, c in counts])
        pass_at[k] = estimate([pass_at_k(n, c, k) for n, c in counts])
    roles: dict[str, dict[str, float]] = {}
    for role in sorted({role for r in rs for role in r.usage}):
        us = [r.usage.get(role) for r in rs]
        roles[role] = {f: float(np.mean([getattr(u, f) if u else 0 for u in us]))
                       for f in ("prompt_tokens", "completion_tokens", "calls", "cost_usd", "cached_calls")}
    errors: dict[str, int] = defaultdict(int)
    for r in rs:
        if r.error is not None:
            errors[r.error.kind] += 1
    return RunSummary(
        label=label,
        n_cases=len(cases),
        n_episodes=len(rs),
        trials=trials,
        accuracy=estimate(case_means(cases, lambda r: float(r.correct))),
        top_k={k: estimate(case_means(cases, lambda r, k=k: float(top_k_hit(r, k)))) for k in TOP_KS},
        pass_hat_k=pass_hat,
        pass_at_k=pass_at,
        mean_turns=estimate(case_means(cases, lambda r: float(r.turns))),
        tests_per_case=estimate(case_means(cases, lambda r: float(len(r.tests_ordered)))),
        cost_per_case=estimate(case_means(cases, lambda r: r.cost.clinical_usd)),
        token_cost_per_case=estimate(case_means(cases, lambda r: r.cost.tokens_usd)),
        tokens_per_case=estimate(case_means(cases, lambda r: float(r.total_tokens))),
        usage_by_role=roles,
        errors=dict(errors),
        model_calls=sum(u.calls for r in rs for u in r.usage.values()),
        cached_calls=sum(u.cached_calls for r in rs for u in r.usage.values()),
        by_specialty=_groups(rs, lambda r: r.specialty),
        by_dataset=_groups(rs, lambda r: r.dataset),
        agreement=agreement(rs),
    )


class CaseDiff(BaseModel):
    """One case's accuracy in a baseline run and another run."""

    case_id: str
    baseline: float
    other: float


class Comparison(BaseModel):
    """Per-case wins and losses of ``other`` against ``baseline`` on their shared cases."""

    baseline: str
    other: str
    n_shared: int
    wins: int
    losses: int
    ties: int
    accuracy_diff: Estimate = Field(description="other - baseline, paired bootstrap over shared cases")
    changed: list[CaseDiff] = Field(default_factory=list)


def compare(baseline: Iterable[EpisodeResult], other: Iterable[EpisodeResult], baseline_label: str = "A",
            other_label: str = "B") -> Comparison:
    """Paired comparison on the cases both runs have."""
    a = by_case(latest_per_episode(baseline))
    b = by_case(latest_per_episode(other))
    shared = sorted(set(a) & set(b))
    acc_a = {c: float(np.mean([r.correct for r in a[c]])) for c in shared}
    acc_b = {c: float(np.mean([r.correct for r in b[c]])) for c in shared}
    diffs = [acc_b[c] - acc_a[c] for c in shared]
    changed = [CaseDiff(case_id=c, baseline=acc_a[c], other=acc_b[c]) for c in shared if acc_a[c] != acc_b[c]]
    return Comparison(baseline=baseline_label, other=other_label, n_shared=len(shared),
                      wins=sum(d > 0 for d in diffs), losses=sum(d < 0 for d in diffs),
                      ties=sum(d == 0 for d in diffs), accuracy_diff=estimate(diffs), changed=changed)
