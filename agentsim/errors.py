"""Error types a user can cause. Each message names the file, field, URL or setting at fault."""

from __future__ import annotations


class AgentsimError(Exception):
    """Base class for errors caused by input or configuration (printed without a traceback)."""


class ScenarioError(AgentsimError):
    """A case file is malformed: bad JSON, a missing or unknown field, or a wrong type."""

    def __init__(self, path: str, message: str, case_id: str | None = None, field: str | None = None):
        self.path = path
        self.case_id = case_id
        self.field = field
        parts = [str(path)]
        if case_id:
            parts.append(f"case {case_id!r}")
        if field:
            parts.append(f"field {field!r}")
        super().__init__(f"{': '.join(parts)}: {message}")


class ConfigError(AgentsimError):
    """A configuration value (CLI flag, config file, environment variable) is invalid."""


class ImageError(AgentsimError):
    """An image file cannot be read or decoded."""


class LLMError(AgentsimError):
    """A language-model server failed or replied with something unusable.

    ``kind`` classifies the failure for benchmark statistics: ``infrastructure`` (network, HTTP
    errors, timeouts), ``agent`` (the doctor model produced garbage) or ``patient`` (a simulator
    model produced garbage).
    """

    def __init__(self, message: str, kind: str = "infrastructure", retryable: bool = False):
        self.kind = kind
        self.retryable = retryable
        super().__init__(message)


class MemoryStoreError(AgentsimError):
    """The vector store refused an operation (e.g. an encoder mismatch on a collection)."""


class EpisodeStopped(Exception):
    """Raised by a participant whose person or caller ended the episode early."""
