"""Retrieval: consult the memory of similar cases and images early.

``encourage`` adds a prompt line (LLM doctors). ``force`` makes ``search_similar_cases`` the
first action whenever the engine offers the tool: if the doctor proposes something else, the
search replaces it and the doctor *adopts* the search (its history then shows the call that was
actually made, so the memory's answer is a truthful reply to it). The query is the presenting
complaint and demographics; a case image on file is searched with it.

The strategy needs the memory tool: the runner must pass a retrieval tool (``--memory``). Without
one the wrapper leaves the doctor alone and says so in the reply metadata.
"""

from __future__ import annotations

from agentsim.participants import Message, Reply, ToolCall
from agentsim.strategies.common import DoctorWrapper, append_extra, can_adopt
from agentsim.views import DoctorView

ENCOURAGE = ("Search the memory of past cases and reference images with search_similar_cases early "
             "(ideally as your first action): similar past cases and what they turned out to be are strong hints.")
FORCE = ("Your first action must be search_similar_cases with the presenting complaint (and the case image, if "
         "there is one); use what it returns as hints, not as facts about this patient.")


def opening_query(view: DoctorView, opening: str) -> ToolCall:
    """The forced first search: complaint plus demographics, with the first image on file."""
    text = f"{view.demographics}: {opening}".strip(": ")
    args: dict[str, str] = {"query_text": text[:1000]}
    if view.images:
        args["image_id"] = view.images[0].id
    return ToolCall(id="call_forced_search", name="search_similar_cases", arguments=args)


class RetrievalDoctor(DoctorWrapper):
    """Encourages or forces an early ``search_similar_cases`` call."""

    def __init__(self, inner: object, mode: str = "force"):
        super().__init__(inner)
        self.mode = mode
        append_extra(self, FORCE if mode == "force" else ENCOURAGE)

    async def start(self, view: DoctorView, seed: int) -> None:
        """Remember the view (for the forced query) and start the inner doctor."""
        self.view = view
        self._first = True
        await self.inner.start(view, seed)

    async def respond(self, message: Message) -> Reply:
        """Forward; on the opening turn, turn the action into a memory search if forcing."""
        first = message.metadata.get("opening", False) and self._first
        self._first = False
        reply = await self.inner.respond(message)
        if not first:
            return reply
        tools = message.metadata.get("tools") or []
        note: dict[str, object] = {"mode": self.mode}
        if "search_similar_cases" not in tools:
            note["unavailable"] = "no memory tool in this episode (run with --memory)"
            return _with_meta(reply, note)
        proposed = reply.tool_calls[0] if reply.tool_calls else None
        if self.mode != "force" or (proposed is not None and proposed.name == "search_similar_cases"):
            note["forced"] = False
            return _with_meta(reply, note)
        if not can_adopt(self.inner):
            note["forced"] = False
            note["why"] = f"{type(self.inner).__name__} cannot adopt actions"
            return _with_meta(reply, note)
        call = opening_query(self.view, message.content)
        self.adopt_action(call)
        note["forced"] = True
        note["replaced"] = proposed.name if proposed else "no action"
        why = f"Forced memory search first (the doctor proposed {proposed.name if proposed else 'no action'})."
        return reply.model_copy(update={"content": "", "tool_calls": [call],
                                        "reasoning": (reply.reasoning + "\n" + why).strip(),
                                        "metadata": {**reply.metadata, "retrieval": note}})


def _with_meta(reply: Reply, note: dict[str, object]) -> Reply:
    return reply.model_copy(update={"metadata": {**reply.metadata, "retrieval": note}})
