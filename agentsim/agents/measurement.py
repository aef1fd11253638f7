"""The measurement agent: answers examination and test requests from the case.

Requests are matched to the case's exam findings and test results by name, tolerating wording
("CBC" vs "complete blood count") through the test catalogue's aliases, word overlap and, as a
last resort, sentence-embedding similarity. A test the case does not list gets the catalogue's
plausible normal result, so the absence of a result leaks nothing about the answer. The view it
reads is already redacted (see :mod:`agentsim.views`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentsim.catalog import TestCatalog, default_catalog, normalize_name
from agentsim.participants import Message, Reply
from agentsim.views import ImageRef, MeasurementView

#: Cosine similarity between a request and a case item name that counts as the same test.
EMBED_MATCH = 0.72
GENERIC_EXAM = {"physical", "physical exam", "physical examination", "examination", "exam", "full exam",
                "full examination", "full physical examination", "complete physical examination",
                "general examination", "physical findings", "general physical examination"}
_EXAM_WORDS = {"exam": "examination", "examine": "examination", "examinations": "examination"}
GENERIC_NORMAL = "No abnormality detected."
#: Catalogue entry of a biopsy whose site the case does not name ("Biopsy report").
GENERIC_BIOPSY = "tissue_biopsy"


@dataclass
class _Item:
    name: str
    result: str
    is_exam: bool
    keys: set[str]
    entry_id: str | None
    images: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        return self.name.split(":")[0].strip()


def _is_biopsy(name: str) -> bool:
    # Tissue biopsies only: cytology and immunofluorescence are other tests of the same category.
    return "biopsy" in name.lower()


def _norm(text: str) -> str:
    words = normalize_name(text).split()
    return " ".join(_EXAM_WORDS.get(w, w) for w in words)


class MeasurementAgent:
    """Rule-based measurement participant (the default for every backend)."""

    role = "measurement"
    label = "rules"

    def __init__(self, catalog: TestCatalog | None = None, use_embeddings: bool = True):
        self.catalog = catalog or default_catalog()
        self.use_embeddings = use_embeddings
        self.view: MeasurementView | None = None
        self._items: list[_Item] = []

    async def start(self, view: MeasurementView, seed: int) -> None:
        """Index the case's exam findings and tests for matching."""
        self.view = view
        self._items = []
        for e in view.exam:
            self._items.append(self._item(e.name, e.result, True, []))
        for t in view.tests:
            self._items.append(self._item(t.name, t.result, False, list(t.images), t.aliases))

    def _item(self, name: str, result: str, is_exam: bool, images: list[str], aliases: list[str] = ()) -> _Item:
        keys = {_norm(k) for k in [name, name.split(":")[0], *aliases] if _norm(k)}
        entry = self.catalog.lookup(name) or self.catalog.lookup(name.split(":")[0])
        return _Item(name=name, result=result, is_exam=is_exam, keys=keys,
                     entry_id=entry.id if entry else None, images=images)

    async def respond(self, message: Message) -> Reply:
        """Answer one request (possibly naming several tests)."""
        if self.view is None:
            raise RuntimeError("measurement agent used before start()")
        parts = self._split(message.content)
        lines: list[str] = []
        reported: list[str] = []
        images: list[ImageRef] = []
        matched_any = False
        for part in parts:
            found = self._find(part)
            if found:
                matched_any = True
                for it in found:
                    lines.append(f"{it.name}: {it.result}")
                    reported.append(it.name)
                    images.extend(self.view.images[i] for i in it.images if i in self.view.images)
            else:
                entry = self.catalog.lookup(part)
                sex = self.view.sex
                if entry is not None and not entry.applies_to(sex):
                    # A pelvic ultrasound of a man has no result to make up, normal or not.
                    lines.append(f"{entry.name}: not applicable, the patient is {sex}.")
                    continue
                normal = entry.normal_for(sex) if entry else GENERIC_NORMAL
                title = entry.name if entry else part.strip().rstrip('.').capitalize()
                lines.append(f"{title}: {normal}")
                reported.append(title)
        for im in images:
            lines.append(f"[image {im.id}: {im.modality}{' ' + im.body_part if im.body_part else ''}]")
        return Reply(content="\n".join(lines), metadata={"images": [im.path for im in images],
                                                         "image_ids": [im.id for im in images],
                                                         "found_in_case": matched_any,
                                                         # the tests the reply reports, by the names its lines use
                                                         "reported": reported})

    def _split(self, request: str) -> list[str]:
        request = request.strip()
        if self._find(request):
            return [request]
        return self.catalog.split_request(request) or [request]

    def _find(self, request: str) -> list[_Item]:
        key = _norm(request)
        if not key:
            return []
        if key in GENERIC_EXAM:
            return [it for it in self._items if it.is_exam]
        entry = self.catalog.lookup(request)
        hits = [it for it in self._items if key in it.keys or (entry is not None and it.entry_id == entry.id)]
        if not hits and entry is not None:
            # A BMP ordered from a case that reports a "Biochemistry" panel: the lab has those values.
            hits = [it for it in self._items
                    if not it.is_exam and it.entry_id is not None and self.catalog.related(entry.id, it.entry_id)]
        if not hits:
            words = set(key.split())
            scored = []
            for it in self._items:
                best = max((len(words & set(k.split())) / len(words | set(k.split())) for k in it.keys), default=0)
                if best >= 0.5:
                    scored.append((best, it))
            if scored:
                top = max(s for s, _ in scored)
                hits = [it for s, it in scored if s == top]
        if not hits and entry is not None:
            hits = self._biopsy_match(entry.id)
        if not hits and self.use_embeddings and self._items:
            hits = self._embed_match(request, entry.id if entry else None)
        # A request for a whole system ("abdominal examination") returns all its sub-findings.
        groups = {it.group for it in hits}
        return [it for it in self._items if it in hits or (it.is_exam and it.group in groups)]

    def _biopsy_match(self, entry_id: str) -> list[_Item]:
        """A site-specific biopsy request ("skin biopsy") gets the case's biopsy of unnamed site
        ("Biopsy report"), and a biopsy of unnamed site gets the case's only biopsy: either way the
        case has one tissue result and the request can only mean it."""
        requested = self.catalog.get(entry_id)
        if requested is None or not _is_biopsy(requested.name):
            return []
        if entry_id != GENERIC_BIOPSY:
            return [it for it in self._items if it.entry_id == GENERIC_BIOPSY and not it.is_exam]
        biopsies = [it for it in self._items if not it.is_exam and it.entry_id is not None
                    and (e := self.catalog.get(it.entry_id)) is not None and _is_biopsy(e.name)]
        return biopsies if len(biopsies) == 1 else []

    def _embed_match(self, request: str, entry_id: str | None) -> list[_Item]:
        from agentsim.textembed import load_text_embedder

        # A request the catalogue knows ("chest X-ray") never matches a different known test ("CT chest").
        pool = [it for it in self._items if entry_id is None or it.entry_id in (None, entry_id)]
        if not pool:
            return []
        vecs = load_text_embedder().encode([request, *[it.name for it in pool]])
        sims = vecs[1:] @ vecs[0]
        best = int(sims.argmax())
        return [pool[best]] if sims[best] >= EMBED_MATCH else []
