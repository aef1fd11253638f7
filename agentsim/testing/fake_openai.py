"""A local OpenAI-compatible chat server for tests and benchmarks.

It serves ``POST /v1/chat/completions`` (and ``GET /v1/models``) on 127.0.0.1, in a background
thread with its own event loop. A *responder* decides each reply from the request body, so
tests can script tool calls, inject faults (HTTP 429/500, timeouts, malformed JSON, empty
replies) and add artificial latency. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeReply:
    """One scripted reply. Set ``status`` for an HTTP error, ``raw`` for a garbage body."""

    content: str | None = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    raw: str | None = None
    delay_s: float = 0.0
    prompt_tokens: int = 50
    completion_tokens: int = 10


def tool_call(name: str, arguments: dict[str, Any] | str, call_id: str | None = None) -> dict[str, Any]:
    """An OpenAI tool-call object (``arguments`` may be a raw string to simulate bad JSON)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id or f"call_{abs(hash((name, args))) % 10**8}", "type": "function",
            "function": {"name": name, "arguments": args}}


Responder = Callable[[dict[str, Any]], FakeReply]


class ScriptedResponder:
    """Replies from a list in order; after the list, ``default``. Thread-safe."""

    def __init__(self, replies: Sequence[FakeReply], default: FakeReply | None = None):
        self.replies = list(replies)
        self.default = default or FakeReply(content="I'm not sure.")
        self._i = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        with self._lock:
            if self._i < len(self.replies):
                self._i += 1
                return self.replies[self._i - 1]
        return self.default


def role_router(doctor: Responder, patient: Responder, judge: Responder | None = None) -> Responder:
    """Route by request shape: requests with tools go to the doctor, judge prompts to the judge."""

    def route(body: dict[str, Any]) -> FakeReply:
        if body.get("tools"):
            return doctor(body)
        first = (body.get("messages") or [{}])[0].get("content") or ""
        if judge is not None and "grade a doctor's final diagnosis" in str(first):
            return judge(body)
        return patient(body)

    return route


def plausible_doctor(
    questions: Sequence[str] = ("Where exactly is the pain, and when did it start?",
                                "Any fever, vomiting, or urinary symptoms?"),
    tests: Sequence[str] = ("Complete blood count", "C-reactive protein"),
    diagnosis: str = "Acute appendicitis",
    differential: Sequence[str] = ("Mesenteric adenitis", "Gastroenteritis"),
) -> Responder:
    """A stateless doctor for load tests: asks ``questions``, orders ``tests``, then diagnoses.

    The step is the number of assistant turns already in the request, so concurrent episodes
    need no shared state; tool-call ids are deterministic so identical episodes send identical
    requests (which a response cache can key on).
    """
    plan: list[tuple[str, dict[str, Any]]] = [("ask_patient", {"question": q}) for q in questions]
    plan += [("order_test", {"test": t}) for t in tests]
    final = ("diagnose", {"diagnosis": diagnosis, "differential": list(differential), "confidence": 0.7})

    def respond(body: dict[str, Any]) -> FakeReply:
        msgs = body.get("messages") or []
        step = sum(1 for m in msgs if m.get("role") == "assistant")
        last = str((msgs[-1] if msgs else {}).get("content") or "")
        name, args = plan[step] if step < len(plan) and "Turn limit reached" not in last else final
        return FakeReply(content=None, tool_calls=[tool_call(name, args, f"call_{step}")],
                         prompt_tokens=200 + 40 * step, completion_tokens=25)

    return respond


def plausible_patient(answer: str = "It started yesterday evening and it is getting worse.") -> Responder:
    """A patient for load tests that always gives the same short answer."""

    def respond(body: dict[str, Any]) -> FakeReply:
        return FakeReply(content=answer, prompt_tokens=300, completion_tokens=15)

    return respond


class FakeOpenAIServer:
    """Context manager running the server; ``base_url`` ends in ``/v1``."""

    def __init__(self, responder: Responder, latency_s: float = 0.0, port: int = 0):
        self.responder = responder
        self.latency_s = latency_s
        self.port = port
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._runner: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.json()
        with self._lock:
            self.requests.append(body)
        reply = self.responder(body)
        delay = self.latency_s + reply.delay_s
        if delay:
            await asyncio.sleep(delay)
        if reply.status != 200:
            err = {"error": {"message": f"injected HTTP {reply.status}", "type": "server_error", "code": reply.status}}
            return web.json_response(err, status=reply.status)
        if reply.raw is not None:
            return web.Response(text=reply.raw, content_type="application/json")
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        payload = {
            "id": f"chatcmpl-{int(time.time() * 1e6)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                      "total_tokens": reply.prompt_tokens + reply.completion_tokens},
        }
        return web.json_response(payload)

    async def _models(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def _serve(self) -> None:
        from aiohttp import web

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def start(self) -> FakeOpenAIServer:
        """Start serving; returns when the port is bound."""
        self._thread = threading.Thread(target=self._serve, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a plausible doctor/patient pair until killed (for benchmarks in a separate process).

    Prints ``PORT <n>`` on stdout once listening.
    """
    import argparse

    ap = argparse.ArgumentParser(description="Local OpenAI-compatible test server (plausible doctor + patient).")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.2, help="seconds added to every reply")
    args = ap.parse_args(argv)
    server = FakeOpenAIServer(role_router(plausible_doctor(), plausible_patient()), latency_s=args.latency,
                              port=args.port).start()
    print(f"PORT {server.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
