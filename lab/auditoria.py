"""The lab's audit hosts: Debian servers to audit, each its own namespaces on this machine.

Each host has its own network namespace ``<prefix>-aNN`` (a veth to the machine, IPv4 in
198.19.0.0/24, IPv6 ``fd70:756b:6172:a0NN::/64``), its own mount namespace with an overlay of
the machine's root filesystem (the lower layer a read-only, non-recursive bind of ``/``, the
upper one a tmpfs of that namespace: what the host's profile changes never reaches the
machine's files), its own PID namespace (its PID 1 ends as ``sleep infinity``; killing it ends
the host) and its own sshd on port 22 with the host's own ``/etc/ssh/sshd_config``. Ansible logs
in as :data:`SERVICE_ACCOUNT` with the lab key and becomes root with sudo.

The lab's NTP server (a chronyd with ``-x``: the machine's clock is never touched) and the
address of its log and monitoring collector sit on the machine's loopback.

auditd itself does not run in a host (a namespace has no audit subsystem of its own); the
hardened hosts carry the rules files only, which is what check ``auditd_rules`` reads.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lab import auditoria_perfiles as perfiles
from lab import manage, netns, services
from pukara.errors import LabError
from pukara.files import make_private_dirs

SERVICE_ACCOUNT = perfiles.SERVICE_ACCOUNT

# --- Policy values the lab is built to (auditoria/datos/politica.toml must agree) ----------
NET_V4 = ipaddress.IPv4Network("198.19.0.0/24")
NTP_SERVER = "198.19.0.1"  # approved NTP server: the lab's chronyd on the machine
SYSLOG_COLLECTOR = "198.19.0.1"  # approved syslog collector (UDP 514)
SNMP_V3_USER = "pukara"  # monitoring polls snmpd with this v3 user, authPriv (rouser ... priv)
APPROVED_LISTENERS = ("tcp/22", "udp/161")  # sshd and snmpd, nothing else
APPROVED_SERVICE_ACCOUNTS = (SERVICE_ACCOUNT,)  # NOPASSWD: ALL allowed for these only
DORMANT_DAYS = 90
# setuid/setgid regular files of this machine's root filesystem (find / -xdev -perm /6000)
SETUID_BASELINE = (
    "/usr/bin/chage",
    "/usr/bin/chfn",
    "/usr/bin/chsh",
    "/usr/bin/expiry",
    "/usr/bin/gpasswd",
    "/usr/bin/mount",
    "/usr/bin/newgrp",
    "/usr/bin/passwd",
    "/usr/bin/ssh-agent",
    "/usr/bin/su",
    "/usr/bin/sudo",
    "/usr/bin/umount",
    "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
    "/usr/lib/openssh/ssh-keysign",
    "/usr/lib/polkit-1/polkit-agent-helper-1",
    "/usr/lib/x86_64-linux-gnu/utempter/utempter",
    "/usr/sbin/postdrop",
    "/usr/sbin/postqueue",
    "/usr/sbin/unix_chkpwd",
)
EXPECTED_CSV = Path(__file__).resolve().parent / "datos" / "auditoria_esperado.csv"
LINUX_CHECKS = (
    "ntp_sync", "syslog_remote", "log_permissions", "auditd_rules", "password_quality",
    "password_hashing", "account_lockout", "ssh_root_login", "ssh_password_auth", "ssh_crypto",
    "ssh_idle_timeout", "shell_timeout", "login_banner", "unique_ids", "uid0_only_root",
    "sudo_nopasswd", "dormant_accounts", "setuid_baseline", "world_writable_etc",
    "security_updates", "apt_signed_sources", "firewall_default_deny", "listening_services",
    "insecure_services", "usb_storage", "monitoring_agent", "disk_capacity",
)  # fmt: skip

Firewall = Literal["inet", "ip-only", "none"]


@dataclass(frozen=True, slots=True)
class AuditHost:
    code: str  # aud1..aud6
    name: str  # its hostname
    profile: str
    description: str
    ipv6: bool = True  # False: IPv6 disabled by sysctl in the host's namespace
    v4_only_listener: bool = False  # its sshd listens on IPv4 only
    firewall: Firewall = "inet"

    @property
    def index(self) -> int:
        return int(self.code.removeprefix("aud"))

    @property
    def v4_machine(self) -> ipaddress.IPv4Address:
        """The machine's end of the host's /30 (the n-th /30 from 198.19.0.192/26)."""
        return NET_V4[4 * (48 + self.index) + 1]

    @property
    def v4(self) -> ipaddress.IPv4Address:
        return NET_V4[4 * (48 + self.index) + 2]

    @property
    def v6_net(self) -> ipaddress.IPv6Network:
        return ipaddress.IPv6Network(f"fd70:756b:6172:a0{self.index:02d}::/64")

    @property
    def v6_machine(self) -> ipaddress.IPv6Address:
        return self.v6_net[1]

    @property
    def v6(self) -> ipaddress.IPv6Address:
        return self.v6_net[2]


HOSTS: tuple[AuditHost, ...] = (
    AuditHost("aud1", "srv-aud1", "endurecido",
              "Servidor endurecido: pasan las 27 comprobaciones Linux"),
    AuditHost("aud2", "srv-aud2", "debian",
              "Debian 12 tal como se instala, sin endurecer ni cortafuegos", firewall="none"),
    AuditHost("aud3", "srv-aud3", "debil-acceso",
              "Acceso débil: root y contraseña por SSH, segundo UID 0, NOPASSWD ALL, "
              "cuenta inactiva"),
    AuditHost("aud4", "srv-aud4", "debil-registros",
              "Sin hora sincronizada ni syslog remoto, registro legible por todos, archivo "
              "escribible por todos en /etc, setuid de más, cortafuegos solo IPv4",
              firewall="ip-only"),
    AuditHost("aud5", "srv-aud5", "debil-servicios",
              "Servicio de más escuchando (8080), actualización de seguridad pendiente, sshd "
              "solo IPv4", v4_only_listener=True),
    AuditHost("aud6", "srv-aud6", "debil-red",
              "Endurecido con IPv6 deshabilitado por sysctl", ipv6=False),
)  # fmt: skip

REQUIRED = ("/usr/sbin/chronyd", "/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/dpkg-deb",
            "/usr/bin/gpg", "/usr/sbin/rsyslogd", "/usr/sbin/snmpd", "/usr/bin/sudo")  # fmt: skip

# The host's PID 1, run by ``unshare`` inside its network namespace: it writes its pid as the
# machine sees it, builds the overlay root, mounts proc/sys/dev/run/tmp and enters the chroot.
INIT_SCRIPT = (
    'd="$1" name="$2" && read -r pid rest < /proc/self/stat && echo "$pid" > "$d/init.pid.tmp"'
    ' && mv -f "$d/init.pid.tmp" "$d/init.pid"'
    # the machine's other network namespaces must not be held by this mount namespace
    " && { umount -l /run/netns 2>/dev/null; true; }"
    ' && t="$d/capas" && mkdir -p "$t" && mount -t tmpfs -o size=2g,mode=0700 pk-audhost "$t"'
    ' && mkdir "$t/lower" "$t/upper" "$t/work" "$t/root"'
    ' && mount --bind / "$t/lower" && mount -o remount,bind,ro "$t/lower"'
    " && mount -t overlay pk-audhost"
    ' -o "lowerdir=$t/lower,upperdir=$t/upper,workdir=$t/work" "$t/root"'
    ' && r="$t/root" && mount -t proc proc "$r/proc" && mount -t sysfs sysfs "$r/sys"'
    # the machine's work and root's home are not the host's (nor its secrets): empty here
    ' && for m in work root; do if [ -d "$r/$m" ]; then'
    ' mount -t tmpfs -o mode=0700,size=16m hidden "$r/$m" || exit 1; fi; done'
    ' && mount -t tmpfs -o mode=0755,size=64m run "$r/run"'
    ' && mount -t tmpfs -o mode=1777,size=256m tmp "$r/tmp"'
    ' && mount -t tmpfs -o mode=0755,size=1m dev "$r/dev"'
    " && for n in null zero full random urandom tty; do"
    ' touch "$r/dev/$n" && mount --bind "/dev/$n" "$r/dev/$n" || exit 1; done'
    ' && mkdir "$r/dev/pts" "$r/dev/shm"'
    ' && mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$r/dev/pts"'
    ' && ln -s pts/ptmx "$r/dev/ptmx" && mount -t tmpfs -o mode=1777 shm "$r/dev/shm"'
    ' && ln -s /proc/self/fd "$r/dev/fd" && ln -s /proc/self/fd/0 "$r/dev/stdin"'
    ' && ln -s /proc/self/fd/1 "$r/dev/stdout" && ln -s /proc/self/fd/2 "$r/dev/stderr"'
    ' && mkdir "$r/run/pukara" && mount --bind "$d/compartido" "$r/run/pukara"'
    ' && hostname "$name" && exec chroot "$r" /bin/sh /run/pukara/arranque.sh'
)


def folder(lab: manage.Lab) -> Path:
    return lab.audit_dir


def host_dir(lab: manage.Lab, host: AuditHost) -> Path:
    return folder(lab) / host.code


def ns(lab: manage.Lab, host: AuditHost) -> str:
    return f"{lab.prefix}-a{host.index:02d}"


def machine_if(lab: manage.Lab, host: AuditHost) -> str:
    return f"{lab.prefix}a{host.index:02d}"


def known_hosts_file(lab: manage.Lab) -> Path:
    return lab.audit_dir / "known_hosts"


def address(host: AuditHost) -> str:
    """The host's IPv4 address, where Ansible and the scanners reach it."""
    return str(host.v4)


