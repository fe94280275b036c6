"""Which engine ``es_url`` names, found with a plain ``GET /`` before any client is chosen.

elasticsearch-py refuses any server that is not Elasticsearch, and OpenSearch refuses the
compatibility headers that client sends, so the engine is detected with the standard library
first: ``version.distribution == "opensearch"`` is OpenSearch; the ``X-Elastic-Product:
Elasticsearch`` header is Elasticsearch, whose major decides whether the installed client can
speak to it. Every failure becomes a Spanish message that names what to install or fix.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pukara.config import Settings
from pukara.errors import ConfigError, SecretsError, os_reason
from pukara.secrets import Secret, require_profile
from pukara.store.cluster.engine import EngineInfo, EngineUnavailable

# the one Elasticsearch client line pukara supports: 8.19 talks to ES 8 and (compatibility
# mode) ES 9; a 9.x client cannot talk to ES 8
ES_CLIENT_SPEC = "elasticsearch>=8.19,<9"
OS_EXTRA = "pip install 'pukara[opensearch]'"
ES_EXTRA = "pip install 'pukara[elasticsearch]'"


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the cluster is and how to reach it; secrets stay wrapped until a header is built."""

    urls: tuple[str, ...]
    username: str | None = None
    password: Secret | None = None
    api_key: Secret | None = None
    ca_file: Path | None = None
    timeout_s: float = 10.0
    profile: str | None = None  # the es_usuario profile, for messages
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return ", ".join(self.urls)

    def auth_header(self) -> dict[str, str]:
        if self.api_key is not None:
            return {"Authorization": f"ApiKey {self.api_key.reveal()}"}
        if self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password.reveal()}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def ssl_context(self) -> ssl.SSLContext:
        """Verified TLS: the system's CAs, or only ``es_ca`` when given."""
        try:
            if self.ca_file is not None:
                return ssl.create_default_context(cafile=str(self.ca_file))
            return ssl.create_default_context()
        except (OSError, ssl.SSLError) as e:
            reason = os_reason(e) if isinstance(e, OSError) and e.errno else str(e)
            raise ConfigError(
                f"es_ca={self.ca_file}: no se puede leer el certificado: {reason}"
            ) from None


def parse_urls(text: str) -> tuple[str, ...]:
    """``es_url``: one URL or several separated by commas (the nodes of one cluster)."""
    urls: list[str] = []
    for raw in text.split(","):
        url = raw.strip().rstrip("/")
        if not url:
            continue
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise ConfigError(f"es_url={url}: no es una URL válida ({e})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"es_url={url}: indique http:// o https:// con el nombre o la dirección del "
                "clúster, p. ej. https://registros.rree.test:9200"
            )
        if parts.username or parts.password:
            raise ConfigError(
                f"es_url: la URL no debe llevar usuario ni contraseña ({parts.hostname}); "
                "póngalos en un perfil de credenciales e indíquelo en es_usuario"
            )
        if parts.query or parts.fragment:
            raise ConfigError(f"es_url={url}: la URL no debe llevar «?» ni «#»")
        if port == 0:
            raise ConfigError(f"es_url={url}: el puerto 0 no es válido")
        urls.append(url)
    if not urls:
        raise ConfigError("es_url está vacío")
    return tuple(urls)


def connection_from_settings(settings: Settings) -> Connection:
    if not settings.es_url:
        raise ConfigError("no hay es_url: el almacén es la base SQLite")
    urls = parse_urls(settings.es_url)
    username = password = api_key = None
    profile = settings.es_usuario
    if profile:
        try:
            creds = require_profile(profile)
        except SecretsError as e:
            raise ConfigError(f"es_usuario={profile}: {e}") from None
        api_key = creds.get("api_key")
        if api_key is None:
            user, password = creds.get("username"), creds.get("password")
            if user is None or password is None:
                raise ConfigError(
                    f"es_usuario={profile}: el perfil necesita «api_key», o «username» y «password»"
                )
            username = user.reveal()
    if settings.es_ca is not None and not settings.es_ca.is_file():
        raise ConfigError(f"es_ca={settings.es_ca}: no existe ese archivo de certificados")
    return Connection(
        urls, username, password, api_key, settings.es_ca, settings.timeout_s, profile
    )


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
        e = e.reason if isinstance(e.reason, BaseException) else e
    if isinstance(e, ssl.SSLCertVerificationError):
        return f"certificado no confiable ({e.verify_message})"
    if isinstance(e, ssl.SSLError):
        return f"error de TLS ({e.reason or e})"
    if isinstance(e, socket.gaierror):
        return "el nombre no se resuelve"
    if isinstance(e, TimeoutError | socket.timeout):
        return "no respondió a tiempo"
    if isinstance(e, OSError) and e.errno:
        return os_reason(e)
    return str(e) or type(e).__name__


