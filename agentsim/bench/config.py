"""The run configuration: one validated model for CLI flags and YAML/TOML run files, and its hash.

Fields split in two groups. *Result fields* change what an episode does (models, seeds, turn
limit, budget, strategy, prices, the cases themselves): they make up the config hash, and a run
directory refuses to resume under a different hash. *Execution fields* (concurrency, retries,
timeouts, cache, error threshold, number of trials) only change how fast or how far a run goes,
so they may change between resumes; adding trials extends a run because each (case, trial)
seed is independent of the trial count.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentsim.bench.cases import NAMED_SETS
from agentsim.errors import ConfigError
from agentsim.llm import LLMConfig

#: LLMConfig fields that do not change a model's answers (left out of the hash). The base URL is
#: among them so a restarted server on another port can resume a run; the model name stays in.
RUNTIME_LLM_FIELDS = frozenset({"timeout_s", "max_retries", "api_key_env", "base_url"})

#: RunConfig fields that do not change episode outcomes (left out of the hash).
EXECUTION_FIELDS = frozenset({
    "name", "out", "scenarios", "base_url", "trials", "concurrency", "llm_concurrency", "call_retries",
    "rate_limit_retries", "episode_retries", "backoff_base_s", "backoff_max_s", "timeout_s", "max_errors",
    "ramp_up_s",
    "cache", "prices",
})


class RunConfig(BaseModel):
    """Everything that defines a benchmark run. Unknown fields are errors (typos must not pass)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="label of the run in reports (default: the run folder name)")
    scenarios: str = Field(default="dev", description="dev | test | all | case folder | case file | AgentClinic "
                                                      ".jsonl; several separated by commas")
    out: str | None = Field(default=None, description="run directory")
    backend: Literal["offline", "openai"] | None = Field(
        default=None, description="offline engine or an OpenAI-compatible server (default: openai if a doctor "
                                  "model is set)")
    base_url: str | None = Field(default=None, description="default server for roles without their own base_url")
    doctor: LLMConfig | None = None
    patient: LLMConfig | None = Field(default=None, description="default: the doctor model")
    judge: LLMConfig | None = Field(default=None, description="rubric judge; default: the offline scorer")
    trials: int = Field(default=1, ge=1, le=1000)
    seed: int = Field(default=0, description="base seed; episode seeds are derived from it by hashing")
    max_turns: int = Field(default=20, ge=1, le=200)
    budget_usd: float | None = Field(default=None, ge=0, description="clinical budget per case (tests refused "
                                                                     "beyond it)")
    doctor_strategy: str = "plain"
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    doctor_bias: str = ""
    patient_bias: str = ""
    memory: bool = Field(default=False, description="give the doctor the search_similar_cases tool")
    prices: str | None = Field(default=None, description="test catalogue JSON overriding the shipped price table")

    concurrency: int = Field(default=4, ge=1, le=1024, description="episodes in flight")
    llm_concurrency: int | None = Field(default=None, ge=1, le=4096,
                                        description="model calls in flight (default: = concurrency); adaptive")
    call_retries: int = Field(default=4, ge=0, le=20, description="retries of a model call on transient errors")
    rate_limit_retries: int = Field(default=8, ge=0, le=50, description="retries of a model call after HTTP 429")
    episode_retries: int = Field(default=1, ge=0, le=10,
                                 description="reruns of an episode that still ends in an infrastructure error")
    backoff_base_s: float = Field(default=0.5, ge=0, le=60)
    backoff_max_s: float = Field(default=30.0, ge=0, le=600)
    timeout_s: float | None = Field(default=None, gt=0, description="per-call deadline for every role")
    ramp_up_s: float | None = Field(default=None, ge=0, le=600,
                                    description="spread the first episodes' starts over this many seconds "
                                                "(default: 10 ms per concurrent episode, at most 2 s)")
    max_errors: int | None = Field(default=None, ge=0,
                                   description="abort after this many infrastructure/patient/internal errors")
    cache: str | None = Field(default=None, description="SQLite response cache file (shared across runs)")

    @field_validator("doctor", "patient", "judge", mode="before")
    @classmethod
    def _model_shorthand(cls, v: Any) -> Any:
        # `doctor: gpt-4o-mini` in a run file means {model: gpt-4o-mini}.
        return {"model": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _resolve(self) -> RunConfig:
        roles = {"doctor": self.doctor, "patient": self.patient, "judge": self.judge}
        for name, cfg in roles.items():
            if cfg is None:
                continue
            upd: dict[str, Any] = {}
            if cfg.base_url is None and self.base_url:
                upd["base_url"] = self.base_url
            if self.timeout_s is not None:
                upd["timeout_s"] = self.timeout_s
            if upd:
                setattr(self, name, cfg.model_copy(update=upd))
        if self.backend is None:
            self.backend = "openai" if self.doctor is not None else "offline"
        if self.backend == "openai":
            if self.doctor is None:
                raise ValueError("backend 'openai' needs a doctor model (--doctor MODEL)")
            if self.patient is None:
                self.patient = self.doctor.model_copy()
        elif self.doctor is not None or self.patient is not None:
            raise ValueError("backend 'offline' takes no doctor/patient model (drop --backend offline or the models)")
        return self

    def result_fields(self) -> dict[str, Any]:
        """The fields that define outcomes, as plain JSON data (what the hash covers)."""
        data = self.model_dump(mode="json", exclude=set(EXECUTION_FIELDS))
        for role in ("doctor", "patient", "judge"):
            if data.get(role):
                data[role] = {k: v for k, v in data[role].items() if k not in RUNTIME_LLM_FIELDS}
        return data

    @property
    def effective_llm_concurrency(self) -> int:
        return self.llm_concurrency or self.concurrency

    @property
    def effective_ramp_up_s(self) -> float:
        return self.ramp_up_s if self.ramp_up_s is not None else min(2.0, 0.01 * self.concurrency)


def config_hash(result_fields: dict[str, Any], case_digests: dict[str, str], catalog_digest: str) -> str:
    """SHA-256 (16 hex digits) over the result fields, every case's content and the price table."""
    body = json.dumps({"config": result_fields, "cases": dict(sorted(case_digests.items())),
                       "catalog": catalog_digest}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def diff_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Readable differences between two result-field dicts (for the refusal message)."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(diff_fields(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) run file into a dict (not yet validated)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read run config: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigError(f"{p}: run config must be .yaml, .yml or .toml")
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - yaml and toml raise their own error types
        raise ConfigError(f"{p}: cannot parse run config: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: run config must be a mapping of fields, got {type(data).__name__}")
    # Relative paths in a run file are relative to the file, not to the shell's directory.
    for key in ("out", "prices", "cache"):
        if isinstance(data.get(key), str) and not os.path.isabs(data[key]):
            data[key] = str((p.parent / data[key]).resolve())
    if isinstance(data.get("scenarios"), str):
        parts = []
        for part in data["scenarios"].split(","):
            part = part.strip()
            cand = p.parent / part
            parts.append(str(cand.resolve()) if part not in NAMED_SETS and cand.exists() else part)
        data["scenarios"] = ",".join(parts)
    return data



def build_config(*layers: dict[str, Any], source: str = "run config") -> RunConfig:
    """Validate the merge of ``layers`` (later layers win; None values are ignored)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            if v is None:
                continue
            if k in ("doctor", "patient", "judge") and isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "<root>"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: field {loc!r}: {err['msg']}{more}") from None
