"""Finding and redacting the answer wherever a participant could see it.

A case leaks when its correct diagnosis (or an accepted synonym or abbreviation) appears in text
a participant receives: patient facts, exam findings, test results, image captions, or image
file names. :func:`find_leaks` reports each place with its field path; :func:`redact` rewrites a
text so the answer is replaced by neutral wording. Views are built from redacted text, so a
model never gets the chance to repeat the answer from its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from agentsim.scenario import Diagnosis, Scenario

#: What a redacted diagnosis term is replaced by.
NEUTRAL = "the suspected condition"

# Abbreviations at or below this length only match with the case as written ("ALL" is leukaemia,
# "all" is a word).
_CASE_SENSITIVE_MAX = 5


class Leak(BaseModel):
    """One occurrence of the answer in participant-visible text."""

    field: str
    term: str
    excerpt: str


def answer_terms(diagnosis: Diagnosis) -> list[str]:
    """Every string that counts as naming the answer, longest first.

    Includes the name, synonyms, abbreviations, and the name without a parenthetical qualifier
    ("Myocardial infarction (inferior)" also yields "Myocardial infarction").
    """
    terms: set[str] = set()
    for t in [diagnosis.name, *diagnosis.synonyms, *diagnosis.abbreviations]:
        t = t.strip()
        if not t:
            continue
        terms.add(t)
        bare = re.sub(r"\s*\([^)]*\)\s*", " ", t).strip()
        if bare and bare != t:
            terms.add(bare)
        for inner in re.findall(r"\(([^)]+)\)", t):
            inner = inner.strip()
            if inner.isupper() and 2 <= len(inner) <= 8:
                terms.add(inner)
    return sorted(terms, key=lambda s: (-len(s), s))


@lru_cache(maxsize=4096)
def _term_regex(term: str) -> re.Pattern[str]:
    tokens = re.findall(r"[A-Za-z0-9]+", term.replace("'s", ""))
    if not tokens:
        return re.compile(r"(?!x)x")
    # Punctuation, hyphens, possessives and spacing between words are all tolerated.
    sep = r"(?:'s)?[\W_]*"
    body = sep.join(re.escape(t) for t in tokens)
    pattern = rf"(?<![A-Za-z0-9]){body}(?:'?s|es)?(?![A-Za-z0-9])"
    case_sensitive = len(tokens) == 1 and term.strip().isupper() and len(term.strip()) <= _CASE_SENSITIVE_MAX
    return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)


def find_terms(text: str, terms: Iterable[str]) -> list[tuple[str, re.Match[str]]]:
    """All (term, match) pairs of ``terms`` in ``text``."""
    out = []
    for term in terms:
        for m in _term_regex(term).finditer(text):
            out.append((term, m))
    return out


def contains_answer(text: str, terms: Iterable[str]) -> bool:
    """True when any term occurs in ``text``."""
    return any(_term_regex(t).search(text) for t in terms)


def redact(text: str, terms: Iterable[str], replacement: str = NEUTRAL) -> str:
    """Replace every occurrence of every term (longest first) with neutral wording."""
    for term in sorted(terms, key=len, reverse=True):
        text = _term_regex(term).sub(replacement, text)
    return text


def _visible_texts(s: Scenario) -> Iterator[tuple[str, str]]:
    """(field path, text) for every participant-visible string of a scenario."""
    yield "opening_line", s.opening_line
    yield "objective", s.objective
    for name, value in s.patient:
        if isinstance(value, str):
            yield f"patient.{name}", value
    for i, sym in enumerate(s.patient.symptoms):
        yield f"patient.symptoms[{i}].name", sym.name
        yield f"patient.symptoms[{i}].detail", sym.detail
    for i, d in enumerate(s.patient.denied_symptoms):
        yield f"patient.denied_symptoms[{i}]", d
    for i, e in enumerate(s.exam):
        yield f"exam[{i}].name", e.name
        yield f"exam[{i}].result", e.result
    for i, t in enumerate(s.tests):
        yield f"tests[{i}].name", t.name
        yield f"tests[{i}].result", t.result
    for i, im in enumerate(s.images):
        yield f"images[{i}].caption", im.caption
        yield f"images[{i}].path", im.path.replace("_", " ").replace("-", " ")


def find_leaks(scenario: Scenario) -> list[Leak]:
    """Every place the answer appears in text a participant could see."""
    terms = answer_terms(scenario.diagnosis)
    leaks: list[Leak] = []
    for field, text in _visible_texts(scenario):
        if not text:
            continue
        for term, m in find_terms(text, terms):
            lo, hi = max(0, m.start() - 30), min(len(text), m.end() + 30)
            leaks.append(Leak(field=field, term=term, excerpt=text[lo:hi]))
    return leaks
