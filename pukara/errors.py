"""The pukara exception tree and the process exit codes.

Every library error a user can see is a ``PukaraError`` whose message is Spanish and safe to
show (never a secret). ``cli.main`` is the one place that turns them into an exit code.
"""

from __future__ import annotations

import errno
import os
import sys
from enum import IntEnum
from pathlib import PurePath
from types import TracebackType


class ExitCode(IntEnum):
    """Exit codes of the ``pukara`` command (documented in the README)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    INTERRUPTED = 130


class PukaraError(Exception):
    """Base of every error pukara reports to the user."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(PukaraError):
    """The user asked for something malformed (bad option value, unknown target)."""

    exit_code = ExitCode.USAGE


class ConfigError(PukaraError):
    """``pukara.toml`` or a ``PUKARA_*`` variable is malformed."""


class StoreError(PukaraError):
    """The database cannot be opened, read or written."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer pukara."""


class SecretsError(PukaraError):
    """A credential profile is missing, incomplete or stored insecurely."""


class LabError(PukaraError):
    """The emulated WAN lab cannot be built, inspected or removed."""


class AnsibleError(PukaraError):
    """A playbook could not be started (not: a playbook that ran and failed)."""


class DeviceError(PukaraError):
    """A device could not be reached or did not answer as expected."""


class AuthError(DeviceError):
    """A device refused the credentials."""


class DeviceTimeout(DeviceError):
    """A device did not answer in time."""


class Interrupted(PukaraError):
    """The user pressed Ctrl-C; work finished so far has been kept."""

    exit_code = ExitCode.INTERRUPTED


# What the system says, in Spanish; its own text (English, from the C library) goes after it.
_ERRNO_TEXT = {
    errno.ENOENT: "no existe",
    errno.EACCES: "permiso denegado",
    errno.EPERM: "operación no permitida",
    errno.EISDIR: "es una carpeta, no un archivo",
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.EEXIST: "ya existe",
    errno.ENOTEMPTY: "la carpeta no está vacía",
    errno.ENOSPC: "no queda espacio en el disco",
    errno.EROFS: "el sistema de archivos es de solo lectura",
    errno.EDQUOT: "se superó la cuota de disco",
    errno.EMFILE: "demasiados archivos abiertos",
    errno.ENAMETOOLONG: "el nombre es demasiado largo",
    errno.ECONNREFUSED: "conexión rechazada (nada escucha en ese puerto)",
    errno.ECONNRESET: "el otro extremo cortó la conexión",
    errno.ETIMEDOUT: "se agotó el tiempo de espera",
    errno.EHOSTUNREACH: "no hay ruta hasta el equipo",
    errno.ENETUNREACH: "la red no es alcanzable",
    errno.EADDRINUSE: "la dirección ya está en uso",
    errno.EADDRNOTAVAIL: "la dirección no pertenece a este equipo",
    errno.EINVAL: "argumento no válido",
    errno.EPIPE: "el otro extremo cerró la conexión",
    errno.EAFNOSUPPORT: "este equipo no admite la familia de esa dirección (¿IPv6 desactivado?)",
    errno.ENETDOWN: "la interfaz de red hacia el destino está caída",
    errno.EMSGSIZE: "el paquete excede la MTU de la interfaz",
    errno.ENOBUFS: "el sistema se quedó sin memoria de red",
    errno.ENFILE: "el sistema abrió demasiados archivos o sockets",
    errno.ECONNABORTED: "la conexión se interrumpió",
    errno.ENOEXEC: "no es un programa ejecutable",
}


def os_reason_hinted(
    e: OSError, hints: dict[int, str] | None = None, fallback: str = "error del sistema"
) -> str:
    """:func:`os_reason`, where ``hints`` (errno → Spanish) may say it better for the caller (a
    probe knows that EINVAL means an address the system will not send to). An errno that
    neither knows is ``fallback`` and its name, never the system's English alone.
    """
    code = e.errno
    if type(e).__name__ == "gaierror" or code is None:
        return os_reason(e)
    text = (hints or {}).get(code) or _ERRNO_TEXT.get(code)
    if text is None:
        text = f"{fallback} ({errno.errorcode.get(code, str(code))})"
    return f"{text} ({e.strerror or e})"


