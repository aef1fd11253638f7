"""Options shared by several commands (model selection)."""

from __future__ import annotations

import argparse


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--backend/--model/--base-url/--patient-model/--judge-model, with env-var fallbacks."""
    p.add_argument("--backend", choices=["offline", "openai"], default=None,
                   help="offline (default; no server or key) or openai (any OpenAI-compatible server). "
                        "Env: AGENTSIM_BACKEND")
    p.add_argument("--model", "--doctor", dest="model", default=None,
                   help="doctor model name (env AGENTSIM_MODEL)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1 "
                                                    "(env OPENAI_BASE_URL); the key is read from OPENAI_API_KEY")
    p.add_argument("--patient-model", "--patient", dest="patient_model", default=None,
                   help="patient model (default: the doctor model)")
    p.add_argument("--judge-model", "--judge", dest="judge_model", default=None,
                   help="LLM judge model for grading (default: offline scorer)")


def settings_from_args(args: argparse.Namespace, **extra):
    """Settings from parsed options (imports the library lazily)."""
    from agentsim.backends import settings_from_env

    backend = args.backend
    if backend is None and args.model:
        backend = "openai"
    return settings_from_env(backend=backend, model=args.model, base_url=args.base_url,
                             patient_model=args.patient_model, judge_model=args.judge_model, **extra)
