"""Words that suggest a GDPR Art. 9 special category of personal data.

An interest called "Diabetes care" or a topic called "Pride month" turns a
preference into sensitive data: ticking it says something about the person's
health or sexual orientation. Art. 9 allows processing such data only on explicit
consent and with extra care, so a center that offers one must be reviewed by a
human. This module is the safety net that asks for that review; it is not a
classifier, and `special_category_reviewed = true` silences it once the review is
done.

Matching works on words, not substrings, after folding case and accents, so
"Santé", "SANTE" and "sante" match while "wealth" and "unhealthy" do not. Each
keyword is a word or phrase in folded form, where ``*`` stands for any word
characters: ``medic*`` matches "médical" and "medicine", ``*gesundheit*`` matches
"Kindergesundheitsvorsorge", and ``trade union*`` matches "trade-union
membership". Every language's list is matched against every text: a label in the
``fr`` slot may well be written in English, and ids carry no language.

Keywords known to catch innocent words are left out on purpose and noted here,
so nobody adds them back: "race" (running races), "dna" ("our brand DNA"),
"union" (European Union), "rasse" (dog breeds), "glaube" ("we believe"),
"spiritu*" (German "Spirituosen", spirits), "politi*" (Dutch "politie", police),
"enceinte" (French for a loudspeaker), "soins" (French skincare), "wahl" (German
for choice), "fede" (Italian wedding ring), "bibli*" (Polish "biblioteka").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: What each category is called in messages, in the words of GDPR Art. 9(1).
CATEGORY_NAMES: dict[str, str] = {
    "health": "health data",
    "religion": "religious or philosophical beliefs",
    "politics": "political opinions",
    "ethnic_origin": "racial or ethnic origin",
    "sex_life": "sex life or sexual orientation",
    "trade_union": "trade union membership",
    "genetic": "genetic data",
    "biometric": "biometric data",
}

#: category -> language -> keywords (folded: lower case, no accents).
KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "health": {
        "en": ("health", "healthcare", "medic*", "pharma*", "illness*", "disease*",
               "diabet*", "pregnan*", "maternity", "fertility", "ivf", "hiv", "cancer",
               "oncolog*", "therapy", "therapies", "therapist*", "disabilit*",
               "hospital", "hospitals", "hospitalis*", "hospitaliz*", "clinic", "clinics",
               "clinical", "allerg*",
               "prescription*", "contracepti*", "incontinence", "menopaus*",
               "erectile", "hearing loss", "mental illness*"),
        "fr": ("sante", "medic*", "medecin*", "maladie*", "diabete*", "grossesse*",
               "maternite", "future maman", "futures mamans", "fertilite", "handicap*",
               "hopital", "hopitaux", "clinique*", "therapie*", "ordonnance medicale"),
        "de": ("*gesundheit*", "medizin*", "arzt*", "zahnarzt*", "hausarzt*",
               "apothek*", "krank*", "schwanger*", "umstandsmode", "fruchtbarkeit",
               "behinderung*", "klinik*", "therapie*", "pharmazie*"),
        "es": ("salud", "farmac*", "enfermedad*", "embaraz*", "premama",
               "fertilidad", "discapacidad*", "hospitales", "clinica", "clinicas",
               "terapia*", "alergi*"),
        "it": ("salute", "malatti*", "gravidanza", "premaman", "fertilita",
               "disabilita", "ospedal*", "cliniche", "terapi*"),
        "nl": ("gezondheid*", "*gezondheid*", "medisch*", "medicijn*", "apotheek", "apotheken",
               "ziekte*", "ziekenhuis*", "zwanger*", "handicap*", "therapie*"),
        "pt": ("saude", "doenca*", "gravidez", "gestante*", "fertilidade", "hospitais",
               "deficiencia fisica"),
        "pl": ("zdrowi*", "medyc*", "lekarz*", "leki", "aptek*", "farmaceut*",
               "chorob*", "cukrzyc*", "ciaz*", "szpital*", "niepelnospraw*"),
    },
    "religion": {
        "en": ("religio*", "faith", "faiths", "church", "churches", "mosque*", "synagogue*",
               "prayer*", "bible*", "biblical", "quran", "koran", "torah", "halal",
               "kosher", "christ", "christian*", "muslim*", "islam*", "jewish",
               "judaism", "hindu*", "buddhis*", "sikh*", "catholic*", "protestant*",
               "evangeli*", "spiritual*", "atheis*"),
        "fr": ("religi*", "foi", "eglise*", "mosquee*", "priere*", "coran", "casher",
               "kasher", "chretien*", "musulman*", "juif*", "juive*", "judaisme",
               "hindou*", "bouddhis*", "catholique*", "spirituel*", "spiritualite",
               "athee*", "atheisme"),
        "de": ("kirche", "kirchen", "kirchlich*", "moschee*", "synagoge*", "gebet*",
               "bibel*", "tora", "koscher", "christen*", "christlich*", "jude", "juden",
               "judisch*", "judentum", "katholi*", "spirituell*", "spiritualitat"),
        "es": ("iglesia*", "mezquita*", "sinagoga*", "oracion*", "biblia*", "cristian*",
               "judio*", "judia*", "judaismo", "budis*", "catolic*", "protestante*",
               "espiritual*", "ateo", "atea", "ateismo"),
        "it": ("chiesa", "chiese", "moschea*", "moschee", "sinagog*", "preghier*",
               "bibbia*", "corano", "ebrei*", "ebraic*", "ebreo", "ebrea", "induis*",
               "cattolic*", "spiritualita"),
        "nl": ("geloof*", "kerk", "kerken", "kerkelijk*", "moskee*", "gebed*",
               "bijbel*", "thora", "koosjer", "christelijk*", "christen", "christenen",
               "moslim*", "joods*", "jodendom", "hindoe*", "boeddhis*", "katholiek*",
               "spiritualiteit", "spiritueel", "spirituele"),
        "pt": ("igreja*", "mesquita*", "oracao*", "alcorao", "cristao*", "cristaos",
               "cristianismo", "muculman*", "judeu*", "judaismo", "ateu*", "ateia"),
        "pl": ("wiara", "wiary", "koscio*", "kosciel*", "meczet*", "modlitw*",
               "biblia", "biblii", "biblijn*", "koszern*", "chrzescij*", "muzulman*",
               "zyd*", "judaizm", "buddyzm*", "buddyjsk*", "katolic*", "katolik*",
               "protestanc*", "duchowosc*", "ateizm", "ateist*"),
    },
    "politics": {
        "en": ("politic*", "election*", "electoral*", "activis*", "petition*"),
        "fr": ("politique*", "politicien*", "militant*"),
        "de": ("politik*", "politisch*", "partei*", "wahlkampf*", "bundestagswahl*"),
        "es": ("elecciones", "electoral*", "partido politico*"),
        "it": ("elezion*", "elettoral*", "attivis*"),
        "nl": ("politiek*", "politici", "politicus", "verkiezing*"),
        "pt": ("eleicao", "eleicoes", "eleitora*", "ativis*"),
        "pl": ("polityczn*", "polityk", "politycy"),
    },
    "ethnic_origin": {
        "en": ("racial*", "racism*", "racist*", "ethnic*"),
        "fr": ("raciale*", "racisme", "raciste*", "ethni*"),
        "de": ("rassis*", "ethnisch*", "ethnie*"),
        "es": ("etnic*", "etnia*", "racismo"),
        "it": ("razzial*", "razzis*", "etnic*", "etnia"),
        "nl": ("raciaal", "raciale", "etnisch*", "etniciteit", "racisme"),
        "pt": ("etnic*", "etnia*"),
        "pl": ("etniczn*", "rasizm*", "rasistow*"),
    },
    "sex_life": {
        "en": ("sex", "sexual*", "homosexu*", "heterosexu*", "bisexu*", "transsexu*",
               "sextoy*", "lgbt*", "gay", "gays", "lesbian*", "transgender*", "queer*",
               "erotic*"),
        "fr": ("sexuel*", "sexualite*", "lesbienne*", "transgenre*", "erotique*"),
        "de": ("sexuell*", "sexualitat*", "schwul*", "lesbisch*", "lesbe", "lesben",
               "erotik*", "erotisch*"),
        "es": ("sexo", "gais", "transgenero*"),
        "it": ("sesso", "sessual*", "omosessu*", "bisessu*", "lesbic*"),
        "nl": ("seks", "seksu*", "homoseksu*", "biseksu*", "homo", "lesbienne*"),
        "pt": ("homossexu*", "bissexu*", "lesbica*", "transgener*"),
        "pl": ("seks", "seksualn*", "homoseksu*", "biseksu*", "gej*", "lesbij*",
               "transplciow*", "erotyczn*"),
    },
    "trade_union": {
        "en": ("trade union*", "labor union*", "labour union*", "union member*",
               "unionis*"),
        "fr": ("syndica*",),
        "de": ("*gewerkschaft*",),
        "es": ("sindica*",),
        "it": ("sindacat*", "sindacal*"),
        "nl": ("vakbond*", "*vakbond*"),
        "pt": ("sindica*",),
        "pl": ("zwiaz* zawodow*",),
    },
    "genetic": {
        "en": ("genetic*", "genome*", "genomic*", "dna test*", "dna kit*", "heredit*"),
        "fr": ("genetique*", "genomique*", "test* adn", "hereditaire*"),
        "de": ("genetisch*", "genetik*", "genom*", "dna test*", "erbgut*", "erbkrank*"),
        "es": ("hereditari*", "prueba* de adn"),
        "it": ("ereditari*", "test* del dna"),
        "nl": ("genetica", "genoom*", "erfelijk*"),
        "pt": ("hereditari*", "teste* de dna"),
        "pl": ("genetyczn*", "genetyk*", "dziedziczn*"),
    },
    "biometric": {
        "en": ("biometri*", "fingerprint*", "face id", "facial recognition",
               "face recognition", "iris scan*"),
        "fr": ("empreinte* digitale*", "reconnaissance faciale"),
        "de": ("fingerabdru*", "gesichtserkennung*"),
        "es": ("huella* dactilar*", "huella* digital*", "reconocimiento facial"),
        "it": ("impront* digital*", "riconoscimento facciale"),
        "nl": ("vingerafdruk*", "gezichtsherkenning*"),
        "pt": ("impressao digital", "impressoes digitais", "reconhecimento facial"),
        "pl": ("biometr*", "odcisk* palc*", "rozpoznawani* twarzy"),
    },
}

#: Phrases where a keyword means something harmless. "Politique de
#: confidentialité", "política de privacidad": in French, Spanish, Italian and
#: Portuguese the word for politics is also the word for a company's policy.
INNOCENT_PHRASES: tuple[str, ...] = (
    "politique d*", "politiques d*", "politica d*", "politicas d*", "politica sull*",
    "politica sui", "politica privacy", "politica cookie*",
)

#: Letters that Unicode does not decompose into a base letter plus accent.
_UNDECOMPOSABLE = str.maketrans(
    {"ł": "l", "ø": "o", "œ": "oe", "æ": "ae", "đ": "d", "ħ": "h", "ı": "i", "þ": "th",
     "_": " ", "-": " "}
)


@dataclass(frozen=True)
class Hit:
    """One suspicious word: its category key and the word as written."""

    category: str
    word: str


def fold(text: str) -> str:
    """Lower case without accents, so "Santé" and "SANTE" compare equal.

    Hyphens and underscores become spaces so ids like ``mental-health`` split
    into words.
    """
    return _fold_with_origins(text)[0]


def find_special_categories(text: str) -> list[Hit]:
    """Every special-category keyword in ``text``, in order of appearance."""
    folded, origins = _fold_with_origins(text)
    innocent = [m.span() for m in _INNOCENT.finditer(folded)]
    hits = []
    for category, pattern in _PATTERNS.items():
        for match in pattern.finditer(folded):
            if any(start <= match.start() < end for start, end in innocent):
                continue
            original = text[origins[match.start()] : origins[match.end() - 1] + 1]
            hits.append((match.start(), Hit(category, original)))
    return [hit for _, hit in sorted(hits, key=lambda pair: pair[0])]


def _fold_with_origins(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` and remember, for each folded character, where it came from.

    Folding changes lengths ("ß" becomes "ss", "é" loses its accent), and the
    message should quote the word as the author wrote it.
    """
    chars: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        decomposed = unicodedata.normalize("NFKD", char.casefold().translate(_UNDECOMPOSABLE))
        for piece in decomposed:
            if not unicodedata.combining(piece):
                chars.append(piece)
                origins.append(index)
    return "".join(chars), origins


def _keyword_regex(keyword: str) -> str:
    """``medic*`` -> ``medic\\w*``; words of a phrase may be split by any separator."""
    words = [re.escape(word).replace(r"\*", r"\w*") for word in keyword.split()]
    return r"\W+".join(words)


def _compile(keywords: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted({_keyword_regex(k) for k in keywords}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


_PATTERNS: dict[str, re.Pattern[str]] = {
    category: _compile([k for words in languages.values() for k in words])
    for category, languages in KEYWORDS.items()
}
_INNOCENT = _compile(INNOCENT_PHRASES)
