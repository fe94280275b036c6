"""Real net-snmp ``snmpd`` and OpenSSH ``sshd`` for one lab site.

Both daemonise themselves inside the site's namespace and write a pid file in the site's
folder under the lab state directory, which is where their configuration, keys and logs live.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lab import netns, smbios
from lab.sites import LabSite
from pukara.errors import LabError

SNMPD = "/usr/sbin/snmpd"
SSHD = "/usr/sbin/sshd"
LOG_SOCKET = "log.sock"  # the site's rsyslog imuxsock socket, in the site's folder


@dataclass(frozen=True, slots=True)
class LabCredentials:
    """The lab's own secrets: generated per lab, kept 0600 in its state directory."""

    community: str
    v3_user: str
    v3_auth: str
    v3_priv: str


def require_binaries() -> None:
    missing = [
        b for b in (SNMPD, SSHD, "/usr/bin/ssh-keygen", "/usr/sbin/nft") if not Path(b).exists()
    ]
    if missing:
        raise LabError(
            "faltan programas del laboratorio: " + ", ".join(missing) +
            " (apt-get install snmpd openssh-server nftables)"
        )  # fmt: skip


def alive(pidfile: Path, binary: str) -> int | None:
    """The pid in ``pidfile`` when that process is running ``binary``, else None."""
    try:
        pid = int(pidfile.read_text().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe")
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(exe).name == Path(binary).name else None


def write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


MANUFACTURER = "pukara lab"
MODEL = "KBCS-LAB-1"
HARDWARE_VERSION = "1.0"
NEIGHBOUR = "lima-core"
_ENT = "1.3.6.1.2.1.47.1.1.1.1"
_LLDP_REM = "1.0.8802.1.1.2.1.4.1.1"


def _entity_and_lldp(site: LabSite) -> list[str]:
    """ENTITY-MIB and LLDP-MIB rows served with snmpd's ``override``.

    net-snmp implements neither table on Linux. Row 1 is the chassis with the site's serial;
    row 2 is a module whose serial is a placeholder, as many real devices report.
    LLDP: the site's WAN port sees the headquarters core switch.
    """
    rows = {
        f"{_ENT}.2.1": ("octet_str", f'"{MODEL} chassis"'),
        f"{_ENT}.5.1": ("integer", "3"),
        f"{_ENT}.7.1": ("octet_str", '"Chassis"'),
        f"{_ENT}.8.1": ("octet_str", f'"{HARDWARE_VERSION}"'),
        f"{_ENT}.11.1": ("octet_str", f'"{site.serial}"'),
        f"{_ENT}.12.1": ("octet_str", f'"{MANUFACTURER}"'),
        f"{_ENT}.13.1": ("octet_str", f'"{MODEL}"'),
        f"{_ENT}.2.2": ("octet_str", '"Modulo VPN"'),
        f"{_ENT}.5.2": ("integer", "9"),
        f"{_ENT}.11.2": ("octet_str", '"N/A"'),
        f"{_LLDP_REM}.7.0.1.1": ("octet_str", f'"{site.code}-uplink"'),
        f"{_LLDP_REM}.8.0.1.1": ("octet_str", '"Enlace WAN"'),
        f"{_LLDP_REM}.9.0.1.1": ("octet_str", f'"{NEIGHBOUR}"'),
        "1.0.8802.1.1.2.1.3.7.1.3.1": ("octet_str", '"wan0"'),
    }
    return [f"override .{oid} {kind} {value}" for oid, (kind, value) in rows.items()]


# An index that cannot be an address (a sub-identifier over 255) in both address tables
BAD_ADDRESS_INDEX = "198.18.300.1"
# The pass script of a site with ``snmp_malo``: snmpd runs it as ``script -g|-n OID`` and
# reads OID, type and value back; printing nothing makes the object absent (noSuchInstance).
MALFORMED_SCRIPT = """#!/bin/sh
# pukara lab: malformed answers on purpose
case "$1 $2" in
  "-g .1.3.6.1.2.1.31.1.1.1.6."*) printf '%s\\nstring\\nno-es-un-contador\\n' "$2" ;;
esac
exit 0
"""


def malformed(script: Path) -> list[str]:
    """snmpd lines of a site that answers badly, each a real agent's known failure.

    ``pass`` serves ifHCInOctets as an OCTET STRING (a counter monitoring cannot read) and
    takes sysUpTime away (noSuchInstance); ``override`` adds ipAddressTable and ipAddrTable
    rows whose index is not an address, and a sysName that is not UTF-8.
    """
    return [
        f"pass -p 1 .1.3.6.1.2.1.1.3 {script}",
        f"pass .1.3.6.1.2.1.31.1.1.1.6 {script}",
        f"override .1.3.6.1.2.1.4.34.1.3.1.4.{BAD_ADDRESS_INDEX} integer 1",
        f"override .1.3.6.1.2.1.4.20.1.2.{BAD_ADDRESS_INDEX} integer 1",
        "override .1.3.6.1.2.1.1.5.0 octet_str 0x67772dfffe",  # "gw-" and two invalid bytes
    ]


def snmpd_conf(site: LabSite, creds: LabCredentials, folder: Path | None = None) -> str:
    """The site's snmpd.conf: v2c and v3 users (or one of them), MIB rows, odd answers."""
    v2c = [f"rocommunity {creds.community} default", f"rocommunity6 {creds.community} default"]
    v3 = [
        f'createUser {creds.v3_user} SHA "{creds.v3_auth}" AES "{creds.v3_priv}"',
        f"rouser {creds.v3_user} priv",
    ]
    bad = malformed((folder or Path(".")) / "snmp-pass.sh") if site.snmp_malo else []
    return "\n".join(
        [
            f"agentAddress udp:{site.v4}:161,udp6:[{site.v6}]:161",
            *(v2c if site.snmp_only != "v3" else []),
            *(v3 if site.snmp_only != "v2c" else []),
            f"sysName {site.hostname}",
            f"sysLocation Laboratorio pukara, sede {site.code}",
            "sysContact noc@laboratorio.pukara.invalid",
            "sysServices 72",
            *_entity_and_lldp(site),
            *bad,
            "",
        ]
    )


NETWORK_USER = "red"  # the network user: its login lands in the site router's vtysh
VTYSH = "/usr/bin/vtysh"


def router_login(pathspace: str, vtysh: str = VTYSH) -> str:
    """The ForceCommand of :data:`NETWORK_USER`: vtysh of the router, as a router's CLI.

    A command given on the ssh line runs as one ``vtysh -c`` (quoted, never re-read by the
    shell); without one, an interactive vtysh.
    """
    vtysh = f"{vtysh} -N {pathspace}"
    return (
        f'if [ -n "$SSH_ORIGINAL_COMMAND" ]; then exec {vtysh} -c "$SSH_ORIGINAL_COMMAND";'
        f" else exec {vtysh}; fi"
    )


# the network user's key, copied into the site's own /etc (sshd reads it as that user)
NETWORK_KEYS = "/etc/ssh/authorized_keys_red"


def _router_match(pathspace: str) -> list[str]:
    return [
        f"Match User {NETWORK_USER}",
        f"    AuthorizedKeysFile {NETWORK_KEYS}",
        f"    ForceCommand {router_login(pathspace)}",
        "    AllowTcpForwarding no",
        "    AllowAgentForwarding no",
        "    X11Forwarding no",
        "    PermitTunnel no",
    ]


# the local account's key: the lab's authorized_keys is root's 0600 file, which sshd reads as
# the user logging in; a 0644 copy in the site's own /etc lets the account log in with it
ACCOUNT_KEYS = "/etc/ssh/authorized_keys_operador"


def _account_match() -> list[str]:
    return [f"Match User {ACCOUNT}", f"    AuthorizedKeysFile {ACCOUNT_KEYS}"]


def sshd_conf(
    site: LabSite, folder: Path, authorized_keys: Path, *, router: str = "",
    listen: tuple[str, str] | None = None,
) -> str:  # fmt: skip
    """sshd_config of a site (or, with ``listen``, of headquarters' router at that address).

    ``router``: the pathspace of the FRR router the network user's login lands in.
    """
    v4, v6 = listen or (str(site.v4), str(site.v6))
    return "\n".join(
        [
            f"# {site.hostname}, serie {site.serial}, /sys de la sede (el reinicio sigue a esta línea)",
            f"# syslog(3) a /dev/log, que en la sede es {folder / LOG_SOCKET} (rsyslog de la sede)",
            # /etc propia (overlay en un tmpfs del espacio de montaje de sshd), con la cuenta
            # local de pruebas: lo que cambie una sesión en /etc/shadow no sale de la sede
            f"# /etc de la sede: la de la máquina debajo; cuenta local {ACCOUNT}",
            f"ListenAddress {v4}:22",
            f"ListenAddress [{v6}]:22",
            f"HostKey {folder / 'ssh_host_ed25519_key'}",
            f"PidFile {folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {authorized_keys}",
            "PermitRootLogin prohibit-password",
            # the lab's state may live under /tmp (tests); its key files are 0600 in a 0700 dir
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PrintMotd no",
            # VERBOSE, as hardening guides ask: a refused key is logged too ("Failed publickey")
            "SyslogFacility AUTH",
            "LogLevel VERBOSE",
            "MaxStartups 100:30:200",
            "Subsystem sftp internal-sftp",
            *_account_match(),
            *(_router_match(router) if router else []),
            "",
        ]
    )


def wait_pid(pidfile: Path, binary: str, what: str, log: Path) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = alive(pidfile, binary)
        if pid:
            return pid
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-300:] if log.exists() else ""
    raise LabError(f"{what} no arrancó; registro: {tail.strip()}")