def by_code(code: str) -> AuditHost:
    for host in HOSTS:
        if host.code == code:
            return host
    raise LabError(f"el laboratorio no tiene el equipo de auditoría {code!r}")


def expected(path: Path = EXPECTED_CSV) -> dict[tuple[str, str], str]:
    """The declared result of every Linux check on every host: (host name, check) -> status."""
    with path.open(newline="") as fh:
        return {(row["host"], row["check_id"]): row["status"] for row in csv.DictReader(fh)}


def _state(lab: manage.Lab) -> dict[str, Any]:
    try:
        return dict(json.loads((folder(lab) / "state.json").read_text()))
    except FileNotFoundError:
        return {"hosts": []}
    except (OSError, ValueError) as e:
        raise LabError(f"estado de los equipos de auditoría ilegible: {e}") from e


def _save(lab: manage.Lab, state: dict[str, Any]) -> None:
    path = folder(lab) / "state.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def _run(argv: list[str], what: str, **kw: Any) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)
    if done.returncode != 0:
        raise LabError(f"{what} falló: {(done.stderr or done.stdout).strip()[:400]}")
    return str(done.stdout)


def _deb(work: Path, version: str) -> Path:
    root = work / f"pkg-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    doc = root / "usr/share/doc" / perfiles.DUMMY_PACKAGE
    doc.mkdir(parents=True)
    (doc / "README").write_text(f"Paquete ficticio del laboratorio de pukara, {version}\n")
    (root / "DEBIAN/control").write_text(
        f"Package: {perfiles.DUMMY_PACKAGE}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Laboratorio pukara <lab@pukara.invalid>\nSection: misc\nPriority: optional\n"
        "Description: paquete ficticio del laboratorio de auditoria\n"
    )
    out = work / f"{perfiles.DUMMY_PACKAGE}_{version}_all.deb"
    _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(out)], "dpkg-deb")
    return out


