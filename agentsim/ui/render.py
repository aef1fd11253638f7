"""Transcript messages as Gradio chat messages (messages format), and result summaries.

Pure functions over :class:`~agentsim.participants.Message` and
:class:`~agentsim.results.EpisodeResult`; no Gradio import, so they are testable alone.
The doctor speaks on the right ("user" side), patient and measurement on the left; tool calls,
retrieval results and private reasoning are collapsible metadata blocks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentsim.participants import Message
from agentsim.results import EpisodeResult

#: Maps an image path to one the UI can serve (None: not showable); identity-on-files by default.
Serve = Callable[[str], "str | None"]


def _as_is(path: str) -> str | None:
    return path if Path(path).is_file() else None


SPEAKER = {"doctor": "Doctor", "patient": "Patient", "measurement": "Measurement", "tool": "Memory",
           "system": "System"}


def _action_text(msg: Message) -> tuple[str, str]:
    """(title, body) of a doctor's tool call."""
    call = msg.tool_calls[0]
    a = call.arguments
    if call.name == "ask_patient":
        return "", str(a.get("question", ""))
    if call.name == "order_test":
        return f"▸ order_test: {a.get('test', '')}", f"Orders: {a.get('test', '')}"
    if call.name == "search_similar_cases":
        what = " ".join(x for x in [a.get("query_text", ""), f"image {a['image_id']}" if a.get("image_id") else ""]
                        if x)
        return f"▸ search_similar_cases: {what or '(current findings)'}", "Searches memory for similar cases."
    if call.name == "diagnose":
        diff = a.get("differential") or []
        body = f"Final diagnosis: **{a.get('diagnosis', '')}**"
        if diff:
            body += "\n\nDifferential: " + ", ".join(str(d) for d in diff)
        return f"▸ diagnose: {a.get('diagnosis', '')}", body
    return f"⚠ {call.name}", json.dumps(a)[:500]


def message_to_chat(msg: Message, serve: Serve = _as_is) -> list[dict[str, Any]]:
    """One transcript message -> one or more chat messages for ``gr.Chatbot``.

    ``serve`` turns an image path into one the UI can serve (see :class:`agentsim.ui.served.ServedFiles`).
    """
    out: list[dict[str, Any]] = []
    speaker = SPEAKER.get(msg.role, msg.role)
    if msg.role == "doctor":
        if msg.reasoning:
            out.append({"role": "user", "content": msg.reasoning,
                        "metadata": {"title": "Doctor's reasoning (not shown to the patient)", "status": "done"}})
        if msg.tool_calls:
            title, body = _action_text(msg)
            if title:
                args = json.dumps(msg.tool_calls[0].arguments, ensure_ascii=False)
                out.append({"role": "user", "content": f"`{args}`", "metadata": {"title": title, "status": "done"}})
            out.append({"role": "user", "content": f"**{speaker}:** {body}"})
        elif msg.content:
            out.append({"role": "user", "content": f"**{speaker}:** {msg.content}"})
        return out
    if msg.role == "tool" and msg.metadata.get("tool") == "search_similar_cases":
        out.append({"role": "assistant", "content": msg.content,
                    "metadata": {"title": "Memory search results", "status": "done"}})
        for hit in (msg.metadata.get("result") or {}).get("images", [])[:4]:
            path = serve(hit["path"]) if hit.get("path") else None
            if path:
                label = hit.get("label") or hit.get("caption") or "similar image"
                out.append({"role": "assistant", "content": {"path": path,
                                                             "alt_text": f"{label} ({hit.get('score', 0):.2f})"}})
        return out
    if msg.role == "system" or msg.metadata.get("error"):
        out.append({"role": "assistant", "content": msg.content, "metadata": {"title": f"⚠ {speaker}"}})
        return out
    out.append({"role": "assistant", "content": f"**{speaker}:** {msg.content}"})
    for path in msg.images:
        served = serve(path)
        if served:
            out.append({"role": "assistant", "content": {"path": served, "alt_text": Path(path).name}})
    return out


def transcript_to_chat(messages: list[Message], serve: Serve = _as_is) -> list[dict[str, Any]]:
    """A whole transcript as chat messages."""
    out: list[dict[str, Any]] = []
    for m in messages:
        out.extend(message_to_chat(m, serve))
    return out


def verdict_markdown(result: EpisodeResult | None, error: BaseException | None = None) -> str:
    """The end-of-episode summary: verdict, cost, turns, tests."""
    if result is None:
        return f"### Episode failed\n{type(error).__name__ if error else 'Error'}: {error}" if error else ""
    mark = "✓ Correct" if result.correct else "✗ Incorrect"
    lines = [f"### {mark}" if result.diagnosis else "### No diagnosis",
             f"**Diagnosis:** {result.diagnosis or '—'}  ",
             f"**Correct diagnosis:** {result.correct_diagnosis}  "]
    if result.differential:
        lines.append(f"**Differential:** {', '.join(result.differential)}  ")
    if result.verdict:
        lines.append(f"**Grading ({result.verdict.method}):** {result.verdict.reasoning}  ")
    lines.append(f"**Turns:** {result.turns} · **questions:** {result.questions} · "
                 f"**tests ordered:** {len(result.tests_ordered)} · **clinical cost:** ${result.cost.clinical_usd:,.0f}"
                 + (f" · **tokens:** {result.total_tokens:,}" if result.total_tokens else ""))
    if result.tests_ordered:
        lines.append(f"**Tests:** {', '.join(result.tests_ordered)}  ")
    if result.error:
        lines.append(f"**Ended early ({result.error.kind}):** {result.error.message}")
    return "\n".join(lines)