# The whole environment of a daemon or tool the lab starts: nothing of the caller's (no
# PUKARA_CRED_*, webhook URL or credentials path in its /proc/<pid>/environ)
DAEMON_ENVIRONMENT = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def run_checked(argv: list[str], what: str) -> None:
    """Run ``argv`` (a daemon that forks itself away, or a tool) with
    :data:`DAEMON_ENVIRONMENT`; a non-zero exit is a LabError naming ``what``."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env=DAEMON_ENVIRONMENT, stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise LabError(f"{what} falló: {(done.stderr or done.stdout).strip()[:400]}")


def wait_started(pidfile: Path, binary: str, what: str, timeout_s: float = 30.0) -> int:
    """The daemon's pid once ``pidfile`` names a running ``binary``; LabError after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = alive(pidfile, binary)
        if pid:
            return pid
        time.sleep(0.02)
    raise LabError(f"{what} no arrancó; vea {pidfile.parent}")


def current_daemon(pidfile: Path, binary: str, conf: Path, wanted: str) -> int | None:
    """The running daemon if its configuration is the wanted one; else stop it."""
    pid = alive(pidfile, binary)
    try:
        same = conf.read_text() == wanted
    except OSError:
        same = False
    if pid and same:
        return pid
    if pid:
        stop(pid)
    return None


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop(*pids: int, grace_s: float = 2.0) -> None:
    """SIGTERM every pid at once, SIGKILL those still running after ``grace_s``."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    left = [p for p in pids if _running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [p for p in left if _running(p)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start_snmpd(site: LabSite, ns: str, folder: Path, creds: LabCredentials) -> int:
    pidfile = folder / "snmpd.pid"
    conf = folder / "snmpd.conf"
    wanted = snmpd_conf(site, creds, folder)
    pid = current_daemon(pidfile, SNMPD, conf, wanted)
    if pid:
        return pid
    write_private(conf, wanted)
    if site.snmp_malo:
        script = folder / "snmp-pass.sh"
        script.write_text(MALFORMED_SCRIPT)
        script.chmod(0o700)
    persist = folder / "snmp-persist"
    shutil.rmtree(persist, ignore_errors=True)  # createUser keys are rebuilt from the conf
    persist.mkdir(mode=0o700)
    env = {"PATH": os.environ.get("PATH", ""), "SNMP_PERSISTENT_DIR": str(persist), "MIBS": ""}
    log = folder / "snmpd.log"
    with netns.inside(ns):
        subprocess.run(
            [SNMPD, "-C", "-c", str(conf), "-p", str(pidfile), "-Lf", str(log), "-r"],
            env=env, check=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    return wait_pid(pidfile, SNMPD, f"snmpd de {site.code}", log)


def _dev_submounts() -> list[str]:
    """The mounts right under the machine's /dev (pts, shm...), which an overlay would hide."""
    names = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point.startswith("/dev/") and "/" not in point[5:] and point[5:].isalnum():
            names.append(point[5:])
    return sorted(set(names))


