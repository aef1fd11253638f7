"""The differential diagnosis: a probability over knowledge-base diseases, updated from evidence.

Scoring is naive Bayes over the knowledge base (KB) with one disease per patient. Every finding
``j`` of disease ``D`` has a frequency ``p_j = P(j | D)``; its *base rate* ``b_j`` is how often a
patient with some other disease shows the same finding. The KB lists only a disease's typical
findings, so the base rate has two parts: the prevalence-weighted mean, over all diseases, of
their best-matching finding's frequency (for the commonest wording of the finding), plus
``listing_leak`` times the prevalence-weighted share of diseases that list the finding at all.
The second part is the finding's commonness across medicine: "fatigue", listed by one disease
in ten, is shown by many patients whose disease's entry leaves it out, and without it such
findings weighed as much as a pathognomonic one. Floors: 0.15 for risk factors, 0.1 for history
items, 0.4 for age/sex descriptions such as "older man", which every patient of that age and
sex shows, and 0.5 for normal states such as "clear lung examination", which most patients show
however few KB entries list them (they are neither asked about nor held against a disease when
unmentioned). For each finding the matcher gives the strongest evidence that it is present
(``pos_j``) or absent (``neg_j``), each in ``[0, 1]``, and

    log score(D) = prior(D) + s * sum_{j in D} [pos_j * log(p_j / b_j) + neg_j * log(P_abs(j) / (1 - b_j))]
                   + test(D) + hints(D)

where ``P_abs(j) = max(1 - p_j, absent_floor)`` keeps one denial from eliminating a disease and
``s`` (``evidence_scale`` < 1) tempers naive Bayes' overconfidence. Three rules keep the sum
honest: each clause counts for at most one finding of a disease (so "headache" does not count
three times for a disease listing "headache", "throbbing headache" and "morning headache"), each
finding counts once however often it is mentioned (opening line, history, answers), and a disease
that lists one finding twice (as a finding and as a test's result) counts it once. A
finding stated as an absence ("no fever") is scored with the polarity flipped. A symptom, sign,
history item or risk factor nobody mentioned counts as a weak denial (``unmentioned_weight``): a
case description or a thorough history names a disease's typical findings, so a disease whose
typical findings are all missing should not win on one shared generic finding.

* ``prior(D)``: prevalence class (KB relative odds) to the power ``prior_exponent``, minus a
  penalty outside the disease's age range or for the wrong sex.
* ``test(D)``: when an ordered test is one of D's KB tests and its result is *normal*,
  ``log(max((1 - sens) / spec, test_negative_floor))`` (a normal troponin lowers myocardial
  infarction). An abnormal result in other words than the KB's is not held against D (the
  matcher may have missed a paraphrase). Characteristic results that *are* seen count through the
  matcher: every KB test result is also a finding of its disease with frequency = sensitivity.
  Their absence counts here only, not again as a denied finding; and a denied lab or imaging
  finding (a normal value read from any report) weighs no more than ``test_negative_floor``.
* ``hints(D)``: soft evidence from outside the KB, e.g. retrieved similar cases or image labels.

Numbers are read, not matched as words: "Platelet count: 18,000/mm3" becomes "thrombocytopenia"
(:mod:`.labs`), and a bare measurement ("serum osmolality 288 mOsm/kg") asserts nothing.

The KB index (phrase embeddings, base rates, the finding-by-disease matrix used for question
selection) is built once per process per KB and cached on disk (see :mod:`.findings`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agentsim.catalog import normalize_name
from agentsim.offline.findings import (
    ByIdentity,
    Clause,
    FindingMatcher,
    FindingSpec,
    cache_dir,
    embed_phrases,
    is_ancestry,
    is_demographic,
    is_normal_state,
    matcher_signature,
    normalize_text,
    split_clauses,
)
from agentsim.offline.kb import PREVALENCE_PRIOR, KBDisease, KnowledgeBase, default_kb
from agentsim.offline.labs import LabFinding, is_bare_measurement, read_values, states_value
from agentsim.synonyms import normalize_dx

if TYPE_CHECKING:
    from agentsim.catalog import TestCatalog
    from agentsim.textembed import TextEmbedder

#: Finding kinds a patient can be asked about (the others come from examinations and tests).
ASKABLE_KINDS = frozenset({"symptom", "history", "risk_factor"})
#: Finding kinds whose absence from everything said counts as weak evidence against them.
UNMENTIONED_KINDS = frozenset({"symptom", "sign", "history", "risk_factor"})
#: P(finding | some other disease) of a normal state such as "clear lungs": a typical patient shows one
NORMAL_STATE_BASE_RATE = 0.5
#: Finding kind given to a test's characteristic result.
TEST_KIND = "test"
#: Finding kinds that are results (a test's characteristic result, a lab or imaging finding): their absence
#: weighs no more than a normal result of a test the case may not list (``test_negative_floor``).
RESULT_KINDS = frozenset({TEST_KIND, "lab", "imaging"})
_MISSING = re.compile(r"^(?:absent|lack of)\b", re.IGNORECASE)
_NORMAL_RESULT = re.compile(
    r"\b(normal|unremarkable|negative|no abnormalit\w*|no acute|within normal limits|not detected|no growth|"
    r"within (?:the )?(?:reference|expected|therapeutic|age-specific) ranges?|"
    r"non-?reactive|clear lungs?|clear lung fields|lungs? (?:are )?clear)\b", re.IGNORECASE)


class ReasonerConfig(BaseModel):
    """Tunable constants of the scoring (defaults are the measured ones; see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    prior_exponent: float = Field(default=0.5, ge=0, description="weight of the prevalence prior")
    evidence_scale: float = Field(default=1.0, gt=0, description="tempering of summed log-likelihood ratios")
    base_rate_floor: float = Field(default=0.02, gt=0, lt=1, description="lowest base rate: caps one finding's LR")
    base_rate_ceiling: float = Field(default=0.6, gt=0, lt=1)
    absent_floor: float = Field(default=0.15, gt=0, lt=1, description="lowest P(finding absent | disease)")
    age_penalty: float = Field(default=2.0, ge=0, description="log-odds penalty outside the disease's age range")
    sex_penalty: float = Field(default=6.0, ge=0, description="log-odds penalty for the wrong sex")
    test_negative_floor: float = Field(
        default=0.7, gt=0, le=1,
        description="lowest LR of a normal result for a disease whose characteristic result it lacks (a simulated "
                    "case lists only its key tests, so an unlisted test's normal result is weak evidence)")
    result_match: float = Field(default=0.45, ge=0, le=1,
                                description="match confidence above which a result shows a disease's finding")
    hint_scale: float = Field(default=1.5, ge=0, description="log-odds per unit of retrieval hint strength")
    report_negation_weight: float = Field(
        default=0.3, ge=0, le=1,
        description="weight of findings a test report says are absent ('no consolidation')")
    unmentioned_weight: float = Field(
        default=0.2, ge=0, le=1,
        description="weight of the absence of any mention of a symptom, sign, history item or risk factor (as if "
                    "denied); 0 ignores unmentioned findings")
    listing_leak: float = Field(
        default=0.3, ge=0, le=1,
        description="share of the diseases listing a finding that is added to its base rate (its commonness)")


class TestInfo(BaseModel):
    """One KB test of one disease, with its pseudo-finding index."""

    model_config = ConfigDict(frozen=True)

    __test__ = False

    disease: int
    key: str
    name: str
    result: str
    sensitivity: float
    specificity: float
    confirms: bool
    finding: int = Field(description="index of the result's pseudo-finding; -1 for a normal/negative result")
    negative: bool = Field(default=False, description="the characteristic result is a normal or negative one")


class RankedDiagnosis(BaseModel):
    """One entry of the differential."""

    model_config = ConfigDict(frozen=True)

    disease_id: str
    name: str
    probability: float
    specialty: str = ""


def test_key(name: str, catalog: TestCatalog | None) -> str:
    """Canonical key of a test name: the catalogue entry id when the catalogue knows it."""
    if catalog is not None:
        entry = catalog.lookup(name)
        if entry is not None:
            return entry.id
    return "x:" + normalize_name(name)


class KBIndex:
    """Everything precomputed about a knowledge base (read-only, shared by all episodes)."""

    def __init__(self, kb: KnowledgeBase, embedder: TextEmbedder, catalog: TestCatalog | None = None):
        self.kb = kb
        self.embedder = embedder
        self.catalog = catalog
        self.diseases: list[KBDisease] = list(kb.diseases)
        self.n = len(self.diseases)
        specs: list[FindingSpec] = []
        tests: list[TestInfo] = []
        for di, d in enumerate(self.diseases):
            for f in d.findings:
                specs.append(FindingSpec(text=f.text, aliases=tuple(f.aliases), frequency=f.frequency,
                                         kind=f.kind, disease=di))
            for t in d.tests:
                # "negative direct antiglobulin test" is shown by a normal result, not by matching words.
                negative = bool(_NORMAL_RESULT.search(t.result))
                tests.append(TestInfo(disease=di, key=test_key(t.test, catalog), name=t.test, result=t.result,
                                      sensitivity=t.sensitivity, specificity=t.specificity, confirms=t.confirms,
                                      finding=-1 if negative else len(specs), negative=negative))
                if not negative:
                    specs.append(FindingSpec(text=t.result, frequency=t.sensitivity, kind=TEST_KIND, disease=di))
        self.matcher = FindingMatcher(specs, self.n, embedder, tag="kb")
        self.tests = tests
        self.tests_by_key: dict[str, list[int]] = {}
        for i, t in enumerate(tests):
            self.tests_by_key.setdefault(t.key, []).append(i)
        self.prevalence = np.array([PREVALENCE_PRIOR[d.prevalence] for d in self.diseases], dtype=np.float32)
        self.askable = np.array([k in ASKABLE_KINDS for k in self.matcher.finding_kind], dtype=bool)
        qp = self._phrase_disease_matrix()
        weights = self.prevalence / self.prevalence.sum()
        phrase_rate = qp @ weights
        m = self.matcher
        # q[j, D]: P(finding j's own wording | D), used to predict answers to questions about j.
        self.q = qp[m.primary_phrase]
        self.q[np.arange(m.n_findings), m.finding_disease] = np.maximum(
            self.q[np.arange(m.n_findings), m.finding_disease], m.finding_freq)
        # A finding's base rate is that of its commonest wording: "hypertension" as an alias of
        # "elevated blood pressure on repeated readings" is as common as hypertension itself.
        self.base_rate = np.maximum.reduceat(phrase_rate[m.pair_phrase], m.pair_starts)
        #: prevalence-weighted share of diseases listing (a wording of) each finding
        self.listing_rate = np.maximum.reduceat(((qp > 0).astype(np.float32) @ weights)[m.pair_phrase],
                                                m.pair_starts)
        self.demographic = np.array([is_demographic(t) for t in m.finding_text], dtype=bool)
        kind_floor = {"risk_factor": 0.15, "history": 0.1}
        floors = np.array([kind_floor.get(k, 0.0) for k in m.finding_kind], dtype=np.float32)
        floors[self.demographic] = 0.4
        #: findings of a normal state ("normal lung examination"): most patients with another disease show
        #: them too, however few KB diseases list them
        self.normal_state = np.array([is_normal_state(t) for t in m.finding_text], dtype=bool)
        floors[self.normal_state] = NORMAL_STATE_BASE_RATE
        self.base_floor = floors
        ancestry = np.array([is_ancestry(t) for t in m.finding_text], dtype=bool)
        # "Have you had absent menstrual periods?" is no question a patient can answer plainly
        missing = np.array([bool(_MISSING.match(t)) for t in m.finding_text], dtype=bool)
        self.askable &= ~self.demographic & ~m.inverted & ~ancestry & ~self.normal_state & ~missing
        #: findings an unmentioned absence counts against (not age/sex, which are always "mentioned"; not
        #: normal states, which case descriptions leave out)
        self.expected = (np.array([k in UNMENTIONED_KINDS for k in m.finding_kind], dtype=bool) & ~self.demographic
                         & ~m.inverted & ~self.normal_state)
        #: (finding, the earlier finding of the same disease it restates): "elevated creatine kinase" listed
        #: both as a finding and as a test's result is one piece of evidence, not two
        self.restated = _restated_findings(m)
        self.names: dict[str, int] = {}
        for di, d in enumerate(self.diseases):
            for nm in [d.name, *d.synonyms, d.id.replace("_", " ")]:
                self.names.setdefault(normalize_dx(nm), di)
        self._name_list = list(self.names)
        self._name_vecs: np.ndarray | None = None
        self._keys: dict[str, str] = {}
        self._prices: dict[str, float] = {}

    def _phrase_disease_matrix(self) -> np.ndarray:
        """QP[phrase, D]: how strongly disease D shows a phrase (best match times frequency), cached on disk."""
        m = self.matcher
        phrases = m.phrases.phrases
        key = "\n".join([matcher_signature(), *phrases, *(f"{s.frequency}|{s.disease}" for s in m.specs)])
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        folder = cache_dir()
        path = folder / f"kb-qp-{digest}-{self.embedder.name}.npy" if folder else None
        if path is not None and path.is_file():
            try:
                arr = np.load(path)
                if arr.shape == (len(phrases), self.n):
                    return arr.astype(np.float32)
            except (OSError, ValueError):
                pass
        qp = np.zeros((len(phrases), self.n), dtype=np.float32)
        for lo in range(0, len(phrases), 512):
            conf = m.phrase_to_finding(m.phrases.match(phrases[lo: lo + 512], m.phrases.emb[lo: lo + 512]))
            qp[lo: lo + 512] = m.per_disease_max(conf * m.finding_freq[None, :])
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, qp.astype(np.float16))
                os.replace(tmp, path)
            except OSError:
                pass
        return qp

    def disease_for_label(self, label: str, min_similarity: float = 0.86) -> int | None:
        """The KB disease a free-text diagnosis label names (exact name/synonym, else embedding)."""
        key = normalize_dx(label)
        if not key:
            return None
        if key in self.names:
            return self.names[key]
        bare = normalize_dx(re.sub(r"\([^)]*\)", " ", label))
        if bare in self.names:
            return self.names[bare]
        if self._name_vecs is None:
            self._name_vecs = embed_phrases(self.embedder, self._name_list, "kb-names")
        sims = self._name_vecs @ self.embedder.encode_one(key)
        best = int(sims.argmax())
        return self.names[self._name_list[best]] if sims[best] >= min_similarity else None

    def test_key(self, name: str) -> str:
        """Memoised :func:`test_key` with this index's catalogue."""
        if name not in self._keys:
            self._keys[name] = test_key(name, self.catalog)
        return self._keys[name]

    def price(self, name: str) -> float:
        """Catalogue price of a test (0 without a catalogue), memoised."""
        if name not in self._prices:
            self._prices[name] = self.catalog.price(name) if self.catalog is not None else 0.0
        return self._prices[name]

    def keys_for_test_name(self, name: str) -> list[str]:
        """KB test keys a test name refers to: its catalogue key, or KB test names contained in it."""
        key = self.test_key(name)
        keys = [key] if key in self.tests_by_key else []
        words = set(normalize_name(name).split())
        if not keys and words:
            for k, infos in self.tests_by_key.items():
                kw = set(normalize_name(self.tests[infos[0]].name).split())
                if kw and kw <= words:
                    keys.append(k)
        return keys


