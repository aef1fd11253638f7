"""The doctor's tools: argument models, JSON schemas for LLM tool calling, and the retrieval
interface the engine calls for ``search_similar_cases``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskPatientArgs(_Args):
    """Ask the patient one question."""

    question: str = Field(min_length=1, description="The question to ask the patient, in plain words.")


class OrderTestArgs(_Args):
    """Request a physical examination component, a laboratory test or an imaging study."""

    test: str = Field(
        min_length=1,
        description="Name of the examination or test, e.g. 'cardiac auscultation', 'CBC', 'chest X-ray'.",
    )


class SearchSimilarCasesArgs(_Args):
    """Search memory for similar images and past cases."""

    query_text: str = Field(default="", description="Findings so far, in words.")
    image_id: str = Field(default="", description="Id of a case image to search with, if any.")


class DiagnoseArgs(_Args):
    """Commit to a final diagnosis (ends the episode)."""

    diagnosis: str = Field(min_length=1, description="The single most likely diagnosis.")
    differential: list[str] = Field(
        default_factory=list, description="Other diagnoses still considered, most likely first."
    )
    confidence: float | None = Field(default=None, ge=0, le=1)


TOOL_ARGS: dict[str, type[_Args]] = {
    "ask_patient": AskPatientArgs,
    "order_test": OrderTestArgs,
    "search_similar_cases": SearchSimilarCasesArgs,
    "diagnose": DiagnoseArgs,
}

TOOL_DESCRIPTIONS: dict[str, str] = {
    "ask_patient": "Ask the patient a question about their symptoms, history, medications or life.",
    "order_test": "Request one physical examination component, laboratory test or imaging study; "
    "returns its result.",
    "search_similar_cases": "Search the memory of past cases and reference images for ones similar to "
    "the current findings or to a case image.",
    "diagnose": "Commit to the final diagnosis, with an optional ranked differential. Ends the visit.",
}


def tool_schemas(names: list[str] | None = None) -> list[dict[str, Any]]:
    """OpenAI-style function-tool schemas for the given tools (default: all)."""
    out = []
    for name in names or list(TOOL_ARGS):
        schema = TOOL_ARGS[name].model_json_schema()
        schema.pop("title", None)
        schema.pop("description", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        out.append(
            {
                "type": "function",
                "function": {"name": name, "description": TOOL_DESCRIPTIONS[name], "parameters": schema},
            }
        )
    return out


class ToolArgumentError(ValueError):
    """A tool call named an unknown tool or had invalid arguments."""


def parse_tool_args(name: str, arguments: dict[str, Any]) -> _Args:
    """Validate a tool call's arguments; raises :class:`ToolArgumentError` with the reason."""
    model = TOOL_ARGS.get(name)
    if model is None:
        raise ToolArgumentError(f"unknown tool {name!r}; available: {', '.join(TOOL_ARGS)}")
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "<arguments>"
        raise ToolArgumentError(f"bad arguments for {name}: {loc}: {err['msg']}") from None


# --- retrieval --------------------------------------------------------------------------------


class ImageHit(BaseModel):
    """A stored image similar to the query."""

    id: str
    score: float
    label: str = ""
    caption: str = ""
    modality: str = ""
    body_part: str = ""
    path: str = ""
    source: str = ""


class CaseHit(BaseModel):
    """A past episode similar to the current findings."""

    id: str
    score: float
    case_id: str = ""
    summary: str = ""
    key_findings: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    final_diagnosis: str = ""
    correct_diagnosis: str = ""
    correct: bool | None = None
    lesson: str = ""


class RetrievalQuery(BaseModel):
    """What the engine passes to the retrieval tool."""

    query_text: str = ""
    image_path: str = ""
    exclude_case_id: str = Field(description="the current case: never returned, never its diagnosis")
    k: int = 5
    modality: str = ""


class RetrievalResult(BaseModel):
    """Images and past cases returned for one query."""

    images: list[ImageHit] = Field(default_factory=list)
    cases: list[CaseHit] = Field(default_factory=list)
    elapsed_ms: float = 0.0
    note: str = ""

    def render(self, max_items: int = 5) -> str:
        """Plain-text summary for a doctor model."""
        lines: list[str] = []
        if self.images:
            lines.append("Similar images:")
            for h in self.images[:max_items]:
                desc = h.label or h.caption or "unlabelled"
                lines.append(f"- {desc} ({h.modality or 'image'}; similarity {h.score:.2f})")
        if self.cases:
            lines.append("Similar past cases:")
            for c in self.cases[:max_items]:
                verdict = {True: "correct", False: "incorrect", None: "unscored"}[c.correct]
                line = f"- {c.summary} -> diagnosed {c.final_diagnosis or '?'}"
                if c.correct_diagnosis:
                    line += f" (actual: {c.correct_diagnosis}; {verdict})"
                if c.lesson:
                    line += f". Lesson: {c.lesson}"
                lines.append(line + f" [similarity {c.score:.2f}]")
        if not lines:
            lines.append(self.note or "No similar images or cases in memory.")
        return "\n".join(lines)


@runtime_checkable
class RetrievalTool(Protocol):
    """Backs the doctor's ``search_similar_cases`` tool (implemented by :mod:`agentsim.memory`)."""

    async def search(self, query: RetrievalQuery) -> RetrievalResult:
        """Return images and past cases similar to the query, excluding the current case."""
        ...
