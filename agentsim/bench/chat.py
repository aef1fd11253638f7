"""The benchmark's chat model: ``ChatOpenAI`` with the adaptive limiter, retries and the cache.

The runner installs :func:`make_chat_hook` as :data:`agentsim.llm.CHAT_MODEL_HOOK` for its
tasks, so every model the participants, strategies and the judge build through
:func:`agentsim.llm.make_chat_model` is a :class:`BenchChatOpenAI` sharing one limiter, one
retry policy and one cache. The openai client's own retries are switched off: they would hide
429s from the limiter.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx  # the HTTP library of the pinned openai SDK (its exceptions carry these types)
import openai
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr, SecretStr

from agentsim.bench.cache import ResponseCache, cache_key
from agentsim.bench.limiter import AdaptiveLimiter, CallStats, RetryPolicy, call_with_retries
from agentsim.llm import LLMConfig

_KEPT_METADATA = ("model_name", "finish_reason", "system_fingerprint", "id", "model_provider")

_STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
    404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def status_error(resp: httpx.Response) -> openai.APIStatusError:
    """The openai SDK's exception for an HTTP error response (so error classification is unchanged)."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:1000]
    code = resp.status_code
    cls = _STATUS_ERRORS.get(code, openai.InternalServerError if code >= 500 else openai.APIStatusError)
    return cls(f"Error code: {code} - {body}", response=resp, body=body)


@dataclass
class CallContext:
    """What every model call of a run shares."""

    policy: RetryPolicy
    limiter: AdaptiveLimiter | None = None
    cache: ResponseCache | None = None
    stats: CallStats = field(default_factory=CallStats)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    #: One HTTP client per run (per event loop): langchain's process-wide default client stays bound to
    #: the first event loop and fails with "Event loop is closed" in the next ``asyncio.run``.
    http_client: Any = None
    #: aiohttp session for posting plain chat completions directly (see :meth:`BenchChatOpenAI._post`);
    #: None sends every request through the openai SDK.
    session: Any = None


def record_of(result: ChatResult) -> dict[str, Any]:
    """The cacheable part of a reply."""
    msg = result.generations[0].message
    return {
        "content": msg.content,
        "tool_calls": list(getattr(msg, "tool_calls", []) or []),
        "invalid_tool_calls": list(getattr(msg, "invalid_tool_calls", []) or []),
        "usage_metadata": dict(getattr(msg, "usage_metadata", None) or {}),
        "additional_kwargs": dict(msg.additional_kwargs or {}),
        "response_metadata": {k: v for k, v in (msg.response_metadata or {}).items() if k in _KEPT_METADATA},
    }


def result_from_record(rec: dict[str, Any]) -> ChatResult:
    """Rebuild a reply from the cache, marked so :func:`agentsim.llm.usage_of` counts it as cached."""
    msg = AIMessage(
        content=rec.get("content", ""),
        tool_calls=rec.get("tool_calls", []),
        invalid_tool_calls=rec.get("invalid_tool_calls", []),
        usage_metadata=rec.get("usage_metadata") or None,
        additional_kwargs=rec.get("additional_kwargs", {}),
        response_metadata={**rec.get("response_metadata", {}), "agentsim_cache_hit": True},
    )
    return ChatResult(generations=[ChatGeneration(message=msg)])


class BenchChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` whose requests go through the run's cache, limiter and retry policy."""

    _bench: CallContext | None = PrivateAttr(default=None)

    async def _agenerate(self, messages: list[Any], stop: list[str] | None = None, run_manager: Any = None,
                         **kwargs: Any) -> ChatResult:
        ctx = self._bench
        parent = super()._agenerate
        if ctx is None:
            return await parent(messages, stop=stop, run_manager=run_manager, **kwargs)
        key = None
        if ctx.cache is not None:
            key = cache_key(self.model_name, self.openai_api_base,
                            self._get_request_payload(messages, stop=stop, **kwargs))
            hit = ctx.cache.get(key)
            if hit is not None:
                ctx.stats.cache_hits += 1
                result = result_from_record(hit)
                self._count(ctx, result, cached=True)
                return result
        payload = self._direct_payload(messages, stop, kwargs) if ctx.session is not None else None
        if payload is not None:
            result = await call_with_retries(lambda: self._post(payload, ctx.session),
                                             ctx.policy, ctx.limiter, ctx.stats, ctx.rng)
        else:
            result = await call_with_retries(
                lambda: parent(messages, stop=stop, run_manager=run_manager, **kwargs),
                ctx.policy, ctx.limiter, ctx.stats, ctx.rng)
        if key is not None and ctx.cache is not None:
            ctx.cache.put(key, self.model_name, self.openai_api_base, record_of(result))
        self._count(ctx, result, cached=False)
        return result

    def _count(self, ctx: CallContext, result: ChatResult, cached: bool) -> None:
        # Per-model totals cover calls no episode accounts for (the judge's, strategies' extra calls).
        meta = getattr(result.generations[0].message, "usage_metadata", None) or {}
        ctx.stats.add_tokens(self.model_name, int(meta.get("input_tokens", 0) or 0),
                             int(meta.get("output_tokens", 0) or 0), cached)


    def _direct_payload(self, messages: list[Any], stop: list[str] | None, kwargs: dict[str, Any]) -> dict | None:
        """The request body when it is a plain chat completion we can post ourselves, else None."""
        if not isinstance(self.openai_api_key, SecretStr | None) or self.default_query or self.openai_proxy:
            return None
        payload = self._get_request_payload(messages, stop=stop, **kwargs)
        if "response_format" in payload or payload.get("stream") or self._use_responses_api(payload):
            return None
        return payload

    async def _post(self, payload: dict[str, Any], session: Any) -> ChatResult:
        """POST /chat/completions directly with the run's aiohttp session.

        Measured on 2 cores (benchmarks/harness_throughput.py): the SDK path (request-body
        transform, httpx pool scans, the thread hop langchain uses to parse the reply) costs
        ~3.9 ms CPU per call and capped one process at ~0.7x linear scaling at 64 episodes in
        flight. The payload is the one langchain built for the SDK, HTTP errors are raised as the
        SDK's exception types, and the reply goes through ChatOpenAI's own parser.
        """
        import aiohttp

        base = (self.openai_api_base or "https://api.openai.com/v1").rstrip("/")
        url = f"{base}/chat/completions"
        key = self.openai_api_key.get_secret_value() if isinstance(self.openai_api_key, SecretStr) else ""
        headers = {"Content-Type": "application/json", **dict(self.default_headers or {})}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self.openai_organization:
            headers["OpenAI-Organization"] = self.openai_organization
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                content = await resp.read()
                status, resp_headers = resp.status, dict(resp.headers)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise openai.APITimeoutError(request=httpx.Request("POST", url)) from exc
        except aiohttp.ClientError as exc:
            raise openai.APIConnectionError(message=f"{type(exc).__name__}: {exc}",
                                            request=httpx.Request("POST", url)) from exc
        if status >= 400:
            raise status_error(httpx.Response(status, headers=resp_headers, content=content,
                                              request=httpx.Request("POST", url)))
        data = json.loads(content)
        if not isinstance(data, dict) or "choices" not in data:
            raise json.JSONDecodeError("reply has no 'choices'", content.decode("utf-8", "replace")[:200], 0)
        return self._create_chat_result(data)


def make_http_client(max_connections: int) -> Any:
    """An async HTTP client for one run, sized for its concurrency (create it inside the run's loop)."""
    n = max(16, 2 * max_connections)
    return openai.DefaultAsyncHttpxClient(limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))


def make_session(max_connections: int) -> Any:
    """An aiohttp session for one run (create it inside the run's event loop; close it after)."""
    import aiohttp

    n = max(16, 2 * max_connections)
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n, limit_per_host=n),
                                 timeout=aiohttp.ClientTimeout(total=None))


def make_chat_hook(ctx: CallContext) -> Callable[[LLMConfig, dict[str, Any]], BenchChatOpenAI]:
    """A :data:`agentsim.llm.CHAT_MODEL_HOOK` building models bound to ``ctx``.

    One model per distinct configuration is validated (which builds SDK clients and probes
    socket options: ~1 ms); each episode gets a shallow copy carrying its own seed.
    """
    templates: dict[str, BenchChatOpenAI] = {}

    def hook(cfg: LLMConfig, kwargs: dict[str, Any]) -> BenchChatOpenAI:
        seed = kwargs.get("seed")
        base = {k: v for k, v in kwargs.items() if k != "seed"}
        key = json.dumps(base, sort_keys=True, default=str)
        template = templates.get(key)
        if template is None:
            extra: dict[str, Any] = {"max_retries": 0}
            if ctx.http_client is not None:
                extra["http_async_client"] = ctx.http_client
            template = templates[key] = BenchChatOpenAI(**{**base, **extra})
        model = template.model_copy(update={"seed": seed})
        # The role's own timeout is the per-call deadline.
        model._bench = CallContext(policy=ctx.policy.model_copy(update={"timeout_s": cfg.timeout_s}),
                                   limiter=ctx.limiter, cache=ctx.cache, stats=ctx.stats, rng=ctx.rng,
                                   http_client=ctx.http_client, session=ctx.session)
        return model

    return hook
