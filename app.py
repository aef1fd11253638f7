"""The agentsim Gradio app: ``python app.py [--host H] [--port P] [--auth user:pass]``.

Without flags it honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT and binds to 127.0.0.1:7860.
The offline engine fills every seat unless a model server is configured (flags or AGENTSIM_* /
OPENAI_BASE_URL environment variables; the API key only ever comes from OPENAI_API_KEY).
"""

from __future__ import annotations

import argparse
import os
import sys

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the app."""
    from agentsim.cli.common import add_model_options

    p = argparse.ArgumentParser(description="agentsim app: watch, role-play and replay diagnostic episodes")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--auth", default=None, help="require a login: user:password")
    p.add_argument("--auth-file", default=None, help="file of user:password lines")
    p.add_argument("--scenarios-dir", default=None, help="case folder (default: shipped scenarios/)")
    p.add_argument("--runs-dir", default="runs/app", help="where saved transcripts go")
    p.add_argument("--memory", action="store_true", help="enable the retrieval memory (Chroma)")
    add_model_options(p)
    p.add_argument("--max-turns", type=int, default=20)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build and launch the app (blocks until interrupted)."""
    from pathlib import Path

    from agentsim.cli.common import settings_from_args
    from agentsim.errors import AgentsimError
    from agentsim.ui.app import AppContext, allowed_paths, build_app
    from agentsim.ui.auth import parse_auth

    args = parse_args(argv)
    try:
        auth = parse_auth(args.auth, args.auth_file)
        settings = settings_from_args(args, max_turns=args.max_turns)
        ctx_kwargs = {"settings": settings, "runs_dir": Path(args.runs_dir)}
        if args.scenarios_dir:
            ctx_kwargs["scenarios_dir"] = Path(args.scenarios_dir)
        if args.memory:
            from agentsim.memory.retrieval import MemoryRetrieval

            ctx_kwargs["retrieval"] = MemoryRetrieval.open_default()
        ctx = AppContext(**ctx_kwargs)
    except AgentsimError as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 2
    demo = build_app(ctx)
    demo.launch(server_name=args.host, server_port=args.port, auth=auth, allowed_paths=allowed_paths(ctx),
                max_file_size="10mb", footer_links=[])
    return 0


if __name__ == "__main__":
    sys.exit(main())
