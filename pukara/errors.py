"""The pukara exception tree and the process exit codes.

Every library error a user can see is a ``PukaraError`` whose message is Spanish and safe to
show (never a secret). ``cli.main`` is the one place that turns them into an exit code.
"""

from __future__ import annotations

from enum import IntEnum


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
