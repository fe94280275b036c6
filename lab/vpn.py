"""The VPN kit's tunnel of a lab site: OpenVPN in user space over TUN, both ends real.

The kernel here has TUN but no ESP/xfrm, so the lab's kit tunnels are OpenVPN point-to-point
links with a shared static key. Headquarters' end runs in the host namespace (interface
``pkv<index>``, a route to the mission's LAN address through it); the kit's end runs in the
site's namespace as ``kbcs0``, so the site's snmpd lists it in IF-MIB. A broken tunnel is a
kit whose OpenVPN is not running: the interface vanishes from the device's table and nothing
crosses.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab import netns
from lab.services import alive, current_daemon, stop, wait_pid, write_private
from lab.sites import VPN_INTERFACE, LabSite
from pukara.errors import LabError

OPENVPN = "/usr/sbin/openvpn"
BASE_PORT = 20000
HQ_PID, SITE_PID = "vpn-hq.pid", "vpn-kit.pid"


def require() -> None:
    if not Path(OPENVPN).exists():
        raise LabError(
            f"falta {OPENVPN} para los túneles del laboratorio (apt-get install openvpn)"
        )


def ensure_key(state_dir: Path) -> Path:
    key = state_dir / "openvpn.key"
    if not key.exists():
        subprocess.run(
            [OPENVPN, "--genkey", "secret", str(key)],
            check=True, stdin=subprocess.DEVNULL, capture_output=True,
        )  # fmt: skip
        key.chmod(0o600)
    return key


def hq_interface(site: LabSite) -> str:
    return f"pkv{site.index}"


def _common(site: LabSite, key: Path, folder: Path, side: str) -> list[str]:
    return [
        "dev-type tun",
        "proto udp",
        f"secret {key}",
        "cipher AES-256-CBC",
        "auth SHA256",
        "ping 2",
        "verb 1",
        "daemon",
        f"writepid {folder / (HQ_PID if side == 'hq' else SITE_PID)}",
        f"log {folder / ('vpn-hq.log' if side == 'hq' else 'vpn-kit.log')}",
    ]


def hq_conf(site: LabSite, hq_address: str, key: Path, folder: Path) -> str:
    return "\n".join(
        [
            f"# extremo de la sede central del túnel KBCS de {site.code}",
            f"dev {hq_interface(site)}",
            f"local {hq_address}",
            f"lport {BASE_PORT + site.index}",
            f"ifconfig {site.tunnel_hq} {site.tunnel_site}",
            f"route {site.lan} 255.255.255.255",
            *_common(site, key, folder, "hq"),
            "",
        ]
    )


def kit_conf(site: LabSite, hq_address: str, key: Path, folder: Path) -> str:
    return "\n".join(
        [
            f"# kit VPN (KBCS) de la sede {site.code}",
            f"dev {VPN_INTERFACE}",
            f"remote {hq_address} {BASE_PORT + site.index}",
            "nobind",
            f"ifconfig {site.tunnel_site} {site.tunnel_hq}",
            *_common(site, key, folder, "kit"),
            "",
        ]
    )


def _start(conf: Path, text: str, pidfile: Path, ns: str | None, what: str) -> int:
    pid = current_daemon(pidfile, OPENVPN, conf, text)
    if pid:
        return pid
    write_private(conf, text)
    pidfile.unlink(missing_ok=True)
    argv = [OPENVPN, "--config", str(conf)]
    if ns:
        with netns.inside(ns):
            subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, capture_output=True)
    else:
        subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, capture_output=True)
    return wait_pid(pidfile, OPENVPN, what, conf.with_suffix(".log"))


def start(site: LabSite, ns: str, folder: Path, key: Path, hq_address: str) -> None:
    """Start (or keep) both ends of the site's tunnel; a broken kit has no kit end."""
    hq = hq_conf(site, hq_address, key, folder)
    _start(
        folder / "vpn-hq.conf", hq, folder / HQ_PID, None, f"túnel de {site.code} (sede central)"
    )
    if site.tunnel_broken:
        stop_kit(folder)
        return
    kit = kit_conf(site, hq_address, key, folder)
    _start(folder / "vpn-kit.conf", kit, folder / SITE_PID, ns, f"kit VPN de {site.code}")


def stop_kit(folder: Path) -> None:
    pid = alive(folder / SITE_PID, OPENVPN)
    if pid:
        stop(pid)


def stop_all(folder: Path) -> None:
    pids = [p for f in (HQ_PID, SITE_PID) if (p := alive(folder / f, OPENVPN))]
    stop(*pids)
