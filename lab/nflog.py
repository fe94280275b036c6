"""Kernel-format nftables drop lines for the lab's sites, from real packets, as ulogd does.

A network namespace has no kernel log of its own (the kernel's ``log`` statement writes to the
machine's log, and outside the first namespace only when ``nf_log_all_netns`` is set), so each
site's firewall hands the packets it drops to NFLOG group 1 instead (``log group 1 prefix
"nft-drop: "``, see :func:`lab.manage.nft_rules`). One process serves every site, as the echo
responder does: it opens a NETLINK_NETFILTER socket in each site's namespace (a socket stays in
the namespace it was made in), binds the group, and for each packet the kernel copies it
writes the line the kernel's own ``log`` statement prints (``nft-drop: IN=wan0 OUT= MAC=...
SRC=... DST=... LEN=... PROTO=TCP SPT=... DPT=... SYN URGP=0``) to the site's rsyslog socket
as ``kern.warning`` with the tag ``kernel``. The packet and the drop are real; the kernel log
line is emulated.

Run as ``python -m lab.nflog PLAN.json PIDFILE``; SIGTERM stops it.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lab import netns
from pukara.errors import LabError

GROUP = 1
PREFIX = "nft-drop: "
NETLINK_NETFILTER = 12
_SUBSYS_ULOG = 4
_MSG_PACKET, _MSG_CONFIG = 0, 1
_CFG_CMD, _CFG_MODE = 1, 2
_CMD_BIND = 1
_COPY_PACKET = 2
_COPY_RANGE = 256  # headers are all a log line needs
_NLMSG_ERROR, _NLM_F_REQUEST, _NLM_F_ACK = 2, 1, 4
# enum nfulnl_attr_type (linux/netfilter/nfnetlink_log.h)
_A_INDEV, _A_OUTDEV, _A_PAYLOAD, _A_PREFIX, _A_HWHEADER = 4, 5, 9, 10, 16
_TCP_FLAGS = ((0x80, "CWR"), (0x40, "ECE"), (0x20, "URG"), (0x10, "ACK"), (0x08, "PSH"),
              (0x04, "RST"), (0x02, "SYN"), (0x01, "FIN"))  # fmt: skip


def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def config_message(group: int, attrs: bytes, seq: int) -> bytes:
    """An NFULNL_MSG_CONFIG request for ``group`` (family unspecified: every family)."""
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(group)) + attrs
    kind = (_SUBSYS_ULOG << 8) | _MSG_CONFIG
    return struct.pack("=IHHII", 16 + len(body), kind, _NLM_F_REQUEST | _NLM_F_ACK, seq, 0) + body


def _transport(proto: int, seg: bytes) -> str:
    if proto == 6 and len(seg) >= 20:
        spt, dpt, _seq, _ack, off_res, flags, window, _sum, urgp = struct.unpack(
            "!HHIIBBHHH", seg[:20]
        )
        names = "".join(f"{n} " for bit, n in _TCP_FLAGS if flags & bit)
        return (f"PROTO=TCP SPT={spt} DPT={dpt} WINDOW={window} RES=0x{(off_res & 0x0E) >> 1:02x} "
                f"{names}URGP={urgp} ")  # fmt: skip
    if proto == 17 and len(seg) >= 8:
        spt, dpt, length = struct.unpack("!HHH", seg[:6])
        return f"PROTO=UDP SPT={spt} DPT={dpt} LEN={length} "
    if proto in (1, 58) and len(seg) >= 4:
        name = "ICMP" if proto == 1 else "ICMPv6"
        text = f"PROTO={name} TYPE={seg[0]} CODE={seg[1]} "
        if seg[0] in ((8, 0) if proto == 1 else (128, 129)) and len(seg) >= 8:
            ident, seq = struct.unpack("!HH", seg[4:8])
            text += f"ID={ident} SEQ={seq} "
        return text
    return f"PROTO={proto} "


def kernel_line(prefix: str, indev: str, outdev: str, hwheader: bytes, packet: bytes) -> str:
    """The line the kernel's nftables ``log`` statement prints for ``packet`` (IPv4 or IPv6)."""
    text = f"{prefix}IN={indev} OUT={outdev} "
    if hwheader:
        text += "MAC=" + ":".join(f"{b:02x}" for b in hwheader) + " "
    version = packet[0] >> 4 if packet else 0
    if version == 4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        tos, total, ident, frag, ttl, proto = struct.unpack("!xBHHHBB", packet[:10])
        src = ipaddress.IPv4Address(packet[12:16])
        dst = ipaddress.IPv4Address(packet[16:20])
        text += (f"SRC={src} DST={dst} LEN={total} TOS=0x{tos & 0x1E:02X} "
                 f"PREC=0x{tos & 0xE0:02X} TTL={ttl} ID={ident} ")  # fmt: skip
        text += "".join(f for bit, f in ((0x8000, "CE "), (0x4000, "DF "), (0x2000, "MF "))
                        if frag & bit)  # fmt: skip
        if frag & 0x1FFF:
            return text + f"FRAG:{frag & 0x1FFF} "
        return text + _transport(proto, packet[ihl:])
    if version == 6 and len(packet) >= 40:
        first, payload_len, nexthdr, hops = struct.unpack("!IHBB", packet[:8])
        src6 = ipaddress.IPv6Address(packet[8:24])
        dst6 = ipaddress.IPv6Address(packet[24:40])
        text += (f"SRC={src6} DST={dst6} LEN={payload_len + 40} TC={(first >> 20) & 0xFF} "
                 f"HOPLIMIT={hops} FLOWLBL={first & 0xFFFFF} ")  # fmt: skip
        return text + _transport(nexthdr, packet[40:])
    return text


