"""The internet lab's ground truth and configurations, without the daemons."""

from __future__ import annotations

from pathlib import Path

from lab import cli, internet, internet_dns, internet_mail, internet_web
from lab import internet_zonas as z


def test_the_committed_table_is_what_the_profiles_say() -> None:
    assert z.TABLE.read_text() == z.table_text()


def test_the_table_leaves_no_cell_out() -> None:
    table = z.read_table()
    assert len(table) == len(z.BASE) * len(z.CHECKS)
    assert len(z.table_text().splitlines()) == 1 + len(table)  # no row twice
    for p in z.BASE:
        assert {c for (d, c) in table if d == p.name} == set(z.CHECKS), p.name
    for p in z.profiles(z.GENERATED_MAX):
        assert set(z.verdicts(p)) == set(z.CHECKS), p.name
    assert table["embperu-ec.test", "W7"] == "not-applicable"  # a small 301 on both families
    assert table["embperu-cl.test", "W6c"] == table["embperu-cl.test", "W6p"] == "not-applicable"
    assert set(table.values()) <= {"pass", "partial", "warn", "fail", "not-tested",
                                   "not-applicable"}  # fmt: skip


def test_the_seeded_faults_get_their_verdicts() -> None:
    t = z.read_table()
    assert t["rree.test", "N5"] == t["lima.rree.test", "N5"] == "pass"
    assert t["embperu-mx.test", "N1"] == "fail"  # second NS without AAAA
    assert t["embperu-us.test", "N1"] == "pass"  # two AAAA, one of them silent
    assert t["embperu-us.test", "N2u"] == t["embperu-us.test", "N2t"] == "fail"
    assert t["embperu-es.test", "N5"] == "fail"  # bogus
    assert t["embperu-es.test", "W1a"] == "not-tested"
    assert t["embperu-ar.test", "N5"] == "fail"  # insecure
    assert t["embperu-ar.test", "W1a"] == t["embperu-ar.test", "W1w"] == "fail"
    assert t["embperu-ar.test", "M1"] == t["embperu-ar.test", "M4"] == "fail"
    assert t["embperu-br.test", "W3h"] == t["embperu-br.test", "W3s"] == "fail"  # AAAA mute
    assert t["embperu-cl.test", "W3h"] == "pass" and t["embperu-cl.test", "W3s"] == "fail"
    assert t["embperu-cl.test", "W6c"] == t["embperu-cl.test", "W4s"] == "not-applicable"
    assert t["embperu-cl.test", "M3"] == "warn"  # no PTR for mx2
    assert t["embperu-co.test", "W4h"] == t["embperu-co.test", "W4s"] == "warn"  # other content
    assert t["embperu-co.test", "W6c"] == "fail"  # other certificate over IPv6
    assert t["embperu-co.test", "W6p"] == "pass"
    assert t["embperu-co.test", "M4"] == "fail"  # SPF without ip6
    assert t["embperu-ec.test", "W5"] == "fail"  # redirect to an IPv4 literal
    assert t["embperu-ec.test", "M1"] == "not-applicable"  # null MX
    assert t["embperu-bo.test", "W4h"] == "warn"  # the same 404 on both
    assert (t["embperu-cu.test", "W6c"], t["embperu-cu.test", "W6p"]) == ("fail", "pass")
    assert (t["embperu-pa.test", "W6c"], t["embperu-pa.test", "W6p"]) == ("pass", "fail")
    assert t["embperu-gt.test", "W7"] == t["embperu-gt.test", "W4h"] == "fail"  # PMTU hole
    assert t["embperu-gt.test", "W3h"] == t["embperu-gt.test", "W8"] == "pass"
    hn = {c: v for (d, c), v in t.items() if d == "embperu-hn.test" and c[0] == "W"}
    assert hn.pop("W8") == "fail" and set(hn.values()) == {"pass"}  # slow v6 connects only
    assert t["embperu-fr.test", "W1a"] == "pass" and t["embperu-fr.test", "W1w"] == "fail"
    assert t["embperu-de.test", "N4"] == "warn" and t["embperu-de.test", "N1"] == "pass"
    assert t["embperu-it.test", "M5"] == "fail" and t["embperu-it.test", "M3"] == "pass"
    assert t["rree.test", "N4"] == t["rree.test", "M5"] == "pass"