def build_repo(repo: Path) -> None:
    """A signed local apt repository: the dummy package 1.1 in suite bookworm-security.

    Every host's package lists are this repository's; version 1.0 is installed in the host
    with the pending update only; ``apt-get -s upgrade`` there
    lists ``Inst pukara-lab-ficticio [1.0] (1.1 pukara-lab:bookworm-security [all])``.
    """
    shutil.rmtree(repo, ignore_errors=True)
    work = repo / "obra"
    work.mkdir(parents=True)
    old, new = _deb(work, "1.0"), _deb(work, "1.1")
    shutil.copy(old, repo / old.name)
    pool = repo / "pool"
    pool.mkdir()
    shutil.copy(new, pool / new.name)
    fields = _run(["dpkg-deb", "-f", str(new)], "dpkg-deb -f")
    data = (pool / new.name).read_bytes()
    packages = (
        fields.rstrip("\n") + f"\nFilename: pool/{new.name}\nSize: {len(data)}\n"
        f"SHA256: {hashlib.sha256(data).hexdigest()}\n\n"
    )
    suite = perfiles.SECURITY_SUITE
    binary = repo / "dists" / suite / "main" / "binary-amd64"
    binary.mkdir(parents=True)
    (binary / "Packages").write_text(packages)
    index = packages.encode()
    (repo / "dists" / suite / "Release").write_text(
        f"Origin: pukara-lab\nLabel: pukara-lab\nSuite: {suite}\nCodename: {suite}\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S UTC', time.gmtime())}\n"
        "Architectures: amd64\nComponents: main\n"
        f"SHA256:\n {hashlib.sha256(index).hexdigest()} {len(index)} main/binary-amd64/Packages\n"
    )
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode", "loopback",
           "--passphrase", ""]  # fmt: skip
    _run([*gpg, "--quick-gen-key", "Laboratorio pukara <lab@pukara.invalid>", "ed25519",
          "sign", "never"], "gpg (llave del repositorio)")  # fmt: skip
    release = repo / "dists" / suite / "Release"
    _run([*gpg, "--clearsign", "-o", str(release.with_name("InRelease")), str(release)], "gpg")
    _run([*gpg, "--export", "-o", str(repo / "pukara-lab.gpg")], "gpg --export")
    shutil.rmtree(work)


