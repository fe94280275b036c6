"""Credential profiles by name: environment, a 0600 file, or a prompt.

A profile is a set of named fields (``username``, ``password``, ``community``,
``auth_key``...). Sources, first match wins per field:

1. environment ``PUKARA_CRED_<PROFILE>_<FIELD>`` (profile and field upper-cased, ``-`` as ``_``);
2. the credentials file (``$PUKARA_CREDENTIALS`` or ``~/.config/pukara/credenciales.toml``),
   one TOML table per profile, which must not be readable by group or others;
3. a prompt callback supplied by the command line, for fields still missing.

Values are wrapped in :class:`Secret`, whose ``repr`` and ``str`` never show the value, so a
traceback, log line or f-string cannot leak it. Nothing here writes a secret anywhere.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pukara.errors import SecretsError, os_reason

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class CredentialProfile:
    name: str
    fields: Mapping[str, Secret]

    def get(self, field: str) -> Secret | None:
        return self.fields.get(field)

    def require(self, field: str) -> Secret:
        value = self.fields.get(field)
        if value is None:
            raise SecretsError(f"el perfil de credenciales «{self.name}» no tiene «{field}»")
        return value


def valid_profile_name(name: str) -> bool:
    return bool(_NAME.match(name))


def default_credentials_file() -> Path:
    explicit = os.environ.get("PUKARA_CREDENTIALS")
    return Path(explicit) if explicit else Path.home() / ".config" / "pukara" / "credenciales.toml"


def _env_name(profile: str, field: str) -> str:
    return f"PUKARA_CRED_{profile}_{field}".upper().replace("-", "_")


def read_credentials_file(path: Path) -> dict[str, dict[str, str]]:
    """Read the credentials file, refusing one that group or others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise SecretsError(f"{path}: no se puede leer: {os_reason(e)}") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path}: permisos {stat.filemode(mode)} demasiado abiertos; "
            f"las credenciales deben tener modo 0600 (chmod 600 {path})"
        )
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise SecretsError(f"{path}: TOML mal formado: {e}") from None
    out: dict[str, dict[str, str]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise SecretsError(f"{path}: el perfil «{name}» debe ser una tabla de textos")
        out[name] = dict(table)
    return out


def load_profile(
    name: str,
    *,
    required: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
    prompt: Callable[[str, str], str] | None = None,
) -> CredentialProfile:
    """Resolve a profile's fields from the environment, the file and, last, the prompt.

    ``prompt(profile, field)`` is asked only for required fields still missing.
    """
    if not _NAME.match(name):
        raise SecretsError(f"nombre de perfil de credenciales inválido: {name!r}")
    env = os.environ if environ is None else environ
    from_file = read_credentials_file(path or default_credentials_file()).get(name, {})
    values: dict[str, Secret] = {k: Secret(v) for k, v in from_file.items()}
    prefix = _env_name(name, "")
    for key, value in env.items():
        if key.startswith(prefix) and value:
            values[key[len(prefix) :].lower()] = Secret(value)
    for field in required:
        if field not in values and prompt is not None:
            values[field] = Secret(prompt(name, field))
    missing = [f for f in required if f not in values]
    if missing:
        hint = ", ".join(_env_name(name, f) for f in missing)
        raise SecretsError(
            f"el perfil de credenciales «{name}» no tiene {', '.join(missing)} (defina {hint} "
            f"o agréguelo a {path or default_credentials_file()})"
        )
    return CredentialProfile(name, values)


def require_profile(name: str, environ: Mapping[str, str] | None = None) -> CredentialProfile:
    """A credential profile that exists: in the credentials file or as PUKARA_CRED_ variables.

    Raises SecretsError naming the profile and the file (and saying when the file is missing).
    """
    path = default_credentials_file()
    if os.environ.get("PUKARA_CREDENTIALS") and not path.exists():
        raise SecretsError(
            f"no existe el archivo de credenciales {path} que indica PUKARA_CREDENTIALS "
            f"(perfil «{name}»)"
        )
    profile = load_profile(name, environ=environ)
    if profile.fields:
        return profile
    variables = f"PUKARA_CRED_{name.upper().replace('-', '_')}_*"
    where = (
        f"no existe el archivo de credenciales {path}" if not path.exists()
        else f"no está en el archivo de credenciales {path}"
    )  # fmt: skip
    raise SecretsError(
        f"perfil de credenciales «{name}» desconocido: {where} y no hay variables {variables}"
    )


# Environment variables a child process (alert command, ssh, ansible-runner) must not inherit.
_CHILD_DROP_PREFIXES = ("PUKARA_CRED_",)
_CHILD_DROP = frozenset({"PUKARA_ALERT_WEBHOOK", "PUKARA_CREDENTIALS"})


def child_environment(
    extra: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a child process: this one's, without pukara's secrets.

    ``PUKARA_CRED_*`` (credential fields), the webhook URL and the credentials file path are
    dropped; ``extra`` is added on top.
    """
    env = os.environ if environ is None else environ
    out = {
        k: v
        for k, v in env.items()
        if k not in _CHILD_DROP and not k.startswith(_CHILD_DROP_PREFIXES)
    }
    out.update(extra or {})
    return out


def usable_key_file(
    profile: CredentialProfile, checked: dict[str, str | None] | None = None
) -> Path:
    """The profile's SSH private key file, once it is known to be usable without a prompt.

    Raises SecretsError naming the profile and the file when it is missing, unreadable, open to
    group or others (ssh would ignore it), passphrase-protected or not a key (``ssh-keygen -y``
    reads it; only the path is on its command line). ``checked`` caches the verdict per file.
    """
    value = profile.get("key_file")
    if value is None:
        raise SecretsError(f"el perfil «{profile.name}» no tiene key_file (la llave SSH privada)")
    path = Path(value.reveal()).expanduser()
    cache: dict[str, str | None] = {} if checked is None else checked
    if str(path) not in cache:
        cache[str(path)] = _key_problem(path)
    problem = cache[str(path)]
    if problem:
        raise SecretsError(f"perfil «{profile.name}»: la llave {path} no sirve: {problem}")
    return path


def _key_problem(path: Path) -> str | None:
    import subprocess  # only where keys are checked

    try:
        mode = path.stat().st_mode
        with path.open("rb"):
            pass
    except OSError as e:
        return os_reason(e)
    if not stat.S_ISREG(mode):
        return "no es un archivo"
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"permisos {stat.filemode(mode)} demasiado abiertos; ssh la ignora (chmod 600 {path})"
        )
    try:
        done = subprocess.run(
            ["ssh-keygen", "-y", "-P", "", "-f", str(path)], env=child_environment(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as e:
        return f"no se pudo comprobar con ssh-keygen ({e})"
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[:200]
        if "passphrase" in said.lower() or "incorrect" in said.lower():
            return "está protegida con frase de paso; pukara solo usa llaves sin frase"
        return f"no es una llave privada SSH legible ({said or 'ssh-keygen falló'})"
    return None
