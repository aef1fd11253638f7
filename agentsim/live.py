"""A running episode that a UI can watch and, in role-play, take part in.

:class:`LiveEpisode` runs :func:`agentsim.api.run_case` in a background thread with its own
event loop and publishes :class:`LiveEvent` objects: each transcript message as it happens,
``your_turn`` when the person (human doctor or patient) must act, and ``done`` with the result.
The Gradio app and ``agentsim play`` are both thin shells over it; each session owns its own
``LiveEpisode``, so two browser tabs never share state.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agentsim.agents.human import HumanDoctor, HumanPatient, ThreadChannel
from agentsim.backends import Settings
from agentsim.participants import Message, Reply, ToolCall
from agentsim.results import EpisodeResult
from agentsim.scenario import LoadedScenario
from agentsim.tools import RetrievalTool
from agentsim.views import CaseViews, build_views

HumanSeat = Literal["doctor", "patient"] | None


class LiveEvent(BaseModel):
    """One thing that happened in a live episode."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kind: Literal["message", "your_turn", "done"]
    message: Message | None = None
    result: EpisodeResult | None = None


class LiveEpisode:
    """One episode running in the background; ``human`` names the seat a person fills, if any."""

    def __init__(self, loaded: LoadedScenario, settings: Settings | None = None, human: HumanSeat = None,
                 retrieval: RetrievalTool | None = None, seed: int | None = None):
        self.loaded = loaded
        self.settings = settings or Settings()
        self.human = human
        self.retrieval = retrieval
        self.seed = seed
        self.views: CaseViews = build_views(loaded)
        self.channel = ThreadChannel()
        self.events: queue.Queue[LiveEvent] = queue.Queue()
        self.result: EpisodeResult | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._pending: Message | None = None

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> LiveEpisode:
        """Start the episode thread."""
        self._thread = threading.Thread(target=self._main, name=f"episode-{self.loaded.scenario.id}", daemon=True)
        self._thread.start()
        threading.Thread(target=self._relay_prompts, daemon=True).start()
        return self

    def _main(self) -> None:
        from agentsim.api import run_case

        async def go() -> EpisodeResult:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            doctor = HumanDoctor(self.channel) if self.human == "doctor" else None
            patient = HumanPatient(self.channel) if self.human == "patient" else None
            return await run_case(self.loaded, self.settings, doctor=doctor, patient=patient,
                                  retrieval=self.retrieval, on_message=self._on_message, stop=self._stop,
                                  seed=self.seed)

        try:
            self.result = asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the UI through .error and the done event
            self.error = exc
        finally:
            self.channel.close()
            self.events.put(LiveEvent(kind="done", result=self.result))

    def _on_message(self, msg: Message) -> None:
        self.events.put(LiveEvent(kind="message", message=msg))

    def _relay_prompts(self) -> None:
        while True:
            prompt = self.channel.prompt()
            if prompt is None:
                return
            self._pending = prompt
            self.events.put(LiveEvent(kind="your_turn", message=prompt))

    def stop(self) -> None:
        """Ask the episode to end at the next turn (and unblock a waiting human seat)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop closed between the check and the call: already finished
                pass
        if self.human is not None:
            self.channel.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the person's actions ------------------------------------------------------------------
    @property
    def waiting_for_human(self) -> Message | None:
        """The message the person must answer now, if any."""
        return self._pending

    def act_as_doctor(self, call: ToolCall) -> None:
        """Submit the human doctor's action."""
        if self.human != "doctor":
            raise RuntimeError("no human in the doctor's seat")
        self._pending = None
        self.channel.submit(Reply(tool_calls=[call]))

    def answer_as_patient(self, text: str) -> None:
        """Submit the human patient's answer."""
        if self.human != "patient":
            raise RuntimeError("no human in the patient's seat")
        self._pending = None
        self.channel.submit(Reply(content=text))

    # --- reading events ------------------------------------------------------------------------
    def next_events(self, timeout: float = 0.1, until_turn: bool = True) -> Iterator[LiveEvent]:
        """Yield events as they arrive; stops after ``done`` or, with ``until_turn``, after ``your_turn``."""
        while True:
            try:
                ev = self.events.get(timeout=timeout)
            except queue.Empty:
                if not self.running and self.events.empty():
                    return
                continue
            yield ev
            if ev.kind == "done" or (until_turn and ev.kind == "your_turn"):
                return

    def wait(self, timeout: float | None = None) -> EpisodeResult | None:
        """Block until the episode ends; returns the result."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result