@lru_cache(maxsize=4)
def _index_for(key: ByIdentity, catalog_key: ByIdentity) -> KBIndex:
    from agentsim.textembed import load_text_embedder

    return KBIndex(key.obj, load_text_embedder(), catalog_key.obj)  # type: ignore[arg-type]


def kb_index(kb: KnowledgeBase | None = None, catalog: TestCatalog | None = None) -> KBIndex:
    """The process-wide index of a knowledge base (default: the shipped KB and test catalogue)."""
    if catalog is None:
        from agentsim.catalog import default_catalog
        from agentsim.errors import ConfigError

        try:
            catalog = default_catalog()
        except ConfigError:
            catalog = None
    return _index_for(ByIdentity(kb or default_kb()), ByIdentity(catalog))


def _restated_findings(m: FindingMatcher, min_cosine: float = 0.9) -> np.ndarray:
    """(k, 2) pairs (j, i), i < j: finding j of a disease says what its finding i says."""
    emb = m.phrases.emb[m.primary_phrase]
    pairs: list[tuple[int, int]] = []
    root: dict[int, int] = {}
    starts = m.disease_starts
    for lo, hi in zip(starts, [*starts[1:], m.n_findings], strict=True):
        if hi - lo < 2:
            continue
        sims = emb[lo:hi] @ emb[lo:hi].T
        for b in range(1, hi - lo):
            a = int(np.argmax(sims[b, :b]))
            if sims[b, a] >= min_cosine and m.inverted[lo + a] == m.inverted[lo + b]:
                root[lo + b] = root.get(lo + a, lo + a)
                pairs.append((lo + b, root[lo + b]))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _with_values(clauses: list[Clause], values: list[LabFinding], source: str, weight: float) -> list[Clause]:
    """Replace measurement clauses by what the values read from their text mean."""
    # "glucose 5.2 mmol/L" says nothing as words (it would match "high glucose"): its meaning
    # comes from reading the value.
    out = [c for c in clauses if not states_value(c.text) and not is_bare_measurement(c.text)]
    for v in values:
        out.append(Clause(text=v.text, negated=v.negated, source=source, weight=weight))
    abnormal = [v.text for v in values if v.abnormal and not v.negated]
    if len(abnormal) > 1:
        # "thrombocytopenia" + "anemia" together match "thrombocytopenia with anemia"
        out.append(Clause(text=" ".join(abnormal), source=source, weight=weight))
    return out