def nft_rules(host: AuditHost) -> str:
    """Default-drop input: ``inet`` covers both families, ``ip-only`` leaves IPv6 open."""
    if host.firewall == "none":
        return ""
    family = "inet" if host.firewall == "inet" else "ip"
    icmp = (
        "meta l4proto { icmp, ipv6-icmp } accept" if family == "inet" else "ip protocol icmp accept"
    )
    return (
        f"table {family} filtro {{\n  chain input {{\n"
        "    type filter hook input priority 0; policy drop;\n"
        '    ct state established,related accept\n    iif "lo" accept\n'
        f"    {icmp}\n    tcp dport 22 accept\n    udp dport 161 accept\n  }}\n}}\n"
    )


def _ntp_dir(lab: manage.Lab) -> Path:
    return folder(lab) / "ntp"


def _start_ntp(lab: manage.Lab) -> None:
    """The lab's NTP server on the machine (serving its clock, never setting it: ``-x``)."""
    where = _ntp_dir(lab)
    where.mkdir(mode=0o700, exist_ok=True)
    conf = where / "chrony.conf"
    conf.write_text(
        f"bindaddress {NTP_SERVER}\nallow {NET_V4}\nlocal stratum 8\ncmdport 0\n"
        f"bindcmdaddress /\npidfile {where / 'chronyd.pid'}\n"
    )
    _run(["chronyd", "-x", "-u", "root", "-f", str(conf)], "chronyd (servidor NTP del laboratorio)")
    services.wait_pid(where / "chronyd.pid", "/usr/sbin/chronyd", "chronyd", where / "none")


def _addresses(verb: str) -> None:
    subprocess.run(["ip", "addr", verb, f"{NTP_SERVER}/32", "dev", "lo"],
                   capture_output=True, check=verb == "replace")  # fmt: skip


def _link(lab: manage.Lab, host: AuditHost) -> None:
    name, mif = ns(lab, host), machine_if(lab, host)
    netns.ip_batch([f"netns add {name}"])
    netns.ip_batch([
        f"link add {mif} type veth peer name eth0 netns {name}",
        f"addr replace {host.v4_machine}/30 dev {mif}",
        f"addr replace {host.v6_machine}/64 dev {mif} nodad",
        f"link set {mif} up",
    ])  # fmt: skip
    with netns.inside(name):
        if not host.ipv6:
            for key in ("all", "default", "lo", "eth0"):
                netns.write_sysctl(f"net.ipv6.conf.{key}.disable_ipv6", "1")
        rules = nft_rules(host)
        if rules:
            _run(["nft", "-f", "-"], f"nft en {name}", input=rules)
    netns.ip_batch(
        [
            "link set lo up",
            f"addr replace {host.v4}/30 dev eth0",
            *([f"addr replace {host.v6}/64 dev eth0 nodad"] if host.ipv6 else []),
            "link set eth0 up",
            # the lab's ranges only: nothing of a host ever reaches the machine's default route
            f"route replace 198.18.0.0/15 via {host.v4_machine}",
            *([f"route replace fd70:756b:6172::/48 via {host.v6_machine}"] if host.ipv6 else []),
        ],
        netns=name,
    )


