"""The offline patient: answers the doctor from the case's patient-facing facts, no language model.

The patient's view (already redacted: the diagnosis never appears in it) is cut into *facts*,
each a sentence to say in the first person, with *keys*: the clauses it states, each present or
denied (see :func:`agentsim.offline.findings.split_clauses`). A question is answered by kind:

* open questions ("what brings you in", "tell me more") get the history of the present illness;
* topic questions (past history, medications, allergies, social or family history, other
  symptoms) get the facts of that topic;
* yes/no questions ("do you have chest pain or shortness of breath?") are cut into targets, and
  each target is matched to the keys by word overlap (after synonym normalisation) and sentence
  embedding. A present key gets "Yes" with the fact; a denied key gets "No"; no match gets a
  plain "No, I haven't noticed that" (or "Not that I know of" for history).

The patient never volunteers test results (sentences that report measurements, scans or
laboratory results are left out of the facts) and never names a diagnosis it was not given:
only sentences from its own view are ever said, minus any that held the redacted answer. The
same question always gets the same answer within an episode.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agentsim.offline.findings import (
    MAX_EMBED_WORDS,
    TIME_UNIT_WORDS,
    antonym_flags,
    content_tokens,
    contradicts,
    normalize_text,
    opposed,
    quantities,
    split_clauses,
    thresholds,
)
from agentsim.participants import Message, Reply
from agentsim.views import PatientView

if TYPE_CHECKING:
    from agentsim.textembed import TextEmbedder

#: Embedding cosine at or above which a question target certainly names a fact (all-MiniLM-L6-v2).
MATCH_HI = 0.90
#: Embedding cosine at or below which it does not.
MATCH_LO = 0.70
#: Combined match confidence needed to answer "yes"/"no" from a fact rather than "not noticed".
ANSWER_THRESHOLD = 0.5
#: Confidence above which a near miss is told as what the patient does have (not as a yes).
RELATED_THRESHOLD = 0.15

_TEST_WORDS = re.compile(
    r"\b(biops\w*|x-?rays?|radiograph\w*|ct|mri|scan|scans|ultrasound\w*|ecg|ekg|electrocardiogra\w*|echocardiogra\w*|"
    r"laborator\w*|labs?|blood tests?|blood work|counts?|mg/dl|mmol|/mm3|g/dl|u/l|iu/l|positive for|"
    # a lab's level, not "above chest level" or "stress levels"
    r"(?<!chest )(?<!stress )(?<!energy )(?<!activity )levels?(?! of stress)|"
    r"negative for|cultures?|smears?|titers?|serolog\w*|patholog\w*|histolog\w*|imaging|spirometry|endoscop\w*|"
    r"colonoscop\w*|test results?|mm ?hg|°|bpm|/min|breaths/min|auscultation|on examination|exam(ination)? "
    r"(showed|revealed))\b",
    re.IGNORECASE,
)
# Case-writer notes about missing information ("Information not provided", "Details not provided",
# "Birth history ... unreported") are not something a patient says.
_PLACEHOLDER = re.compile(r"the suspected condition|\b(?:not provided|unreported|not (?:been )?reported|not mentioned|"
                          r"no mention of|not specified|not documented|not available|does not provide|"
                          r"no (?:provided )?information|no details|(?:details|information|history) provided)\b",
                          re.IGNORECASE)

#: a past-history sentence that also names a treatment the patient takes
_TAKES_MEDICINE = re.compile(r"\b(?:taking|takes|controlled with|treated with|managed with|prescribed|medications?|"
                             r"medicines?|tablets?|pills?|inhalers?|insulin)\b", re.I)
#: words too general to tie a question to a habit ("use", "daily")
_GENERIC_WORDS = frozenset("use usage used history daily day days week weeks year years time times past current "
                           "currently regular regularly often".split())
#: Questions about the whole social history, answered with all of it.
_BROAD_SOCIAL = re.compile(r"social history|lifestyle|habits|about your life|daily life", re.I)
_RELATIVE = re.compile(r"\b(family|relatives?|father|mother|brothers?|sisters?|siblings?|parents?|grand(?:father|"
                       r"mother|parents?)|aunts?|uncles?|cousins?|twin)\b", re.I)
_RELATIVE_ILLNESS = re.compile(r"\b(died|death|history|diagnosed|had|has|have|conditions?|diseases?|illness\w*|"
                               r"cancer|malignan\w*|similar|suffer\w*|affected)\b", re.I)
#: a question about the patient's own history ("do you have any medical conditions")
_ABOUT_YOU = re.compile(r"\b(?:do you|have you|are you|you have|you had|your own|your (?:medical|health|past))\b", re.I)
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("allergies", re.compile(r"\ballerg", re.I)),
    ("meds", re.compile(r"\b(medications?|medicines?|meds|pills|prescri\w*|supplements?|tablets|"
                        r"take any (drugs|medicine)|taking any|on any (drugs|treatment))\b", re.I)),
    ("family", re.compile(r"\b(family|relatives?|parents?|mother|father|mom|dad|siblings?|brothers?|sisters?|"
                          r"run in|inherited|genetic)\b", re.I)),
    ("social", re.compile(r"\b(smok\w*|cigarettes?|tobacco|vap\w*|alcohol|drink\w*|recreational|street drugs|"
                          r"illicit|substances?|work|job|occupation|profession|employ\w*|live with|living|home|"
                          r"travel\w*|trips?|abroad|sexual\w*|sexually|partners?|diet|exercise|pets?|animals?|"
                          r"social history)\b", re.I)),
    ("pmh", re.compile(r"\b(medical (history|conditions?|problems?)|past (medical|history|illness\w*)|"
                       r"health (problems?|conditions?|issues?)|conditions?|illness\w*|diseases?|surger\w*|"
                       r"operations?|hospital\w*|chronic|been diagnosed|diagnosed with)\b", re.I)),
    ("other_symptoms", re.compile(r"\b(other symptoms?|any other|anything else|what else|other problems?|"
                                  r"associated symptoms?|other complaints?|else (have you|did you))\b", re.I)),
    ("open", re.compile(r"\b(what brings you|what brought you|how can i help|tell me (more |a bit |a little )*about|"
                        r"tell me more|describe|what happened|what's going on|what is going on|what seems to be|"
                        r"main (problem|concern|complaint)|how did (it|this|the \w+) (start|begin)|your story|"
                        r"history of (the|your) (present|current) (illness|problem))\b", re.I)),
    ("age", re.compile(r"\b(how old|your age|date of birth)\b", re.I)),
    ("diagnosis", re.compile(r"\b(your diagnosis|diagnosed with what|what do you think (it|this) is|what is wrong|"
                             r"what's wrong|do you know what (it|this) is)\b", re.I)),
    ("tests", re.compile(r"\b(test results?|blood tests?|scans?|x-?rays?|any tests|lab results?|imaging)\b", re.I)),
)
_YES_NO_START = re.compile(
    r"^(do|does|did|have|has|had|are|is|was|were|any|can|could|would|will|ever|anything like)\b", re.I)
_QUESTION_STEM = re.compile(
    r"^(?:(?:and|so|okay|ok|also|now|next|tell me|please|doctor)\W+)*"
    r"(?:do you (?:have|get|feel|notice|experience|suffer from|ever get|ever have|currently have)|"
    r"have you (?:had|got|noticed|felt|experienced|ever had|been having|been|seen|developed|suffered from|"
    r"had any|noticed any)|"
    r"did you (?:have|notice|feel|experience|get)|are you (?:having|experiencing|feeling|suffering from)?|"
    r"is there|are there|were there|was there|has there been|have there been|any (?:history of)?|"
    r"does (?:it|the \w+|your \w+)|did (?:it|the \w+)|is (?:it|the \w+|your \w+)|"
    r"can you|could you|would you say)\s*", re.I)
_STEM_NOISE = re.compile(r"\b(any|some|recently|lately|at all|recent|currently|ever|been|episodes? of|"
                         r"problems? with|trouble with|issues? with|a|an|the|you|your|yourself)\b", re.I)

_DURATION = re.compile(r"\b(?:for (?:the )?(?:past |last )?(?:\w+ )?(?:\d+|a|an|one|two|three|four|five|six|"
                       r"several|few) (?:hours?|days?|weeks?|months?|years?)|since \w+(?: \w+)?)\b", re.I)
_UNKNOWN_SYMPTOM = ("No, I haven't noticed that.", "No, not that I've noticed.", "No, nothing like that.")
_UNKNOWN_HISTORY = ("Not that I know of.", "No, not that I'm aware of.")
_NOTHING_ELSE = "No, nothing else that I've noticed."


@dataclass
class _Fact:
    text: str
    topic: str
    keys: list[tuple[str, bool]] = field(default_factory=list)
    #: how the patient words a key when repeating it ("shortness of breath" rather than "dyspnea")
    spoken: dict[str, str] = field(default_factory=dict)


# --- first person ------------------------------------------------------------------------------

_VERB_FIX = {"has": "have", "is": "am", "does": "do", "goes": "go", "was": "was", "hasn't": "haven't",
             "doesn't": "don't", "isn't": "am not", "wasn't": "wasn't"}
_NOT_VERBS = {"always", "sometimes", "perhaps", "was", "als", "ambulates", "thus", "nevertheless", "also"}
_LEAD_VERBS = re.compile(r"^(?:the patient|patient|he|she|they|the child|the baby|the infant|the man|the woman|"
                         r"the boy|the girl|the mother|the father)\s+", re.I)


# Third-person verbs of social and past history that follow a comma or "and" in a case sentence.
_CONJOINED_VERB = re.compile(
    r"((?:,|\band)\s+(?:also\s+|occasionally\s+|rarely\s+)?)(is|has|does|drinks|smokes|works|lives|uses|exercises|"
    r"follows|enjoys|spends|reports|denies|consumes|takes|attends|plays|eats|walks|runs|travels|sleeps|"
    r"studies|cares|volunteers|owns|keeps)\b")


def _agree(verb: str) -> str:
    low = verb.lower()
    if low in _VERB_FIX:
        return _VERB_FIX[low]
    if low in _NOT_VERBS or len(low) < 3:
        return verb
    if low.endswith("ies") and len(low) > 4:
        return verb[:-3] + "y"
    if low.endswith(("ches", "shes", "sses", "xes", "zes")):
        return verb[:-2]
    if low.endswith("s") and not low.endswith(("ss", "us", "is")):
        return verb[:-1]
    return verb


def first_person(sentence: str) -> str:
    """Rewrite a third-person case sentence as the patient saying it ("He reports..." -> "I...")."""
    s = " ".join(sentence.strip().split())
    if not s:
        return s
    s = re.sub(r"\b(?:the patient|the pt|patient)'s\b", "my", s, flags=re.I)
    s = re.sub(r"^(?:the patient|patient|he|she)\s+(?:reports|states|says|mentions|explains|notes|describes|"
               r"endorses|admits)\s+that\s+", "", s, flags=re.I)
    s = re.sub(r"^(?:the patient|patient|he|she)\s+(?:reports|complains of|describes|endorses|mentions|"
               r"is experiencing|has been experiencing|experiences|presents with|presented with|"
               r"shares|recounts)\s+", "I've had ", s, flags=re.I)
    s = re.sub(r"^(?:the patient|patient|he|she)\s+(?:notes|noticed|notices)\s+", "I've noticed ", s, flags=re.I)
    s = re.sub(r"^(?:the patient|patient|he|she)\s+denies\s+", "I haven't had ", s, flags=re.I)
    s = re.sub(r"^(?:the patient|patient|he|she)\s+(?:also\s+)?(?:is|was|has|had|does|did)\b",
               lambda m: "I " + _agree(m.group(0).split()[-1]), s, flags=re.I)
    m = _LEAD_VERBS.match(s)
    if m:
        rest = s[m.end():]
        word = rest.split(" ", 1)
        s = "I " + _agree(word[0]) + (" " + word[1] if len(word) > 1 else "")
    # Subjectless fragments of a social history: "Works in...", "Drinks socially", "Non-smoker".
    if re.match(r"^non-?smoker\b", s, re.I):
        s = "I don't smoke" + s[re.match(r"^non-?smoker", s, re.I).end():]
    elif re.match(r"^no\s", s, re.I):
        s = "I have no " + s[3:]
    elif re.match(r"^denies\s", s, re.I):
        s = "I haven't had " + s[7:]
    elif (re.match(r"^[A-Z][a-z]+s\b", s) and not re.match(r"^[A-Z][a-z]+(?:is|us|ss)\b", s)
          and not re.match(r"^(?:This|His|Her|Was|Is|Has|Always|Sometimes)\b", s)):
        # "Works in ..." is a subjectless verb; "Osteoporosis, diabetes" is not
        first, _, rest = s.partition(" ")
        s = "I " + _agree(first).lower() + (" " + rest if rest else "")
    # pronouns in the rest of the sentence
    s = re.sub(r"\b(?:the patient|patient)\b", "I", s, flags=re.I)
    s = re.sub(r"\b(he|she)\b", "I", s, flags=re.I)
    s = re.sub(r"\b(him|himself|herself)\b", lambda m: "me" if m.group(1).lower() == "him" else "myself", s,
               flags=re.I)
    s = re.sub(r"\b(told|gave|asked|to|for|with|helped|sent|saw|brought|took) her\b", r"\1 me", s, flags=re.I)
    s = re.sub(r"\b(his|her)\b", "my", s, flags=re.I)
    s = re.sub(r"\bI (\w+)\b", lambda m: "I " + _agree(m.group(1)), s)
    if s.startswith("I "):
        # "I don't smoke, drinks alcohol socially": the verbs joined to the first one agree with "I" too
        s = _CONJOINED_VERB.sub(lambda m: m.group(1) + _agree(m.group(2)), s)
    s = re.sub(r"\bI've had (a |an )?(\w+) (\w+ )?history of\b", "I've had", s)
    s = s[0].upper() + s[1:]
    if s[-1] not in ".!?":
        s += "."
    return s


def _sentences(text: str) -> list[str]:
    return [x.strip() for x in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|\n+", text or "") if x.strip()]


def _speakable(sentence: str) -> bool:
    return not _TEST_WORDS.search(sentence) and not _PLACEHOLDER.search(sentence)


_TIME_UNITS = r"(?:" + "|".join(sorted(TIME_UNIT_WORDS, key=len, reverse=True)) + r")"
_TIME_WORD = re.compile(r"\b" + _TIME_UNITS + r"\b")
_ASKED_DURATION = re.compile(r"\b(?:lasting|for|over|within)\b[^,;]*?\b" + _TIME_UNITS + r"\b|\b" + _TIME_UNITS
                             + r"\s+to\s+" + r"(?:\w+\s+)?" + _TIME_UNITS + r"\b")
_PAREN = re.compile(r"\s*\(([^()]*)\)")
# "pulse at 141/min", "fever of 102°F": a vital sign's value after the symptom it measures
_VALUE_AFTER = re.compile(r"\s+(?:at|of|to)\s+\d[\d.,/]*\s*(?:°\s*[fc]\b|/min\b|mm ?hg\b|bpm\b|breaths/min\b|%)",
                          re.IGNORECASE)
# A review of systems written as "Negative for fever, rash" is the patient's own denial, not a test result.
_SYSTEMS_NEGATIVE = re.compile(r"^\s*negative for(?:\s+any)?\b", re.IGNORECASE)
_SYSTEMS_POSITIVE = re.compile(r"^\s*positive for\s+", re.IGNORECASE)


def _unmeasured(text: str) -> str:
    """``text`` without the measurements a patient cannot know ("High fever (104°F or 40°C)" and "Fever of
    102°F" -> "High fever", "Fever"), so that the rest can still be told; a sentence that opens with
    "Negative for" or "Positive for" (a review of systems) reads as the patient's "No ..." or "...".
    """
    text = _PAREN.sub(lambda m: m.group(0) if _speakable(m.group(1)) else "", text)
    text = _VALUE_AFTER.sub("", text)
    text = _SYSTEMS_NEGATIVE.sub("No", text)
    return _SYSTEMS_POSITIVE.sub("", text)


class OfflinePatient:
    """Patient participant that answers from its facts (no model server)."""

    role = "patient"
    label = "offline"

    def __init__(self, embedder: TextEmbedder | None = None):
        self._embedder = embedder
        self.view: PatientView | None = None
        self.facts: list[_Fact] = []
        self._keys: list[tuple[str, bool, int]] = []
        self._key_vecs: np.ndarray | None = None
        self._key_tokens: list[set[str]] = []
        self._key_values: list[list[tuple[float, str]]] = []
        self._key_timed: list[bool] = []
        self._answers: dict[str, str] = {}
        self._said: set[int] = set()
        self._rng = random.Random(0)

    def _emb(self) -> TextEmbedder:
        if self._embedder is None:
            from agentsim.textembed import load_text_embedder

            self._embedder = load_text_embedder()
        return self._embedder

    async def start(self, view: PatientView, seed: int) -> None:
        """Cut the view into facts and forget earlier answers."""
        self.view = view
        self._rng = random.Random(seed)
        self._answers = {}
        self._said = set()
        f = view.facts
        facts: list[_Fact] = []

        def add(text: str, topic: str, keys_from: str | None = None, negated_only: bool = False) -> None:
            text = _unmeasured(text)
            if not text or not _speakable(text):
                return
            spoken = first_person(text)
            if topic == "pmh" and not re.match(r"I\b|No\b|None\b|Nothing\b", spoken):
                spoken = _pmh_sentence(spoken)
            fact = _Fact(text=spoken, topic=topic)
            for c in split_clauses(keys_from or text, runs=False):
                if negated_only and not c.negated:
                    fact.keys.append((c.text, True))
                else:
                    fact.keys.append((c.text, c.negated))
            facts.append(fact)

        for s in _sentences(f.history_of_present_illness):
            add(s, "hpi")
        for sym in f.symptoms:
            sym = sym.model_copy(update={"name": _unmeasured(sym.name),
                                         "detail": _unmeasured(sym.detail) if sym.detail else sym.detail})
            if not sym.name.strip():
                continue
            spoken = sym.name if not sym.detail else f"{sym.name}: {sym.detail}"
            if _speakable(spoken) or _speakable(sym.name):
                text = f"I have {_lower_first(sym.name)}" + (f", {sym.detail}" if sym.detail and
                                                             _speakable(sym.detail) else "")
                fact = _Fact(text=_sentence_case(text), topic="symptom")
                clauses = split_clauses(sym.name)
                for c in clauses:
                    fact.keys.append((c.text, c.negated))
                if not any(c.negated for c in clauses):
                    # the whole name as one key; a listed "No fever" must not answer "fever?" with yes
                    fact.keys.append((normalize_text(sym.name), False))
                facts.append(fact)
        for d in f.denied_symptoms:
            if _speakable(d):
                fact = _Fact(text=f"No, I haven't had {_lower_first(d).rstrip('.')}.", topic="denied")
                fact.keys.append((normalize_text(d), True))
                fact.spoken[normalize_text(d)] = _lower_first(d).rstrip(".")
                facts.append(fact)
        for attr, topic in (("past_medical_history", "pmh"), ("medications", "meds"), ("allergies", "allergies"),
                            ("social_history", "social"), ("family_history", "family"),
                            ("review_of_systems", "ros")):
            for s in _sentences(getattr(f, attr)):
                # Case writers often put "Her mother had breast cancer" under social or past history;
                # the patient tells it when asked about the family.
                family = topic in ("social", "pmh") and _RELATIVE.search(s) and _RELATIVE_ILLNESS.search(s)
                add(s, "family" if family else topic)
        self.facts = facts
        self._keys = [(k, neg, i) for i, fact in enumerate(facts) for k, neg in fact.keys if k]
        self._key_tokens = [set(content_tokens(k)) for k, _, _ in self._keys]
        # what each key measures and whether it names a time span, read once rather than per question
        self._key_values = [quantities(k) for k, _, _ in self._keys]
        self._key_timed = [bool(_TIME_WORD.search(k)) for k, _, _ in self._keys]
        self._key_flags = antonym_flags([k for k, _, _ in self._keys])
        self._key_vecs = None
        if self._keys:
            # Long keys are matched by words only (see agentsim.offline.findings.MAX_EMBED_WORDS).
            short = [i for i, (k, _, _) in enumerate(self._keys) if len(k.split()) <= MAX_EMBED_WORDS]
            vecs = np.zeros((len(self._keys), 1), dtype=np.float32)
            if short:
                enc = self._emb().encode([self._keys[i][0] for i in short])
                vecs = np.zeros((len(self._keys), enc.shape[1]), dtype=np.float32)
                vecs[short] = enc
            self._key_vecs = vecs

    async def respond(self, message: Message) -> Reply:
        """Answer one question (the same question always gets the same answer)."""
        if self.view is None:
            raise RuntimeError("patient used before start()")
        q = " ".join(message.content.strip().split())
        key = re.sub(r"[^a-z0-9 ]+", "", q.lower()).strip()
        if key not in self._answers:
            self._answers[key] = self._answer(q) or "I'm not sure."
        return Reply(content=self._answers[key])

    # --- answering -------------------------------------------------------------------------------

    def _answer(self, question: str) -> str:
        topics = [name for name, rx in _TOPICS if rx.search(question)]
        if "family" in topics and "pmh" in topics and not _ABOUT_YOU.search(question):
            # "Has anyone in your family had any illnesses?" asks about the family's illnesses, not the patient's
            topics.remove("pmh")
        yes_no = bool(_YES_NO_START.match(question.strip()))
        if "diagnosis" in topics:
            return "I don't know what it is; that's why I came to see you."
        if "tests" in topics and not yes_no:
            return "I haven't seen any test results."
        if "tests" in topics:
            return "Not that I know of. I haven't seen any results."
        if "age" in topics:
            demo = self.view.facts.demographics if self.view else ""
            return f"I'm a {demo.rstrip('.')}." if demo[:1].isdigit() else f"I'm {demo.rstrip('.')}."
        if "open" in topics:
            return self._open()
        if "other_symptoms" in topics:
            return self._other_symptoms()
        targets = self._targets(question) if yes_no or not topics else []
        if "social" in topics and not targets:
            targets = [question]
        if topics:
            answers = [self._topic(t, question, targets, also_pmh="pmh" in topics) for t in topics if t in
                       ("pmh", "meds", "allergies", "social", "family")]
            answers = [a for a in answers if a]
            if answers:
                return " ".join(dict.fromkeys(answers))
        if targets:
            return self._yes_no(targets, history="family" in topics or "pmh" in topics)
        best = self._best_fact(normalize_text(question))
        if best is not None:
            return self._say(best)
        return ""

    def _say(self, i: int) -> str:
        self._said.add(i)
        return self.facts[i].text

    def _open(self) -> str:
        hpi = [i for i, f in enumerate(self.facts) if f.topic == "hpi"]
        if not hpi:
            hpi = [i for i, f in enumerate(self.facts) if f.topic == "symptom"][:3]
        if not hpi:
            return self.view.opening_line if self.view else ""
        return " ".join(self._say(i) for i in hpi)

    def _other_symptoms(self) -> str:
        said_keys = {k for i in self._said for k, neg in self.facts[i].keys if not neg}
        new = [i for i, f in enumerate(self.facts) if f.topic == "symptom" and i not in self._said
               and not any(k in said_keys for k, _ in f.keys)]
        if not new:
            return _NOTHING_ELSE
        return " ".join(self._say(i) for i in new)

    def _topic(self, topic: str, question: str, targets: list[str], also_pmh: bool = False) -> str:
        idx = [i for i, f in enumerate(self.facts) if f.topic == topic]
        if topic == "social" and idx and _BROAD_SOCIAL.search(question):
            return " ".join(self._say(i) for i in idx)
        if topic == "social" and targets:
            # "Do you smoke?" is answered from the smoking sentence only, "no" when there is none.
            chosen: list[int] = []
            for t in targets:
                j, conf, _neg = self._match(t, restrict=set(idx))
                if j is not None and conf >= ANSWER_THRESHOLD and j not in chosen:
                    chosen.append(j)
            if not chosen:
                # "Are you a heavy smoker?" -> "I smoked a pack a day for 40 years": a habit the question
                # names in other words is told as it is, never denied.
                for t in targets:
                    words = set(content_tokens(normalize_text(t))) - _GENERIC_WORDS
                    for i in idx:
                        if i not in chosen and any(words & set(content_tokens(k)) for k, _ in self.facts[i].keys):
                            chosen.append(i)
            if chosen:
                return " ".join(self._say(i) for i in chosen)
            if not _YES_NO_START.match(question.strip()):
                return "Nothing special to mention."
            return "No." if idx else self._pick(_UNKNOWN_HISTORY)
        if idx:
            return " ".join(self._say(i) for i in idx)
        if topic == "meds":
            # "Epilepsy: taking phenytoin" is in the past history: tell it ("I take none" would lie), once
            treated = [i for i, f in enumerate(self.facts) if f.topic == "pmh" and _TAKES_MEDICINE.search(f.text)]
            if treated:
                return "" if also_pmh else " ".join(self._say(i) for i in treated)
        defaults = {"pmh": "No, I've been healthy.", "meds": "I don't take any medicines.",
                    "allergies": "No allergies that I know of.", "family": "Not that I know of.",
                    "social": "Nothing special to mention."}
        return defaults.get(topic, "")

    def _targets(self, question: str) -> list[str]:
        q = question.strip().rstrip("?.! ")
        q = _QUESTION_STEM.sub("", q)
        # "for 6 months or more" is one limit, not two things asked
        q = re.sub(r"\bor (more|longer|less|greater|above|below|shorter|older|younger)\b", r"or_\1", q, flags=re.I)
        parts = re.split(r",|;|\bor\b|\band\b|\bnor\b|/", q, flags=re.I)
        out = []
        for p in parts:
            p = p.replace("or_", "or ")
            p = _STEM_NOISE.sub(" ", p)
            p = " ".join(p.split())
            if p and content_tokens(normalize_text(p)):
                out.append(p)
        return out

    def _match(self, target: str, restrict: set[int] | None = None) -> tuple[int | None, float, bool]:
        """(fact index, confidence, denied) of the key that best states ``target``."""
        j, conf, neg, _ = self._match_key(target, restrict)
        return j, conf, neg

    def _match_key(self, target: str, restrict: set[int] | None = None) -> tuple[int | None, float, bool, str]:
        """Like :meth:`_match`, plus the matched key's text."""
        if not self._keys:
            return None, 0.0, False, ""
        norm = normalize_text(target)
        toks = set(content_tokens(norm))
        sims = np.zeros(len(self._keys))
        if self._key_vecs is not None and self._key_vecs.shape[1] > 1:
            sims = self._key_vecs @ self._emb().encode_one(norm)
        best: tuple[float, int, bool] = (0.0, -1, False)
        best_key = ""
        best_conf = 0.0
        # "right lower abdominal pain?" is not confirmed by "left lower abdominal pain"
        conflict = opposed(norm, self._key_flags)
        limits = thresholds(norm)
        limit_dims = {d for _, _, d in limits}
        # "cough lasting one to three weeks?", "headache lasting hours to days?": a duration asked in words
        asks_duration = "time" in limit_dims or bool(_ASKED_DURATION.search(norm))
        for r, (k, neg, fi) in enumerate(self._keys):
            if (restrict is not None and fi not in restrict) or conflict[r]:
                continue
            values = self._key_values[r]
            if limits and contradicts(values, limits):
                continue  # "stiffness for less than 30 minutes?" is not "stiffness lasting about 50 minutes"
            lex = len(toks & self._key_tokens[r]) / len(toks) if toks else 0.0
            emb = float(np.clip((sims[r] - MATCH_LO) / (MATCH_HI - MATCH_LO), 0.0, 1.0))
            # Every asked word must be in the fact ("bloody diarrhea" is not confirmed by "diarrhea"),
            # unless the wording is near-identical in meaning.
            conf = 1.0 if lex >= 0.99 else (emb if lex >= 0.6 else emb * 0.5)
            # The symptom lists are authoritative; a passing mention ("it hurts when I cough") is not.
            rank = conf + (0.05 if self.facts[fi].topic in ("symptom", "denied", "ros") else 0.0)
            if (limits and not {d for _, d in values} & limit_dims) or (asks_duration and not self._key_timed[r]):
                # a fact that says nothing of the asked duration (or other limit) is told, never a yes to it
                rank = min(rank, ANSWER_THRESHOLD - 0.01)
            if rank > best[0] + 1e-9 or (abs(rank - best[0]) <= 1e-9 and best[2] and not neg):
                best = (rank, fi, neg)
                best_key = k
                best_conf = min(rank, conf)
        # the preference for the symptom lists picks among matches; it makes no match stronger
        return (best[1] if best[1] >= 0 else None), min(best_conf, 1.0), best[2], best_key

    def _yes_no(self, targets: list[str], history: bool) -> str:
        parts: list[str] = []
        denied: list[str] = []
        unknown: list[str] = []
        related: list[str] = []
        for t in targets:
            j, conf, neg, key = self._match_key(t)
            if j is not None and not neg and RELATED_THRESHOLD <= conf < ANSWER_THRESHOLD:
                # "A throbbing headache?" -> "I've had a severe headache.": the patient tells what they
                # have that comes close, without a yes to the words they cannot vouch for.
                text = self._focused(j, key)
                if text not in related:
                    related.append(text)
            elif j is None or conf < ANSWER_THRESHOLD:
                unknown.append(t)
            elif neg:
                denied.append(self.facts[j].spoken.get(key, key))
                self._said.add(j)
            else:
                text = self._focused(j, key)
                if text not in parts:
                    parts.append(text)
        out: list[str] = []
        if parts:
            out.append("Yes. " + " ".join(parts))
        if denied:
            out.append(("No, I haven't had " if not parts else "But I haven't had ") + _join(denied) + ".")
        if related:
            out.append(("Well, " if not parts and not denied else "Also, ") + " ".join(related))
        if unknown and not parts and not denied and not related:
            out.append(self._pick(_UNKNOWN_HISTORY if history else _UNKNOWN_SYMPTOM))
        elif unknown:
            out.append("Nothing else like that.")
        return " ".join(out)

    def _focused(self, j: int, key: str) -> str:
        """The fact that confirms a question, cut down to the matched clause when it lists several.

        The words come from the fact itself, never from the question, so a doctor cannot make the
        patient repeat a term back ("Do you have X?" -> "I've had X").
        """
        self._said.add(j)
        fact = self.facts[j]
        positives = [k for k, neg in fact.keys if not neg]
        if len(positives) <= 2:
            return fact.text
        when = _DURATION.search(fact.text)
        return f"I've had {key}" + (f" {when.group(0)}" if when else "") + "."

    def _best_fact(self, text: str) -> int | None:
        j, conf, _ = self._match(text)
        return j if j is not None and conf >= ANSWER_THRESHOLD else None

    def _pick(self, options: tuple[str, ...]) -> str:
        return options[self._rng.randrange(len(options))]


def _join(items: list[str]) -> str:
    items = [i.strip() for i in items if i.strip()]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _pmh_sentence(text: str) -> str:
    """A subjectless past-history sentence as the patient says it.

    "Osteoporosis, diabetes." -> "I have osteoporosis, diabetes."; "Diagnosed with asthma at 6."
    -> "I was diagnosed with asthma at 6."; "Underwent appendectomy." -> "I underwent appendectomy."
    """
    first = text.split(" ", 1)[0].lower().strip(",.")
    if first in {"underwent", "had", "took", "takes", "uses", "used", "received", "completed"}:
        return "I " + _lower_first(text)
    if first.endswith("ed"):
        return "I was " + _lower_first(text)
    return "I have " + _lower_first(text)


def _lower_first(text: str) -> str:
    text = text.strip()
    if len(text) > 1 and text[:2].isupper():
        return text  # an abbreviation
    return text[:1].lower() + text[1:]


def _sentence_case(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
