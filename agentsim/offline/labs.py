"""Reading numbers: vital signs and common laboratory values to clinical words.

A sentence embedder cannot tell that "Platelet count: 18,000/mm3" means thrombocytopenia. This
module finds common analytes by name, reads the number after them (with a few unit
conversions), and compares it with adult reference limits from general clinical knowledge. It
returns findings in words ("thrombocytopenia", "fever") that the finding matcher can use, plus
negated words for normal vital signs ("no fever"). Limits are deliberately coarse: they decide
whether a value is clearly abnormal, not how abnormal. The limits are blood's: a value of another
body fluid (urine, CSF, joint fluid; named before it or by the test) is not read as a blood value,
and CSF cells, protein and glucose have CSF limits of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

_NUM = r"(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)"


class LabFinding(BaseModel):
    """A value read from text and what it means."""

    model_config = ConfigDict(frozen=True)

    analyte: str
    value: float
    text: str
    negated: bool = False
    abnormal: bool = True


@dataclass(frozen=True)
class _Analyte:
    name: str
    pattern: str
    # value -> list of (phrase, negated, abnormal)
    rule: Callable[[float, str], list[tuple[str, bool, bool]]]
    window: int = 30


def _range(low: float | None, high: float | None, low_words: str, high_words: str,
           scale: Callable[[float, str], float] | None = None, negate_normal: str = ""):
    def rule(v: float, unit: str) -> list[tuple[str, bool, bool]]:
        x = scale(v, unit) if scale else v
        if low is not None and x < low and low_words:
            return [(low_words, False, True)]
        if high is not None and x > high and high_words:
            return [(high_words, False, True)]
        if negate_normal:
            return [(negate_normal, True, False)]
        return []

    return rule


def _temp(v: float, unit: str) -> list[tuple[str, bool, bool]]:
    c = (v - 32) * 5 / 9 if (v > 50 or "f" in unit.lower()) else v
    # The value itself too, so that findings stating a limit ("core temperature above 40 C") can be
    # checked against it; a normal temperature states no limit-worthy finding.
    measured = (f"temperature {c:.1f} c", False, True)
    if c >= 38.0:
        return [("fever", False, True), measured] + ([("high fever", False, True)] if c >= 39.5 else [])
    if c < 35.0:
        return [("hypothermia", False, True), measured]
    return [("fever", True, False)]


def _fever(v: float, unit: str) -> list[tuple[str, bool, bool]]:
    # "a fever of 37.8 C" is a fever by the writer's word; a normal reading labelled so denies nothing
    read = _temp(v, unit)
    return read if read[0] != ("fever", True, False) else [("fever", False, True)]


def _troponin(v: float, unit: str) -> list[tuple[str, bool, bool]]:
    # ng/mL (conventional) or ng/L (high-sensitivity)
    high = v > 20 if ("ng/l" in unit or v >= 5) else v > 0.04
    return [("elevated troponin", False, True)] if high else [("elevated troponin", True, False)]


def _per_thousand(v: float, unit: str) -> float:
    # "18,000/mm3" or "18000 /uL" vs "18 x10^9/L" / "18 K/uL"
    return v / 1000.0 if v >= 1000 else v


def _lymphocytes(v: float, unit: str) -> list[tuple[str, bool, bool]]:
    if "%" in unit:
        return [("lymphocytosis", False, True)] if v > 50 else []
    count = v / 1000.0 if v >= 100 else v
    return [("lymphocytosis", False, True)] if count > 5.0 else []


def _bp(text: str) -> list[tuple[str, bool, bool]]:
    m = re.search(r"(\d{2,3})\s*/\s*(\d{2,3})", text)
    if not m:
        return []
    s, d = float(m.group(1)), float(m.group(2))
    if s < 90 or d < 50:
        return [("hypotension", False, True)]
    if s >= 140 or d >= 90:
        return [("hypertension", False, True)]
    return [("hypotension", True, False)]


_ANALYTES: tuple[_Analyte, ...] = (
    _Analyte("temperature", r"\b(?:temperature|temp\b|t(?=\s*[:=]?\s*\d{2,3}(?:\.\d+)?\s*°?\s*[cf]\b))\b", _temp, 20),
    # "fever of 102°F", "febrile to 39.4 C": the reading is the fever's
    _Analyte("fever", r"\b(?:fevers?|febrile|pyrexia)(?=\s+(?:of|to|up to|as high as|reaching)\s+\d{2,3}(?:\.\d+)?\s*"
             r"°?\s*[cf]\b)", _fever, 20),
    _Analyte("heart rate", r"\b(?:heart rate|pulse rate|pulse(?!\s+(?:pressure|oximetry|ox|deficit)\b)|hr)\b",
             _range(50, 100, "bradycardia", "tachycardia", negate_normal="tachycardia"), 20),
    _Analyte("respiratory rate", r"\b(?:respiratory rate|respiration rate|rr|breathing rate)\b",
             _range(10, 22, "bradypnea", "tachypnea"), 20),
    _Analyte("oxygen saturation",
             r"\b(?:spo2|sao2|o2 sat(?:uration)?|oxygen saturation|pulse oximetry|saturating|sats)\b",
             _range(94, None, "hypoxemia", "", negate_normal="hypoxemia"), 25),
    _Analyte("hemoglobin", r"\b(?:hemoglobin|haemoglobin|hgb|hb)\b",
             _range(11.5, 18.0, "anemia", "polycythemia", scale=lambda v, u: v / 10 if v > 30 else v), 25),
    _Analyte("hematocrit", r"\b(?:hematocrit|haematocrit|hct)\b", _range(34, 54, "anemia", "polycythemia"), 20),
    _Analyte("white cells", r"\b(?:wbc|white (?:blood )?cell count|leukocyte count|leukocytes|white cell count|"
                            r"white blood cells)\b",
             _range(4.0, 11.0, "leukopenia", "leukocytosis", scale=_per_thousand), 25),
    _Analyte("platelets", r"\b(?:platelet count|platelets|plt)\b",
             _range(150, 450, "thrombocytopenia", "thrombocytosis", scale=_per_thousand), 25),
    _Analyte("mcv", r"\b(?:mcv|mean corpuscular volume)\b", _range(80, 100, "microcytosis", "macrocytosis"), 20),
    _Analyte("sodium", r"\b(?:sodium\b|na\+(?=[\s:=]|$)|na\b)", _range(135, 145, "hyponatremia", "hypernatremia"), 15),
    _Analyte("potassium", r"\b(?:potassium\b|k\+(?=[\s:=]|$)|k\b)",
             _range(3.5, 5.1, "hypokalemia", "hyperkalemia"), 15),
    _Analyte("bicarbonate", r"\b(?:bicarbonate|hco3-?|bicarb)\b",
             _range(22, 29, "low bicarbonate metabolic acidosis", "high bicarbonate metabolic alkalosis"), 15),
    _Analyte("calcium", r"\b(?:calcium|ca2?\+?)\b(?!\s+score)",
             _range(8.5, 10.5, "hypocalcemia", "hypercalcemia", scale=lambda v, u: v * 4 if v < 4 else v), 15),
    _Analyte("glucose", r"\b(?:glucose|blood sugar|glycemia)\b",
             _range(65, 140, "hypoglycemia", "hyperglycemia",
                    scale=lambda v, u: v * 18 if ("mmol" in u or v < 35) else v), 30),
    _Analyte("creatinine", r"\b(?:creatinine|cr)\b",
             _range(None, 1.3, "", "elevated creatinine renal impairment",
                    scale=lambda v, u: v / 88.4 if ("mol" in u or v > 20) else v), 20),
    _Analyte("urea", r"\b(?:bun|blood urea nitrogen|urea)\b", _range(None, 25, "", "elevated urea"), 20),
    _Analyte("bilirubin", r"\b(?:total bilirubin|bilirubin total|bilirubin,? total|bilirubin)\b",
             _range(None, 1.3, "", "hyperbilirubinemia elevated bilirubin",
                    scale=lambda v, u: v / 17.1 if ("mol" in u or v > 40) else v), 25),
    _Analyte("transaminases", r"\b(?:alt|ast|alanine aminotransferase|aspartate aminotransferase|sgpt|sgot)\b",
             _range(None, 50, "", "elevated liver enzymes transaminases"), 20),
    _Analyte("alkaline phosphatase", r"\b(?:alkaline phosphatase|alp)\b",
             _range(None, 130, "", "elevated alkaline phosphatase"), 20),
    _Analyte("ldh", r"\b(?:lactate dehydrogenase|ldh)\b", _range(None, 280, "", "elevated ldh"), 20),
    _Analyte("crp", r"\b(?:c-reactive protein|crp)\b",
             _range(None, 10, "", "elevated crp inflammation", scale=lambda v, u: v * 10 if "dl" in u else v), 20),
    _Analyte("esr", r"\b(?:esr|erythrocyte sedimentation rate|sed rate)\b", _range(None, 30, "", "elevated esr"), 25),
    _Analyte("tsh", r"\b(?:tsh|thyroid[- ]stimulating hormone)\b", _range(0.3, 5.0, "low tsh", "elevated tsh"), 20),
    _Analyte("lipase", r"\b(?:lipase)\b", _range(None, 180, "", "elevated lipase"), 20),
    _Analyte("amylase", r"\b(?:amylase)\b", _range(None, 300, "", "elevated amylase"), 20),
    _Analyte("creatine kinase", r"\b(?:creatine kinase|creatine phosphokinase|ck|cpk)\b",
             _range(None, 400, "", "elevated creatine kinase"), 20),
    _Analyte("albumin", r"\b(?:albumin)\b",
             _range(3.4, None, "hypoalbuminemia", "", scale=lambda v, u: v / 10 if v > 10 else v), 15),
    _Analyte("ferritin", r"\b(?:ferritin)\b", _range(15, 500, "low ferritin iron deficiency", "elevated ferritin"), 20),
    # Blood pH lives in 6.8-7.8; a pH of 6.0 or 4.2 is a urine's or a vagina's, whatever the context says.
    _Analyte("ph", r"\b(?:ph)\b", lambda v, u: _range(7.35, 7.45, "acidosis", "alkalosis")(v, u)
             if 6.8 <= v <= 7.8 else [], 10),
    _Analyte("pco2", r"\b(?:pa?co2)\b", _range(33, 47, "hypocapnia", "hypercapnia"), 12),
    _Analyte("po2", r"\b(?:pa?o2)\b", _range(75, None, "hypoxemia", ""), 12),
    _Analyte("inr", r"\b(?:inr)\b", _range(None, 1.3, "", "prolonged inr coagulopathy"), 12),
    _Analyte("lymphocytes", r"\b(?:absolute lymphocyte count|lymphocyte count|lymphocytes)\b", _lymphocytes, 20),
    _Analyte("eosinophils", r"\b(?:eosinophils|eosinophil count)\b",
             _range(None, 7, "", "eosinophilia", scale=lambda v, u: v / 100 if v > 100 else v), 20),
    _Analyte("hba1c", r"\b(?:hba1c|hemoglobin a1c|a1c|glycated hemoglobin)\b",
             _range(None, 6.4, "", "elevated hba1c hyperglycemia"), 20),
    # Spirometry: a ratio below 0.7 is airflow obstruction; "41%" and "0.41" are the same ratio.
    _Analyte("fev1/fvc", r"\b(?:fev1\s*/\s*fvc|fev1:fvc)(?: ratio)?",
             _range(0.7, None, "obstructive pattern airflow obstruction", "",
                    scale=lambda v, u: v / 100 if v > 1.5 else v), 20),
    _Analyte("dlco", r"\b(?:dlco|diffusing capacity(?: for carbon monoxide)?)\b",
             _range(75, None, "reduced diffusing capacity", "", scale=lambda v, u: v * 100 if v <= 1.5 else v), 25),
    _Analyte("bmi", r"\b(?:bmi|body mass index)\b", _range(18.5, 30, "underweight", "obesity"), 15),
    _Analyte("troponin", r"\b(?:hs-?troponin|high[- ]sensitivity troponin|troponin(?: [it])?|ctn[it])\b",
             _troponin, 25),
    _Analyte("bnp", r"\b(?:nt-?probnp|bnp|brain natriuretic peptide)\b",
             _range(None, 300, "", "elevated bnp natriuretic peptide"), 20),
    _Analyte("d-dimer", r"\b(?:d-?dimer)\b",
             _range(None, 0.5, "", "elevated d-dimer", scale=lambda v, u: v / 1000 if v > 20 else v), 20),
    _Analyte("lactate", r"\b(?:lactate|lactic acid)\b", _range(None, 2.2, "", "elevated lactate"), 15),
    _Analyte("ammonia", r"\b(?:ammonia|nh3)\b", _range(None, 60, "", "hyperammonemia elevated ammonia"), 15),
    _Analyte("free t4", r"\b(?:free t4|ft4|free thyroxine|thyroxine|t4)\b",
             _range(0.8, 1.9, "low free t4", "elevated free t4", scale=lambda v, u: v / 12.9 if v > 6 else v), 20),
    _Analyte("pth", r"\b(?:pth|parathyroid hormone|parathormone)\b",
             _range(12, 70, "low parathyroid hormone", "elevated parathyroid hormone"), 20),
    _Analyte("uric acid", r"\b(?:uric acid|urate)\b",
             _range(None, 7.5, "", "hyperuricemia", scale=lambda v, u: v / 59.5 if v > 30 else v), 15),
    _Analyte("procalcitonin", r"\b(?:procalcitonin|pct)\b", _range(None, 0.5, "", "elevated procalcitonin"), 15),
    _Analyte("qtc", r"\b(?:qtc|corrected qt|qt interval)\b", _range(None, 480, "", "prolonged qt interval"), 15),
    _Analyte("magnesium", r"\b(?:magnesium|mg2\+)\b",
             _range(1.6, 2.7, "hypomagnesemia", "hypermagnesemia", scale=lambda v, u: v * 2.43 if v < 1.3 else v), 15),
    _Analyte("phosphate", r"\b(?:phosphate|phosphorus)\b",
             _range(2.4, 4.8, "hypophosphatemia", "hyperphosphatemia", scale=lambda v, u: v * 3.1 if v < 2 else v), 15),
    _Analyte("anion gap", r"\b(?:anion gap)\b", _range(None, 16, "", "high anion gap metabolic acidosis"), 12),
    _Analyte("osmolal gap", r"\b(?:osmolal gap|osmolar gap)\b", _range(None, 10, "", "elevated osmolal gap"), 12),
    _Analyte("serum osmolality", r"\b(?:serum osmolality|plasma osmolality|osmolality)\b",
             _range(275, 300, "hypoosmolality", "hyperosmolality"), 15),
    _Analyte("beta-hcg", r"\b(?:beta-?hcg|b-?hcg|hcg|human chorionic gonadotropin)\b",
             _range(None, 5, "", "positive pregnancy test elevated hcg"), 20),
    _Analyte("psa", r"\b(?:psa|prostate[- ]specific antigen)\b", _range(None, 4.0, "", "elevated psa"), 15),
    _Analyte("afp", r"\b(?:afp|alpha-?fetoprotein)\b", _range(None, 10, "", "elevated alpha-fetoprotein"), 15),
    _Analyte("ca-125", r"\b(?:ca-?125)\b", _range(None, 35, "", "elevated ca-125"), 12),
    _Analyte("cea", r"\b(?:cea|carcinoembryonic antigen)\b", _range(None, 5, "", "elevated cea"), 12),
    # mmol/L values are converted (cholesterol x 38.7, triglycerides x 88.6)
    _Analyte("total cholesterol", r"\b(?:total cholesterol|cholesterol(?:,? total)?|serum cholesterol)\b",
             _range(None, 240, "", "hypercholesterolemia high cholesterol",
                    scale=lambda v, u: v * 38.7 if ("mmol" in u or v < 25) else v), 20),
    _Analyte("ldl", r"\b(?:ldl(?: cholesterol|-c)?|low-density lipoprotein)\b",
             _range(None, 160, "", "elevated ldl cholesterol",
                    scale=lambda v, u: v * 38.7 if ("mmol" in u or v < 25) else v), 20),
    _Analyte("triglycerides", r"\b(?:triglycerides?|tg)\b",
             _range(None, 500, "", "hypertriglyceridemia high triglycerides",
                    scale=lambda v, u: v * 88.6 if ("mmol" in u or v < 20) else v), 20),
    _Analyte("chloride", r"\b(?:chloride|cl-?)\b", _range(96, 108, "hypochloremia", "hyperchloremia"), 12),
    _Analyte("ggt", r"\b(?:ggt|gamma-?glutamyl transferase)\b", _range(None, 60, "", "elevated ggt"), 15),
    _Analyte("haptoglobin", r"\b(?:haptoglobin)\b", _range(30, None, "low haptoglobin hemolysis", ""), 15),
    _Analyte("reticulocytes", r"\b(?:reticulocytes?|reticulocyte count|retic)\b",
             _range(None, 2.5, "", "reticulocytosis"), 15),
    _Analyte("fibrinogen", r"\b(?:fibrinogen)\b",
             _range(150, None, "low fibrinogen", "", scale=lambda v, u: v * 100 if ("g/l" in u or v < 15) else v), 15),
    _Analyte("pt", r"\b(?:prothrombin time|pt)\b", _range(None, 14.5, "", "prolonged prothrombin time"), 12),
    _Analyte("ptt", r"\b(?:aptt|ptt|partial thromboplastin time)\b", _range(None, 40, "", "prolonged ptt"), 12),
    _Analyte("vitamin b12", r"\b(?:vitamin b12|b12|cobalamin)\b", _range(200, None, "low vitamin b12", ""), 15),
    _Analyte("carboxyhemoglobin", r"\b(?:carboxyhemoglobin|cohb|carboxyhaemoglobin)\b",
             _range(None, 5, "", "elevated carboxyhemoglobin"), 15),
    _Analyte("methemoglobin", r"\b(?:methemoglobin|methaemoglobin|methb)\b",
             _range(None, 2, "", "methemoglobinemia"), 15),
    _Analyte("lithium", r"\b(?:lithium level|serum lithium|lithium)\b",
             _range(None, 1.2, "", "elevated lithium level"), 15),
    _Analyte("digoxin", r"\b(?:digoxin level|digoxin)\b", _range(None, 2.0, "", "elevated digoxin level"), 15),
    _Analyte("salicylate", r"\b(?:salicylate|aspirin level)\b", _range(None, 30, "", "elevated salicylate level"), 15),
    _Analyte("acetaminophen", r"\b(?:acetaminophen|paracetamol)(?: level)?\b",
             _range(None, 20, "", "elevated acetaminophen level"), 20),
    _Analyte("ethanol", r"\b(?:blood alcohol|serum ethanol|ethanol|bac)\b",
             _range(None, 80, "", "alcohol intoxication elevated blood alcohol"), 20),
)
_COMPILED = [(a, re.compile(a.pattern, re.IGNORECASE)) for a in _ANALYTES]

#: Body fluids other than blood, by the words that name them (a test's name or the words before a value).
_SPECIMENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("csf", re.compile(r"\b(?:csf|cerebrospinal|spinal fluid|lumbar puncture)\b", re.I)),
    ("urine", re.compile(r"\b(?:urine|urinary|urinalysis|ua)\b", re.I)),
    ("other", re.compile(r"\b(?:synovial|joint fluid|joint aspirate|arthrocentesis|pleural|thoracentesis|ascitic|"
                         r"ascites|peritoneal|paracentesis|vaginal|stool|fecal|faecal|sweat|gastric|sputum|amniotic|"
                         r"bronchoalveolar|aqueous|vitreous|saliva\w*|body fluid)\b", re.I)),
)
_BLOOD = re.compile(r"\b(?:serum|plasma|blood|venous|arterial|capillary)\b", re.I)
# Where a value's own description starts: a sentence or a semicolon-separated item.
_ITEM_START = re.compile(r"(?:[;\n]|\.\s)[^;\n]*$")


def _specimen_of(text: str) -> str:
    """The body fluid ``text`` names last ("csf", "urine", "other"), "blood" when it names blood, "" if none."""
    best, where = "", -1
    for name, rx in (*_SPECIMENS, ("blood", _BLOOD)):
        for m in rx.finditer(text):
            if m.start() > where:
                best, where = name, m.start()
    return best


def _specimen_at(text: str, pos: int, default: str) -> str:
    """The specimen of the value at ``pos``, else ``default``.

    The fluid is named in the value's own comma-separated item ("urine sodium 20") or in a label
    that opens its sentence ("CSF: WBC 250, glucose 25"); "Na 128, urine osmolality 100, glucose
    300" keeps the glucose a blood value.
    """
    item = _ITEM_START.search(text[:pos])
    before = text[item.start() if item else 0: pos]
    label = before.split(":", 1)[0] if ":" in before else ""
    return _specimen_of(before[before.rfind(",") + 1:]) or _specimen_of(label) or default


def _csf(analyte: str, value: float) -> list[str]:
    """What a CSF value means, read against CSF limits (cells per microlitre, glucose in mg/dL)."""
    if analyte == "white cells":
        return ["csf pleocytosis"] if value > 5 else []
    if analyte == "glucose":
        return ["low csf glucose"] if value < 40 else []
    return []


_CSF_PROTEIN = re.compile(r"\bprotein\W{0,6}" + _NUM + r"\s*(mg/dl|g/l)?", re.I)
_BP = re.compile(r"\b(?:blood pressure|bp)\b", re.IGNORECASE)
_URINE_RBC = re.compile(r"\b(?:rbcs?|red blood cells|erythrocytes)\W{0,15}(\d+)(?:\s*[-–]\s*\d+)?\s*/\s*hpf", re.I)
_URINE_WBC = re.compile(r"\b(?:wbcs?|white blood cells|leukocytes)\W{0,15}(\d+)(?:\s*[-–]\s*\d+)?\s*/\s*hpf", re.I)
_URINE_PROTEIN = re.compile(r"\b(?:urine |urinary )?protein\W{0,6}(?:[1-4]\s*\+|\+{1,4}|positive|trace)", re.I)
_UNIT = re.compile(r"\s*((?:x\s*10\^?\d+/l)|[a-zμµ/%^0-9.]*)", re.IGNORECASE)


_PART_OF_RATIO = re.compile(r"\s*(?:/|ratio\b|index\b|clearance\b|gradient\b)", re.I)
# "vitamin B12 normal, 25-OH vitamin D 31": the result is the word; the next number is another test's.
_WORD_RESULT = re.compile(r"[\s:=(),-]*(?:normal|low|high|elevated|raised|reduced|decreased|increased|negative|"
                          r"positive|unremarkable|within|not)\b", re.I)


# Tumour markers named "CA" plus a number: "CA-125 15 U/mL" is not a calcium of 125.
_CA_MARKER = re.compile(r"\bca[- ]?(?:19-9|125|15-3|27[.-]29|72-4|242|50)\b", re.I)


def read_values(text: str, context: str = "") -> list[LabFinding]:
    """Every recognised value in ``text`` with its meaning (first occurrence of each analyte).

    ``context`` names where the text comes from (a test's name, "CSF analysis"). A value in a body
    fluid other than blood, by the words before it or else by the context, is not a blood value: a
    urine sodium of 20 is no hyponatremia. CSF cells, protein and glucose are read against CSF limits.
    """
    out: list[LabFinding] = []
    seen: set[str] = set()
    text = _CA_MARKER.sub("tumour marker", text)
    default = _specimen_of(context) if context else ""
    for m in _BP.finditer(text):
        for phrase, neg, abn in _bp(text[m.end(): m.end() + 25]):
            if "blood pressure" not in seen:
                seen.add("blood pressure")
                out.append(LabFinding(analyte="blood pressure", value=0.0, text=phrase, negated=neg, abnormal=abn))
    for analyte, rx in _COMPILED:
        if analyte.name in seen:
            continue
        for m in rx.finditer(text):
            tail = text[m.end(): m.end() + analyte.window]
            if _PART_OF_RATIO.match(tail) or _WORD_RESULT.match(tail) or text[max(0, m.start() - 1): m.start()] == "/":
                # "albumin/creatinine ratio 8 mg/g" is not a creatinine of 8
                continue
            # The number must follow the name closely: "Hemoglobin: 8.2 g/dL", "HR 110", "WBC count of 14,000".
            nm = re.match(r"[\s:=(),-]*(?:[A-Za-z]+[\s:=(),-]+){0,2}?" + _NUM, tail)
            if nm is None:
                continue
            try:
                value = float(nm.group(1).replace(",", ""))
            except ValueError:
                continue
            unit_m = _UNIT.match(tail[nm.end():])
            unit = unit_m.group(1).lower() if unit_m else ""
            specimen = _specimen_at(text, m.start(), default)
            if specimen in ("csf", "urine", "other"):
                # not a blood value; a later mention of the analyte may be ("urine sodium 10, serum sodium 128")
                for phrase in (_csf(analyte.name, value) if specimen == "csf" else []):
                    out.append(LabFinding(analyte=f"csf {analyte.name}", value=value, text=phrase))
                continue
            for phrase, neg, abn in analyte.rule(value, unit):
                out.append(LabFinding(analyte=analyte.name, value=value, text=phrase, negated=neg, abnormal=abn))
            seen.add(analyte.name)
            break
    for rx, word in ((_URINE_RBC, "hematuria"), (_URINE_WBC, "pyuria")):
        m = rx.search(text)
        if m and float(m.group(1)) >= 5:
            out.append(LabFinding(analyte=word, value=float(m.group(1)), text=word))
    if _URINE_PROTEIN.search(text):
        out.append(LabFinding(analyte="proteinuria", value=1.0, text="proteinuria"))
    m = _CSF_PROTEIN.search(text)
    if m is not None and _specimen_at(text, m.start(), default) == "csf":
        value = float(m.group(1).replace(",", ""))
        if (value * 100 if (m.group(2) or "").lower() == "g/l" else value) > 45:
            out.append(LabFinding(analyte="csf protein", value=value, text="elevated csf protein"))
    return out


def states_value(text: str) -> bool:
    """True when ``text`` is a measurement ("glucose 5.2 mmol/L", "HR 72/min", "BP 130/80")."""
    if _BP.search(text) and re.search(r"\d{2,3}\s*/\s*\d{2,3}", text):
        return True
    for _analyte, rx in _COMPILED:
        for m in rx.finditer(text):
            tail = text[m.end(): m.end() + 30]
            if re.match(r"[\s:=(),-]*(?:[A-Za-z]+[\s:=(),-]+){0,2}?" + _NUM, tail):
                return True
    return False


# Not a number of a name ("PHQ-9", "COVID-19") nor an ordinal ("2nd toe", "10th percentile"); a grade
# "2/6" is one number (a blood pressure "170/92" is not).
_NUMBER = re.compile(r"(?<![a-z\d])(?<![a-z]-)\d+(?:[.,]\d+)*(?:/(?:10|[1-9])(?![\d.]))?(?:\s*[-–]\s*\d+(?:\.\d+)?)?"
                     r"(?!\d|st\b|nd\b|rd\b|th\b)")
_DESCRIPTIVE_UNIT = re.compile(
    r"^\s*(?:-\s*)?(?:hours?|hrs?|days?|weeks?|wks?|months?|years?|yrs?|minutes?|mins?|times?|episodes?|"
    r"cm|mm|centimet\w*|millimet\w*|inch\w*|kg|lbs?|pounds?|packs?|pack-years?|cigarettes?|drinks?|"
    r"beers?|glasses?|units? of alcohol|of \d+|out of \d+|/10|x\b|-year|-day|-week|-month|-hour|year-old|"
    r"years? old|children|pregnanc\w*|weeks? of gestation|floors?|flights?|blocks?|stairs?|steps?|meters?|"
    r"miles?|days? ago|weeks? ago|seconds?|secs?|[ap]m|o'clock)(?![a-z])", re.I)
_QUALITATIVE = re.compile(
    r"\b(high|higher|low|lower|elevat\w*|raised|increas\w*|decreas\w*|reduc\w*|positive|abnormal|"
    r"prolong\w*|markedly|severe\w*|mild\w*|moderate\w*|deficien\w*|excess\w*|detected|present|"
    r"dilat\w*|enlarg\w*|thicken\w*|narrow\w*|mass|lesion|nodul\w*|"
    # a sign named with its reading ("tachycardic to 130", "hypoxic to 85%") states the sign
    r"tachycard\w*|bradycard\w*|tachypn\w*|bradypn\w*|hypotens\w*|hypertens\w*|hypox\w*|febrile|afebrile|"
    r"hypotherm\w*|hypertherm\w*|desaturat\w*|irregular\w*)\b", re.I)


_NAMING_WORDS = frozenset("""type types grade stage class phase lead leads trisomy chromosome factor hla-b hla
    age aged cn nerve nerves level vertebra vertebrae segment segments part parts gravida para g p c l t s v""".split())


def is_bare_measurement(text: str) -> bool:
    """True for a number that only reports a value ("serum osmolality 288 mOsm/kg", "osmolar gap 6").

    Such text asserts no finding in words; a duration, a size or a count ("fever for 3 days",
    "2.5-cm mass", "20 pack-years") does, as does any qualifying word ("elevated LDH 900").
    """
    if _QUALITATIVE.search(text):
        return False
    for m in _NUMBER.finditer(text):
        before = text[: m.start()].rstrip(" -").lower().split()
        if before and before[-1] in _NAMING_WORDS:
            continue  # "type 2 diabetes", "stage 3", "trisomy 21", "lead V2"
        if before[-2:] in (["age", "of"], ["out", "of"]) or m.group().endswith("/10"):
            continue  # "died at the age of 84", "pain 8/10", "8 out of 10": an age or a score
        if not _DESCRIPTIVE_UNIT.match(text[m.end():]):
            return True
    return False
