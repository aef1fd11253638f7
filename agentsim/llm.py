"""Chat-model configuration, construction and error classification.

Any OpenAI-compatible server works (OpenAI, vLLM, Ollama, llama.cpp's server): a model is
``ChatOpenAI(base_url=..., model=..., api_key=...)``. The API key is read from an environment
variable named in the config and never stored in configs, transcripts or logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentsim.errors import ConfigError, LLMError
from agentsim.participants import Usage

#: What local servers get as a key when none is configured (vLLM/Ollama/llama.cpp ignore it).
PLACEHOLDER_KEY = "sk-no-key-needed"


class LLMConfig(BaseModel):
    """One role's model. ``api_key_env`` names the variable holding the key (not the key)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8000/v1; None = OpenAI")
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(default=0.0, ge=0, le=2)
    seed: int | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    max_tokens: int | None = Field(default=None, gt=0)
    vision: bool = Field(default=False, description="send case images to the model as image parts")
    price_input_per_mtok: float = Field(default=0.0, ge=0, description="USD per million prompt tokens")
    price_output_per_mtok: float = Field(default=0.0, ge=0, description="USD per million completion tokens")

    @property
    def label(self) -> str:
        """Short human-readable identity (no secrets)."""
        return f"{self.model}@{self.base_url}" if self.base_url else self.model

    def api_key(self) -> str:
        """The key from the environment, or a placeholder for local servers."""
        key = os.environ.get(self.api_key_env, "")
        if not key and not self.base_url:
            raise ConfigError(
                f"model {self.model!r} has no base_url (so it targets OpenAI) but ${self.api_key_env} is not set; "
                "set the key or point --base-url at an OpenAI-compatible server"
            )
        return key or PLACEHOLDER_KEY


#: A harness (the benchmark runner) sets this in its task context to build every chat model itself,
#: e.g. with rate limiting, retries and a response cache; it receives the config and the ChatOpenAI
#: keyword arguments. A context variable, not a module global, so concurrent runs do not interfere.
CHAT_MODEL_HOOK: ContextVar[Callable[[LLMConfig, dict[str, Any]], Any] | None] = ContextVar(
    "agentsim_chat_model_hook", default=None)


def make_chat_model(cfg: LLMConfig, seed: int | None = None) -> Any:
    """Build a langchain ``ChatOpenAI`` for this config (imported lazily: langchain is heavy)."""
    kwargs: dict[str, Any] = {
        "model": cfg.model,
        "api_key": cfg.api_key(),
        "temperature": cfg.temperature,
        "timeout": cfg.timeout_s,
        "max_retries": cfg.max_retries,
    }
    if cfg.base_url:
        kwargs["base_url"] = cfg.base_url
    if cfg.max_tokens:
        kwargs["max_tokens"] = cfg.max_tokens
    s = seed if seed is not None else cfg.seed
    if s is not None:
        kwargs["seed"] = s
    hook = CHAT_MODEL_HOOK.get()
    if hook is not None:
        return hook(cfg, kwargs)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(**kwargs)


def usage_of(message: Any, cfg: LLMConfig | None = None) -> Usage:
    """Token usage (and cost, when the config has prices) of one langchain AIMessage."""
    meta = getattr(message, "usage_metadata", None) or {}
    pin = int(meta.get("input_tokens", 0) or 0)
    pout = int(meta.get("output_tokens", 0) or 0)
    cost = 0.0
    if cfg is not None:
        cost = (pin * cfg.price_input_per_mtok + pout * cfg.price_output_per_mtok) / 1e6
    cached = bool((getattr(message, "response_metadata", None) or {}).get("agentsim_cache_hit"))
    return Usage(prompt_tokens=pin, completion_tokens=pout, calls=1, cost_usd=cost, cached_calls=int(cached))


def classify_error(exc: BaseException, role: str, cfg: LLMConfig | None = None) -> LLMError:
    """Map an exception from a model call to an :class:`LLMError` with kind and retryability."""
    if isinstance(exc, LLMError):
        return exc
    where = f" ({cfg.label})" if cfg else ""
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a hard dependency
        openai = None  # type: ignore[assignment]
    if openai is not None:
        if isinstance(exc, openai.RateLimitError):
            return LLMError(f"{role} model{where}: rate limited (HTTP 429)", "infrastructure", retryable=True)
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"{role} model{where}: request timed out", "infrastructure", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"{role} model{where}: cannot connect: {exc}", "infrastructure", retryable=True)
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            return LLMError(f"{role} model{where}: HTTP {code}: {str(exc)[:300]}", "infrastructure",
                            retryable=code >= 500 or code in (408, 409, 429))
        if isinstance(exc, json.JSONDecodeError):
            # A body that is not JSON at all is a broken server or proxy, not a bad model answer.
            return LLMError(f"{role} model{where}: malformed response body: {exc}", "infrastructure",
                            retryable=True)
        if isinstance(exc, openai.APIResponseValidationError | ValueError):
            kind = "agent" if role == "doctor" else "patient"
            return LLMError(f"{role} model{where}: unusable reply: {str(exc)[:300]}", kind)
    if isinstance(exc, TimeoutError | ConnectionError):
        return LLMError(f"{role} model{where}: {type(exc).__name__}: {exc}", "infrastructure", retryable=True)
    kind = "agent" if role == "doctor" else "patient"
    return LLMError(f"{role} model{where}: {type(exc).__name__}: {str(exc)[:300]}", kind)