def _prepare(
    lab: manage.Lab, host: AuditHost, authorized: Path, snmp_line: str, snmp_secrets: str = ""
) -> str:
    """The host's shared folder (its /run/pukara) and start script; returns its host key."""
    where = host_dir(lab, host)
    share = where / "compartido"
    make_private_dirs(share)
    key = services.host_key(share)
    shutil.copy(authorized, share / "authorized_keys")
    shutil.copytree(folder(lab) / "repo", share / "repo")
    (share / "arranque.sh").write_text(
        perfiles.start_script(
            host.code, host.name, host.profile, ipv6=host.ipv6,
            v4_only_listener=host.v4_only_listener, collector=SYSLOG_COLLECTOR,
            ntp_server=NTP_SERVER, snmp_user_line=snmp_line, snmp_secrets_conf=snmp_secrets,
        )
    )  # fmt: skip
    return key


def _launch(lab: manage.Lab, host: AuditHost) -> None:
    where = host_dir(lab, host)
    argv = ["setsid", "-f", "unshare", "--mount", "--pid", "--fork", "--uts", "--propagation",
            "private", "/bin/sh", "-c", INIT_SCRIPT, "sh", str(where), host.name]  # fmt: skip
    with netns.inside(ns(lab, host)), (where / "arranque.log").open("ab") as log:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def init_pid(lab: manage.Lab, host: AuditHost) -> int | None:
    """The host's PID 1 as the machine sees it, when it still lives in the host's namespace."""
    try:
        pid = int((host_dir(lab, host) / "init.pid").read_text())
        same = (
            os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns.NETNS_DIR / ns(lab, host)).st_ino
        )
    except (OSError, ValueError):
        return None
    return pid if same else None


