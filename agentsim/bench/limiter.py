"""Bounding and retrying model calls: an adaptive concurrency limit and a retry loop.

:class:`AdaptiveLimiter` caps the number of model calls in flight. An HTTP 429 halves the cap
(at most once per round of calls that were already in flight when the previous cut happened,
so one burst of 429s counts as one signal) and pauses new calls for the server's Retry-After
or a backoff; successes raise it again additively (AIMD, as in TCP congestion control), so a
run recovers its throughput once the server does.

:func:`call_with_retries` wraps one call: per-call deadline, retry with exponential backoff and
full jitter for transient failures, the limiter told about every outcome.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class LimiterStats(BaseModel):
    """What the limiter went through during a run (written to the manifest)."""

    max_limit: int
    limit: int
    min_limit_seen: int
    rate_limited: int = 0
    decreases: int = 0
    increases: int = 0
    calls: int = 0


class AdaptiveLimiter:
    """An asyncio semaphore whose size adapts to rate limiting (AIMD).

    ``limit`` starts at ``max_limit``; :meth:`on_rate_limit` halves it (not below ``min_limit``)
    and pauses new acquisitions; :meth:`on_success` adds ``step`` after every ``limit``
    successes, up to ``max_limit``.
    """

    def __init__(self, max_limit: int, min_limit: int = 1, step: int | None = None):
        if max_limit < 1:
            raise ValueError("max_limit must be >= 1")
        self.max_limit = max_limit
        self.min_limit = max(1, min(min_limit, max_limit))
        self.step = step or max(1, max_limit // 16)
        self.limit = max_limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._paused_until = 0.0
        self._last_cut = float("-inf")
        self._successes = 0
        self.stats = LimiterStats(max_limit=max_limit, limit=max_limit, min_limit_seen=max_limit)

    async def acquire(self) -> float:
        """Wait for a slot; returns the monotonic time the slot was granted."""
        while True:
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                self.stats.calls += 1
                return time.monotonic()
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def release(self) -> None:
        """Give a slot back and wake waiters that can now run."""
        self.in_flight = max(0, self.in_flight - 1)
        self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                free -= 1

    def on_success(self) -> None:
        """Additive increase: one step per ``limit`` successful calls."""
        if self.limit >= self.max_limit:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            self.limit = min(self.max_limit, self.limit + self.step)
            self.stats.increases += 1
            self.stats.limit = self.limit
            self._wake()

    def on_rate_limit(self, started_at: float, pause_s: float) -> None:
        """Multiplicative decrease after an HTTP 429 of a call granted at ``started_at``."""
        self.stats.rate_limited += 1
        now = time.monotonic()
        self._paused_until = max(self._paused_until, now + pause_s)
        # Calls already in flight when we last cut saw the old load: their 429s are the same signal.
        if started_at > self._last_cut:
            self._last_cut = now
            self._successes = 0
            new = max(self.min_limit, self.limit // 2)
            if new < self.limit:
                self.limit = new
                self.stats.decreases += 1
        self.stats.limit = self.limit
        self.stats.min_limit_seen = min(self.stats.min_limit_seen, self.limit)


class RetryPolicy(BaseModel):
    """Per-call deadline and retry budget for model calls."""

    timeout_s: float = Field(default=60.0, gt=0, description="deadline of one call, including reading the body")
    retries: int = Field(default=4, ge=0, description="retries for transient errors (timeouts, 5xx, bad bodies)")
    rate_limit_retries: int = Field(default=8, ge=0, description="retries after HTTP 429")
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)

    def backoff(self, attempt: int, rng: random.Random, floor_s: float = 0.0) -> float:
        """Exponential backoff with full jitter (attempt counts from 1), at least ``floor_s``."""
        cap = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return max(floor_s, rng.uniform(0, cap))


class CallStats(BaseModel):
    """Counts of model-call outcomes across a run."""

    calls: int = 0
    retried: int = 0
    rate_limited: int = 0
    timeouts: int = 0
    failed: int = 0
    cache_hits: int = 0
    tokens_by_model: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="model -> prompt/completion tokens and replies (all roles, judge too)")

    def add_tokens(self, model: str, prompt: int, completion: int, cached: bool) -> None:
        """Count one reply's tokens against its model."""
        t = self.tokens_by_model.setdefault(model, {"prompt": 0, "completion": 0, "replies": 0, "cached": 0})
        t["prompt"] += prompt
        t["completion"] += completion
        t["replies"] += 1
        t["cached"] += int(cached)


def _transient(exc: BaseException) -> tuple[bool, bool, float | None]:
    """(retryable, is_rate_limit, retry_after_s) for an exception from a model call."""
    from agentsim.llm import classify_error

    retry_after = None
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None)
    if response is not None:
        try:
            header = response.headers.get("retry-after")
            retry_after = float(header) if header else None
        except (TypeError, ValueError, AttributeError):
            retry_after = None
    if status == 429:
        return True, True, retry_after
    return classify_error(exc, "model").retryable, False, retry_after


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    limiter: AdaptiveLimiter | None = None,
    stats: CallStats | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run ``call`` under the limiter with a deadline, retrying transient failures.

    The last exception propagates unchanged when retries are exhausted or the error is not
    transient, so the participant above classifies it as it would without the harness.
    """
    rng = rng or random.Random(0)
    stats = stats if stats is not None else CallStats()
    attempts = rl_attempts = 0
    while True:
        started = await limiter.acquire() if limiter else time.monotonic()
        stats.calls += 1
        try:
            async with asyncio.timeout(policy.timeout_s):
                result = await call()
        except asyncio.CancelledError:
            if limiter:
                limiter.release()
            raise
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised when not transient
            if limiter:
                limiter.release()
            retryable, rate_limited, retry_after = _transient(exc)
            if isinstance(exc, TimeoutError):
                stats.timeouts += 1
            if rate_limited:
                stats.rate_limited += 1
                pause = min(policy.backoff_max_s, retry_after) if retry_after is not None else None
                if limiter:
                    limiter.on_rate_limit(started, pause if pause is not None else policy.backoff_base_s)
                rl_attempts += 1
                if rl_attempts > policy.rate_limit_retries:
                    stats.failed += 1
                    raise
                delay = policy.backoff(rl_attempts, rng, floor_s=pause or 0.0)
            elif retryable:
                attempts += 1
                if attempts > policy.retries:
                    stats.failed += 1
                    raise
                delay = policy.backoff(attempts, rng)
            else:
                stats.failed += 1
                raise
            stats.retried += 1
            await asyncio.sleep(delay)
            continue
        if limiter:
            limiter.release()
            limiter.on_success()
        return result
