"""A site's IPv6 kind (``LabSite.ipv6``), applied once the site is built.

``sin-ipv6`` sets ``disable_ipv6`` in the site's namespace (every interface loses its IPv6
addresses, link-local included); ``solo-enlace-local`` takes the site's ULA address off its
link and keeps the link-local one. Both run after the site's snmpd, sshd and FRR are up: they
bound their IPv6 sockets as on any site, so IPv4 management still works and only IPv6 is
missing, as on a real device. :func:`reset` undoes ``sin-ipv6`` before a rebuild (an address
cannot be added to an interface with IPv6 disabled).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from lab import netns
from lab.sites import LabSite
from pukara.errors import LabError

LINK = "wan0"  # lab.manage.WAN_IF
_DISABLE = ("all", "default", LINK, "lo")


def _disable(value: str) -> None:
    for interface in _DISABLE:
        if (Path("/proc/sys/net/ipv6/conf") / interface).exists():
            netns.write_sysctl(f"net.ipv6.conf.{interface}.disable_ipv6", value)


def reset(namespaces: Iterable[str]) -> None:
    """Turn IPv6 back on in the lab namespaces that had it disabled."""
    for name in sorted(namespaces):
        with netns.inside(name):
            if Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip() == "1":
                _disable("0")


def apply(namespace_of: dict[str, str], sites: Sequence[LabSite]) -> None:
    """Apply each site's IPv6 kind; ``namespace_of``: site code -> its namespace."""
    for site in sites:
        name = namespace_of[site.code]
        if site.ipv6 == "sin-ipv6":
            with netns.inside(name):
                _disable("1")
        elif site.ipv6 == "solo-enlace-local":
            done = subprocess.run(
                ["ip", "-n", name, "-6", "addr", "flush", "dev", LINK, "scope", "global"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise LabError(f"ip en {name} falló: {done.stderr.strip()[:300]}")
