"""What each audit host's profile changes, as the shell its start script runs in its chroot.

Everything here runs inside the host's own mount namespace, on the overlay of the machine's
root filesystem: every write lands in the host's upper layer (a tmpfs of that namespace),
never in the machine's files. ``/run/pukara`` is the host's folder of the lab state dir.
"""

from __future__ import annotations

import shlex

# The account Ansible logs in as (lab key), sudo without password through one drop-in
SERVICE_ACCOUNT = "auditoria"
SUDOERS_DROPIN = "/etc/sudoers.d/pukara-auditoria"
DUMMY_PACKAGE = "pukara-lab-ficticio"
SECURITY_SUITE = "bookworm-security"
REPO = "/srv/pukara-lab-repo"  # the host's copy of the lab's apt repository


def _sshd_block(name: str, profile: str, lines: list[str]) -> str:
    """Settings put first in the host's own /etc/ssh/sshd_config (sshd keeps the first value)."""
    head = f"# {name}: perfil {profile} del laboratorio de auditoría de pukara"
    body = "\\n".join([head, *lines, ""])
    return (
        f"printf '{body}' > /tmp/sshd_head && cat /tmp/sshd_head /etc/ssh/sshd_config "
        "> /tmp/sshd_new && cat /tmp/sshd_new > /etc/ssh/sshd_config"
    )


HARDENED_SSHD = [
    "PermitRootLogin no",
    "PasswordAuthentication no",
    "PermitEmptyPasswords no",
    "KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
    "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com",
    "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
    "ClientAliveInterval 300",
    "ClientAliveCountMax 3",
    "Banner /etc/issue.net",
]

AUDIT_RULES = """## pukara: identidad, sudoers y órdenes privilegiadas
-w /etc/passwd -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/gshadow -p wa -k identity
-w /etc/sudoers -p wa -k scope
-w /etc/sudoers.d/ -p wa -k scope
-a always,exit -F path=/usr/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privileged
-a always,exit -F path=/usr/bin/su -F perm=x -F auid>=1000 -F auid!=unset -k privileged
-a always,exit -F path=/usr/bin/passwd -F perm=x -F auid>=1000 -F auid!=unset -k privileged
"""

PWQUALITY = "minlen = 14\ndcredit = -1\nucredit = -1\nlcredit = -1\nocredit = -1\nretry = 3\n"
FAILLOCK = "deny = 5\nunlock_time = 900\nfail_interval = 900\n"
BANNER = "Acceso solo para personal autorizado del Ministerio. Toda actividad se registra.\n"


def _write(path: str, text: str, mode: str = "0644") -> str:
    folder = path.rsplit("/", 1)[0]
    return f"mkdir -p {folder} && printf '%s' {shlex.quote(text)} > {path} && chmod {mode} {path}"


REPO_STEPS = [
    "install -m 0644 /run/pukara/repo/pukara-lab.gpg /usr/share/keyrings/pukara-lab.gpg",
    # apt reads a repository as its own user: a copy in the host's /srv, readable
    f"cp -r /run/pukara/repo {REPO} && chmod -R a+rX {REPO}",
    _write(
        "/etc/apt/sources.list.d/pukara-lab.list",
        f"deb [signed-by=/usr/share/keyrings/pukara-lab.gpg] file:{REPO} {SECURITY_SUITE} main\n",
    ),
    "apt-get -qq update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/pukara-lab.list"
    " -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 >/dev/null 2>&1",
]


def plumbing(name: str) -> list[str]:
    """What every host gets, stock or not: its name, the audit account, its own host key."""
    acct = SERVICE_ACCOUNT
    return [
        f"echo {name} > /etc/hostname",
        f"echo '127.0.1.1 {name}' >> /etc/hosts",
        f"useradd -m -s /bin/bash -c 'Auditoria pukara' {acct}",
        f"usermod -p '*' {acct}",
        f"install -d -m 0700 -o {acct} -g {acct} /home/{acct}/.ssh",
        f"install -m 0600 -o {acct} -g {acct} /run/pukara/authorized_keys "
        f"/home/{acct}/.ssh/authorized_keys",
        _write(SUDOERS_DROPIN, f"{acct} ALL=(ALL:ALL) NOPASSWD: ALL\n", "0440"),
        "rm -f /etc/ssh/ssh_host_*",
        "install -m 0600 /run/pukara/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key",
        "install -m 0644 /run/pukara/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub",
        # the machine's package lists stay the machine's: a host has the lab's only
        "find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -delete",
        # its package sources and lists: the lab's signed repository only (suite
        # bookworm-security); the machine's sources would stay without lists of their own
        "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*.list "
        "/etc/apt/sources.list.d/*.sources",
        *REPO_STEPS,
        # the kernel log is the machine's: no host's rsyslog reads it
        "sed -i -e 's/^module(load=\"imklog\")/#&/' /etc/rsyslog.conf",
        "mkdir -p /run/sshd && install -d -m 0750 -o _chrony -g _chrony /run/chrony",
    ]


