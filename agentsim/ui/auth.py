"""Login credentials for sharing the app: ``--auth user:pass`` or a credentials file."""

from __future__ import annotations

from pathlib import Path

from agentsim.errors import ConfigError


def parse_auth(auth: str | None = None, auth_file: str | None = None) -> list[tuple[str, str]] | None:
    """Credentials as (user, password) pairs, or None for no login.

    The file holds one ``user:password`` per line; blank lines and ``#`` comments are ignored.
    """
    pairs: list[tuple[str, str]] = []
    if auth:
        pairs.append(_pair(auth, "--auth"))
    if auth_file:
        p = Path(auth_file)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read credentials file: {exc.strerror or exc}") from None
        for i, line in enumerate(lines, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                pairs.append(_pair(line, f"{p}:{i}"))
    return pairs or None


def _pair(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user.strip() or not password:
        raise ConfigError(f"{where}: credentials must look like user:password")
    return user.strip(), password
