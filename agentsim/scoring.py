"""Grading a final diagnosis.

:class:`OfflineScorer` needs no model server: a diagnosis is correct when, after normalisation,
it equals or contains the correct diagnosis or an accepted synonym, or when its sentence
embedding is within :data:`EMBEDDING_THRESHOLD` cosine similarity of one of them and no
qualifier conflicts (type 1 vs type 2, left vs right, A vs B). Medical synonyms the case file
does not list come from a :class:`~agentsim.synonyms.SynonymGroups` table (by default the
knowledge base's disease names and synonyms): a diagnosis is also correct when another name
of the same disease equals the correct diagnosis or a synonym of it ("Coccidioidomycosis" for
"Valley fever"). A name preceded by "non", "pre", "post", "pseudo", "para" or "anti" does not
contain the name after it ("Non-ST-elevation MI" is not "ST-elevation MI"). :class:`JudgeScorer` asks an LLM
for an SDBench-style 1-5 rubric score (>= 4 counts as correct).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentsim.participants import Usage
from agentsim.results import Verdict
from agentsim.synonyms import SynonymGroups, canonical_dx, default_synonyms, normalize_dx
from agentsim.views import AnswerKey

if TYPE_CHECKING:
    from agentsim.llm import LLMConfig
    from agentsim.textembed import TextEmbedder

#: Cosine similarity (all-MiniLM-L6-v2) above which two diagnosis strings count as the same.
#: Chosen so that wording variants ("heart attack" / "myocardial infarction" fall below it and
#: must come from synonyms) while spelling and word-order variants pass; see tests/test_scoring.py.
EMBEDDING_THRESHOLD = 0.86

TOP_KS = (1, 3, 5, 10)

_STOP = {"the", "a", "an", "of", "with", "due", "to", "and", "disease", "syndrome", "acute", "chronic", "primary"}
# Qualifiers that change the disease: a mismatch on any of them vetoes an embedding match.
_QUALIFIERS = re.compile(
    r"\b(type\s*[0-9iv]+|[0-9]+|i{1,3}|iv|vi{0,3}|left|right|upper|lower|anterior|posterior|inferior|superior|"
    r"benign|malignant|acute|chronic|primary|secondary|central|peripheral|non|pre|post|pseudo|para|anti|[a-e])\b"
)


_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8"}


def _qualifiers(text: str) -> set[str]:
    out = set()
    for q in _QUALIFIERS.findall(normalize_dx(text)):
        q = re.sub(r"\s+", "", q)
        num = q[4:] if q.startswith("type") else q
        out.add(_ROMAN.get(num, num))
    return out


#: Prefixes that turn a disease name into another disease: "non-ST-elevation MI" is not STEMI.
_OPPOSING_PREFIX = re.compile(r"(?:^|\s)(?:non|pre|post|pseudo|para|anti)\s*$")


def _contains(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` as whole words, not right after an opposing prefix."""
    if not needle:
        return False
    for m in re.finditer(rf"(?<![a-z0-9]){re.escape(needle)}(?![a-z0-9])", haystack):
        if not _OPPOSING_PREFIX.search(haystack[: m.start()]):
            return True
    return False


