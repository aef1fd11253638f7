"""Benchmark statistics against hand-computed values."""

from __future__ import annotations

from math import comb

import pytest

from agentsim.bench.metrics import (
    agreement,
    bootstrap_ci,
    compare,
    latest_per_episode,
    pass_at_k,
    pass_hat_k,
    summarize,
)
from agentsim.results import CostBreakdown, EpisodeResult, ErrorInfo, Transcript, Verdict


def ep(case: str, trial: int, correct: bool, *, top3: bool | None = None, specialty: str = "s", dataset: str = "d",
       judge: bool | None = None, offline: bool | None = None, error: str | None = None, cost: float = 0.0,
       turns: int = 4) -> EpisodeResult:
    verdict = Verdict(correct=correct, score=1.0 if correct else 0.0, method="exact",
                      top_k_correct={1: correct, 3: correct if top3 is None else top3, 5: True, 10: True})
    grades = {}
    if judge is not None:
        grades["judge"] = Verdict(correct=judge, score=5 if judge else 1, method="judge")
    if offline is not None:
        grades["offline"] = Verdict(correct=offline, score=1.0, method="exact")
    return EpisodeResult(case_id=case, trial=trial, correct=correct, verdict=verdict, grades=grades,
                         specialty=specialty, dataset=dataset, turns=turns,
                         cost=CostBreakdown(visits_usd=cost), transcript=Transcript(case_id=case),
                         error=ErrorInfo(kind=error, error_class="X", message="m") if error else None)


def test_pass_hat_k_hand_values():
    assert pass_hat_k(5, 3, 2) == pytest.approx(3 / 10)  # C(3,2)/C(5,2)
    assert pass_hat_k(4, 3, 3) == pytest.approx(1 / 4)
    assert pass_hat_k(3, 3, 3) == 1.0
    assert pass_hat_k(4, 2, 3) == 0.0
    assert pass_hat_k(7, 4, 1) == pytest.approx(4 / 7)  # pass^1 is the plain success rate
    with pytest.raises(ValueError):
        pass_hat_k(2, 1, 3)


def test_pass_at_k_hand_values():
    assert pass_at_k(5, 3, 2) == pytest.approx(1 - 1 / 10)  # 1 - C(2,2)/C(5,2)
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 1, 4) == 1.0


def test_bootstrap_ci_degenerate_cases():
    assert bootstrap_ci([0.7]) == (0.7, 0.7)
    assert bootstrap_ci([1.0] * 12) == (1.0, 1.0)


def test_bootstrap_ci_matches_exact_binomial_quantiles():
    # 10 of 20 correct: a bootstrap mean is Binomial(20, 0.5) / 20, whose exact 2.5% and 97.5%
    # quantiles are 6/20 and 14/20 (CDF(5) = 0.021 < 0.025 <= CDF(6) = 0.058; CDF(13) = 0.942 < 0.975 <= CDF(14)).
    cdf = [sum(comb(20, i) for i in range(k + 1)) / 2**20 for k in range(21)]
    assert cdf[5] < 0.025 <= cdf[6] and cdf[13] < 0.975 <= cdf[14]
    lo, hi = bootstrap_ci([0.0] * 10 + [1.0] * 10, n_boot=20000, seed=3)
    assert lo == pytest.approx(0.30, abs=0.025) and hi == pytest.approx(0.70, abs=0.025)


def test_bootstrap_ci_is_seeded():
    vals = [0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.25]
    assert bootstrap_ci(vals, seed=1) == bootstrap_ci(vals, seed=1)
    lo, hi = bootstrap_ci(vals)
    assert lo < sum(vals) / len(vals) < hi


def test_summary_accuracy_pass_k_and_groups():
    rs = [ep("A", 0, True, specialty="cardio", dataset="dev", cost=300), ep("A", 1, True, specialty="cardio",
                                                                           dataset="dev", cost=300),
          ep("B", 0, True, top3=True, dataset="test"), ep("B", 1, False, top3=True, dataset="test"),
          ep("C", 0, False, top3=False, dataset="test"), ep("C", 1, False, top3=True, dataset="test",
                                                             error="infrastructure")]
    s = summarize(rs, "run")
    assert (s.n_cases, s.n_episodes, s.trials) == (3, 6, 2)
    assert s.accuracy.value == pytest.approx(0.5)
    assert s.pass_hat_k[1].value == pytest.approx(0.5)
    assert s.pass_hat_k[2].value == pytest.approx(1 / 3)  # only case A has both trials right
    assert s.pass_at_k[2].value == pytest.approx(2 / 3)  # A and B have at least one
    assert s.top_k[3].value == pytest.approx((1 + 1 + 0.5) / 3)
    assert s.cost_per_case.value == pytest.approx(100)
    assert s.errors == {"infrastructure": 1}
    assert {g.group: g.accuracy.value for g in s.by_dataset} == {"dev": 1.0, "test": 0.25}
    assert {g.group: g.n_cases for g in s.by_specialty} == {"cardio": 1, "s": 2}
    assert s.accuracy.lo <= s.accuracy.value <= s.accuracy.hi


def test_latest_record_per_pair_wins():
    rs = [ep("A", 0, False, error="infrastructure"), ep("A", 0, True)]
    assert [r.correct for r in latest_per_episode(rs)] == [True]


def test_judge_offline_agreement_and_kappa():
    rs = [ep("A", 0, True, judge=True, offline=True), ep("B", 0, True, judge=True, offline=False),
          ep("C", 0, False, judge=False, offline=False), ep("D", 0, False, judge=False, offline=False),
          ep("E", 0, False, offline=False)]  # no judge grade: not counted
    a = agreement(rs)
    assert a is not None and a.n == 4 and a.agree == 3 and a.judge_only == 1 and a.offline_only == 0
    # po = 3/4; p(judge yes) = 1/2, p(offline yes) = 1/4; pe = 1/2*1/4 + 1/2*3/4 = 1/2; kappa = (3/4-1/2)/(1/2)
    assert a.kappa == pytest.approx(0.5)
    assert agreement([ep("A", 0, True)]) is None


def test_compare_counts_wins_losses_ties():
    a = [ep("x", 0, True), ep("y", 0, False), ep("z", 0, True), ep("only-a", 0, True)]
    b = [ep("x", 0, True), ep("y", 0, True), ep("z", 0, False)]
    c = compare(a, b, "A", "B")
    assert (c.n_shared, c.wins, c.losses, c.ties) == (3, 1, 1, 1)
    assert c.accuracy_diff.value == pytest.approx(0.0)
    assert {d.case_id for d in c.changed} == {"y", "z"}
