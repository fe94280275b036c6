"""The CSIRT's vocabularies: TLP 2.0, PAP, RSIT, CNSD, determination, disposition, impact.

Sources (MISP/misp-taxonomies 7591c55, 2026-08-21, and oasis-open/cti-stix-common-objects):

- TLP 2.0 (FIRST, August 2022) as MISP's ``tlp`` taxonomy v10 spells it (``tlp:clear``,
  ``tlp:amber+strict``); ``WHITE`` is TLP 1.0's name for CLEAR.
- PAP as MISP's ``PAP`` taxonomy v3 (``PAP:WHITE`` is the old name of ``PAP:CLEAR``).
- RSIT (Reference Security Incident Taxonomy) v1003: MISP's ``rsit`` machinetag, whose slugs
  are the canonical classification stored on every incident.
- CNSD (Centro Nacional de Seguridad Digital, Perú) taxonomy v20220513: MISP's ``cnsd``
  machinetag (Spanish class names, the CNSD's own value slugs).
- Determination: the OASIS Incident Core Extension (``extension-definition--ef765651-...``),
  newest ``determination`` enum (an older draft had ``confirmed``; it became
  ``successful-attempt``).
- Disposition: MISP's ``incident-disposition`` v2.
- Impact: TheHive's three closing values (with impact, without impact, not applicable).

Every ``check_*`` raises :class:`UsageError` in Spanish naming the bad value and the valid ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from pukara.errors import UsageError
from pukara.text import clean_line

TLP = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
PAP = ("CLEAR", "GREEN", "AMBER", "RED")

# RSIT v1003 (MISP rsit machinetag): class slug -> its type slugs, in the taxonomy's order
RSIT: dict[str, tuple[str, ...]] = {
    "abusive-content": ("spam", "harmful-speech", "violence"),
    "malicious-code": (
        "infected-system", "c2-server", "malware-distribution", "malware-configuration",
    ),
    "information-gathering": ("scanner", "sniffing", "social-engineering"),
    "intrusion-attempts": ("ids-alert", "brute-force", "exploit"),
    "intrusions": (
        "privileged-account-compromise", "unprivileged-account-compromise",
        "application-compromise", "system-compromise", "burglary",
    ),
    "availability": ("dos", "ddos", "misconfiguration", "sabotage", "outage"),
    "information-content-security": (
        "unauthorised-information-access", "unauthorised-information-modification",
        "data-loss", "data-leak",
    ),
    "fraud": ("unauthorised-use-of-resources", "copyright", "masquerade", "phishing"),
    "vulnerable": (
        "weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
        "information-disclosure", "vulnerable-system",
    ),
    "other": ("other", "undetermined"),
    "test": ("test",),
}  # fmt: skip

# Spanish names of the RSIT classes, for people (the slugs stay the data)
RSIT_CLASS_NAMES = {
    "abusive-content": "Contenido abusivo",
    "malicious-code": "Código malicioso",
    "information-gathering": "Recopilación de información",
    "intrusion-attempts": "Intentos de intrusión",
    "intrusions": "Intrusiones",
    "availability": "Disponibilidad",
    "information-content-security": "Seguridad del contenido de la información",
    "fraud": "Fraude",
    "vulnerable": "Vulnerable",
    "other": "Otros",
    "test": "Prueba",
}

# CNSD v20220513 (MISP cnsd machinetag): class (its predicate, Spanish) -> its value slugs
CNSD: dict[str, tuple[str, ...]] = {
    "Contenido abusivo": ("spam", "copyright", "explotacion sexual infantil"),
    "Disponibilidad": ("DoS/DDoS", "sabotaje"),
    "Fraude": ("mal-uso", "repres-falsa"),
    "Fuga de información": ("acc-no-autorizado", "modi-elim-no-autorizada"),
    "Intentos de intrusión": ("explot-vulnerab", "intento-inicio-sesión"),
    "Intrusión": ("explot-extra-vulnerab", "comprometer-cuenta"),
    "Malware": ("infección", "distribución", "c&c", "conexión-maliciosa", "indeterminado"),
    "Recopilación de información": ("scanning", "sniffing", "phishing"),
    "Otros": ("inc-no-listado", "inc-indeter", "APT", "ciberterrorismo", "danos-en-activos"),
}

# The reviewed RSIT -> CNSD map: (rsit class, rsit type) -> (CNSD class, CNSD value or None).
# Where the CNSD lists a value that names the same thing, that value decides the class, even
# when a CNSD class definition reads otherwise; None where the CNSD has no matching value.
# Where the two taxonomies disagree:
# - phishing: RSIT puts it under Fraud; the CNSD lists "phishing" under Recopilación de
#   información (social engineering, in its definition), although its Fraude definition says
#   "suplantación de identidad". Its explicit value wins: Recopilación de información.
# - copyright: RSIT Fraud; the CNSD lists "copyright" under Contenido abusivo (its Fraude
#   definition mentions "violación de derechos de autor"). Explicit value: Contenido abusivo.
# - brute-force: the CNSD's Recopilación de información definition names "ataques de fuerza
#   bruta", but its value "intento-inicio-sesión" (Intentos de intrusión) describes exactly
#   that (guessing passwords, brute force). Explicit value: Intentos de intrusión.
# - vulnerable (a weakness, not an incident) has no CNSD class: Otros / inc-no-listado.
# - outage (power, air conditioning, disaster): the CNSD's "sabotaje" value covers "fuerza
#   mayor" (Disponibilidad).
# - burglary (physical intrusion): no CNSD value; class Intrusión.
# - test: Otros / inc-no-listado (a test is never reported to the CNSD anyway).
# The CNSD's descriptions of scanning, sniffing and phishing are copies of the Malware ones
# (a defect of the published taxonomy); the class definition was used instead.
RSIT_TO_CNSD: dict[tuple[str, str], tuple[str, str | None]] = {
    ("abusive-content", "spam"): ("Contenido abusivo", "spam"),
    ("abusive-content", "harmful-speech"): ("Contenido abusivo", "explotacion sexual infantil"),
    ("abusive-content", "violence"): ("Contenido abusivo", "explotacion sexual infantil"),
    ("malicious-code", "infected-system"): ("Malware", "infección"),
    ("malicious-code", "c2-server"): ("Malware", "c&c"),
    ("malicious-code", "malware-distribution"): ("Malware", "distribución"),
    ("malicious-code", "malware-configuration"): ("Malware", None),
    ("information-gathering", "scanner"): ("Recopilación de información", "scanning"),
    ("information-gathering", "sniffing"): ("Recopilación de información", "sniffing"),
    ("information-gathering", "social-engineering"): ("Recopilación de información", None),
    ("intrusion-attempts", "ids-alert"): ("Intentos de intrusión", None),
    ("intrusion-attempts", "brute-force"): ("Intentos de intrusión", "intento-inicio-sesión"),
    ("intrusion-attempts", "exploit"): ("Intentos de intrusión", "explot-vulnerab"),
    ("intrusions", "privileged-account-compromise"): ("Intrusión", "comprometer-cuenta"),
    ("intrusions", "unprivileged-account-compromise"): ("Intrusión", "comprometer-cuenta"),
    ("intrusions", "application-compromise"): ("Intrusión", "explot-extra-vulnerab"),
    ("intrusions", "system-compromise"): ("Intrusión", "comprometer-cuenta"),
    ("intrusions", "burglary"): ("Intrusión", None),
    ("availability", "dos"): ("Disponibilidad", "DoS/DDoS"),
    ("availability", "ddos"): ("Disponibilidad", "DoS/DDoS"),
    ("availability", "misconfiguration"): ("Disponibilidad", None),
    ("availability", "sabotage"): ("Disponibilidad", "sabotaje"),
    ("availability", "outage"): ("Disponibilidad", "sabotaje"),
    ("information-content-security", "unauthorised-information-access"): (
        "Fuga de información", "acc-no-autorizado",
    ),
    ("information-content-security", "unauthorised-information-modification"): (
        "Fuga de información", "modi-elim-no-autorizada",
    ),
    ("information-content-security", "data-loss"): ("Fuga de información", None),
    ("information-content-security", "data-leak"): ("Fuga de información", None),
    ("fraud", "unauthorised-use-of-resources"): ("Fraude", "mal-uso"),
    ("fraud", "copyright"): ("Contenido abusivo", "copyright"),
    ("fraud", "masquerade"): ("Fraude", "repres-falsa"),
    ("fraud", "phishing"): ("Recopilación de información", "phishing"),
    ("vulnerable", "weak-crypto"): ("Otros", "inc-no-listado"),
    ("vulnerable", "ddos-amplifier"): ("Otros", "inc-no-listado"),
    ("vulnerable", "potentially-unwanted-accessible"): ("Otros", "inc-no-listado"),
    ("vulnerable", "information-disclosure"): ("Otros", "inc-no-listado"),
    ("vulnerable", "vulnerable-system"): ("Otros", "inc-no-listado"),
    ("other", "other"): ("Otros", "inc-no-listado"),
    ("other", "undetermined"): ("Otros", "inc-indeter"),
    ("test", "test"): ("Otros", "inc-no-listado"),
}  # fmt: skip

# OASIS Incident Core Extension, ``determination`` (closed vocabulary)
DETERMINATIONS = (
    "blocked", "failed-attempt", "false-positive", "low-value", "successful-attempt",
    "suspected",
)  # fmt: skip
# MISP incident-disposition v2, as machine tags without the namespace
DISPOSITIONS = (
    "incident:confirmed", "incident:deferred", "incident:unidentified",
    "incident:transferred", "incident:discarded", "incident:silently-discarded",
    "not-an-incident:insufficient-data", "not-an-incident:faulty-indicator",
    "not-an-incident:misconfiguration", "not-an-incident:scan-probe",
    "not-an-incident:failed", "not-an-incident:refuted",
    "duplicate",
)  # fmt: skip
IMPACTS = ("sin_impacto", "con_impacto", "no_aplica")


def _bad(what: str, value: object, valid: Iterable[str]) -> UsageError:
    shown = clean_line(str(value))[:80]
    return UsageError(f"{what}: «{shown}» no es un valor válido; válidos: {', '.join(valid)}.")


def parse_tlp(text: str) -> str:
    """``tlp:amber``, ``Amber``, ``TLP:AMBER+STRICT``, ``white`` (= CLEAR) -> the TLP 2.0 label."""
    value = str(text).strip().upper()
    if value.startswith("TLP:"):
        value = value[4:].strip()
    value = value.replace(" ", "")
    if value == "WHITE":
        value = "CLEAR"
    if value not in TLP:
        raise _bad("TLP", text, TLP)
    return value


def tlp_rank(tlp: str) -> int:
    """0 for CLEAR up to 4 for RED: the higher, the fewer people may see it."""
    return TLP.index(parse_tlp(tlp))


def parse_pap(text: str) -> str:
    """``pap:green``, ``GREEN``, ``white`` (= CLEAR) -> the PAP label."""
    value = str(text).strip().upper()
    if value.startswith("PAP:"):
        value = value[4:].strip()
    if value == "WHITE":
        value = "CLEAR"
    if value not in PAP:
        raise _bad("PAP", text, PAP)
    return value


def pap_rank(pap: str) -> int:
    return PAP.index(parse_pap(pap))


def check_tlp(text: str) -> str:
    return parse_tlp(text)


def check_pap(text: str) -> str:
    return parse_pap(text)


def check_rsit(cls: str, typ: str) -> tuple[str, str]:
    """The canonical (class, type) of RSIT v1003; ``rsit:fraud="phishing"`` spelling and
    upper case are accepted for the class, the type is checked against its class."""
    c = str(cls).strip().lower()
    if c.startswith("rsit:"):
        c = c[5:]
    t = str(typ).strip().lower().strip('"')
    if c not in RSIT:
        raise _bad("Clase RSIT", cls, RSIT)
    if t not in RSIT[c]:
        raise _bad(f"Tipo RSIT de la clase {c}", typ, RSIT[c])
    return c, t


def rsit_class_of(typ: str) -> str:
    """The RSIT class of a type slug (every type belongs to exactly one class)."""
    t = str(typ).strip().lower()
    for cls, types in RSIT.items():
        if t in types:
            return cls
    raise _bad("Tipo RSIT", typ, (x for types in RSIT.values() for x in types))


def cnsd(cls: str, typ: str) -> tuple[str, str | None]:
    """The CNSD (class, value) the reviewed map gives for an RSIT (class, type)."""
    return RSIT_TO_CNSD[check_rsit(cls, typ)]


def cnsd_class(cls: str, typ: str) -> str:
    """The CNSD class (Spanish, as the CNSD names it) of an RSIT (class, type)."""
    return cnsd(cls, typ)[0]


def rsit_tag(cls: str, typ: str) -> str:
    """The MISP machine tag: ``rsit:fraud="phishing"``."""
    c, t = check_rsit(cls, typ)
    return f'rsit:{c}="{t}"'


def cnsd_tag(cls: str, typ: str) -> str:
    """The MISP machine tag of the CNSD class (and value when the CNSD has one):
    ``cnsd:"Recopilación de información"="phishing"``."""
    klass, value = cnsd(cls, typ)
    return f'cnsd:"{klass}"' + (f'="{value}"' if value else "")


def check_determination(value: str) -> str:
    v = str(value).strip().lower()
    if v not in DETERMINATIONS:
        raise _bad("Determinación", value, DETERMINATIONS)
    return v


def check_disposition(value: str) -> str:
    """A MISP incident-disposition; ``incident-disposition:incident="confirmed"`` is accepted."""
    v = str(value).strip().lower()
    if v.startswith("incident-disposition:"):
        v = v[len("incident-disposition:") :]
    v = v.replace('="', ":").rstrip('"')
    if v == "duplicate:duplicate":
        v = "duplicate"
    if v not in DISPOSITIONS:
        raise _bad("Disposición", value, DISPOSITIONS)
    return v


def disposition_tag(value: str) -> str:
    """``incident-disposition:incident="confirmed"``, ``incident-disposition:duplicate``."""
    v = check_disposition(value)
    if ":" not in v:
        return f"incident-disposition:{v}"
    pred, val = v.split(":", 1)
    return f'incident-disposition:{pred}="{val}"'


def check_impact(value: str) -> str:
    v = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if v not in IMPACTS:
        raise _bad("Impacto", value, IMPACTS)
    return v
