"""Human participants: a person fills the doctor's or the patient's seat.

The person is reached through a :class:`HumanChannel`: the participant hands over the message
the person must answer and waits for their reply. :class:`ThreadChannel` works across threads
and event loops, so a terminal prompt or a web UI running in another thread can drive an
episode that runs in its own loop.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from typing import Protocol

from agentsim.errors import EpisodeStopped
from agentsim.participants import Message, Reply, Role, ToolCall


class HumanStopped(EpisodeStopped):
    """The person left; ends the episode (recorded as ``stopped``)."""


class HumanChannel(Protocol):
    """How a human participant reaches its person."""

    async def exchange(self, role: Role, message: Message) -> Reply:
        """Show ``message`` to the person and return their reply."""
        ...


class ThreadChannel:
    """Queue pair usable from any thread: the UI calls :meth:`prompt` and :meth:`submit`."""

    def __init__(self) -> None:
        self._prompts: queue.Queue[Message | None] = queue.Queue()
        self._replies: queue.Queue[Reply | None] = queue.Queue()

    async def exchange(self, role: Role, message: Message) -> Reply:
        """Participant side: publish the prompt, wait (off the event loop) for the reply."""
        self._prompts.put(message)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Reply | None] = loop.create_future()

        def wait_for_person() -> None:
            reply = self._replies.get()
            if not loop.is_closed():
                loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(reply))

        # A daemon thread, not asyncio.to_thread: executor threads are joined at interpreter exit, so
        # a session the person simply abandoned would keep the process from ever exiting.
        threading.Thread(target=wait_for_person, name="human-input", daemon=True).start()
        reply = await fut
        if reply is None:
            raise HumanStopped("the person ended the session")
        return reply

    def prompt(self, timeout: float | None = None) -> Message | None:
        """UI side: the next message the person must answer (None on timeout or close)."""
        try:
            return self._prompts.get(timeout=timeout)
        except queue.Empty:
            return None

    def submit(self, reply: Reply) -> None:
        """UI side: the person's answer."""
        self._replies.put(reply)

    def close(self) -> None:
        """Unblock a waiting participant; it raises :class:`HumanStopped`."""
        self._replies.put(None)
        self._prompts.put(None)


_COMMANDS = {
    "ask": "ask_patient", "q": "ask_patient",
    "test": "order_test", "order": "order_test", "exam": "order_test", "t": "order_test",
    "search": "search_similar_cases", "s": "search_similar_cases",
    "dx": "diagnose", "diagnose": "diagnose", "diagnosis": "diagnose", "d": "diagnose",
}

DOCTOR_HELP = ("Type a question for the patient, or: /test NAME (examination or test), "
               "/search [TEXT] [image:ID] (similar cases and images), /dx DIAGNOSIS; DIFFERENTIAL 1, DIFFERENTIAL 2")


def parse_doctor_command(text: str) -> ToolCall:
    """Turn a person's typed line into a doctor action.

    Plain text is a question; ``/test``, ``/search`` and ``/dx`` select the other tools.
    Raises ValueError with a usage hint for an empty or unknown command.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty input. " + DOCTOR_HELP)
    if not text.startswith("/"):
        return ToolCall(id="human", name="ask_patient", arguments={"question": text})
    head, _, rest = text[1:].partition(" ")
    tool = _COMMANDS.get(head.lower())
    rest = rest.strip()
    if tool is None:
        raise ValueError(f"unknown command /{head}. " + DOCTOR_HELP)
    if tool == "ask_patient":
        args: dict = {"question": rest}
    elif tool == "order_test":
        args = {"test": rest}
    elif tool == "search_similar_cases":
        m = re.search(r"\bimage:(\S+)", rest)
        args = {"query_text": re.sub(r"\bimage:\S+", "", rest).strip(), "image_id": m.group(1) if m else ""}
    else:
        dx, _, diff = rest.partition(";")
        args = {"diagnosis": dx.strip(), "differential": [d.strip() for d in diff.split(",") if d.strip()]}
    if tool != "search_similar_cases" and not any(args.values()):
        raise ValueError(f"/{head} needs an argument. " + DOCTOR_HELP)
    return ToolCall(id="human", name=tool, arguments=args)


class HumanDoctor:
    """A person in the doctor's seat. The channel's reply must carry one tool call."""

    role = "doctor"
    label = "human"

    def __init__(self, channel: HumanChannel):
        self.channel = channel

    async def start(self, view: object, seed: int) -> None:
        """Keep the view (the UI shows it to the person)."""
        self.view = view

    async def respond(self, message: Message) -> Reply:
        """Wait for the person's next action."""
        return await self.channel.exchange("doctor", message)


class HumanPatient:
    """A person in the patient's seat, answering from the case card shown to them."""

    role = "patient"
    label = "human"

    def __init__(self, channel: HumanChannel):
        self.channel = channel

    async def start(self, view: object, seed: int) -> None:
        """Keep the view (the UI shows the case card)."""
        self.view = view

    async def respond(self, message: Message) -> Reply:
        """Wait for the person's answer."""
        reply = await self.channel.exchange("patient", message)
        return reply if reply.content.strip() else Reply(content="I'm not sure.")
