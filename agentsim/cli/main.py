"""Entry point of the ``agentsim`` console script.

Each command group lives in its own module exposing ``register(subparsers)``. Modules import
heavy libraries (torch, chromadb, gradio, langchain) only inside their handlers, so ``--help``
stays instant and torch-free.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from agentsim import __version__
from agentsim.errors import AgentsimError

COMMAND_MODULES: tuple[str, ...] = ("run", "scenarios", "play", "bench", "index", "learn")

# Offline by default: nothing may reach for a hub or phone home.
_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all command groups registered)."""
    parser = argparse.ArgumentParser(prog="agentsim", description="Simulate clinical diagnosis with AI agents.")
    parser.add_argument("--version", action="version", version=f"agentsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"agentsim.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 2."""
    for k, v in _OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except AgentsimError as exc:
        print(f"agentsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("agentsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