def hardened(name: str, collector: str, ntp_server: str, ipv6: bool) -> list[str]:
    """Each of the 27 Linux checks passes (see lab/datos/auditoria_esperado.csv)."""
    agent = "udp:161,udp6:161" if ipv6 else "udp:161"
    chrony = (
        f"server {ntp_server} iburst minpoll -2 maxpoll 0\n"
        "port 0\ncmdport 0\ndriftfile /var/lib/chrony/chrony.drift\n"
        "logdir /var/log/chrony\nmaxupdateskew 100.0\n"
    )
    return [
        _write("/etc/chrony/chrony.conf", chrony),
        _write(
            "/etc/rsyslog.d/90-pukara-remoto.conf",
            # TCP: a sending socket that no listener list shows; queued while it is away
            f"$ActionQueueType LinkedList\n$ActionResumeRetryCount -1\n*.* @@{collector}:514\n",
        ),
        "find /var/log -type f -perm /o+rwx -exec chmod o-rwx {} +",
        _write("/etc/audit/rules.d/pukara.rules", AUDIT_RULES, "0640"),
        _write("/etc/security/pwquality.conf", PWQUALITY),
        "grep -q pam_pwquality /etc/pam.d/common-password || sed -i -e '/^password.*pam_unix.so/i "
        "password requisite pam_pwquality.so retry=3' /etc/pam.d/common-password",
        "sed -i -e '/^password.*pam_unix.so/i password required pam_pwhistory.so remember=5 "
        "use_authtok' /etc/pam.d/common-password",
        "sed -i -e 's/^ENCRYPT_METHOD.*/ENCRYPT_METHOD YESCRYPT/' "
        "-e 's/^PASS_MAX_DAYS.*/PASS_MAX_DAYS\\t365/' -e 's/^PASS_MIN_DAYS.*/PASS_MIN_DAYS\\t1/' "
        "/etc/login.defs",
        _write("/etc/security/faillock.conf", FAILLOCK),
        "sed -i -e '0,/^auth/s//auth\\trequired\\tpam_faillock.so preauth\\nauth/' "
        "-e '/^auth.*pam_unix.so/a auth\\t[default=die]\\tpam_faillock.so authfail' "
        "/etc/pam.d/common-auth",
        "sed -i -e '0,/^account/s//account\\trequired\\tpam_faillock.so\\naccount/' "
        "/etc/pam.d/common-account",
        _sshd_block(name, "endurecido", HARDENED_SSHD),
        _write("/etc/profile.d/pukara-tmout.sh", "TMOUT=900\nreadonly TMOUT\nexport TMOUT\n"),
        _write("/etc/issue.net", BANNER),
        _write("/etc/issue", BANNER),
        _write(
            "/etc/modprobe.d/pukara-usb-storage.conf",
            "install usb-storage /bin/false\nblacklist usb-storage\n",
        ),
        _write(
            "/etc/snmp/snmpd.conf",
            f"agentaddress {agent}\nrouser pukara priv\n"
            f"sysName {name}\n"
            "sysLocation Laboratorio de auditoria de pukara\n",
            "0600",
        ),
    ]