def _banner(address: str, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout_s) as sock:
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def _synced(lab: manage.Lab, host: AuditHost) -> bool:
    done = subprocess.run([*nsenter_argv(lab, host.code), "chronyc", "-n", "tracking"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return f"({NTP_SERVER})" in done.stdout and "Leap status     : Normal" in done.stdout


def _wait(lab: manage.Lab, hosts: tuple[AuditHost, ...], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = list(hosts)
    while waiting:
        for host in list(waiting):
            where = host_dir(lab, host)
            if (where / "init.pid").exists() and init_pid(lab, host) is None:
                log = (where / "arranque.log").read_text(errors="replace")[-400:]
                raise LabError(f"el equipo {host.code} terminó al arrancar: {log.strip()}")
            ntp = host.profile not in ("debian", "debil-registros")
            if (
                (where / "compartido" / "listo").exists()
                and _banner(str(host.v4))
                and (not ntp or _synced(lab, host))
            ):
                waiting.remove(host)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(h.code for h in waiting)
            raise LabError(f"los equipos de auditoría no quedaron listos a tiempo: {names}")
        if waiting:
            time.sleep(0.3)


def _check_addresses(hosts: tuple[AuditHost, ...]) -> None:
    """The addresses are fixed: another lab's audit hosts (another prefix) must not be up."""
    done = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True,
                          check=False)  # fmt: skip
    taken = {line.split()[3].split("/")[0]: line.split()[1] for line in done.stdout.splitlines()}
    for host in hosts:
        if str(host.v4_machine) in taken:
            raise LabError(
                f"la dirección {host.v4_machine} ya está en {taken[str(host.v4_machine)]}: hay "
                "otros servidores de auditoría arriba (otro prefijo); bájelos primero"
            )


def up(
    lab: manage.Lab, hosts: tuple[AuditHost, ...] = HOSTS, *, timeout_s: float = 120.0
) -> list[dict[str, Any]]:
    """Build the audit hosts from scratch (any earlier ones are removed first)."""
    manage.require_root()
    missing = [b for b in REQUIRED if not Path(b).exists()]
    if missing:
        raise LabError("faltan programas para los equipos de auditoría: " + ", ".join(missing))
    make_private_dirs(lab.state_dir)
    lab.state_dir.chmod(0o700)
    down(lab)
    make_private_dirs(folder(lab))
    taken = netns.existing()
    for host in hosts:
        if ns(lab, host) in taken or Path(f"/sys/class/net/{machine_if(lab, host)}").exists():
            raise LabError(f"{ns(lab, host)} o {machine_if(lab, host)} ya existe y no es de este "
                           "laboratorio; elimínelo o use otro prefijo")  # fmt: skip
    _check_addresses(hosts)
    creds = manage.ensure_credentials(lab)
    authorized = manage.ensure_key(lab)
    snmp_line = f'createUser {creds.v3_user} SHA "{creds.v3_auth}" AES "{creds.v3_priv}"'
    snmp_secrets = f"rocommunity {creds.community} {SYSLOG_COLLECTOR}\n{snmp_line}\n"
    _save(lab, {"prefix": lab.prefix, "hosts": [h.code for h in hosts]})
    try:
        build_repo(folder(lab) / "repo")
        _addresses("replace")
        _start_ntp(lab)
        known = []
        for host in hosts:
            _link(lab, host)
            key = _prepare(lab, host, authorized, snmp_line, snmp_secrets)
            known += [f"{host.v4} {key}", f"{host.v6} {key}", f"{host.name} {key}"]
            _launch(lab, host)
        known_hosts_file(lab).write_text("\n".join(known) + "\n")
        _wait(lab, hosts, timeout_s)
    except BaseException:  # a half-built lab is never left behind: namespaces, address, chronyd
        with contextlib.suppress(Exception):
            down(lab)
        raise
    return hosts_state(lab)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _end_hosts(pids: list[int], timeout_s: float = 10.0) -> None:
    """SIGKILL each host's PID 1 (it ignores SIGTERM): the kernel ends its whole PID namespace."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while any(not _gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def down(lab: manage.Lab) -> int:
    """Remove every process, namespace, mount, address and file of the audit hosts."""
    if not folder(lab).exists():
        return 0
    manage.require_root()
    state = _state(lab)
    hosts = [by_code(c) for c in state.get("hosts", [])]
    present = netns.existing()
    _end_hosts([p for h in hosts if (p := init_pid(lab, h))])
    services.stop(*(p for h in hosts if ns(lab, h) in present for p in netns.pids_in(ns(lab, h))))
    subprocess.run(
        ["ip", "-force", "-batch", "-"],
        input="".join(f"link del {machine_if(lab, h)}\n" for h in hosts
                      if Path(f"/sys/class/net/{machine_if(lab, h)}").exists()),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    netns.ip_batch([f"netns del {ns(lab, h)}" for h in hosts if ns(lab, h) in present])
    pid = services.alive(_ntp_dir(lab) / "chronyd.pid", "/usr/sbin/chronyd")
    if pid:
        services.stop(pid)
    _addresses("del")
    shutil.rmtree(folder(lab))
    return len(hosts)


def hosts_state(lab: manage.Lab) -> list[dict[str, Any]]:
    """One record per audit host of the running lab."""
    if not folder(lab).exists():
        return []
    rows = []
    for host in (by_code(c) for c in _state(lab).get("hosts", [])):
        alive = init_pid(lab, host) is not None  # no probe toward a host that is not there
        rows.append({
            "code": host.code, "name": host.name, "profile": host.profile,
            "netns": ns(lab, host), "ipv4": str(host.v4),
            "ipv6": str(host.v6) if host.ipv6 else "", "firewall": host.firewall,
            "running": alive, "sshd": alive and _banner(str(host.v4), 0.5),
            "description": host.description,
        })  # fmt: skip
    return rows


def nsenter_argv(lab: manage.Lab, code: str) -> list[str]:
    """argv prefix that runs a command inside host ``code`` (net, mount, PID, UTS, its root)."""
    host = by_code(code)
    pid = init_pid(lab, host)
    if pid is None:
        raise LabError(f"el equipo de auditoría {code} no está arriba: «pukara lab arriba»")
    return ["nsenter", "-t", str(pid), "-n", "-m", "-p", "-u", "-r", "-w", "--"]


def running(lab: manage.Lab) -> bool:
    return any(init_pid(lab, h) is not None for h in HOSTS) if folder(lab).exists() else False
