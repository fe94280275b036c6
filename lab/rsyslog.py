"""Real rsyslog (Debian's ``rsyslogd``) in each lab site, forwarding to headquarters.

Each site's rsyslogd has its own configuration, pid file, work directory and imuxsock socket
in the site's folder (never ``/etc/rsyslog.conf`` nor the machine's ``/dev/log``). The site's
sshd, which runs in a mount namespace of its own, sees that socket as ``/dev/log`` (see
:func:`lab.services.start_sshd`), so it logs through syslog(3) with its own facility and
severity exactly as on a real gateway. rsyslog keeps a local copy (``messages.log``) and
forwards auth, authpriv and kern messages to the headquarters receiver with ``omfwd``: UDP
in RFC 3164 (rsyslog's traditional forward format) or, for a site whose table says so, TCP
with octet-counted framing in RFC 5424, through a queue that retries forever (in memory,
spilled to the site's work directory when full and kept there across a restart).

A network namespace has no kernel log of its own: the kernel lines of the site's firewall
drops reach the same socket from :mod:`lab.nflog`, as ``kern.warning`` with the tag ``kernel``.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lab import netns
from lab.services import LOG_SOCKET, alive, current_daemon, stop, wait_pid, write_private
from lab.sites import V4_BLOCK, V6_BLOCK, LabSite
from pukara.errors import LabError

RSYSLOGD = "/usr/sbin/rsyslogd"
# Headquarters' log collector: the first address of the lab's ranges (no site link uses
# 198.18.0.0/30), on the machine's loopback while a lab is up.
HQ_LOG_V4 = ipaddress.IPv4Address("198.18.0.1")
HQ_LOG_V6 = ipaddress.IPv6Address("fd70:756b:6172::1")
DEFAULT_PORT = 5514  # not a privileged port: the receiver needs no root
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes with the final NUL


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the sites' rsyslog forwards: an address of the lab and a port."""

    host: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return (
            f"[{self.host}]:{self.port}" if self.host.version == 6 else f"{self.host}:{self.port}"
        )


DEFAULT_DESTINATION = Destination(HQ_LOG_V4)


def parse_destination(text: str) -> Destination:
    """``HOST:PUERTO`` (``[v6]:PUERTO`` for IPv6; the port may be left out) inside the lab."""
    raw = text.strip()
    port = str(DEFAULT_PORT)
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise LabError(f"destino de syslog inválido {text!r}: use HOST:PUERTO")
            port = rest[1:]
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    else:
        host = raw
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise LabError(
            f"destino de syslog inválido {text!r}: HOST debe ser una dirección IP del laboratorio"
        ) from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise LabError(f"destino de syslog inválido {text!r}: el puerto va de 1 a 65535")
    if address not in (V4_BLOCK if address.version == 4 else V6_BLOCK):
        raise LabError(
            f"destino de syslog {address} fuera del laboratorio: use una dirección de "
            f"{V4_BLOCK} o {V6_BLOCK} (por omisión {DEFAULT_DESTINATION})"
        )
    return Destination(address, int(port))


def socket_path(folder: Path) -> Path:
    return folder / LOG_SOCKET


def conf(site: LabSite, folder: Path, dest: Destination) -> str:
    """The site's rsyslog.conf: its own socket, a local file and the forward to headquarters."""
    sock = socket_path(folder)
    if len(str(sock)) > _SUN_PATH_MAX:
        raise LabError(
            f"{sock}: la ruta del socket de syslog es demasiado larga ({len(str(sock))} "
            f"caracteres, máximo {_SUN_PATH_MAX}); use una carpeta de laboratorio más corta"
        )
    if site.syslog == "tcp":
        wire = (
            'protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"'
        )
    else:
        wire = 'protocol="udp" template="RSYSLOG_TraditionalForwardFormat"'
    return "\n".join(
        [
            f"# pukara lab: {site.hostname}, syslog por {site.syslog.upper()} a {dest}",
            f'global(workDirectory="{folder / "rsyslog"}" localHostname="{site.hostname}")',
            # the site's own socket, never the machine's /dev/log; no rate limit: nothing lost
            'module(load="imuxsock" SysSock.Use="off")',
            f'input(type="imuxsock" Socket="{sock}" CreatePath="on" RateLimit.Interval="0")',
            f'*.* action(type="omfile" file="{folder / "messages.log"}" fileCreateMode="0600")',
            "auth,authpriv.*;kern.* action(",
            f'  type="omfwd" target="{dest.host}" port="{dest.port}" {wire}',
            # in memory, spilled to the work directory when full and saved there on shutdown
            '  queue.type="LinkedList" queue.size="100000" queue.filename="reenvio"',
            '  queue.saveOnShutdown="on" queue.maxDiskSpace="64m"',
            '  action.resumeRetryCount="-1" action.resumeInterval="1")',
            "",
        ]
    )


def start(site: LabSite, ns: str, folder: Path, dest: Destination) -> int:
    """Start (or keep) the site's rsyslogd inside its namespace; idempotent."""
    pidfile = folder / "rsyslogd.pid"
    path = folder / "rsyslog.conf"
    wanted = conf(site, folder, dest)
    pid = current_daemon(pidfile, RSYSLOGD, path, wanted)
    if pid:
        return pid
    write_private(path, wanted)
    (folder / "rsyslog").mkdir(mode=0o700, exist_ok=True)
    socket_path(folder).unlink(missing_ok=True)
    log = folder / "rsyslogd.log"
    with netns.inside(ns), log.open("ab") as err:
        subprocess.run(
            [RSYSLOGD, "-f", str(path), "-i", str(pidfile)],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, check=False,
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
        )  # fmt: skip
    pid = wait_pid(pidfile, RSYSLOGD, f"rsyslogd de {site.code}", log)
    deadline = time.monotonic() + 10
    while not socket_path(folder).exists():  # imuxsock makes it once the daemon runs
        if time.monotonic() > deadline:
            stop(pid)
            raise LabError(f"rsyslogd de {site.code} no creó {socket_path(folder)}")
        time.sleep(0.02)
    return pid


def running(folder: Path) -> int | None:
    return alive(folder / "rsyslogd.pid", RSYSLOGD)
