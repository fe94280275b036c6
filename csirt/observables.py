"""Observables: typed values parsed and put in one canonical form, never raw pasted text.

``normalize(kind, value)`` returns the form stored and compared (so the same address in two
cases is the same key); anything it cannot parse is an :class:`ObservableError` naming the
value. Choices made here:

- ipv4/ipv6 with :mod:`ipaddress`, strict (``999.1.1.1`` and ``01.2.3.4`` refused); IPv6 in
  its compressed lower-case form; a zone (``fe80::1%eth0``) is refused: it means nothing
  outside the host that saw it.
- cidr: a network whose host bits are set (``198.18.1.5/24``) is REFUSED, naming the network
  it probably meant (turning an IOC into a wider one silently would block more than asked).
  A bare address is its /32 or /128.
- domain/hostname: UTS #46 mapping then IDNA 2008 (the ``idna`` package); stored as the
  ASCII (punycode) form, lower case, without the trailing dot. A domain has two labels at
  least and may carry ``_`` (``_dmarc.example.test``); a hostname may be one label, letters,
  digits and hyphens only. A name whose last label is all digits is not a name.
- url: http, https or ftp, a host that is a valid domain or IP address, a valid port; scheme
  and host normalised, the rest kept as given (no spaces or control characters).
- email: ``local@domain``, the domain as above, the local part kept as given (64 at most).
- md5, sha1, sha256 by their exact hexadecimal length, lower case.
- mac: ``aa:bb:cc:dd:ee:ff`` from colon, hyphen, Cisco dotted or bare forms.
- cve: ``CVE-YYYY-NNNN`` (four digits or more), upper case.
- user and filename: data, kept as given (surrounding spaces trimmed): printable, no control
  characters, 256 and 1024 characters at most.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

from pukara.errors import UsageError
from pukara.text import clean_line

OBSERVABLE_TYPES = (
    "ipv4", "ipv6", "cidr", "domain", "url", "email", "user", "hostname",
    "md5", "sha1", "sha256", "filename", "mac", "cve",
)  # fmt: skip

# what a person reads for each type
TYPE_NAMES = {
    "ipv4": "dirección IPv4",
    "ipv6": "dirección IPv6",
    "cidr": "red (CIDR)",
    "domain": "dominio",
    "url": "URL",
    "email": "correo electrónico",
    "user": "usuario",
    "hostname": "nombre de equipo",
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha256": "SHA-256",
    "filename": "nombre de archivo",
    "mac": "dirección MAC",
    "cve": "CVE",
}

HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
URL_SCHEMES = ("http", "https", "ftp")
MAX_USER = 256
MAX_FILENAME = 1024
MAX_URL = 4096

_HEX = re.compile(r"[0-9a-f]+")
_CVE = re.compile(r"CVE-(\d{4})-(\d{4,})")
_DOMAIN_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_EMAIL_LOCAL_BAD = re.compile(r'[\s<>()\[\]\\,;:"@]')


class ObservableError(UsageError):
    """A value that is not a valid observable of its type (Spanish, naming the value)."""


def _error(kind: str, value: str, reason: str) -> ObservableError:
    shown = clean_line(str(value))[:120]
    name = TYPE_NAMES.get(kind, kind)
    return ObservableError(f"Observable no válido ({name}): «{shown}»: {reason}.")


def check_type(kind: str) -> str:
    k = str(kind).strip().lower().replace(" ", "").replace("_", "")
    k = {"filename": "filename", "file": "filename", "archivo": "filename"}.get(k, k)
    if k not in OBSERVABLE_TYPES:
        shown = clean_line(str(kind))[:40]
        raise ObservableError(
            f"tipo de observable no válido: «{shown}». Tipos válidos: "
            f"{', '.join(OBSERVABLE_TYPES)}."
        )
    return k


def normalize(kind: str, value: str) -> str:
    """The canonical text of ``value`` as an observable of type ``kind``."""
    k = check_type(kind)
    if not isinstance(value, str):
        raise _error(k, str(value), "no es texto")
    text = value.strip()
    if not text:
        raise _error(k, value, "está vacío")
    return _NORMALIZERS[k](k, text)


def _ipv4(kind: str, text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise _error(kind, text, "no es una dirección IPv4 de cuatro números de 0 a 255") from None


def _ipv6(kind: str, text: str) -> str:
    if "%" in text:
        raise _error(kind, text, "lleva una zona (%...), que solo vale en el equipo que la vio")
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        raise _error(kind, text, "no es una dirección IPv6") from None


def _cidr(kind: str, text: str) -> str:
    if "%" in text:
        raise _error(kind, text, "lleva una zona (%...)")
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise _error(kind, text, "no es una red IPv4 o IPv6 con su prefijo") from e
        raise _error(kind, text, f"tiene bits de equipo puestos; ¿quiso decir {loose}?") from e
    return net.compressed


def _labels(kind: str, text: str, host: bool) -> str:
    import idna

    name = text[:-1] if text.endswith(".") else text
    if not name:
        raise _error(kind, text, "está vacío")
    if ".." in name or name.startswith("."):
        raise _error(kind, text, "tiene una etiqueta vacía (dos puntos seguidos)")
    try:
        mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
    except idna.IDNAError as e:  # the library's own words stay in the cause (--debug)
        raise _error(kind, text, f"no es un nombre IDNA válido: {_idna_reason(e)}") from e
    out = [_label(kind, text, label, host) for label in mapped.split(".")]
    result = ".".join(out)
    if len(result) > 253:
        raise _error(kind, text, "pasa de 253 caracteres")
    if out[-1].isdigit():
        raise _error(kind, text, "la última etiqueta es numérica: no es un nombre")
    if not host and len(out) < 2:
        raise _error(kind, text, "un dominio tiene al menos dos etiquetas (ejemplo.test)")
    return result


def _label(kind: str, text: str, label: str, host: bool) -> str:
    """One label of a name, as its ASCII (A-label) form."""
    import idna

    if not label:
        raise _error(kind, text, "tiene una etiqueta vacía")
    try:
        if label.isascii():
            label = label.lower()
            if label.startswith("xn--"):
                idna.decode(label)  # a punycode label must decode to a valid U-label
        else:
            label = idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError) as e:
        raise _error(
            kind, text, f"la etiqueta «{clean_line(label)}» no es IDNA: {_idna_reason(e)}"
        ) from e
    pattern = _HOST_LABEL if host else _DOMAIN_LABEL
    if len(label) > 63 or not pattern.fullmatch(label):
        allowed = "letras, dígitos y guiones" if host else "letras, dígitos, guiones y _"
        raise _error(kind, text, f"la etiqueta «{clean_line(label)}» admite solo {allowed}")
    return label


_CODEPOINT = re.compile(r"U\+[0-9A-F]{4,6}")
# what the idna package says (English) -> what a person reads
_IDNA_REASONS = (
    ("hyphen", "lleva un guion al comienzo o al final, o en la 3.ª y 4.ª posición"),
    ("combining", "empieza con un acento suelto (carácter combinante)"),
    ("too long", "pasa de 63 caracteres"),
    ("empty", "tiene una etiqueta vacía"),
    ("bidi", "mezcla escritura de derecha a izquierda con otra"),
    ("context", "lleva un carácter que solo vale junto a otros (CONTEXTJ/CONTEXTO)"),
)


def _idna_reason(e: Exception) -> str:
    """Why a name is not IDNA, in Spanish (the package's English stays in the cause)."""
    msg = str(e)
    point = _CODEPOINT.search(msg)
    if point:
        return f"lleva el carácter {point[0]}, que un nombre no admite"
    low = msg.lower()
    found = next((es for en, es in _IDNA_REASONS if en in low), None)
    return found or "su forma punycode (xn--) no es válida o no cumple IDNA 2008"


def _url_reason(e: ValueError) -> str:
    """Why ``urllib`` could not split a URL, in Spanish."""
    msg = str(e)
    if "IPv6" in msg:
        return "los corchetes de la dirección IPv6 no están bien cerrados"
    if "Port" in msg or "port" in msg:
        return "el puerto no es un número de 0 a 65535"
    return "su forma no es la de una URL (esquema://equipo/ruta)"


def _domain(kind: str, text: str) -> str:
    return _labels(kind, text, host=False)


def _hostname(kind: str, text: str) -> str:
    return _labels(kind, text, host=True)


def _host_of(kind: str, url: str, host: str) -> str:
    """The normalised host of a URL: an IP address (IPv6 in brackets) or a domain."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{_ipv6('ipv6', host[1:-1])}]"
        except ObservableError:
            raise _error(kind, url, "la dirección IPv6 entre corchetes no es válida") from None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return _ipv4("ipv4", host)
        except ObservableError:
            raise _error(kind, url, f"el equipo «{host}» no es una dirección IPv4") from None
    try:
        return _labels("domain", host, host=False) if "." in host else _hostname("hostname", host)
    except ObservableError:
        raise _error(kind, url, f"el equipo «{clean_line(host)}» no es un nombre válido") from None


def _url(kind: str, text: str) -> str:
    if len(text) > MAX_URL:
        raise _error(kind, text[:120], f"pasa de {MAX_URL} caracteres")
    if _CONTROL.search(text) or any(c.isspace() for c in text):
        raise _error(kind, text, "lleva espacios o caracteres de control")
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise _error(kind, text, f"no se puede leer como URL: {_url_reason(e)}") from e
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise _error(kind, text, f"el esquema debe ser {', '.join(URL_SCHEMES)}")
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        host = hostport[: hostport.find("]") + 1] if "]" in hostport else hostport
    else:
        host = hostport.rsplit(":", 1)[0] if ":" in hostport else hostport
    if not host:
        raise _error(kind, text, "no tiene equipo")
    netloc = (userinfo + "@" if userinfo else "") + _host_of(kind, text, host)
    if port is not None:
        netloc += f":{port}"
    return urllib.parse.urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def _email(kind: str, text: str) -> str:
    local, at, domain = text.rpartition("@")
    if not at or not local:
        raise _error(kind, text, "debe tener la forma usuario@dominio")
    if len(local) > 64:
        raise _error(kind, text, "la parte local pasa de 64 caracteres")
    if _EMAIL_LOCAL_BAD.search(local) or _CONTROL.search(local):
        raise _error(kind, text, "la parte local lleva caracteres no permitidos")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _error(kind, text, "la parte local tiene puntos al borde o seguidos")
    try:
        return f"{local}@{_labels('domain', domain, host=False)}"
    except ObservableError:
        raise _error(kind, text, f"el dominio «{clean_line(domain)}» no es válido") from None


def _hash(kind: str, text: str) -> str:
    value = text.lower()
    want = HASH_LENGTHS[kind]
    if not _HEX.fullmatch(value):
        raise _error(kind, text, "solo admite dígitos hexadecimales")
    if len(value) != want:
        raise _error(
            kind, text, f"tiene {len(value)} caracteres; un {TYPE_NAMES[kind]} tiene {want}"
        )
    return value


def _mac(kind: str, text: str) -> str:
    value = text.lower()
    if re.fullmatch(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}", value):
        digits = re.sub(r"[:-]", "", value)
    elif re.fullmatch(r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}", value):
        digits = value.replace(".", "")
    elif re.fullmatch(r"[0-9a-f]{12}", value):
        digits = value
    else:
        raise _error(kind, text, "debe ser seis pares hexadecimales (aa:bb:cc:dd:ee:ff)")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _cve(kind: str, text: str) -> str:
    value = text.upper()
    m = _CVE.fullmatch(value)
    if not m:
        raise _error(kind, text, "debe tener la forma CVE-AAAA-NNNN")
    if int(m.group(1)) < 1999:
        raise _error(kind, text, "los CVE empiezan en 1999")
    return value


def _data(kind: str, text: str) -> str:
    limit = MAX_USER if kind == "user" else MAX_FILENAME
    if _CONTROL.search(text):
        raise _error(kind, text, "lleva caracteres de control")
    if not text.isprintable():
        raise _error(kind, text, "lleva caracteres no imprimibles")
    if len(text) > limit:
        raise _error(kind, text, f"pasa de {limit} caracteres")
    return text


_NORMALIZERS = {
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "cidr": _cidr,
    "domain": _domain,
    "hostname": _hostname,
    "url": _url,
    "email": _email,
    "md5": _hash,
    "sha1": _hash,
    "sha256": _hash,
    "mac": _mac,
    "cve": _cve,
    "user": _data,
    "filename": _data,
}

# what guess_type tries, in order (user, filename and one-label hostnames are never guessed)
_GUESS_ORDER = ("ipv4", "ipv6", "cidr", "url", "email", "md5", "sha1", "sha256", "mac", "cve")


def guess_type(value: str) -> str | None:
    """The observable type ``value`` most plausibly is, or None (then the user must say)."""
    text = str(value).strip()
    if not text:
        return None
    candidates = list(_GUESS_ORDER)
    if "/" in text and "://" not in text:
        candidates = ["cidr"]
    elif "://" in text:
        candidates = ["url"]
    for kind in candidates:
        try:
            _NORMALIZERS[kind](kind, text)
        except ObservableError:
            continue
        return kind
    if "." in text.rstrip("."):
        try:
            _domain("domain", text)
        except ObservableError:
            return None
        return "domain"
    return None
