"""S1-S4 over real-shaped output of playbooks/ipv6/servidores.yml, and S4 against sockets."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from auditoria.linux import Target
from auditoria.linux_run import HostOutput
from ipv6 import servidores
from ipv6 import servidores_reglas as rules
from ipv6.modelo import Status

KERNEL_OK = """@@ disable_ipv6 rc=0
/proc/sys/net/ipv6/conf/all/disable_ipv6 0
/proc/sys/net/ipv6/conf/default/disable_ipv6 0
/proc/sys/net/ipv6/conf/eth0/disable_ipv6 0
/proc/sys/net/ipv6/conf/lo/disable_ipv6 0
@@ bindv6only rc=0
0
@@ addresses rc=0
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: eth0    inet 198.19.0.198/30 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet6 fd70:756b:6172:a001::2/64 scope global \\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever
"""
KERNEL_OFF = KERNEL_OK.replace("eth0/disable_ipv6 0", "eth0/disable_ipv6 1").replace(
    "all/disable_ipv6 0", "all/disable_ipv6 1"
)
KERNEL_NONE = "@@ disable_ipv6 rc=1\n\n@@ bindv6only rc=1\ncat: No such file or directory\n"
LISTEN_OK = """@@ listeners rc=0
udp   UNCONN 0      0            0.0.0.0:161        0.0.0.0:*
udp   UNCONN 0      0          127.0.0.1:323        0.0.0.0:*
udp   UNCONN 0      0               [::]:161           [::]:*
udp   UNCONN 0      0              [::1]:323           [::]:*
tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*
tcp   LISTEN 0      128             [::]:22            [::]:*
"""
LISTEN_V4_ONLY = """@@ listeners rc=0
tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*
tcp   LISTEN 0      5                  *:8080             *:*
udp   UNCONN 0      0            0.0.0.0:161        0.0.0.0:*
udp   UNCONN 0      0               [::]:161           [::]:*
udp   UNCONN 0      0      [fe80::1%eth0]:546          [::]:*
"""
NFT_INET = """@@ nft rc=0
table inet filtro {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\tmeta l4proto { icmp, ipv6-icmp } accept
\t\ttcp dport 22 accept
\t\tudp dport 161 accept
\t}
}
@@ ip6tables rc=127
sh: 1: ip6tables-save: not found
@@ iptables rc=127
sh: 1: iptables-save: not found
"""
NFT_IP_ONLY = NFT_INET.replace("table inet", "table ip").replace(
    "meta l4proto { icmp, ipv6-icmp } accept", "ip protocol icmp accept"
)
NFT_NO_ND = NFT_INET.replace(
    "meta l4proto { icmp, ipv6-icmp } accept", "icmpv6 type { echo-request, packet-too-big } accept"
)
NFT_EMPTY = "@@ nft rc=0\n\n@@ ip6tables rc=127\n\n@@ iptables rc=127\n"
IPTABLES_LEGACY = """@@ nft rc=127
sh: 1: nft: not found
@@ ip6tables rc=0
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
@@ iptables rc=0
*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -j DROP
COMMIT
"""


def raw(kernel: str = KERNEL_OK, listen: str = LISTEN_OK, fw: str = NFT_INET) -> dict[str, str]:
    return {"ipv6_kernel": kernel, "ipv6_listeners": listen, "ipv6_firewall": fw}


def test_s1_passes_with_every_entry_at_zero() -> None:
    got = rules.check_kernel("s", raw())
    assert got.status is Status.PASS and got.evidence["disable_ipv6"]["eth0"] == 0


def test_s1_fails_naming_the_disabled_entries() -> None:
    got = rules.check_kernel("s", raw(kernel=KERNEL_OFF))
    assert got.status is Status.FAIL
    assert got.evidence["disabled"] == ["all", "eth0"]


def test_s1_fails_when_the_kernel_has_no_ipv6_and_is_not_tested_without_output() -> None:
    assert rules.check_kernel("s", raw(kernel=KERNEL_NONE)).status is Status.FAIL
    assert rules.check_kernel("s", {}).status is Status.NOT_TESTED


def test_s2_ignores_loopback_and_needs_a_v6_twin_for_each_v4_listener() -> None:
    ok, listeners = rules.check_listeners("s", raw())
    assert ok.status is Status.PASS
    assert {x.text for x in listeners} >= {"tcp/0.0.0.0:22", "tcp/[::]:22", "udp/127.0.0.1:323"}
    bad, listeners = rules.check_listeners("s", raw(listen=LISTEN_V4_ONLY))
    assert bad.status is Status.FAIL
    assert bad.evidence["missing_v6"] == ["tcp/22"]  # 8080 on «*» is both families
    assert rules.scan_ports(listeners) == [22, 8080]


def test_s2_without_ss_is_not_tested() -> None:
    got, _ = rules.check_listeners("s", raw(listen="@@ listeners rc=127\nsh: ss: not found\n"))
    assert got.status is Status.NOT_TESTED and got.evidence["rc"] == 127


def test_s3_passes_an_inet_table_with_icmpv6() -> None:
    got = rules.check_firewall("s", raw())
    assert got.status is Status.PASS, got.message
    assert got.evidence["icmpv6_accepted"] == {
        "inet filtro input": ["nd-neighbor-advert", "nd-neighbor-solicit", "packet-too-big"]}  # fmt: skip


def test_s3_follows_jumps_to_the_icmpv6_rules() -> None:
    jumped = NFT_INET.replace(
        "meta l4proto { icmp, ipv6-icmp } accept", "meta l4proto ipv6-icmp jump icmp6"
    ).replace(
        "}\n@@ ip6tables",
        "\tchain icmp6 {\n\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
        "packet-too-big } accept\n\t}\n}\n@@ ip6tables",
    )
    got = rules.check_firewall("s", raw(fw=jumped))
    assert got.status is Status.PASS, got.evidence
    empty = jumped.replace("icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
                           "packet-too-big } accept", "counter")  # fmt: skip
    assert rules.check_firewall("s", raw(fw=empty)).status is Status.FAIL


def test_s3_needs_icmpv6_through_every_filtering_chain() -> None:
    second = "table ip6 extra {\n\tchain entrada {\n\t\ttype filter hook input priority 10; " \
             "policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n"  # fmt: skip
    fw = NFT_INET.replace("@@ ip6tables", second + "@@ ip6tables")
    got = rules.check_firewall("s", raw(fw=fw))
    assert got.status is Status.FAIL and "nd-neighbor-solicit" in got.evidence["icmpv6_missing"]


def test_s3_fails_an_ip_only_table_and_warns_with_no_firewall() -> None:
    got = rules.check_firewall("s", raw(fw=NFT_IP_ONLY))
    assert got.status is Status.FAIL and "IPv6" in got.message
    assert got.evidence["input_chains"][0]["family"] == "ip"
    assert rules.check_firewall("s", raw(fw=NFT_EMPTY)).status is Status.WARN


def test_s3_fails_without_neighbour_discovery() -> None:
    got = rules.check_firewall("s", raw(fw=NFT_NO_ND))
    assert got.status is Status.FAIL
    assert got.evidence["icmpv6_missing"] == ["nd-neighbor-advert", "nd-neighbor-solicit"]


def test_s3_reads_iptables_save_when_nft_is_absent() -> None:
    got = rules.check_firewall("s", raw(fw=IPTABLES_LEGACY))
    assert got.status is Status.PASS, got.message
    assert {c["family"] for c in got.evidence["input_chains"]} == {"ip", "ip6"}
    no_v6 = IPTABLES_LEGACY.replace(":INPUT DROP", ":INPUT ACCEPT")
    assert rules.check_firewall("s", raw(fw=no_v6)).status is Status.FAIL
    reject = IPTABLES_LEGACY.replace(
        "-A INPUT -j DROP", "-A INPUT -j REJECT --reject-with icmp-port-unreachable"
    )
    assert rules.check_firewall("s", raw(fw=reject)).status is Status.PASS  # v4 filtered too
    v4_open = IPTABLES_LEGACY.replace("-A INPUT -j DROP\n", "")
    assert rules.check_firewall("s", raw(fw=v4_open)).status is Status.FAIL


def test_host_addresses_keep_scope_global_only() -> None:
    assert rules.host_addresses(raw()) == (["198.19.0.198"], ["fd70:756b:6172:a001::2"])


def test_host_addresses_put_the_reached_interface_first() -> None:
    other = (
        "3: docker0    inet6 fd00:dead::1/64 scope global \\       valid_lft forever\n"
        "3: docker0    inet 172.17.0.1/16 scope global docker0\n"
    )
    kernel = KERNEL_OK.replace("2: eth0    inet 198", other + "2: eth0    inet 198")
    v4, v6 = rules.host_addresses(raw(kernel=kernel), near="198.19.0.198")
    assert v4 == ["198.19.0.198", "172.17.0.1"]
    assert v6 == ["fd70:756b:6172:a001::2", "fd00:dead::1"]
    assert rules.host_addresses(raw(kernel=kernel))[1][0] == "fd00:dead::1"


def test_inventory_servers_carry_their_site_and_ipv6() -> None:
    assets = [
        {"name": "b", "kind": "maquina_virtual", "site": "lima", "mgmt_ipv4": "198.19.0.2",
         "mgmt_ipv6": "fd70:756b:6172:a001::2"},
        {"name": "a", "kind": "servidor_fisico", "mgmt_ipv6": "fd70::9"},
        {"name": "r", "kind": "router", "mgmt_ipv4": "198.19.0.9"},
        {"name": "x", "kind": "nas", "mgmt_ipv4": "no es una dirección"},
    ]  # fmt: skip
    got = servidores.from_assets(assets, "auditoria")
    assert [(s.target.name, s.target.address, s.site, s.ipv6) for s in got] == [
        ("a", "fd70::9", "", "fd70::9"),
        ("b", "198.19.0.2", "lima", "fd70:756b:6172:a001::2"),
    ]


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """A port open on both loopbacks and one open on IPv4 only."""
    socks = []
    both = socket.socket(socket.AF_INET6)
    both.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    both.bind(("::", 0))
    port = both.getsockname()[1]
    v4 = socket.socket(socket.AF_INET)
    v4.bind(("127.0.0.1", 0))
    for s in (both, v4):
        s.listen()
        socks.append(s)
    yield port, v4.getsockname()[1]
    for s in socks:
        s.close()


def _listen(both: int, v4: int) -> list[rules.Listener]:
    return [rules.Listener("tcp", "*", both), rules.Listener("tcp", "0.0.0.0", v4)]  # noqa: S104


def test_s4_scans_both_families_and_fails_a_port_open_on_v4_only(
    listeners: tuple[int, int],
) -> None:
    both, v4 = listeners
    got = servidores.check_scan("s", _listen(both, v4), ["127.0.0.1"], ["::1"], timeout_s=1)
    assert got.status is Status.FAIL
    assert got.evidence["only_v4"] == [v4] and got.evidence["v6_open"] == [both]
    fine = servidores.check_scan("s", _listen(both, both), ["127.0.0.1"], ["::1"], timeout_s=1)
    assert fine.status is Status.PASS and fine.evidence["v4_open"] == [both]


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="necesita root y unshare"
)
def test_s4_from_a_machine_without_a_route_is_not_tested_never_a_fail() -> None:
    """In a network namespace of its own (only ``lo``, down) nothing is reachable."""
    code = (
        "from ipv6 import servidores, servidores_reglas as r\n"
        "got = servidores.check_scan('s', [r.Listener('tcp', '*', 22)], ['127.0.0.1'],"
        " ['::1'], timeout_s=1)\n"
        "print(got.status.value, got.evidence['v4_states'])\n"
    )
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "not-tested", done.stdout
    assert "unreachable" in done.stdout


def test_s4_without_an_ipv6_address_is_not_tested() -> None:
    got = servidores.check_scan("s", _listen(22, 22), ["127.0.0.1"], [])
    assert got.status is Status.NOT_TESTED and got.evidence["v6_address"] is None


def test_an_unreachable_host_gets_four_not_tested_results() -> None:
    host = HostOutput(unreachable="ssh: Connection refused")
    report = servidores.evaluate(Target("srv", "127.0.0.1"), host)
    assert report.failed and [c.status for c in report.checks] == [Status.NOT_TESTED] * 4
    assert all("Connection refused" in c.message for c in report.checks)


def test_evaluate_scans_the_inventory_addresses_first(listeners: tuple[int, int]) -> None:
    both, _ = listeners
    listen = f"@@ listeners rc=0\ntcp LISTEN 0 5 *:{both} *:*\n"
    # the host itself reports 198.19.0.198 and fd70:756b:6172:a001::2: never scanned here
    report = servidores.evaluate(Target("srv", "127.0.0.1"), HostOutput(raw=raw(listen=listen)),
                                 ipv6="::1", timeout_s=1)  # fmt: skip
    assert [c.status for c in report.checks] == [Status.PASS] * 4
    s4 = report.checks[3]
    assert (s4.evidence["v4_address"], s4.evidence["v6_address"]) == ("127.0.0.1", "::1")
    assert s4.evidence["v4_open"] == s4.evidence["v6_open"] == [both]
    assert not report.failed
    skipped = servidores.evaluate(Target("srv", "127.0.0.1"), HostOutput(raw=raw()), scan=False)
    assert skipped.checks[3].status is Status.NOT_TESTED


@pytest.fixture
def dropping_port() -> Iterator[int]:
    """A port on 127.0.0.1 and ::1 that drops every new SYN, as a firewall's DROP does: a
    listener with a backlog of 0 whose queue is already full and never accepted."""
    import time

    socks: list[socket.socket] = []
    port = 0
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        server = socket.socket(family)
        server.bind((address, port))
        port = server.getsockname()[1]
        server.listen(0)
        socks.append(server)
        for _ in range(3):
            filler = socket.socket(family)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((address, port))
            socks.append(filler)
    time.sleep(0.1)
    yield port
    for s in socks:
        s.close()


def test_s4_scans_every_host_at_once(dropping_port: int) -> None:
    """Six hosts behind a DROP: one after another they would take 6 x 0.5 s; on one event
    loop they take about one timeout."""
    import time

    listeners = (rules.Listener("tcp", "*", dropping_port),)
    jobs = [servidores.ScanJob(f"h{i}", listeners, ("127.0.0.1",), ("::1",), 0.5, 0)
            for i in range(6)]  # fmt: skip
    t0 = time.perf_counter()
    got = servidores.scan_all(jobs)
    wall = time.perf_counter() - t0
    assert [r.subject for r in got] == [f"h{i}" for i in range(6)]
    assert all(r.check == "S4" and r.evidence["v4_open"] == [] for r in got)
    assert wall < 1.5, wall


# ip6tables-legacy-save v1.8.9 of ufw's rules (trimmed to the chains that matter): INPUT only
# jumps; the ICMPv6 accepts live in the user chain ufw6-before-input
UFW6_SAVE = """*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw6-before-input - [0:0]
:ufw6-before-logging-input - [0:0]
:ufw6-reject-input - [0:0]
:ufw6-user-input - [0:0]
-A INPUT -j ufw6-before-logging-input
-A INPUT -j ufw6-before-input
-A INPUT -j ufw6-reject-input
-A ufw6-before-input -i lo -j ACCEPT
-A ufw6-before-input -m rt --rt-type 0 -j DROP
-A ufw6-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw6-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type 1 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type 2 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type 136 -m hl --hl-eq 255 -j ACCEPT
-A ufw6-before-input -s fe80::/10 -d fe80::/10 -p udp -m udp --sport 547 --dport 546 -j ACCEPT
-A ufw6-before-input -j ufw6-user-input
-A ufw6-user-input -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""
UFW_V4_SAVE = """*filter
:INPUT DROP [0:0]
:ufw-before-input - [0:0]
-A INPUT -j ufw-before-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""
# nft list ruleset (nft 1.0.6) of a table that drops ICMPv6 before it accepts ND
NFT_DROP_FIRST = """table inet filtro {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tct state invalid drop
\t\tiif "lo" accept
\t\tmeta l4proto ipv6-icmp drop
\t\ticmpv6 type { packet-too-big, nd-neighbor-solicit, nd-neighbor-advert } accept
\t\ttcp dport 22 accept
\t}
}
"""


def test_s3_follows_iptables_user_chains_as_ufw_writes_them() -> None:
    fw = (f"@@ nft rc=127\nsh: 1: nft: not found\n@@ ip6tables rc=0\n{UFW6_SAVE}"
          f"@@ iptables rc=0\n{UFW_V4_SAVE}")  # fmt: skip
    got = rules.check_firewall("s", raw(fw=fw))
    assert got.status is Status.PASS, got.evidence
    assert got.evidence["icmpv6_accepted"] == {
        "ip6 filter INPUT": ["nd-neighbor-advert", "nd-neighbor-solicit", "packet-too-big"]}  # fmt: skip
    no_nd = fw.replace("--icmpv6-type 135", "--icmpv6-type 128")
    got = rules.check_firewall("s", raw(fw=no_nd))
    assert got.status is Status.FAIL and got.evidence["icmpv6_missing"] == ["nd-neighbor-solicit"]


def test_s3_respects_rule_order_a_drop_before_an_accept_is_a_drop() -> None:
    fw = f"@@ nft rc=0\n{NFT_DROP_FIRST}@@ ip6tables rc=127\n\n@@ iptables rc=127\n"
    got = rules.check_firewall("s", raw(fw=fw))
    assert got.status is Status.FAIL
    # the PTB of a flow of this host is RELATED, accepted before the drop; ND is not
    assert got.evidence["icmpv6_missing"] == ["nd-neighbor-advert", "nd-neighbor-solicit"]
    fine = fw.replace("\t\tmeta l4proto ipv6-icmp drop\n", "")
    assert rules.check_firewall("s", raw(fw=fine)).status is Status.PASS


def test_s2_leaves_family_specific_dhcp_ports_out() -> None:
    listen = LISTEN_OK + "udp   UNCONN 0      0            0.0.0.0:68         0.0.0.0:*\n"
    got, _ = rules.check_listeners("s", raw(listen=listen))
    assert got.status is Status.PASS, got.message
    assert got.evidence["not_applicable"] == ["udp/68"]
    tcp = listen + "tcp   LISTEN 0      128          0.0.0.0:68         0.0.0.0:*\n"
    assert rules.check_listeners("s", raw(listen=tcp))[0].status is Status.FAIL