def packets(data: bytes) -> Iterator[dict[int, bytes]]:
    """The attributes of each NFULNL_MSG_PACKET in one netlink read."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            return
        if kind == (_SUBSYS_ULOG << 8) | _MSG_PACKET:
            attrs: dict[int, bytes] = {}
            pos, end = offset + 20, offset + length  # netlink header, then nfgenmsg
            while pos + 4 <= end:
                size, akind = struct.unpack_from("=HH", data, pos)
                if size < 4:
                    break
                attrs[akind & 0x7FFF] = data[pos + 4 : pos + size]
                pos += (size + 3) & ~3
            yield attrs
        offset += (length + 3) & ~3


@dataclass
class Site:
    netns: str
    socket: str  # the site's rsyslog imuxsock socket
    names: dict[int, str] = field(default_factory=dict)

    def name(self, index: int) -> str:
        if index not in self.names:
            done = subprocess.run(
                ["ip", "-n", self.netns, "-o", "link", "show"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            for line in done.stdout.splitlines():
                number, name = line.split(":")[:2]
                self.names[int(number)] = name.strip().split("@")[0]
        return self.names.get(index, "")


def _open(site: Site) -> socket.socket:
    with netns.inside(site.netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    mode = struct.pack("!IBB", _COPY_RANGE, _COPY_PACKET, 0)
    for seq, attrs in enumerate((_attr(_CFG_CMD, bytes([_CMD_BIND])), _attr(_CFG_MODE, mode))):
        sock.send(config_message(GROUP, attrs, seq + 1))
        reply = sock.recv(4096)
        kind = struct.unpack_from("=H", reply, 4)[0]
        error = struct.unpack_from("=i", reply, 16)[0] if kind == _NLMSG_ERROR else 0
        if error:
            raise OSError(-error, f"NFLOG en {site.netns}: {os.strerror(-error)}")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setblocking(False)
    return sock


def _forward(site: Site, attrs: dict[int, bytes], out: socket.socket) -> None:
    def dev(kind: int) -> str:
        raw = attrs.get(kind)
        return site.name(struct.unpack("!I", raw[:4])[0]) if raw else ""

    prefix = attrs.get(_A_PREFIX, b"").rstrip(b"\0").decode(errors="replace")
    line = kernel_line(prefix, dev(_A_INDEV), dev(_A_OUTDEV), attrs.get(_A_HWHEADER, b""),
                       attrs.get(_A_PAYLOAD, b""))  # fmt: skip
    stamp = time.strftime("%b %e %H:%M:%S")
    with contextlib.suppress(OSError):  # the site's rsyslog restarting: the line is lost
        out.sendto(f"<4>{stamp} kernel: {line}".encode(), site.socket)


def serve(sites: list[Site], pidfile: Path) -> None:
    """Forward every site's dropped packets as log lines; the pid file once all are bound."""
    sel = selectors.DefaultSelector()
    opened = {}
    for site in sites:
        sock = _open(site)
        opened[sock.fileno()] = sock
        sel.register(sock, selectors.EVENT_READ, site)
    tmp = pidfile.with_suffix(".tmp")
    tmp.write_text(str(os.getpid()))
    tmp.replace(pidfile)  # bound first: a drop right after ``up`` is logged
    out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    while True:
        for key, _ in sel.select():
            while True:
                try:
                    data = opened[key.fd].recv(65536)
                except BlockingIOError:
                    break
                except OSError as e:  # ENOBUFS: the kernel dropped copies it could not queue
                    if e.errno == errno.ENOBUFS:
                        continue
                    raise
                for attrs in packets(data):
                    _forward(key.data, attrs, out)


def running(state_dir: Path) -> int | None:
    """The pid of the lab's NFLOG forwarder, when it runs."""
    try:
        pid = int((state_dir / "nflog.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"lab.nflog" in cmdline else None


def start(state_dir: Path, sites: list[tuple[str, Path]]) -> int | None:
    """(Re)start the forwarder for ``sites`` (namespace, rsyslog socket); None when none."""
    from lab.services import stop

    plan = state_dir / "nflog.json"
    wanted = json.dumps([{"netns": ns, "socket": str(sock)} for ns, sock in sites])
    old = running(state_dir)
    with contextlib.suppress(OSError):
        if old and sites and plan.read_text() == wanted:
            return old  # the same sites: kept, as ``up`` keeps every daemon it can
    if old:
        stop(old)
    pidfile = state_dir / "nflog.pid"
    pidfile.unlink(missing_ok=True)
    if not sites:
        return None
    plan.write_text(wanted)
    with (state_dir / "nflog.log").open("ab") as log:
        subprocess.run(
            ["setsid", "-f", sys.executable, "-m", "lab.nflog", str(plan), str(pidfile)],
            check=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = running(state_dir)
        if pid:
            return pid
        time.sleep(0.02)
    tail = (state_dir / "nflog.log").read_text(errors="replace")[-300:]
    raise LabError(f"el reenviador NFLOG de los descartes no arrancó: {tail.strip()}")


def main(argv: list[str]) -> int:
    plan, pidfile = Path(argv[0]), Path(argv[1])
    sites = [Site(p["netns"], p["socket"]) for p in json.loads(plan.read_text())]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        serve(sites, pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