def weaknesses(host_code: str, profile: str, name: str) -> list[str]:
    """The profile's own deviations, applied after :func:`hardened`."""
    if profile == "debil-acceso":
        return [
            _sshd_block(name, profile, ["PermitRootLogin yes", "PasswordAuthentication yes"]),
            "echo 'toor:x:0:0:Root de respaldo:/root:/bin/bash' >> /etc/passwd",
            "echo 'toor:*:20000:0:99999:7:::' >> /etc/shadow",
            "useradd -m -s /bin/bash -c 'Soporte' soporte && usermod -p '*' soporte",
            _write("/etc/sudoers.d/soporte", "soporte ALL=(ALL) NOPASSWD: ALL\n", "0440"),
            "useradd -m -s /bin/bash -c 'Cuenta antigua' antiguo",
            'usermod -p "$(openssl passwd -6 "$(head -c 18 /dev/urandom | base64)")" antiguo',
            'chage -d "$(date -u -d "200 days ago" +%F)" antiguo',
            'python3 -c \'import pwd,struct,time;u=pwd.getpwnam("antiguo").pw_uid;'
            'f=open("/var/log/lastlog","r+b");f.seek(u*292);'
            'f.write(struct.pack("=i32s256s",int(time.time())-200*86400,b"pts/0",'
            'b"198.18.0.1"))\'',
        ]
    if profile == "debil-registros":
        return [
            "rm -f /etc/rsyslog.d/90-pukara-remoto.conf",
            _write("/var/log/pukara-app.log", "arranque de la aplicación\n", "0644"),
            _write("/etc/pukara-compartido.conf", "# compartido\n", "0666"),
            "install -m 4755 /usr/bin/id /usr/local/bin/pukara-ayuda",
        ]
    if profile == "debil-servicios":
        return [
            f"dpkg -i /run/pukara/repo/{DUMMY_PACKAGE}_1.0_all.deb >/dev/null",
        ]
    if profile == "debil-red":
        return [
            _write(
                "/etc/sysctl.d/90-pukara-sin-ipv6.conf",
                "net.ipv6.conf.all.disable_ipv6 = 1\nnet.ipv6.conf.default.disable_ipv6 = 1\n",
            )
        ]
    return []


def daemons(profile: str, v4_only_listener: bool, name: str) -> list[str]:
    """Start the host's daemons (each daemonises itself inside the host)."""
    stock = profile == "debian"
    chrony = profile not in ("debian", "debil-registros")
    out = []
    if v4_only_listener:
        out.append(_sshd_block(name, "solo IPv4", ["AddressFamily inet"]))
    if not stock:
        out.append("rsyslogd -i /run/rsyslogd.pid")
        out.append(
            "snmpd -C -c /etc/snmp/snmpd.conf,/var/lib/snmp/pukara-usuario.conf -I -smux "
            "-p /run/snmpd.pid -LS 0-4 d"
        )
    if chrony:
        out.append("chronyd -x -u _chrony -f /etc/chrony/chrony.conf")
    if profile == "debil-servicios":
        out.append(
            "setsid -f python3 -m http.server --bind :: --directory /usr/share/doc 8080 "
            ">/dev/null 2>&1 < /dev/null"
        )
    out.append("/usr/sbin/sshd")
    return out


def start_script(
    host_code: str, name: str, profile: str, *, ipv6: bool, v4_only_listener: bool,
    collector: str, ntp_server: str, snmp_user_line: str, snmp_secrets_conf: str = "",
) -> str:  # fmt: skip
    """The whole script the host's PID 1 runs in its chroot, ending as ``sleep infinity``.

    ``snmp_secrets_conf``: a community and USM user written where the audit reads snmpd's
    configuration (the audit must mask them), in a file this snmpd is not started with."""
    steps = plumbing(name)
    if profile != "debian":
        steps += hardened(name, collector, ntp_server, ipv6)
        steps.append(
            f"install -d -m 0700 /var/lib/snmp && printf '%s\\n' {shlex.quote(snmp_user_line)} "
            "> /var/lib/snmp/pukara-usuario.conf && chmod 0600 /var/lib/snmp/pukara-usuario.conf"
        )
        if snmp_secrets_conf:  # what a real host's snmpd.conf.d holds; snmpd here does not read it
            steps += [
                "install -d -m 0755 /etc/snmp/snmpd.conf.d",
                _write("/etc/snmp/snmpd.conf.d/pukara-secretos.conf", snmp_secrets_conf, "0600"),
            ]
    steps += weaknesses(host_code, profile, name)
    steps += daemons(profile, v4_only_listener, name)
    body = "\n".join(f"{s} || fail {shlex.quote(s[:60])}" for s in steps)
    return (
        "#!/bin/sh\n"
        'fail() { echo "paso fallido: $1" >&2; exit 1; }\n'
        "umask 022\n"
        f"{body}\n"
        "touch /run/pukara/listo\n"
        "exec sleep infinity\n"
    )
