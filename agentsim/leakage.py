"""Finding and redacting the answer wherever a participant could see it.

A case leaks when its correct diagnosis (or an accepted synonym or abbreviation) appears in text
a participant receives: patient facts, exam findings, test results, image captions, or image
file names. :func:`find_leaks` reports each place with its field path; :func:`redact` rewrites a
text so the answer is replaced by neutral wording. Views are built from redacted text, so a
model never gets the chance to repeat the answer from its input.

Matching tolerates case, punctuation, hyphens and spacing, possessives (straight or curly),
English and Latin/Greek plurals ("keratoses", "emboli"), diacritics ("Barré"), US/UK spellings
("haemolytic") and hyphenated prefixes ("post-traumatic"). :func:`answer_terms` adds the common
abbreviations listed in ``agentsim/data/abbreviations.json``; :func:`leak_terms` also adds the
name without course qualifiers ("atrial fibrillation" for "paroxysmal atrial fibrillation") for
detection and redaction only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import BaseModel

from agentsim.errors import ConfigError

if TYPE_CHECKING:
    from agentsim.scenario import Diagnosis, Scenario

#: What a redacted diagnosis term is replaced by.
NEUTRAL = "the suspected condition"

#: ``{diagnosis name in lower case: [abbreviations]}``: common abbreviations that name a diagnosis.
ABBREVIATIONS_PATH = Path(__file__).resolve().parent / "data" / "abbreviations.json"

# Leading words that qualify a diagnosis without changing what it is: "Paroxysmal atrial
# fibrillation" is named by "atrial fibrillation" too. Used for finding and redacting only; the
# scorer does not accept the shorter name as a correct answer.
_COURSE_QUALIFIERS = {"acute", "subacute", "chronic", "hyperacute", "paroxysmal", "persistent", "permanent",
                      "recurrent", "relapsing", "primary", "idiopathic", "advanced", "early", "late", "severe", "mild",
                      "moderate", "uncomplicated", "complicated", "classic", "classical", "florid", "fulminant"}

# Abbreviations at or below this length only match with the case as written ("ALL" is leukaemia,
# "all" is a word).
_CASE_SENSITIVE_MAX = 5


class Leak(BaseModel):
    """One occurrence of the answer in participant-visible text."""

    field: str
    term: str
    excerpt: str


def _dx_key(name: str) -> str:
    """Lookup key of a diagnosis name: lower case, ASCII, punctuation collapsed."""
    text = unicodedata.normalize("NFKD", name.replace("’", "'")).encode("ascii", "ignore").decode()
    text = re.sub(r"'s\b", "", text.lower())
    return " ".join(re.findall(r"[a-z0-9]+", text))


@lru_cache(maxsize=1)
def diagnosis_abbreviations() -> Mapping[str, tuple[str, ...]]:
    """The shipped abbreviation list (read-only), keyed by :func:`_dx_key` of the diagnosis name."""
    try:
        raw = json.loads(ABBREVIATIONS_PATH.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{ABBREVIATIONS_PATH}: cannot read abbreviation list: {exc}") from None
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(a, str) and a.strip() for a in v)
        for k, v in raw.items()
    ):
        raise ConfigError(f"{ABBREVIATIONS_PATH}: expected an object mapping diagnosis names to lists of strings")
    return MappingProxyType({_dx_key(k): tuple(a.strip() for a in v) for k, v in raw.items()})


def _named_forms(t: str) -> set[str]:
    """A name, the name without a parenthetical, and an upper-case abbreviation in parentheses."""
    forms = {t}
    bare = re.sub(r"\s*\([^)]*\)\s*", " ", t).strip()
    if bare and bare != t:
        forms.add(bare)
    for inner in re.findall(r"\(([^)]+)\)", t):
        inner = inner.strip()
        if inner.isupper() and 2 <= len(inner) <= 8:
            forms.add(inner)
    return forms


def answer_terms(diagnosis: Diagnosis) -> list[str]:
    """Every string that counts as naming the answer, longest first.

    Includes the name, synonyms, abbreviations, the name without a parenthetical qualifier
    ("Myocardial infarction (inferior)" also yields "Myocardial infarction"), and the common
    abbreviations of any of these listed in ``agentsim/data/abbreviations.json``.
    """
    terms: set[str] = set()
    abbreviations = diagnosis_abbreviations()
    for t in [diagnosis.name, *diagnosis.synonyms, *diagnosis.abbreviations]:
        t = t.strip()
        if not t:
            continue
        for form in _named_forms(t):
            terms.add(form)
            terms.update(abbreviations.get(_dx_key(form), ()))
    return sorted(terms, key=lambda s: (-len(s), s))


def _without_qualifiers(term: str) -> str | None:
    """The term without leading course/severity qualifiers, if what remains is still specific."""
    words = term.split()
    i = 0
    while i < len(words) - 1 and _dx_key(words[i]) in _COURSE_QUALIFIERS:
        i += 1
    rest = words[i:]
    if i == 0 or not rest:
        return None
    specific = len(rest) >= 2 or len(rest[0]) >= 7 or (rest[0].isupper() and len(rest[0]) >= 2)
    return " ".join(rest) if specific else None


def leak_terms(diagnosis: Diagnosis) -> list[str]:
    """:func:`answer_terms` plus qualifier-free forms and their abbreviations, longest first.

    For finding and redacting the answer in participant-visible text: a case of "Paroxysmal atrial
    fibrillation" whose ECG reads "consistent with atrial fibrillation" leaks. Not accepted as a
    correct diagnosis by the scorer (it reads :func:`answer_terms`).
    """
    terms = set(answer_terms(diagnosis))
    abbreviations = diagnosis_abbreviations()
    for t in list(terms):
        short = _without_qualifiers(t)
        if short:
            terms.add(short)
            terms.update(abbreviations.get(_dx_key(short), ()))
    return sorted(terms, key=lambda s: (-len(s), s))


# Letters that may carry a diacritic in running text ("Guillain-Barré", "Ménière").
_ACCENTED = {"a": "aàáâäãå", "e": "eéèêë", "i": "iíìîï", "o": "oóòôöõø", "u": "uúùûü", "c": "cç", "n": "nñ",
             "y": "yý"}
# US/UK spellings: the letter in parentheses is optional, so either spelling of a term matches both.
_SPELLING = ((r"ae", "(a)e"), (r"oe", "(o)e"), (r"(?<!a)hem", "h(a)em"), (r"(?<![ao])emi(?=a|c)", "(a)emi"),
             (r"^esoph", "(o)esoph"), (r"^edem", "(o)edem"), (r"^estr", "(o)estr"), (r"tumor", "tumo(u)r"),
             (r"^pedi", "p(a)edi"), (r"oped", "op(a)ed"), (r"^celiac", "c(o)eliac"), (r"^fet(?=a|u)", "f(o)et"),
             (r"rrhea", "rrh(o)ea"), (r"gynec", "gyn(a)ec"), (r"^cesar", "c(a)esar"))
# Word prefixes often written with or without a hyphen ("posttraumatic", "post-traumatic").
_PREFIXES = ("post", "pre", "non", "anti", "auto", "hyper", "hypo", "peri", "pseudo", "intra", "inter", "trans",
             "poly", "multi", "neuro", "retro", "extra", "micro", "macro", "sub", "para")
# Latin and Greek plurals of a final word ("keratosis" -> "keratoses", "thrombus" -> "thrombi").
_PLURALS = ((r"sis$", "ses"), (r"itis$", "itides"), (r"us$", "i"), (r"um$", "a"), (r"oma$", "omata"),
            (r"[ei]x$", "ices"), (r"(?<=[^aeiou])y$", "ies"), (r"a$", "ae"))


def _ascii(token: str) -> str:
    return unicodedata.normalize("NFKD", token).encode("ascii", "ignore").decode().lower()


def _word_regex(word: str) -> str:
    """Regex for one lower-case ASCII word: diacritics and US/UK spellings tolerated."""
    marked = word
    for pat, rep in _SPELLING:
        if "(" not in marked:  # one spelling rule per word keeps the markers unambiguous
            marked = re.sub(pat, rep, marked)
    out, i = [], 0
    while i < len(marked):
        optional = marked[i] == "(" and i + 2 < len(marked) and marked[i + 2] == ")"
        ch = marked[i + 1] if optional else marked[i]
        piece = f"[{_ACCENTED[ch]}]" if ch in _ACCENTED else re.escape(ch)
        out.append(piece + ("?" if optional else ""))
        i += 3 if optional else 1
    return "".join(out)


def _token_regex(token: str, last: bool) -> str:
    word = _ascii(token)
    variants = [word]
    if last:
        variants += [re.sub(p, r, word) for p, r in _PLURALS if re.search(p, word)]
    pieces = []
    for v in dict.fromkeys(variants):
        prefix = next((p for p in _PREFIXES if v.startswith(p) and len(v) - len(p) >= 4), None)
        pieces.append(_word_regex(prefix) + r"[\W_]?" + _word_regex(v[len(prefix):]) if prefix else _word_regex(v))
    return pieces[0] if len(pieces) == 1 else "(?:" + "|".join(pieces) + ")"


@lru_cache(maxsize=4096)
def _term_regex(term: str) -> re.Pattern[str]:
    term = term.replace("’", "'").strip()
    tokens = re.findall(r"[^\W_]+", re.sub(r"'s\b", "", term))
    if not tokens:
        return re.compile(r"(?!x)x")
    # Short all-capital abbreviations match exactly as written; everything else tolerates case,
    # punctuation, hyphens, possessives, spacing, diacritics, US/UK spelling and plurals.
    case_sensitive = len(tokens) == 1 and term.isupper() and len(term) <= _CASE_SENSITIVE_MAX
    sep = r"(?:['’]s)?[\W_]*"
    if case_sensitive:
        body = re.escape(tokens[0])
    else:
        body = sep.join(_token_regex(t, last=i == len(tokens) - 1) for i, t in enumerate(tokens))
    pattern = rf"(?<![^\W_]){body}(?:['’]?s|es)?(?![^\W_])"
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
        for j, alias in enumerate(t.aliases):
            yield f"tests[{i}].aliases[{j}]", alias
    for i, im in enumerate(s.images):
        yield f"images[{i}].caption", im.caption
        yield f"images[{i}].path", im.path.replace("_", " ").replace("-", " ")


def find_leaks(scenario: Scenario) -> list[Leak]:
    """Every place the answer appears in text a participant could see."""
    terms = leak_terms(scenario.diagnosis)
    leaks: list[Leak] = []
    for field, text in _visible_texts(scenario):
        if not text:
            continue
        for term, m in find_terms(text, terms):
            lo, hi = max(0, m.start() - 30), min(len(text), m.end() + 30)
            leaks.append(Leak(field=field, term=term, excerpt=text[lo:hi]))
    return leaks