class OfflineScorer:
    """Grades by normalised string, synonym and embedding match. No model server needed.

    ``synonyms``: groups of names of one disease; ``None`` uses the knowledge base's (loaded on
    first need); ``SynonymGroups([])`` grades by the case's own synonyms only.
    """

    def __init__(self, embedder: TextEmbedder | None = None, threshold: float = EMBEDDING_THRESHOLD,
                 synonyms: SynonymGroups | None = None):
        self._embedder = embedder
        self.threshold = threshold
        self._synonyms = synonyms

    @property
    def synonyms(self) -> SynonymGroups:
        """The synonym table in use."""
        if self._synonyms is None:
            self._synonyms = default_synonyms()
        return self._synonyms

    def _emb(self) -> TextEmbedder:
        if self._embedder is None:
            from agentsim.textembed import load_text_embedder

            self._embedder = load_text_embedder()
        return self._embedder

    def match(self, answer: AnswerKey, candidate: str) -> tuple[bool, float, str, str]:
        """(correct, similarity, method, matched term) for one candidate diagnosis."""
        cand = normalize_dx(candidate)
        if not cand:
            return False, 0.0, "none", ""
        terms = [t for t in dict.fromkeys([answer.diagnosis, *answer.synonyms, *answer.terms]) if t.strip()]
        norm_terms = [(t, normalize_dx(t)) for t in terms]
        # names are compared as canonical keys ("kidney" / "renal"); embeddings read the plain wording
        ckey = canonical_dx(candidate)
        keys = [(t, canonical_dx(t)) for t in terms]
        for t, kt in keys:
            # "pre-eclampsia" / "preeclampsia": spacing alone never makes another disease
            if ckey == kt or ckey.replace(" ", "") == kt.replace(" ", ""):
                return True, 1.0, "exact" if t == answer.diagnosis else "synonym", t
        for t, kt in keys:
            # "acute appendicitis with perforation" names appendicitis; short abbreviations must match exactly.
            if len(kt) >= 6 and _contains(ckey, kt):
                return True, 0.95, "contains", t
        # Another name of the candidate's disease, exactly. Not contained ("German measles" names
        # rubella, not measles) nor near in embedding: a table name is already another wording.
        alternatives = set(self.synonyms.equivalents(candidate))
        for t, kt in keys:
            if kt in alternatives:
                return True, 0.95, "synonym table", t
        long_terms = [(t, nt) for t, nt in norm_terms if len(nt) >= 4]
        if not long_terms:
            return False, 0.0, "none", ""
        vecs = self._emb().encode([cand, *[nt for _, nt in long_terms]])
        sims = vecs[1:] @ vecs[0]
        best = int(sims.argmax())
        sim = float(sims[best])
        t, nt = long_terms[best]
        # Embedding matches must agree on every qualifier: "type 1" vs "type 2" diabetes are near in
        # embedding space but different diseases.
        if sim >= self.threshold and _qualifiers(cand) == _qualifiers(nt):
            return True, sim, "embedding", t
        return False, sim, "embedding", t

    def grade_sync(self, answer: AnswerKey, diagnosis: str | None, differential: Sequence[str] = ()) -> Verdict:
        """Synchronous grade (used by rescoring and metrics)."""
        if not diagnosis:
            return Verdict(correct=False, score=0.0, method="none", reasoning="no diagnosis given",
                           top_k_correct={k: False for k in TOP_KS})
        ok, sim, method, term = self.match(answer, diagnosis)
        ranked = [diagnosis, *[d for d in differential if d]]
        first_hit = 0 if ok else next((i for i, d in enumerate(ranked[1:], 1) if self.match(answer, d)[0]), None)
        top_k = {k: first_hit is not None and first_hit < k for k in TOP_KS}
        reason = (f"'{diagnosis}' matches '{term}' ({method}, similarity {sim:.2f})" if ok
                  else f"'{diagnosis}' does not match '{answer.diagnosis}' (best similarity {sim:.2f})")
        return Verdict(correct=ok, score=round(sim, 4), method=method, matched=term if ok else "",
                       reasoning=reason, top_k_correct=top_k)

    async def grade(self, answer: AnswerKey, diagnosis: str | None, differential: list[str]) -> Verdict:
        """Grade a final diagnosis and differential."""
        return self.grade_sync(answer, diagnosis, differential)


JUDGE_RUBRIC = """You grade a doctor's final diagnosis against the reference diagnosis.
Score 1-5:
5 = same diagnosis (synonyms and equivalent wording count);
4 = clinically equivalent or a more specific form of the reference, same management;
3 = closely related but a different or incomplete diagnosis;
2 = same organ system, different disease;
1 = unrelated or no diagnosis.
Reply with JSON only: {"score": <1-5>, "reasoning": "<one sentence>"}"""


class JudgeScorer:
    """SDBench-style rubric judge over any chat model; falls back to the offline scorer on failure.

    ``chat`` is a langchain chat model (see :func:`agentsim.llm.make_chat_model`).
    """

    def __init__(self, chat: Any, fallback: OfflineScorer | None = None, label: str = "judge",
                 config: LLMConfig | None = None):
        self.chat = chat
        self.fallback = fallback or OfflineScorer()
        self.label = label
        #: Prices for the judge's token cost; without it tokens are counted at $0.
        self.config = config

    async def judge(self, reference: str, diagnosis: str, usage: Usage | None = None) -> tuple[int, str]:
        """Ask the judge model; returns (score, reasoning). Raises ValueError on unusable output.

        The call's tokens are added to ``usage`` when given, also when the reply is unusable.
        """
        from langchain_core.messages import HumanMessage, SystemMessage

        from agentsim.llm import usage_of

        msg = await self.chat.ainvoke([
            SystemMessage(content=JUDGE_RUBRIC),
            HumanMessage(content=f"Reference diagnosis: {reference}\nDoctor's diagnosis: {diagnosis}"),
        ])
        if usage is not None:
            usage.add(usage_of(msg, self.config))
        text = str(msg.content)
        m = re.search(r"\{.*\}", text, re.S)
        if not m:
            raise ValueError(f"judge reply is not JSON: {text[:200]!r}")
        data = json.loads(m.group(0))
        score = int(data["score"])
        if not 1 <= score <= 5:
            raise ValueError(f"judge score out of range: {score}")
        return score, str(data.get("reasoning", ""))

    async def grade(self, answer: AnswerKey, diagnosis: str | None, differential: list[str]) -> Verdict:
        """Rubric grade; ``top_k_correct`` comes from the offline matcher."""
        offline = self.fallback.grade_sync(answer, diagnosis, differential)
        if not diagnosis:
            return offline
        spent = Usage()
        try:
            score, reasoning = await self.judge(answer.diagnosis, diagnosis, spent)
        except Exception as exc:  # noqa: BLE001 - a failing judge must not lose the episode's grade
            return offline.model_copy(update={"reasoning": f"judge failed ({exc}); offline: {offline.reasoning}",
                                              "usage": spent})
        top_k = dict(offline.top_k_correct)
        top_k[1] = score >= 4
        for k in TOP_KS[1:]:
            top_k[k] = top_k[k] or score >= 4
        return Verdict(correct=score >= 4, score=float(score), method="judge", reasoning=reasoning,
                       matched=answer.diagnosis if score >= 4 else "", top_k_correct=top_k, usage=spent)