def test_generated_domains_expect_what_their_template_does() -> None:
    table = internet.expected()
    gen = z.generated(30)
    for i, p in enumerate(gen):
        template = z.TEMPLATES[i % len(z.TEMPLATES)]
        assert z.verdicts(p) == z.verdicts(template)
        assert {c: table[p.name, c] for c in z.verdicts(p)} == z.verdicts(template)
    assert len(z.profiles(1000)) == 1000
    assert len({p.name for p in z.profiles(1000)}) == 1000
    assert ("mision1999.test", "N1") in table


def test_the_cli_knows_the_base_and_the_maximum() -> None:
    assert cli.INTERNET_BASE == internet.DEFAULT_TOTAL == len(z.BASE)
    assert cli.INTERNET_MAX == z.GENERATED_MAX


def test_the_reverse_zone_is_the_lab_block_nibble_by_nibble() -> None:
    import ipaddress

    net = ipaddress.IPv6Network(z.V6_NET)
    assert net.network_address.reverse_pointer.endswith(z.REVERSE_ZONE)
    for address in z.PTR:
        name = z._nibbles(address) + "." + z.REVERSE_ZONE
        assert ipaddress.IPv6Address(address).reverse_pointer == name


def test_the_daemons_configuration_stays_in_the_lab_folder(tmp_path: Path) -> None:
    texts = [
        internet_dns.knot_conf(tmp_path, z.profiles()),
        internet_dns.unbound_conf(tmp_path, ["198.19.16.6"], "test. DS 1 13 2 00"),
        internet_web.nginx_conf(tmp_path),
    ]
    for text in texts:
        words = [w.strip('";') for w in text.split()]
        paths = [w for w in words if w.startswith("/") and w != "/"]  # not nginx's location /
        assert paths and all(p.startswith(str(tmp_path)) for p in paths), paths
    main = internet_mail.main_cf()
    assert "/etc" not in main and f"queue_directory = {internet_mail.SPOOL}" in main
    assert "smtpd_peername_lookup = no" in main


def test_the_lab_resolver_knows_only_the_labs_root() -> None:
    import ipaddress

    conf = internet_dns.unbound_conf(Path("/x"), ["198.19.16.6"], "test. DS 1 13 2 00")
    assert 'root-hints: "/x/root.hints"' in conf
    hints = [line.split() for line in internet_dns.root_hints().splitlines()]
    addresses = [ipaddress.ip_address(f[-1]) for f in hints if f[2] in ("A", "AAAA")]
    v4, v6 = ipaddress.IPv4Network(z.V4_NET), ipaddress.IPv6Network(z.V6_NET)
    assert len(addresses) == 2 and all(a in (v4 if a.version == 4 else v6) for a in addresses)


def test_addresses_stay_inside_the_internet_lab_blocks() -> None:
    import ipaddress

    v4, v6 = ipaddress.IPv4Network(z.V4_NET), ipaddress.IPv6Network(z.V6_NET)
    hosts = [z.ROOT_NS, *z.NS.values(), *z.WEB.values(), *z.MX.values()]
    for h in hosts:
        assert not h.v4 or ipaddress.IPv4Address(h.v4) in v4
        assert not h.v6 or ipaddress.IPv6Address(h.v6) in v6
    for a in (internet.RESOLVER_V4, internet.VANTAGE_V4):
        assert ipaddress.IPv4Address(a) in v4
    assert ipaddress.IPv6Address(internet.RESOLVER_V6) in v6


def test_the_slow_configurations_are_not_templates_and_have_nft_rules() -> None:
    assert not {p.web for p in z.TEMPLATES} & set(z.SLOW_WEB)
    rules = internet.nft_rules()
    assert f"ip6 saddr {z.WEB['pmtu6'].v6} meta length > 1280 drop" in rules
    assert rules.count(f"ip6 daddr {z.WEB['lento6'].v6} ") == 3 and "timeout 5s" in rules
    assert f" {z.WEB['dual'].v6} " not in rules


def test_the_web_serves_chains_and_per_socket_protocols(tmp_path: Path) -> None:
    conf = internet_web.nginx_conf(tmp_path)
    servers = conf.split("    server {")[1:]

    def of(address: str) -> str:
        return next(s for s in servers if f"listen {address}:443 ssl;" in s)

    assert "lab.crt;" in of(f"[{z.WEB['cadena6'].v6}]")  # the leaf alone
    assert "lab-cadena.crt;" in of(z.WEB["cadena6"].v4)
    assert "ssl_protocols TLSv1.2;" in of(f"[{z.WEB['tls12v6'].v6}]")
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in of(z.WEB["tls12v6"].v4)
    assert f"{z.WEB['pmtu6'].v4}:443" not in conf