def get_root(conn: Connection, url: str) -> tuple[dict[str, Any], Mapping[str, str]]:
    """``GET /`` on one node: the body and the response headers."""
    headers = {"Accept": "application/json", **conn.auth_header(), **conn.extra_headers}
    request = urllib.request.Request(url + "/", headers=headers)  # noqa: S310 (http/https only)
    context = conn.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=conn.timeout_s, context=context) as resp:  # noqa: S310
            raw = resp.read(1 << 20)
            got = dict(resp.headers.items())
    except urllib.error.HTTPError as e:
        e.close()
        if e.code in (401, 403):
            who = f"el perfil «{conn.profile}» (es_usuario)" if conn.profile else "sin credenciales"
            raise ConfigError(
                f"{url}: el clúster rechazó la autenticación (HTTP {e.code}) con {who}; "
                "revise el usuario y la contraseña o la API key del perfil"
                + ("" if conn.profile else ", o indique un perfil en es_usuario")
            ) from None
        if e.code in (429, 502, 503, 504):
            raise EngineUnavailable(
                f"{url}: el clúster no está disponible (HTTP {e.code})", e.code
            ) from None
        raise ConfigError(f"{url}: respondió HTTP {e.code} a GET /; ¿es un clúster?") from None
    except ssl.SSLCertVerificationError as e:
        hint = (
            f"el certificado no lo firma la CA de es_ca={conn.ca_file}" if conn.ca_file
            else "indique en es_ca el archivo de la CA que firma el certificado del clúster"
        )  # fmt: skip
        raise ConfigError(f"{url}: {_reason(e)}; {hint}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, ssl.SSLCertVerificationError):
            hint = (
                f"el certificado no lo firma la CA de es_ca={conn.ca_file}" if conn.ca_file
                else "indique en es_ca el archivo de la CA que firma el certificado del clúster"
            )  # fmt: skip
            raise ConfigError(f"{url}: {_reason(e)}; {hint}") from None
        if isinstance(e.reason, ssl.SSLError):
            raise ConfigError(f"{url}: {_reason(e)}; ¿el clúster habla https?") from None
        raise EngineUnavailable(f"{url}: no responde: {_reason(e)}") from None
    except (OSError, ValueError) as e:
        raise EngineUnavailable(f"{url}: no responde: {_reason(e)}") from None
    try:
        body = json.loads(raw)
    except ValueError:
        raise ConfigError(
            f"{url}: GET / no devolvió JSON: no parece Elasticsearch ni OpenSearch"
        ) from None
    if not isinstance(body, dict):
        raise ConfigError(f"{url}: GET / no devolvió un objeto: no parece un clúster")
    return body, {k.lower(): v for k, v in got.items()}


def _version(text: object, url: str) -> tuple[int, int, int]:
    try:
        parts = [int(p) for p in str(text).split("-")[0].split(".")[:3]]
    except ValueError:
        raise ConfigError(f"{url}: versión del motor ilegible: {text!r}") from None
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def client_version(package: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in importlib.metadata.version(package).split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


def identify(body: Mapping[str, Any], headers: Mapping[str, str], url: str) -> EngineInfo:
    """The engine behind a ``GET /`` answer; refuses one the installed client cannot speak."""
    version = body.get("version")
    if not isinstance(version, Mapping) or "number" not in version:
        raise ConfigError(f"{url}: GET / no dice la versión: no parece Elasticsearch ni OpenSearch")
    number = _version(version["number"], url)
    name = str(body.get("cluster_name", ""))
    if version.get("distribution") == "opensearch":
        if number[0] < 2:
            raise ConfigError(f"{url}: OpenSearch {version['number']}: pukara necesita 2.x o más")
        if client_version("opensearch-py") is None:
            raise ConfigError(
                f"{url} es OpenSearch {version['number']} y falta su cliente: {OS_EXTRA}"
            )
        return EngineInfo("opensearch", number, name)
    if headers.get("x-elastic-product") == "Elasticsearch" or body.get("tagline") == (
        "You Know, for Search"
    ):
        if number[0] not in (8, 9):
            raise ConfigError(
                f"{url}: Elasticsearch {version['number']}: pukara habla con Elasticsearch 8 y 9"
            )
        installed = client_version("elasticsearch")
        if installed is None:
            raise ConfigError(
                f"{url} es Elasticsearch {version['number']} y falta su cliente: {ES_EXTRA}"
            )
        if installed[0] != 8 or installed < (8, 19):
            raise ConfigError(
                f"{url}: Elasticsearch {version['number']} necesita el cliente {ES_CLIENT_SPEC} "
                f"(instalado: elasticsearch {'.'.join(map(str, installed))}); "
                f"instale: pip install '{ES_CLIENT_SPEC}'"
            )
        return EngineInfo("elasticsearch", number, name)
    raise ConfigError(f"{url}: no es Elasticsearch ni OpenSearch (GET / sin su firma)")


def detect(conn: Connection) -> tuple[EngineInfo, str]:
    """The engine and the first node that answered; EngineUnavailable when none does."""
    unavailable: list[str] = []
    for url in conn.urls:
        try:
            body, headers = get_root(conn, url)
        except EngineUnavailable as e:
            unavailable.append(str(e))
            continue
        return identify(body, headers, url), url
    raise EngineUnavailable("; ".join(unavailable))
