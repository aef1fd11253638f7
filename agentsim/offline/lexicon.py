"""Small clinical vocabulary for the offline engine: lay/medical synonyms, abbreviations, negation cues.

The bundled sentence embedder (all-MiniLM-L6-v2) is a general-English model: it scores
"shortness of breath" and "dyspnea" at about 0.4 cosine, below "nausea" and "vomiting" (0.77).
Rewriting both the knowledge base and incoming text to one canonical term per concept before
matching fixes the commonest misses. Everything here is general clinical vocabulary written by
the team; nothing is specific to a case.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Synonym groups, canonical term first. Matching is on whole words, case-insensitive, longest first.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("dyspnea", "shortness of breath", "short of breath", "breathlessness", "breathless", "difficulty breathing",
     "trouble breathing", "out of breath", "hard to breathe", "hard to catch my breath", "dyspnoea"),
    ("fever", "pyrexia", "high temperature", "febrile", "feverish", "temperature elevation", "running a temperature"),
    ("vomiting", "emesis", "throwing up", "threw up", "throw up", "vomited", "vomit"),
    ("pruritus", "itching", "itchy", "itchiness", "itch", "pruritic"),
    ("syncope", "fainting", "fainted", "passing out", "passed out", "blackout", "fainting spells"),
    ("diaphoresis", "sweating", "sweaty", "sweats", "perspiration"),
    ("hematuria", "blood in urine", "blood in the urine", "bloody urine", "red urine"),
    ("dysuria", "painful urination", "burning on urination", "burning urination", "pain when urinating",
     "pain on urination", "burning when urinating", "pain with urination"),
    ("melena", "black stools", "black stool", "tarry stools", "black tarry stools"),
    ("hematochezia", "blood in stool", "blood in the stool", "bloody stools", "rectal bleeding",
     "bright red blood per rectum"),
    ("hemoptysis", "coughing up blood", "coughing blood", "blood in sputum", "bloody sputum"),
    ("hematemesis", "vomiting blood", "vomited blood", "bloody vomit"),
    ("epistaxis", "nosebleeds", "nosebleed", "nose bleeds", "nose bleeding"),
    ("jaundice", "icterus", "yellowing of the skin", "yellow skin", "yellow eyes", "yellowing of the eyes", "icteric",
     "scleral icterus", "yellowish skin", "yellow discoloration of the skin"),
    ("edema", "oedema", "swelling of the legs", "swollen legs", "swollen ankles", "ankle swelling", "leg swelling",
     "swelling of both legs", "fluid retention"),
    ("arthralgia", "joint pain", "joint pains", "painful joints", "sore joints", "aching joints"),
    ("myalgia", "muscle pain", "muscle aches", "muscle ache", "aching muscles", "sore muscles", "body aches"),
    ("headache", "head pain", "cephalalgia", "head ache", "headaches"),
    # a normal lung sound, not a vesicular rash: the group of one keeps "vesicular" from becoming "vesicles"
    ("vesicular breath sounds",),
    ("dysphagia", "difficulty swallowing", "trouble swallowing", "hard to swallow", "problems swallowing"),
    ("odynophagia", "painful swallowing", "pain on swallowing", "pain when swallowing"),
    ("polyuria", "passing a lot of urine", "urinating a lot", "excessive urination", "large urine volumes"),
    ("polydipsia", "excessive thirst", "always thirsty", "very thirsty", "increased thirst"),
    ("nocturia", "urinating at night", "waking up to urinate", "getting up at night to urinate"),
    ("palpitations", "racing heart", "heart racing", "pounding heart", "fluttering in the chest", "heart pounding",
     "skipped beats", "irregular heartbeat feeling"),
    ("orthopnea", "breathless lying flat", "cannot lie flat", "short of breath when lying down"),
    ("rhinorrhea", "runny nose", "running nose", "nasal discharge"),
    ("fatigue", "tiredness", "tired", "exhaustion", "exhausted", "lethargy", "lethargic", "lack of energy",
     "low energy", "weariness"),
    ("anorexia", "loss of appetite", "poor appetite", "decreased appetite", "reduced appetite", "not hungry",
     "no appetite", "lack of appetite"),
    ("paresthesia", "tingling", "pins and needles", "paresthesias", "paraesthesia"),
    ("numbness", "numb", "loss of sensation", "reduced sensation", "decreased sensation"),
    ("alopecia", "hair loss", "losing hair", "thinning hair", "bald patches"),
    ("erythema", "redness", "reddened", "red skin"),
    ("ecchymosis", "bruising", "bruises", "easy bruising", "ecchymoses"),
    ("tachycardia", "fast heart rate", "rapid heart rate", "rapid pulse", "fast pulse", "heart rate elevated",
     "elevated heart rate", "racing pulse"),
    ("bradycardia", "slow heart rate", "slow pulse"),
    ("hypotension", "low blood pressure", "blood pressure low"),
    ("hypertension", "high blood pressure", "elevated blood pressure", "blood pressure high"),
    ("tachypnea", "rapid breathing", "fast breathing", "breathing fast", "elevated respiratory rate",
     "increased respiratory rate"),
    ("dyspareunia", "painful intercourse", "pain during intercourse", "pain during sex", "painful sex",
     "pain with intercourse", "pain during sexual intercourse"),
    ("amenorrhea", "no periods", "absent periods", "missed periods", "stopped having periods", "absent menses"),
    ("menorrhagia", "heavy periods", "heavy menstrual bleeding", "heavy menses"),
    ("galactorrhea", "milky nipple discharge", "breast milk discharge"),
    ("hirsutism", "excess hair growth", "excessive hair growth", "facial hair"),
    ("abdominal pain", "stomach pain", "belly pain", "tummy pain", "stomach ache", "stomachache",
     "abdominal discomfort", "pain in the abdomen", "pain in my stomach", "bellyache", "tummy ache"),
    ("abdominal distension", "bloated abdomen", "swollen abdomen", "swollen belly", "belly distension",
     "distended abdomen", "abdominal swelling"),
    ("thrombocytopenia", "low platelets", "low platelet count", "platelets low", "decreased platelets"),
    ("thrombocytosis", "high platelet count", "elevated platelets", "raised platelets"),
    ("anemia", "anaemia", "low hemoglobin", "low haemoglobin", "low blood count", "decreased hemoglobin"),
    ("leukocytosis", "high white cell count", "high white blood cell count", "elevated white blood cell count",
     "elevated wbc", "raised white cell count", "high wbc", "elevated white cell count", "elevated leukocyte count"),
    ("leukopenia", "low white cell count", "low white blood cell count", "low wbc"),
    ("hypokalemia", "low potassium", "hypokalaemia"),
    ("hyperkalemia", "high potassium", "hyperkalaemia"),
    ("hyponatremia", "low sodium", "hyponatraemia"),
    ("hypernatremia", "high sodium"),
    ("hypercalcemia", "high calcium", "elevated calcium", "hypercalcaemia"),
    ("hypocalcemia", "low calcium"),
    ("hyperglycemia", "high blood sugar", "high glucose", "elevated glucose", "elevated blood glucose"),
    ("hypoglycemia", "low blood sugar", "low glucose"),
    ("hypoxemia", "low oxygen saturation", "low oxygen", "hypoxia", "desaturation", "low spo2"),
    ("lymphadenopathy", "swollen lymph nodes", "enlarged lymph nodes", "swollen glands", "lymph node enlargement",
     "enlarged nodes"),
    ("splenomegaly", "enlarged spleen", "spleen enlarged", "palpable spleen"),
    ("hepatomegaly", "enlarged liver", "liver enlarged", "palpable liver"),
    ("seizure", "seizures", "convulsion", "convulsions"),
    ("vertigo", "room spinning", "spinning sensation", "the room is spinning"),
    ("dizziness", "dizzy", "lightheadedness", "light-headedness", "lightheaded", "light-headed"),
    ("tinnitus", "ringing in the ears", "ringing in my ears", "buzzing in the ears"),
    ("hearing loss", "deafness", "reduced hearing", "difficulty hearing", "hard of hearing", "decreased hearing"),
    ("diplopia", "double vision", "seeing double"),
    ("blurred vision", "blurry vision", "blurring of vision", "vision blurred"),
    ("photophobia", "sensitivity to light", "light sensitivity", "light hurts my eyes"),
    ("constipation", "constipated", "hard stools", "infrequent bowel movements"),
    ("diarrhea", "diarrhoea", "loose stools", "watery stools", "runny stools"),
    ("urinary frequency", "frequent urination", "urinating often", "passing urine often", "frequency of urination"),
    ("urinary urgency", "urgency", "urgent need to urinate"),
    ("weight loss", "losing weight", "lost weight", "weight has dropped", "unintentional weight loss"),
    ("weight gain", "gaining weight", "gained weight", "put on weight"),
    ("cough", "coughing"),
    ("wheezing", "wheeze", "wheezy"),
    ("chills", "rigors", "shivering", "shivery", "shivers"),
    ("night sweats", "sweating at night", "drenching sweats"),
    ("insomnia", "trouble sleeping", "difficulty sleeping", "can't sleep", "cannot sleep", "sleeplessness"),
    ("confusion", "confused", "disorientation", "disoriented", "altered mental status", "altered mentation"),
    ("hemiparesis", "weakness on one side", "one-sided weakness", "weakness of one side"),
    ("dysarthria", "slurred speech", "slurring of speech", "speech slurred"),
    ("ataxia", "unsteady gait", "unsteadiness", "poor balance", "loss of balance", "clumsiness"),
    ("tremor", "shaking hands", "shaky hands", "trembling"),
    ("cyanosis", "blue lips", "bluish skin", "blue skin", "bluish discoloration"),
    ("pallor", "pale skin", "paleness", "pale complexion"),
    ("urticaria", "hives", "wheals"),
    ("smoker", "smoking history", "smokes", "tobacco use", "cigarette smoking", "smoking", "smoked"),
    ("alcohol use", "drinks alcohol", "alcohol consumption", "drinking alcohol"),
    ("heavy alcohol use", "alcoholism", "alcohol abuse", "alcohol use disorder", "heavy drinking", "drinks heavily"),
    ("injection drug use", "intravenous drug use", "iv drug use", "injects drugs"),
    ("pregnant", "pregnancy", "gestation", "primigravid", "gravid"),
    ("chest pain", "chest discomfort", "pain in the chest", "pain in my chest"),
    ("back pain", "backache", "pain in the back", "pain in my back"),
    ("sore throat", "throat pain", "painful throat", "pharyngitis symptoms"),
    ("ear pain", "otalgia", "earache"),
    ("nasal congestion", "blocked nose", "stuffy nose", "congested nose"),
    ("muscle weakness", "weak muscles", "proximal weakness"),
    ("weakness", "feeling weak", "generalised weakness", "generalized weakness"),
    ("malaise", "feeling unwell", "generally unwell"),
    ("hoarseness", "hoarse voice", "hoarse"),
    ("clubbing", "finger clubbing", "digital clubbing", "clubbed fingers"),
    ("petechiae", "petechial rash", "pinpoint red spots", "petechia"),
    ("rash", "skin rash", "exanthem"),
    ("hypopigmentation", "hypopigmented", "depigmented", "depigmentation", "loss of pigment", "loss of skin color",
     "lighter skin", "skin lightening", "pale patches"),
    ("hyperpigmentation", "hyperpigmented", "darkening of the skin", "darkened skin", "skin darkening",
     "dark patches"),
    ("vesicles", "vesicle", "vesicular", "small blisters", "fluid-filled blisters", "blisters", "blister"),
    ("bullae", "bulla", "bullous", "large blisters", "tense blisters"),
    ("papules", "papule", "bumps", "small bumps", "raised bumps", "raised spots"),
    ("macules", "macule", "flat spots", "flat patches"),
    ("nodules", "nodule", "lumps under the skin"),
    ("pustules", "pustule", "pus-filled bumps", "pus bumps"),
    ("umbilicated", "umbilication", "central dimple", "central umbilication", "dimpled center"),
    ("scaling", "scaly", "scale", "scales", "flaking", "flaky skin", "desquamation"),
    ("lymphocytosis", "high lymphocyte count", "elevated lymphocytes", "elevated lymphocyte count"),
    ("older adult", "elderly", "old age", "older age", "aged over 65", "senior"),
)

#: Upper-case abbreviations, expanded only when written in capitals (so "sob" the word is untouched).
ABBREVIATIONS: dict[str, str] = {
    "SOB": "shortness of breath", "DOE": "dyspnea on exertion", "PND": "paroxysmal nocturnal dyspnea",
    "CP": "chest pain", "N/V": "nausea and vomiting", "LOC": "loss of consciousness", "HA": "headache",
    "RUQ": "right upper quadrant", "RLQ": "right lower quadrant", "LUQ": "left upper quadrant",
    "LLQ": "left lower quadrant", "URI": "upper respiratory infection", "UTI": "urinary tract infection",
    "BM": "bowel movement", "LMP": "last menstrual period", "JVD": "jugular venous distension",
    "JVP": "jugular venous pressure", "HSM": "hepatosplenomegaly", "LAD": "lymphadenopathy",
    "DVT": "deep vein thrombosis", "MI": "myocardial infarction", "HTN": "hypertension", "DM": "diabetes mellitus",
    "T2DM": "type 2 diabetes mellitus", "T1DM": "type 1 diabetes mellitus", "CKD": "chronic kidney disease",
    "COPD": "chronic obstructive pulmonary disease", "IVDU": "injection drug use", "ETOH": "alcohol",
    "EtOH": "alcohol", "RR": "respiratory rate", "HR": "heart rate", "BP": "blood pressure", "ROM": "range of motion",
}
#: Lower-case shorthand, expanded case-insensitively.
SHORTHAND: dict[str, str] = {
    "h/o": "history of", "c/o": "complains of", "w/o": "without", "w/": "with", "y/o": "year-old",
    "yo": "year-old", "hx": "history", "abd": "abdominal", "b/l": "bilateral", "s/p": "status post",
}

#: Words that open a negated scope covering the rest of the clause list ("denies fever, cough or rash").
PRE_NEGATIONS: tuple[str, ...] = (
    "no evidence of", "no signs of", "no sign of", "no history of", "no complaints of", "no complaint of",
    "negative for", "free of", "low probability for", "low probability of", "absence of", "absent", "denies",
    "denied", "denying", "deny", "without", "no",
    "not", "never", "none", "nor", "neither", "doesn't", "does not", "didn't", "did not", "hasn't", "has not",
    "haven't", "have not", "don't", "do not", "isn't", "is not", "wasn't", "was not", "aren't", "are not",
    "weren't", "were not", "cannot", "can't", "unable to find", "rules out", "ruled out",
)
#: Negation written after the finding ("pulses absent", "Coombs test: negative").
POST_NEGATIONS: tuple[str, ...] = (
    "is negative", "was negative", "were negative", "are negative", "negative", "absent", "not present",
    "not seen", "not found", "not detected", "not identified", "ruled out", "not noted", "not observed", "nil",
    "none", "not palpable", "non-reactive", "nonreactive", "undetectable",
)
#: Phrases that look like negation but are not ("no change", "not only").
PSEUDO_NEGATIONS: tuple[str, ...] = (
    "no change", "not only", "no increase", "not necessarily", "no improvement", "not improved", "not relieved",
    "not responded", "no relief", "without relief", "not resolved", "not helped", "did not help", "does not help",
    "didn't help", "doesn't help", "not go away", "won't go away", "not gone away", "no longer able",
    "gram negative", "gram-negative", "not sure", "cannot remember", "can't remember",
)
#: Words that end a negated scope ("denies fever but reports cough").
SCOPE_ENDS: tuple[str, ...] = (
    "but", "however", "although", "though", "except", "apart from", "aside from", "yet", "while", "whereas",
    "which", "who", "reports", "reported", "complains", "endorses", "presents", "notes", "noted", "has", "had",
    "with", "shows", "showed", "revealed", "reveals", "positive for", "positive",
)


def _group_regex(variants: list[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9]){'(?:' + alts + ')'}(?![a-z0-9])")


@lru_cache(maxsize=1)
def _synonym_table() -> tuple[re.Pattern[str], dict[str, str]]:
    mapping: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        canon = group[0]
        # The canonical term maps to itself so that a longer term is never rewritten inside it
        # ("night sweats" must not become "night diaphoresis").
        for v in group:
            mapping.setdefault(v.lower(), canon)
    return _group_regex(list(mapping)), mapping


def expand_abbreviations(text: str) -> str:
    """Expand capitalised clinical abbreviations and common shorthand ("SOB", "h/o")."""
    for abbr, full in ABBREVIATIONS.items():
        if abbr in text:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(abbr)}(?![A-Za-z0-9])", full, text)
    low = text.lower()
    for short, full in SHORTHAND.items():
        if short in low:
            text = re.sub(rf"(?<![A-Za-z0-9/]){re.escape(short)}(?![A-Za-z0-9])", full, text, flags=re.IGNORECASE)
            low = text.lower()
    return text


def canonicalize(text: str) -> str:
    """Lower-case ``text`` and rewrite synonyms to one canonical term per concept."""
    pattern, mapping = _synonym_table()
    return pattern.sub(lambda m: mapping[m.group(0)], text.lower())
