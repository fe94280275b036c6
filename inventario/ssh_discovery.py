"""SSH discovery with netmiko: per device type, a few commands parsed with ntc-templates.

Host keys are checked strictly against the profile's known_hosts: an unknown or changed
key is a per-target error, never silently accepted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmiko import ConnectHandler
from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException, ReadTimeout
from ntc_templates.parse import parse_output
from paramiko.ssh_exception import BadHostKeyException, SSHException

from inventario.model import valid_serial
from pukara.errors import AuthError, DeviceError, DeviceTimeout, SecretsError
from pukara.results import Result, RunResult
from pukara.runner import Reporter, run_many
from pukara.secrets import CredentialProfile, usable_key_file


@dataclass(frozen=True, slots=True)
class Commands:
    """What to send to one device type; parsed with ntc-templates where one exists."""

    name: str
    version: str
    serial: str
    interfaces: str


DRIVERS: dict[str, Commands] = {
    "linux": Commands(
        name="hostname",
        version="uname -sr",
        serial="dmidecode -t system",
        interfaces="ip address show",
    ),
}


@dataclass(frozen=True, slots=True)
class SshTarget:
    address: str
    device_type: str
    profile: CredentialProfile


def connect_args(
    target: SshTarget, timeout_s: float, checked: dict[str, str | None] | None = None
) -> dict[str, Any]:
    profile = target.profile
    user = profile.require("username").reveal()
    known = profile.get("known_hosts")
    known_hosts = Path(known.reveal()) if known else Path.home() / ".ssh" / "known_hosts"
    args: dict[str, Any] = {
        "device_type": target.device_type, "host": target.address, "username": user,
        "ssh_strict": True, "system_host_keys": False, "alt_host_keys": True,
        "alt_key_file": str(known_hosts), "allow_agent": False,
        "conn_timeout": timeout_s, "auth_timeout": timeout_s, "banner_timeout": timeout_s,
        "fast_cli": True,
    }  # fmt: skip
    key, password = profile.get("key_file"), profile.get("password")
    if key:
        try:  # a missing or unusable key names its profile and file, as Ansible's does
            path = usable_key_file(profile, checked)
        except SecretsError as e:
            raise DeviceError(str(e)) from None
        # use_keys would also have paramiko look for ~/.ssh/id_*: only the profile's key is offered
        args.update(use_keys=False, key_file=str(path))
    if password:
        args["password"] = password.reveal()
    if not key and not password:
        raise DeviceError(f"perfil «{profile.name}»: SSH necesita key_file o password")
    return args


def _interfaces(parsed: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    interfaces: list[dict[str, Any]] = []
    addresses: list[dict[str, Any]] = []
    if not isinstance(parsed, list):
        return interfaces, addresses
    for row in parsed:
        name = str(row.get("interface", "")).split("@", 1)[0]
        mac = row.get("mac_address") or None
        interfaces.append({
            "index": int(row["id"]) if str(row.get("id", "")).isdigit() else None,
            "name": name, "mtu": int(row["mtu"]) if str(row.get("mtu", "")).isdigit() else None,
            "mac": None if mac in (None, "00:00:00:00:00:00") else mac,
            "up": "UP" in str(row.get("flags", "")).split(","),
        })  # fmt: skip
        pairs = list(zip(row.get("ip_addresses", []), row.get("ip_masks", []), strict=False))
        pairs += list(zip(row.get("ipv6_addresses", []), row.get("ipv6_masks", []), strict=False))
        for ip, mask in pairs:
            address = ipaddress.ip_address(ip)
            if address.is_loopback or address.is_link_local:
                continue
            addresses.append({"ip": str(address), "prefix_len": int(mask), "interface": name})
    addresses.sort(
        key=lambda a: (ipaddress.ip_address(a["ip"]).version, ipaddress.ip_address(a["ip"]))
    )
    return sorted(interfaces, key=lambda i: i["index"] or 0), addresses


_PEER = re.compile(r"^(\s+inet6?\s+)(\S+)\s+peer\s+\S+?(/\d+)", re.MULTILINE)
_IP_LINE = re.compile(r"^(\d+:\s|\s)")  # an interface header, or one of its indented lines


def _parse_interfaces(text: str) -> Any:
    """``ip address show`` through ntc-templates, point-to-point lines included.

    The template does not know ``inet A peer B/32`` (tunnels such as a VPN kit's); those lines
    are rewritten as ``inet A/32`` first, so one tunnel does not fail the whole device. Lines
    that are not part of the listing are dropped: the SSH channel carries stderr too, and
    iproute2 writes notes such as ``Error: Peer netns reference is invalid.`` (a veth whose peer
    lives in a namespace without an id here) in the middle of it.
    """
    kept = "\n".join(line for line in text.splitlines() if _IP_LINE.match(line))
    normalised = _PEER.sub(r"\1\2\3", kept)
    return parse_output(platform="linux", command="ip address show", data=normalised)


def ssh_error(e: SSHException) -> DeviceError:
    if isinstance(e, BadHostKeyException):
        return DeviceError(
            f"la clave de host SSH cambió ({e.key.get_name()}); posible suplantación. "
            "Verifíquela y actualice known_hosts"
        )
    text = str(e)
    if "not found in known_hosts" in text:
        return DeviceError("clave de host SSH desconocida: agréguela a known_hosts")
    return DeviceError(f"error SSH: {text}")


@contextmanager
def ssh_errors(profile: CredentialProfile, timeout_s: float) -> Iterator[None]:
    """netmiko's and paramiko's exceptions as DeviceError subclasses with a Spanish reason
    (the one mapping of SSH errors: discovery, network backups and remediation use it)."""
    try:
        yield
    except NetmikoAuthenticationException as e:
        key = profile.get("key_file")  # a path, not the key: it may be named
        what = f"la llave {Path(key.reveal()).expanduser()}" if key else "la contraseña"
        raise AuthError(
            f"SSH rechazó la autenticación de «{profile.name}» ({what} del perfil no es "
            "aceptada por el equipo)"
        ) from e
    except ReadTimeout as e:
        raise DeviceTimeout(f"el equipo no terminó de responder en {timeout_s:g} s") from e
    except NetmikoTimeoutException as e:
        cause = e.__context__  # netmiko reports paramiko's SSHException as a timeout
        if isinstance(cause, SSHException):
            raise ssh_error(cause) from e
        raise DeviceTimeout(f"SSH sin respuesta en {timeout_s:g} s") from e
    except SSHException as e:
        raise ssh_error(e) from e
    except OSError as e:
        raise DeviceError(f"error de conexión SSH: {e}") from e


# the names red/aplicar.py still imports (kept until it uses the public ones)
_connect_args = connect_args
_ssh_error = ssh_error


def probe(
    target: SshTarget, timeout_s: float, checked: dict[str, str | None] | None = None
) -> dict[str, Any]:
    """Facts of one device over SSH; DeviceError subclasses say what went wrong."""
    commands = DRIVERS.get(target.device_type)
    if commands is None:
        raise DeviceError(
            f"tipo de dispositivo «{target.device_type}» sin comandos de descubrimiento "
            f"(disponibles: {', '.join(DRIVERS)})"
        )
    with (
        ssh_errors(target.profile, timeout_s),
        ConnectHandler(**connect_args(target, timeout_s, checked)) as conn,
    ):

        def run(cmd: str, textfsm: bool = False) -> Any:
            out = conn.send_command(cmd, use_textfsm=textfsm, read_timeout=timeout_s * 4)
            return out.strip() if isinstance(out, str) else out

        name = run(commands.name)
        version = run(commands.version)
        system = run(commands.serial, True)
        interfaces = _parse_interfaces(run(commands.interfaces))
    kernel = str(version).split()  # `uname -sr`: "Linux 6.1.0-18-amd64"
    facts: dict[str, Any] = {
        "name": name or None,
        "os": kernel[0] if kernel else None,
        "os_version": kernel[1] if len(kernel) > 1 else None,
    }
    if isinstance(system, list) and system:
        facts["vendor"] = system[0].get("system_manufacturer") or None
        facts["model"] = system[0].get("system_product_name") or None
        facts["serial"] = valid_serial(system[0].get("system_serial_number"))
    facts["interfaces"], facts["addresses"] = _interfaces(interfaces)
    return {k: v for k, v in facts.items() if v not in (None, [], "")}


def discover(
    targets: Sequence[SshTarget],
    *,
    workers: int,
    timeout_s: float,
    reporter: Reporter | None = None,
    on_result: Callable[[Result], None] | None = None,
) -> RunResult:
    checked: dict[str, str | None] = {}  # each key file checked once
    return run_many(
        lambda t: {"facts": probe(t, timeout_s, checked), "credential": t.profile.name},
        targets, action="descubrir-ssh", workers=workers, name=lambda t: t.address,
        reporter=reporter, on_result=on_result,
    )  # fmt: skip
