"""One mapping of SSH errors, inventario's public one, shared by discovery and red."""

from __future__ import annotations

import pytest
from netmiko.exceptions import NetmikoAuthenticationException, ReadTimeout
from paramiko.ssh_exception import SSHException

from inventario import ssh_discovery
from pukara.errors import AuthError, DeviceError, DeviceTimeout
from pukara.secrets import CredentialProfile
from red import respaldo

PROFILE = CredentialProfile("red", {})


def test_red_uses_inventarios_public_connect_args_and_errors() -> None:
    assert respaldo.connect_args is ssh_discovery.connect_args
    assert respaldo.ssh_errors is ssh_discovery.ssh_errors
    assert not hasattr(respaldo, "_ssh_error") and not hasattr(respaldo, "_connect_args")


@pytest.mark.parametrize(
    ("raised", "kind", "text"),
    [
        (ReadTimeout("x"), DeviceTimeout, "no terminó de responder en 2 s"),
        (NetmikoAuthenticationException("x"), AuthError, r"«red» \(la contraseña"),
        (SSHException("Host 198.18.0.6 not found in known_hosts"), DeviceError,
         "clave de host SSH desconocida"),
        (ConnectionRefusedError(111, "Connection refused"), DeviceError, "error de conexión SSH"),
    ],
)  # fmt: skip
def test_ssh_errors_say_what_went_wrong(raised: Exception, kind: type, text: str) -> None:
    with pytest.raises(kind, match=text), ssh_discovery.ssh_errors(PROFILE, 2):
        raise raised
