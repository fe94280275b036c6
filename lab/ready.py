"""Wait until every site of a running lab answers as pukara will ask it to.

Each check is a real exchange from the host, as pukara's discovery and monitoring make it:
the echo responder answers a ping, snmpd answers an SNMP get (v3 authPriv, or v2c on a
v2c-only agent), sshd sends its banner and, for a site with a VPN kit, snmpd lists the kit's
tunnel interface and a ping crosses the tunnel to the mission's LAN address. Down sites (and
the children of a down hub) and broken kits are what the table says they are, and are not
waited for. A site's router must have its BGP session with headquarters Established, except
where the table says it cannot (``as-errado``, a site behind a hub: see lab.frr).
"""

from __future__ import annotations

import socket
import subprocess
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.sites import VPN_INTERFACE, LabSite
from pukara.errors import LabError
from pukara.formats import number

SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
DEFAULT_TIMEOUT_S = 120.0
_WORKERS = 16

Check = Callable[[LabSite], bool]


def _snmp_args(site: LabSite, creds: dict[str, str]) -> list[str]:
    if site.snmp_only == "v2c":
        return ["-v2c", "-c", creds["community"]]
    return ["-v3", "-l", "authPriv", "-u", creds["snmp_user"], "-a", "SHA", "-A",
            creds["auth_key"], "-x", "AES", "-X", creds["priv_key"]]  # fmt: skip


def _snmp(tool: str, site: LabSite, creds: dict[str, str], oid: str) -> str | None:
    done = subprocess.run(
        [tool, *_snmp_args(site, creds), "-t", "1", "-r", "1", "-Oqv", str(site.v4), oid],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.stdout if done.returncode == 0 and done.stdout.strip() else None


def _ping(address: str) -> bool:
    done = subprocess.run(
        ["fping", "-q", "-r", "2", "-t", "1000", address],
        capture_output=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.returncode == 0


def _ssh_banner(site: LabSite) -> bool:
    try:
        with socket.create_connection((str(site.v4), 22), timeout=2) as conn:
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def checks(
    site: LabSite, creds: dict[str, str], services_on: bool, bgp: Check | None = None
) -> dict[str, Check]:
    """What must answer for ``site`` to be ready, by the name the error message uses."""
    if site.down:
        return {}
    wanted: dict[str, Check] = {"eco": lambda s: _ping(str(s.v4))}
    if not services_on:
        return wanted
    wanted["SNMP"] = lambda s: _snmp("snmpget", s, creds, SYS_NAME) is not None
    wanted["SSH"] = _ssh_banner
    if site.tunnel and not site.tunnel_broken:

        def tunnel(s: LabSite) -> bool:
            table = _snmp("snmpwalk", s, creds, IF_DESCR) or ""
            listed = VPN_INTERFACE in table.replace('"', " ").split()
            return listed and _ping(str(s.lan))

        wanted["túnel"] = tunnel
    if bgp is not None and site.router != "as-errado" and not site.parent:
        wanted["BGP"] = bgp
    return wanted


def _pending(site: LabSite, wanted: dict[str, Check]) -> tuple[LabSite, list[str]]:
    return site, [name for name, check in wanted.items() if not check(site)]


def wait(
    sites: Sequence[LabSite],
    credentials_file: Path,
    *,
    services_on: Callable[[LabSite], bool],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    bgp: Check | None = None,
) -> None:
    """Return once every site answers each of its checks; LabError naming those that do not."""
    try:
        creds = dict(tomllib.loads(credentials_file.read_text())["lab"])
    except (OSError, ValueError, KeyError) as e:
        raise LabError(f"{credentials_file}: credenciales del laboratorio ilegibles: {e}") from e
    down = {s.code for s in sites if s.down}  # a down hub takes its children down with it
    todo = {
        s.code: (s, checks(s, creds, services_on(s), bgp if services_on(s) else None))
        for s in sites
        if s.parent not in down
    }  # fmt: skip
    todo = {code: v for code, v in todo.items() if v[1]}
    deadline = time.monotonic() + timeout_s
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        while todo:
            for site, failing in pool.map(lambda v: _pending(*v), list(todo.values())):
                if failing:
                    todo[site.code] = (site, {n: todo[site.code][1][n] for n in failing})
                else:
                    del todo[site.code]
            if not todo or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    if not todo:
        return
    late = "; ".join(f"{code} ({', '.join(w)})" for code, (_, w) in sorted(todo.items()))
    raise LabError(
        f"el laboratorio no quedó listo en {number(timeout_s)} s; no responden: {late}. "
        "Vea los registros en la carpeta de cada sede del laboratorio"
    )
