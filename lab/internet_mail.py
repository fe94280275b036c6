"""The internet lab's mail: one postfix with a private configuration directory.

``postfix -c DIR`` reads the lab's own ``main.cf`` and ``master.cf``. Its queue must be a
folder the ``postfix`` user can reach, and the lab's folder is root's alone: postfix runs in
a private mount namespace (that of ``ip netns exec``) where the lab's ``correo/cola`` is
bound over ``/var/spool/postfix``; the machine's own spool is never touched. Its log goes to
``correo/cola/maillog`` (postlogd), not to syslog. It listens on every address of
:data:`lab.internet_zonas.MX` on 25 and 587 (submission), answers 220 and EHLO, delivers
nothing (no local domains, no relay).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from lab import internet_zonas as z
from lab.internet_dns import _run, _wait_pid

POSTFIX = "/usr/sbin/postfix"
MASTER = "/usr/lib/postfix/sbin/master"
SPOOL = "/var/spool/postfix"  # as postfix sees it, in its own mount namespace

MASTER_CF = """\
smtp       inet  n  -  n  -  -  smtpd
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
"""


def master_cf() -> str:
    """Port 25 on every address; 587 on every one but :data:`NO_SUBMISSION_V6`'s."""
    submission = [
        f"{f'[{a}]' if ':' in a else a}:587 inet  n  -  n  -  -  smtpd"
        for h in z.MX.values()
        for a in (h.v4, h.v6)
        if a and a not in z.NO_SUBMISSION_V6
    ]
    return MASTER_CF + "\n".join(submission) + "\n"


def main_cf() -> str:
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
    (conf / "main.cf").write_text(main_cf())
    (conf / "master.cf").write_text(master_cf())
    script = f'mount --bind "$1" {SPOOL} && exec {POSTFIX} -c "$2" start'
    _run(["ip", "netns", "exec", ns, "sh", "-c", script, "sh", str(spool), str(conf)],
         "postfix")  # fmt: skip
    return _wait_pid(spool / "pid" / "master.pid", MASTER, "postfix")