ACCOUNT = "operador"  # a local account of every site, only in the site's own /etc
ACCOUNT_FILES = ("passwd", "shadow", "group", "gshadow")


def _free_id(taken: set[int], start: int = 2900) -> int:
    return next(i for i in range(start, 60000) if i not in taken)


VTY_GROUP = "frrvty"  # Debian's frr: the group that may open the routing daemons' vty sockets


def account_lines(etc: Path = Path("/etc")) -> dict[str, str]:
    """The lines that add :data:`ACCOUNT` and :data:`NETWORK_USER` to a site's /etc.

    Either is left out if the machine has it. Their password is ``*`` (no password opens
    them; locking gives ``!*``); the account's home is ``/nonexistent``, the network user's
    ``/``: nothing of them is written outside the site's /etc. The network user's group is
    :data:`VTY_GROUP` (the routers' vty sockets and configuration folder); its login is the
    ForceCommand of sshd_config.
    """
    users = [ln.split(":") for ln in (etc / "passwd").read_text().splitlines() if ln]
    groups = [ln.split(":") for ln in (etc / "group").read_text().splitlines() if ln]
    uids = {int(u[2]) for u in users if len(u) > 2 and u[2].isdigit()}
    gids = {int(g[2]) for g in groups if len(g) > 2 and g[2].isdigit()}
    days = int(time.time() // 86400)
    out = dict.fromkeys(ACCOUNT_FILES, "")
    if not any(u[0] == ACCOUNT for u in users) and not any(g[0] == ACCOUNT for g in groups):
        uid = _free_id(uids)
        gid = _free_id(gids | {uid - 1})
        uids.add(uid)
        gids.add(gid)
        out["passwd"] += (
            f"{ACCOUNT}:x:{uid}:{gid}:Cuenta local del laboratorio:/nonexistent:/bin/bash\n"
        )
        out["shadow"] += f"{ACCOUNT}:*:{days}:0:99999:7:::\n"
        out["group"] += f"{ACCOUNT}:x:{gid}:\n"
        out["gshadow"] += f"{ACCOUNT}:!::\n"
    vty = next((g[2] for g in groups if g[0] == VTY_GROUP and len(g) > 2), None)
    if vty is not None and not any(u[0] == NETWORK_USER for u in users):
        uid = _free_id(uids)
        out["passwd"] += f"{NETWORK_USER}:x:{uid}:{vty}:Red del laboratorio:/:/bin/sh\n"
        out["shadow"] += f"{NETWORK_USER}:*:{days}:0:99999:7:::\n"
    return out


# sed: the account appended to the vty group's member list (the last field, maybe empty)
VTY_JOIN = f"/^{VTY_GROUP}:/{{/:$/!s/$/,{ACCOUNT}/;/:$/s/$/{ACCOUNT}/;}}"


def joins_vty_group(etc: Path = Path("/etc")) -> bool:
    """True when :data:`ACCOUNT` is the lab's own (added by :func:`account_lines`) and the
    machine has :data:`VTY_GROUP`: the site's /etc then lists the account in that group, so
    it may run the router's vtysh (Ansible's remediation logs in as that account)."""
    lines = account_lines(etc)
    groups = [ln.split(":")[0] for ln in (etc / "group").read_text().splitlines() if ln]
    return f"{ACCOUNT}:" in lines["passwd"] and VTY_GROUP in groups


# sshd gets its own mount and UTS namespaces: the site's hostname, a /sys that lists the
# site's interfaces, its SMBIOS table where dmidecode looks for it, and a /dev whose /dev/log
# is the site's rsyslog socket (the machine's /dev is untouched: an overlay with its upper
# layer in a tmpfs of this mount namespace only; /dev's own mounts move on top). With a
# router, FRR's folders for its pathspace are the site's own (see lab.frr.PRIVATE_PATHS). Its
# twelve arguments are named first; after them come /dev's submounts, one argument each ("$@").
SSHD_SCRIPT = (
    'entry="$1" table="$2" name="$3" sshd="$4" conf="$5" top="$7" sock="$8" etc="$9"'
    ' adds="${10}" ps="${11}" frr="${12}" && shift 12'
    # a sysfs of the site's own network namespace, as `ip netns exec` mounts one
    " && umount -l /sys && mount -t sysfs pukara-sys /sys"
    " && mount -t tmpfs -o size=64k,mode=0755 pukara-dmi /sys/firmware"
    " && mkdir -p /sys/firmware/dmi/tables"
    ' && cp "$entry" /sys/firmware/dmi/tables/smbios_entry_point'
    ' && cp "$table" /sys/firmware/dmi/tables/DMI'
    ' && mount -t tmpfs -o size=64k,mode=0700 pukara-dev "$top"'
    ' && cd "$top" && mkdir upper work "$@"'
    ' && for d in "$@"; do mount --rbind "/dev/$d" "$d"; done'
    ' && mount -t overlay pukara-dev -o "lowerdir=/dev,upperdir=$top/upper,workdir=$top/work" /dev'
    ' && for d in "$@"; do mount --move "$d" "/dev/$d"; done && cd /'
    # -f: the machine may have its own /dev/log (rsyslog, journald); replaced in this view only
    ' && ln -sfn "$sock" /dev/log'
    # a private /etc: the machine's below, this namespace's tmpfs above (no submounts
    # under the machine's /etc are carried over), and the site's local account added
    ' && mount -t tmpfs -o size=4m,mode=0700 pukara-etc "$etc"'
    ' && mkdir "$etc/upper" "$etc/work"'
    " && mount -t overlay pukara-etc"
    ' -o "lowerdir=/etc,upperdir=$etc/upper,workdir=$etc/work" /etc'
    ' && for f in passwd shadow group gshadow; do cat "$adds/$f" >> "/etc/$f"; done'
    f'  && install -m 0644 "$adds/authorized_keys" {ACCOUNT_KEYS}'
    # the local account joins the vty group (Ansible's vtysh as operador), in this /etc only
    ' && if [ -s "$adds/vty" ]; then'
    f"  sed -i -e '{VTY_JOIN}' /etc/group /etc/gshadow; fi"
    ' && if [ -n "$ps" ]; then'
    f'  install -m 0644 "$adds/authorized_keys" {NETWORK_KEYS}'
    " && mount -t tmpfs -o size=64k,mode=0755 pukara-frr /etc/frr"
    ' && mkdir "/etc/frr/$ps" && mount --bind "$frr/etc" "/etc/frr/$ps"'
    " && mount -t tmpfs -o size=64k,mode=0755 pukara-frr /run/frr"
    ' && mkdir "/run/frr/$ps" && mount --bind "$frr/run" "/run/frr/$ps"; fi'
    ' && hostname "$name" && exec "$sshd" -f "$conf"'
)


def sshd_argv(
    site: LabSite, folder: Path, conf: Path, log: Path, top: Path, etc_top: Path, adds: Path,
    submounts: list[str], router: tuple[str, Path] | None = None,
) -> list[str]:  # fmt: skip
    """``unshare`` running :data:`SSHD_SCRIPT`: every path and each submount its own argument.

    ``router``: the pathspace and folder of the site's FRR router (see lab.frr).
    """
    ps, frr = (router[0], str(router[1])) if router else ("", "")
    return ["unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh", "-c",
            SSHD_SCRIPT, "sh", str(folder / "dmi-entry-point"), str(folder / "dmi-table"),
            site.hostname, SSHD, str(conf), str(log), str(top), str(folder / LOG_SOCKET),
            str(etc_top), str(adds), ps, frr, *submounts]  # fmt: skip


def start_sshd(
    site: LabSite, ns: str | None, folder: Path, authorized_keys: Path, *,
    router: tuple[str, Path] | None = None, listen: tuple[str, str] | None = None,
) -> int:  # fmt: skip
    """Start (or keep) the site's sshd; ``ns`` None: in the machine's own network namespace.

    ``router``: the pathspace and folder of the FRR router the network user lands in.
    """
    pidfile = folder / "sshd.pid"
    conf = folder / "sshd_config"
    wanted = sshd_conf(
        site, folder, authorized_keys, router=router[0] if router else "", listen=listen
    )
    pid = current_daemon(pidfile, SSHD, conf, wanted)
    if pid:
        return pid
    conf.write_text(wanted)
    log = folder / "sshd.log"
    table = smbios.system_table(MANUFACTURER, MODEL, HARDWARE_VERSION, site.serial)
    (folder / "dmi-table").write_bytes(table)
    (folder / "dmi-entry-point").write_bytes(smbios.entry_point(table))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    top = folder / "dev-top"
    top.mkdir(mode=0o700, exist_ok=True)
    etc_top = folder / "etc-top"
    etc_top.mkdir(mode=0o700, exist_ok=True)
    adds = folder / "cuenta"
    adds.mkdir(mode=0o700, exist_ok=True)
    for name, text in account_lines().items():
        (adds / name).write_text(text)
    (adds / "vty").write_text(ACCOUNT if joins_vty_group() else "")
    (adds / "authorized_keys").write_text(authorized_keys.read_text())
    argv = sshd_argv(site, folder, conf, log, top, etc_top, adds, _dev_submounts(), router)
    where = netns.inside(ns) if ns else contextlib.nullcontext()
    with where, log.open("ab") as err:
        subprocess.run(argv, check=False, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    return wait_pid(pidfile, SSHD, f"sshd de {site.code}", log)


def host_key(folder: Path) -> str:
    """The site's ed25519 host public key (generated once per site)."""
    key = folder / "ssh_host_ed25519_key"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", folder.name, "-f", str(key)],
            check=True, stdin=subprocess.DEVNULL, capture_output=True,
        )  # fmt: skip
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])
