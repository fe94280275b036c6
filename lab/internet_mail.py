"""The internet lab's mail: one postfix with a private configuration directory.

``postfix -c DIR`` reads the lab's own ``main.cf`` and ``master.cf``. Its queue must be a
folder the ``postfix`` user can reach, and the lab's folder is root's alone: postfix runs in
a private mount namespace (that of ``ip netns exec``) where the lab's ``correo/cola`` is
bound over ``/var/spool/postfix``; the machine's own spool is never touched. Its log goes to
``correo/cola/maillog`` (postlogd), not to syslog. It listens on every address of
:data:`lab.internet_zonas.MX` on 25 and 587 (submission), answers 220 and EHLO, offers
STARTTLS with a self-signed certificate made in ``correo/conf`` (but on the port-25 listeners
of :data:`lab.internet_zonas.NO_STARTTLS_V6`, whose smtpd has TLS off), delivers nothing (no
local domains, no relay).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from lab import internet_zonas as z
from lab.internet_dns import _run, _wait_pid
from lab.internet_web import make_certs

POSTFIX = "/usr/sbin/postfix"
MASTER = "/usr/lib/postfix/sbin/master"
SPOOL = "/var/spool/postfix"  # as postfix sees it, in its own mount namespace

MASTER_CF = """\
pickup     unix  n  -  n  60 1  pickup
cleanup    unix  n  -  n  -  0  cleanup
qmgr       unix  n  -  n  300 1 qmgr
rewrite    unix  -  -  n  -  -  trivial-rewrite
bounce     unix  -  -  n  -  0  bounce
defer      unix  -  -  n  -  0  bounce
trace      unix  -  -  n  -  0  bounce
verify     unix  -  -  n  -  1  verify
flush      unix  n  -  n  1000 0 flush
proxymap   unix  -  -  n  -  -  proxymap
relay      unix  -  -  n  -  -  smtp
smtp_out   unix  -  -  n  -  -  smtp
showq      unix  n  -  n  -  -  showq
error      unix  -  -  n  -  -  error
retry      unix  -  -  n  -  -  error
discard    unix  -  -  n  -  -  discard
anvil      unix  -  -  n  -  1  anvil
scache     unix  -  -  n  -  1  scache
postlog    unix-dgram n - n - 1 postlogd
tlsmgr     unix  -  -  n  1000? 1 tlsmgr
"""


def _listen(address: str, port: int, tls: bool = True) -> str:
    where = f"[{address}]" if ":" in address else address
    return f"{where}:{port} inet  n  -  n  -  -  smtpd" + (
        "" if tls else " -o smtpd_tls_security_level=none"
    )


def master_cf() -> str:
    """Port 25 on every address (STARTTLS off on :data:`NO_STARTTLS_V6`'s); 587 on every one
    but :data:`NO_SUBMISSION_V6`'s."""
    addresses = [a for h in z.MX.values() for a in (h.v4, h.v6) if a]
    lines = [_listen(a, 25, tls=a not in z.NO_STARTTLS_V6) for a in addresses]
    lines += [_listen(a, 587) for a in addresses if a not in z.NO_SUBMISSION_V6]
    return MASTER_CF + "\n".join(lines) + "\n"


def main_cf(conf: Path = Path("conf")) -> str:
    """The lab's ``main.cf``; ``conf`` is the folder with the certificate and its key."""
    addresses = [a for h in z.MX.values() for a in (h.v4, h.v6) if a]
    return "\n".join(
        [
            "compatibility_level = 3.6",
            f"queue_directory = {SPOOL}",
            f"data_directory = {SPOOL}/data",
            "mail_owner = postfix",
            "myhostname = mx.rree.test",
            "mydestination =",
            "relay_domains =",
            "mynetworks = 127.0.0.0/8",
            "inet_interfaces = " + ", ".join(addresses),
            "inet_protocols = all",
            f"maillog_file = {SPOOL}/maillog",
            f"maillog_file_prefixes = {SPOOL}",
            "smtpd_banner = $myhostname ESMTP",
            "smtpd_peername_lookup = no",  # no DNS from the lab's mail server
            "smtpd_tls_security_level = may",
            f"smtpd_tls_cert_file = {conf / 'lab.crt'}",
            f"smtpd_tls_key_file = {conf / 'lab.key'}",
            "alias_maps =",
            "alias_database =",
            "local_recipient_maps =",
            "biff = no",
            "",
        ]
    )


def start_postfix(ns: str, folder: Path) -> int:
    conf, spool = folder / "conf", folder / "cola"
    for d in (folder, conf):
        d.mkdir(mode=0o700, exist_ok=True)
    spool.mkdir(mode=0o755, exist_ok=True)
    (spool / "data").mkdir(mode=0o700, exist_ok=True)
    owner = pwd.getpwnam("postfix")
    os.chown(spool / "data", owner.pw_uid, owner.pw_gid)
    make_certs(conf)
    (conf / "main.cf").write_text(main_cf(conf))
    (conf / "master.cf").write_text(master_cf())
    script = f'mount --bind "$1" {SPOOL} && exec {POSTFIX} -c "$2" start'
    _run(["ip", "netns", "exec", ns, "sh", "-c", script, "sh", str(spool), str(conf)],
         "postfix")  # fmt: skip
    return _wait_pid(spool / "pid" / "master.pid", MASTER, "postfix")