def read_report(name: str, result: str, negation_weight: float = 1.0) -> tuple[list[Clause], list[LabFinding]]:
    """The clauses and the values of a test report (values replace the measurement clauses they come from).

    Denials in the report's words weigh ``negation_weight``; those read from values weigh fully.
    """
    clauses = split_clauses(result, source=f"test:{name}")
    if negation_weight < 1.0:
        clauses = [c.model_copy(update={"weight": c.weight * negation_weight}) if c.negated else c for c in clauses]
    values = read_values(result, name)
    return _with_values(clauses, values, source=f"test:{name}", weight=1.0), values


def is_normal_report(result: str, clauses: Sequence[Clause], values: Sequence[LabFinding]) -> bool:
    """True when a report (read by :func:`read_report`) is normal: no abnormal value, and either it
    asserts nothing or it says it is normal ("Normal triphasic waveforms throughout")."""
    if any(v.abnormal for v in values):
        return False
    return not any(not c.negated for c in clauses) or bool(_NORMAL_RESULT.search(result))


class Differential:
    """The evolving differential of one episode (mutable; one per episode)."""

    def __init__(self, index: KBIndex, config: ReasonerConfig | None = None, age: float | None = None,
                 sex: str = "unknown"):
        self.index = index
        self.config = config or ReasonerConfig()
        cfg = self.config
        m = index.matcher
        self.age = age
        self.sex = sex
        self.pos = np.zeros(m.n_findings, dtype=np.float32)
        self.neg = np.zeros(m.n_findings, dtype=np.float32)
        self.hint_ll = np.zeros(index.n, dtype=np.float32)
        self.clauses: list[Clause] = []
        self.tests_done: dict[str, str] = {}
        # KB test index -> how clearly an observed result showed its characteristic result (0..1)
        self.test_shown: dict[int, float] = {}
        # Ties between equally matched findings of one disease go to the more frequent one.
        self._tiebreak = (m.finding_freq * 1e-3).astype(np.float32)
        base = np.clip(np.maximum(index.base_rate + cfg.listing_leak * index.listing_rate, index.base_floor),
                       cfg.base_rate_floor,
                       max(cfg.base_rate_ceiling, float(index.base_floor.max())))
        #: P(finding | some other disease) as scored: also what question selection predicts for the rest
        self.base = base.astype(np.float32)
        p = m.finding_freq
        # For a finding stated as an absence ("no fever", frequency p), ``base`` is the base rate of
        # the concept itself, so the absence is common (1 - base) and its presence rare (base).
        inv = m.inverted
        self._lr_pos = np.log(p / np.where(inv, 1.0 - base, base))
        lr_neg = np.log(np.maximum(1.0 - p, cfg.absent_floor) / np.where(inv, base, 1.0 - base))
        # A normal troponin read from a report denies "mildly elevated troponin"; as evidence it is a normal
        # result like any other, so it is floored as test_scores() floors a KB test's normal result.
        result = np.array([k in RESULT_KINDS for k in m.finding_kind], dtype=bool) & ~inv
        self._lr_neg = np.where(result, np.maximum(lr_neg, np.log(cfg.test_negative_floor)), lr_neg)
        self.prior = self._prior()

    def _prior(self) -> np.ndarray:
        cfg = self.config
        prior = cfg.prior_exponent * np.log(self.index.prevalence)
        for i, d in enumerate(self.index.diseases):
            if self.age is not None:
                if self.age < d.age_min:
                    prior[i] -= cfg.age_penalty * min(1.0, (d.age_min - self.age) / 5.0 + 0.5)
                elif self.age > d.age_max:
                    prior[i] -= cfg.age_penalty * min(1.0, (self.age - d.age_max) / 5.0 + 0.5)
            if d.sex != "any" and self.sex in ("female", "male") and d.sex != self.sex:
                prior[i] -= cfg.sex_penalty
        return prior.astype(np.float32)

    # --- evidence --------------------------------------------------------------------------------

    def observe_text(self, text: str, source: str = "", weight: float = 1.0, labs: bool = True) -> list[Clause]:
        """Read free text (answer, exam or test result) as evidence; returns the clauses used."""
        clauses = split_clauses(text, source=source, weight=weight)
        if labs:
            clauses = _with_values(clauses, read_values(text), source, weight)
        self.observe_clauses(clauses)
        return clauses

    def observe_demographics(self, age: float | None, sex: str) -> None:
        """Age group and sex as findings ("older adult", "woman"): KB diseases list them as risk factors."""
        words: list[str] = []
        if sex in ("female", "male"):
            words.append("female woman" if sex == "female" else "male man")
        if age is not None:
            if age < 1:
                words.append("infant newborn baby")
            elif age < 12:
                words.append("child")
            elif age < 18:
                words.append("adolescent teenager")
            elif age < 40:
                words.append("young adult")
            elif age < 65:
                words.append("middle-aged adult")
            else:
                words.append("older adult")
        for w in words:
            for part in w.split(" "):
                self.observe_clauses([Clause(text=normalize_text(part), source="demographics")])

    def observe_clauses(self, clauses: Sequence[Clause]) -> None:
        """Fold already split clauses into the evidence."""
        if not clauses:
            return
        m = self.index.matcher
        w = np.array([c.weight for c in clauses], dtype=np.float32)[:, None]
        neg = np.array([c.negated for c in clauses], dtype=bool)
        for denial in (False, True):
            rows = np.flatnonzero(neg == denial)
            if rows.size == 0:
                continue
            conf = self._one_finding_per_disease(m.match([clauses[r].text for r in rows], negated=denial))
            seen = (conf * w[rows]).max(axis=0)
            if denial:
                self.neg = np.maximum(self.neg, seen)
            else:
                self.pos = np.maximum(self.pos, seen)
        self.clauses.extend(clauses)

    def _one_finding_per_disease(self, conf: np.ndarray) -> np.ndarray:
        """Keep, for each clause and disease, only the disease's best-matching finding.

        One clause ("headache") must not count several times for one disease that lists several
        overlapping findings ("headache", "throbbing headache", "morning headache").
        """
        if conf.size == 0:
            return conf
        m = self.index.matcher
        adjusted = np.where(conf > 0, conf + self._tiebreak[None, :], 0.0)
        seg_max = np.maximum.reduceat(adjusted, m.disease_starts, axis=1)[:, m.run_of_finding]
        keep = (adjusted >= seg_max) & (conf > 0)
        # exact ties: keep the first finding of the disease
        csum = np.cumsum(keep, axis=1)
        before = np.concatenate([np.zeros((keep.shape[0], 1), dtype=csum.dtype), csum[:, :-1]], axis=1)
        seg_base = before[:, m.disease_starts][:, m.run_of_finding]
        keep &= (csum - seg_base) == 1
        return np.where(keep, conf, 0.0).astype(np.float32)

    def observe_finding(self, text: str, present: bool, weight: float = 1.0) -> None:
        """Evidence that a stated finding is present or absent (e.g. the answer to a yes/no question)."""
        self.observe_clauses([Clause(text=normalize_text(text), negated=not present, weight=weight)])

    def observe_test(self, name: str, result: str, keys: Sequence[str] | None = None) -> list[Clause]:
        """Read a test result: its findings, and whether it shows each KB disease's characteristic result."""
        clauses, values = read_report(name, result, self.config.report_negation_weight)
        self.observe_clauses(clauses)
        keys = list(keys) if keys is not None else self.index.keys_for_test_name(name)
        infos = [i for k in keys for i in self.index.tests_by_key.get(k, [])]
        if not infos:
            return clauses
        pos_texts = [c.text for c in clauses if not c.negated]
        conf = self.index.matcher.match(pos_texts) if pos_texts else None
        normal = is_normal_report(result, clauses, values)
        for i in infos:
            t = self.index.tests[i]
            if t.negative:
                shown = 1.0 if normal else 0.0
            elif conf is not None and conf[:, t.finding].max() >= self.config.result_match:
                # before "normal": "normal sinus rhythm with ST elevation" shows the ST elevation
                shown = 1.0
            elif normal:
                shown = 0.0
            else:
                # An abnormal result in other words than the KB's: the matcher may just have missed it.
                continue
            self.test_shown[i] = max(self.test_shown.get(i, 0.0), shown)
        for k in keys:
            self.tests_done[k] = result
        return clauses

    def test_scores(self) -> np.ndarray:
        """Per-disease log-likelihood from KB tests: missing characteristic results lower a disease."""
        out = np.zeros(self.index.n, dtype=np.float32)
        credit = np.zeros(self.index.n, dtype=np.float32)
        cfg = self.config
        for i, shown in self.test_shown.items():
            t = self.index.tests[i]
            if t.negative:
                if shown >= cfg.result_match:
                    # A normal result the disease expects ("normal PT and PTT") supports it only weakly:
                    # most diseases would show the same.
                    credit[t.disease] += 0.5
                continue
            if shown >= cfg.result_match:
                continue
            lr = max((1.0 - t.sensitivity) / t.specificity, cfg.test_negative_floor)
            out[t.disease] += (1.0 - shown) * float(np.log(lr))
        return out + np.minimum(credit, 1.0)

    def observe_hint(self, disease: int, strength: float) -> None:
        """Soft evidence for a disease from outside the KB (retrieval); ``strength`` in [0, 1]."""
        self.hint_ll[disease] += self.config.hint_scale * float(np.clip(strength, 0.0, 1.0))

    # --- output ----------------------------------------------------------------------------------

    def finding_scores(self) -> np.ndarray:
        """Per-finding log-likelihood contributions (before tempering)."""
        inv = self.index.matcher.inverted
        pos = np.where(inv, self.neg, self.pos)
        neg = np.where(inv, self.pos, self.neg)
        w = self.config.unmentioned_weight
        if w > 0:
            # A finding nobody mentioned is weak evidence of its absence (a case description or a
            # thorough history would usually mention a disease's typical findings).
            mentioned = np.maximum(self.pos, self.neg)
            neg = np.maximum(neg, w * (1.0 - mentioned) * self.index.expected)
        if self.test_shown:
            # The result of an ordered KB test already counts against its disease in test_scores(): once only.
            counted = [f for f in (self.index.tests[i].finding for i in self.test_shown) if f >= 0 and not inv[f]]
            neg[counted] = 0.0
        scores = pos * self._lr_pos + neg * self._lr_neg
        # A restated finding counts once, by whichever wording says most.
        restated = self.index.restated
        if len(restated):
            j, i = restated[:, 0], restated[:, 1]
            strength = np.abs(scores[j])
            best = np.abs(scores)
            np.maximum.at(best, i, strength)
            wins = (strength >= best[i]) & (strength > np.abs(scores[i]))
            scores[i[wins]] = scores[j[wins]]
            scores[j] = 0.0
        return scores

    def log_scores(self) -> np.ndarray:
        """Unnormalised log posterior of every disease."""
        evidence = self.index.matcher.per_disease_sum(self.finding_scores())
        return self.prior + self.config.evidence_scale * evidence + self.test_scores() + self.hint_ll

    def posterior(self) -> np.ndarray:
        """Probability of every disease (sums to 1)."""
        s = self.log_scores().astype(np.float64)
        s -= s.max()
        e = np.exp(s)
        return (e / e.sum()).astype(np.float32)

    def ranked(self, k: int = 10) -> list[RankedDiagnosis]:
        """The ``k`` most probable diseases, most probable first (ties broken by KB order)."""
        post = self.posterior()
        order = np.lexsort((np.arange(len(post)), -post))[:k]
        return [RankedDiagnosis(disease_id=self.index.diseases[i].id, name=self.index.diseases[i].name,
                                probability=round(float(post[i]), 4), specialty=self.index.diseases[i].specialty)
                for i in order]

    def explain(self, disease: int, k: int = 5) -> list[tuple[str, float]]:
        """The findings that moved ``disease`` most: (finding text, log-likelihood contribution)."""
        m = self.index.matcher
        idx = np.flatnonzero(m.finding_disease == disease)
        contrib = self.finding_scores()[idx] * self.config.evidence_scale
        order = np.argsort(-np.abs(contrib))[:k]
        return [(m.finding_text[idx[i]], round(float(contrib[i]), 2)) for i in order if contrib[i] != 0]