def os_reason(e: OSError) -> str:
    """Why an operating-system call failed, in Spanish, with the system's own words after it.

    ``[Errno 2] No such file or directory`` becomes ``no existe (No such file or directory)``;
    a name that does not resolve (``socket.gaierror``) says so.
    """
    detail = e.strerror or str(e) or type(e).__name__
    if type(e).__name__ == "gaierror":  # socket.gaierror: errno is an EAI_* code, not errno
        return f"no se pudo resolver el nombre ({detail})"
    if isinstance(e, TimeoutError) and e.errno is None:
        return "se agotó el tiempo de espera"
    text = _ERRNO_TEXT.get(e.errno) if e.errno is not None else None
    return f"{text} ({detail})" if text else detail


def errno_reason(code: int) -> str:
    """:func:`os_reason` for a bare errno (a socket's ``SO_ERROR``, a probe's result)."""
    return os_reason(OSError(code, os.strerror(code)))


DEBUG_HINT = "Repita con --debug para ver la traza."


def explain(exc: BaseException, *, debug: bool = False) -> PukaraError | None:
    """A Spanish :class:`PukaraError` for an OS or library error that reached the boundary.

    None when ``exc`` is not one that can be explained (a bug: the boundary says so). An
    error whose cause may be a bug (malformed JSON) ends with :data:`DEBUG_HINT` unless
    ``debug`` (the trace is then shown already).
    """
    if isinstance(exc, OSError):
        names = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
        where = f"{' → '.join(names)}: " if names else ""
        return PukaraError(f"{where}{os_reason(exc)}")
    if isinstance(exc, UnicodeDecodeError):
        return PukaraError(f"el texto no está en UTF-8 ({exc})")
    tomllib = sys.modules.get("tomllib")  # an error of a module never imported cannot happen
    if tomllib is not None and isinstance(exc, tomllib.TOMLDecodeError):
        return PukaraError(f"TOML mal formado ({exc})")
    json = sys.modules.get("json")
    if json is not None and isinstance(exc, json.JSONDecodeError):
        return PukaraError(
            f"{_json_input(exc.__traceback__)}: JSON mal formado en la línea {exc.lineno}, "
            f"columna {exc.colno} ({exc.msg})" + ("" if debug else f". {DEBUG_HINT}")
        )
    return None


def _json_input(tb: TracebackType | None) -> str:
    """What was being parsed when a JSON error was raised, from the code that parsed it.

    The innermost frame outside the ``json`` module: in the store it is a stored row
    (``registro del almacén``); elsewhere the file it had in hand (the one ``Path`` among its
    variables), or the module that read it.
    """
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        module = str(frame.f_globals.get("__name__", ""))
        if module == "json" or module.startswith("json."):
            continue
        if module == "pukara.store" or module.startswith("pukara.store."):
            return "registro del almacén"
        paths = {str(v) for v in frame.f_locals.values() if isinstance(v, PurePath)}
        if len(paths) == 1:
            return paths.pop()
        return f"datos leídos por {module}" if module else "datos leídos"
    return "datos leídos"


# What SSH and Ansible say when a host cannot be used, and what that means for a person.
_REMOTE_TEXT = (
    ("host key verification failed", "la clave del equipo no es la conocida"),
    ("permission denied", "el equipo rechazó las credenciales"),
    ("authentication failed", "el equipo rechazó las credenciales"),
    ("could not resolve hostname", "no se pudo resolver el nombre"),
    ("name or service not known", "no se pudo resolver el nombre"),
    ("connection refused", "conexión rechazada (nada escucha en ese puerto)"),
    ("connection timed out", "se agotó el tiempo de espera de la conexión"),
    ("timed out", "se agotó el tiempo de espera"),
    ("no route to host", "no hay ruta hasta el equipo"),
    ("network is unreachable", "la red no es alcanzable"),
    ("connection reset", "el equipo cortó la conexión"),
    ("connection closed", "el equipo cerró la conexión"),
    ("failed to connect to the host", "no se pudo conectar con el equipo"),
    ("data could not be sent to remote host", "no se pudo conectar por SSH con el equipo"),
)


def remote_reason(text: str) -> str:
    """A Spanish sentence for what SSH or Ansible reported, with their own words after it.

    ``Failed to connect to the host via ssh: ... Connection refused`` becomes ``conexión
    rechazada (nada escucha en ese puerto) (Failed to connect ...)``; text not recognised
    is returned as it is.
    """
    lower = text.lower()
    for needle, spanish in _REMOTE_TEXT:
        if needle in lower:
            return f"{spanish} ({text})"
    return text
