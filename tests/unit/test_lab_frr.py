"""The lab's router configurations: the standard one, each declared departure, headquarters."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from lab import frr, services
from lab.manage import Lab
from lab.sites import DEFAULT_NONSTANDARD, ROUTER_KINDS, LabSite, default_sites, read_site_table
from pukara.errors import LabError

SECRET = frr.RouterSecrets(vty="vty-s", enable="en-s", bgp="bgp-s")
SITES = [
    LabSite(index=5, code="emb-xx"),
    *(LabSite(index=10 + i, code=f"k{i}", router=kind) for i, kind in enumerate(ROUTER_KINDS[1:])),
]


def _conf(kind: str) -> list[str]:
    site = next(s for s in SITES if s.router == kind)
    return frr.site_conf(site, SITES, SECRET).splitlines()


def test_the_standard_gateway_configuration_is_the_contract() -> None:
    site = SITES[0]
    text = frr.site_conf(site, SITES, SECRET)
    lan = f"{site.lan}/32"
    for line in [
        "hostname gw-emb-xx",
        "log syslog informational",
        "password vty-s",
        "enable password en-s",
        "interface wan0",
        " description enlace a sede central",
        f" ip address {site.v4}/30",
        f" ipv6 address {site.v6}/64",
        f"ip prefix-list PL-SEDE-EMB-XX seq 5 permit {lan}",
        "ip prefix-list PL-CENTRAL seq 5 permit 0.0.0.0/0",
        "route-map RM-HACIA-CENTRAL permit 10",
        " match ip address prefix-list PL-SEDE-EMB-XX",
        "route-map RM-DESDE-CENTRAL permit 10",
        " match ip address prefix-list PL-CENTRAL",
        "router bgp 4200000005",
        f" bgp router-id {site.v4}",
        f" neighbor {site.v4_host} remote-as 65000",
        f" neighbor {site.v4_host} password bgp-s",
        f" neighbor {site.v4_host} description sede-central",
        f"  network {lan}",
        f"  neighbor {site.v4_host} route-map RM-DESDE-CENTRAL in",
        f"  neighbor {site.v4_host} route-map RM-HACIA-CENTRAL out",
    ]:
        assert line in text.splitlines(), line
    assert "service password-encryption" not in text  # secrets stay in clear, to be stripped
    assert "ntp" not in text  # FRR has no ntp statement
    assert "ip route" not in text


def _standard_of(kind: str) -> list[str]:
    """The standard configuration of the site declared ``kind``."""
    site = next(s for s in SITES if s.router == kind)
    plain = LabSite(index=site.index, code=site.code)
    return frr.site_conf(plain, SITES, SECRET).splitlines()


@pytest.mark.parametrize(
    ("kind", "missing", "extra"),
    [
        ("sin-syslog", {"log syslog informational"}, set()),
        ("ruta-extra", set(), {f"ip route {frr.EXTRA_ROUTE}/32 198.18.0.45", "!"}),
        (
            "prefijo-abierto",
            {"ip prefix-list PL-SEDE-K2 seq 5 permit 198.19.128.12/32"},
            {"ip prefix-list PL-SEDE-K2 seq 5 permit 0.0.0.0/0 le 32"},
        ),
        (
            "ref-indefinida",
            {" match ip address prefix-list PL-SEDE-K3"},
            {" match ip address prefix-list PL-SEDE-K3-ANTERIOR"},
        ),
        (
            "as-errado",
            {" neighbor 198.18.0.57 remote-as 65000"},
            {" neighbor 198.18.0.57 remote-as 65001"},
        ),
        ("ip-duplicada", set(), {"interface lo", " ip address 198.18.0.22/32", "exit", "!"}),
    ],
)
def test_each_nonstandard_kind_departs_from_the_standard_by_its_lines_only(
    kind: str, missing: set[str], extra: set[str]
) -> None:
    got, standard = _conf(kind), _standard_of(kind)
    assert set(standard) - set(got) == missing
    assert set(got) - set(standard) == extra - set(standard)
    assert len(got) - len(standard) == len(extra) - len(missing)


def test_every_kind_says_what_must_flag_it() -> None:
    assert set(frr.NONSTANDARD) == set(ROUTER_KINDS[1:])
    features = {"hostname", "logging", "passwords", "interfaces", "prefix-lists", "route-maps",
                "bgp", "static-routes", "peering", "undefined-reference", "duplicate-address"}  # fmt: skip
    assert all(set(v) <= features and v for v in frr.NONSTANDARD.values())


def test_a_duplicate_address_needs_another_site() -> None:
    alone = LabSite(index=3, code="solo", router="ip-duplicada")
    with pytest.raises(LabError, match="necesita otra sede"):
        frr.site_conf(alone, [alone], SECRET)


@pytest.mark.skipif(not Path(services.VTYSH).exists(), reason="sin vtysh (apt-get install frr)")
@pytest.mark.parametrize("kind", ROUTER_KINDS)
def test_frr_accepts_every_configuration(kind: str, tmp_path: Path) -> None:
    """vtysh's own parser (dry run): a line FRR does not know fails the test."""
    site = next(s for s in SITES if s.router == kind)
    conf = tmp_path / "frr.conf"
    conf.write_text(frr.site_conf(site, SITES, SECRET))
    (tmp_path / "vtysh.conf").write_text("")
    done = subprocess.run([services.VTYSH, "-C", "-f", str(conf), "--config_dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text(conf.read_text().replace("bgp router-id", "bgp router-identity"))
    done = subprocess.run([services.VTYSH, "-C", "-f", str(bad), "--config_dir", str(tmp_path)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode != 0


def test_headquarters_peers_with_every_site_with_its_password() -> None:
    secrets = {frr.HQ_CODE: SECRET, **{s.code: frr.RouterSecrets("v", "e", f"b-{s.code}")
                                       for s in SITES}}  # fmt: skip
    lines = frr.hq_conf(SITES, secrets).splitlines()
    assert "router bgp 65000" in lines and "hostname gw-lima" in lines
    for s in SITES:  # the as-errado site's mistake is its own: headquarters is right
        assert f" neighbor {s.v4} remote-as {4200000000 + s.index}" in lines
        assert f" neighbor {s.v4} password b-{s.code}" in lines
    assert frr.hq_address(SITES)[0].exploded == "198.19.192.5"
    assert frr.hq_address(default_sites(3))[0].exploded == "198.19.192.1"


def test_default_sites_declare_one_router_of_each_kind_from_twelve_sites() -> None:
    assert all(not s.router for s in default_sites(11))
    kinds = {s.index: s.router for s in default_sites(150) if s.router}
    assert kinds == DEFAULT_NONSTANDARD
    assert sorted(kinds.values()) == sorted(ROUTER_KINDS[1:])


def test_the_site_table_declares_a_router_kind(tmp_path: Path) -> None:
    table = tmp_path / "sedes.csv"
    head = "codigo,retardo_ms,variacion_ms,perdida_pct,caida,router\n"
    table.write_text(head + "a1,20,1,0,no,\na2,20,1,0,no,AS-errado\n")
    assert [s.router for s in read_site_table(table)] == ["", "as-errado"]
    table.write_text(head + "a1,20,1,0,no,raro\n")
    with pytest.raises(LabError, match=r"línea 2: «router» debe ser vacío \(estándar\) o"):
        read_site_table(table)
    with pytest.raises(LabError, match="router debe ser"):
        LabSite(index=1, code="x", router="raro")


def test_secrets_are_made_once_and_kept_private(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "estado")
    lab.state_dir.mkdir()
    first = frr.load_secrets(lab, SITES[:2])
    assert set(first) == {frr.HQ_CODE, SITES[0].code, SITES[1].code}
    again = frr.load_secrets(lab, SITES[:3])
    assert {k: again[k] for k in first} == first and SITES[2].code in again
    path = lab.state_dir / "routers.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = frr.secrets(lab)
    assert len(listed) == 3 * 4 and all(v in path.read_text() for v in listed)


def test_the_network_user_lands_in_vtysh_without_a_shell(tmp_path: Path) -> None:
    """The ForceCommand runs the command given on the ssh line as one argument, unread."""
    fake = tmp_path / "vtysh"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done\n')
    fake.chmod(0o755)
    login = services.router_login("pk-0001", str(fake))
    env = {"PATH": os.environ["PATH"], "SSH_ORIGINAL_COMMAND": 'show run; $(touch x) "a b"'}
    done = subprocess.run(["/bin/sh", "-c", login], env=env, cwd=tmp_path,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout == '[-N][pk-0001][-c][show run; $(touch x) "a b"]'
    assert not (tmp_path / "x").exists()
    env.pop("SSH_ORIGINAL_COMMAND")
    done = subprocess.run(["/bin/sh", "-c", login], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout == "[-N][pk-0001]"


def test_sshd_sends_only_the_network_user_to_the_router(tmp_path: Path) -> None:
    site = SITES[0]
    plain = services.sshd_conf(site, tmp_path, tmp_path / "keys").splitlines()
    assert [ln for ln in plain if ln.startswith("Match")] == ["Match User operador"]
    assert "Match User red" not in plain
    conf = services.sshd_conf(site, tmp_path, tmp_path / "keys", router="pk-0005").splitlines()
    at = conf.index("Match User red")
    assert conf[at + 1] == f"    AuthorizedKeysFile {services.NETWORK_KEYS}"
    assert conf[at + 2].startswith('    ForceCommand if [ -n "$SSH_ORIGINAL_COMMAND" ]')
    assert all(line.startswith("    ") for line in conf[at + 1 :] if line)
    hq = services.sshd_conf(frr.hq_site(), tmp_path, tmp_path / "k", router="x",
                            listen=("198.19.192.5", "fd70:756b:6172:fffe::5"))  # fmt: skip
    assert "ListenAddress 198.19.192.5:22" in hq and "# gw-lima" in hq


def test_the_network_user_is_in_the_vty_group(tmp_path: Path) -> None:
    shutil.copy("/etc/passwd", tmp_path / "passwd")
    (tmp_path / "group").write_text("root:x:0:\nfrrvty:x:112:frr\nfrr:x:113:\n")
    lines = services.account_lines(tmp_path)
    red = next(ln for ln in lines["passwd"].splitlines() if ln.startswith("red:"))
    assert red.split(":")[3] == "112" and red.endswith(":/:/bin/sh")
    assert "red:*:" in lines["shadow"]
    (tmp_path / "group").write_text("root:x:0:\n")  # no FRR on the machine: no network user
    assert "red:" not in services.account_lines(tmp_path)["passwd"]


def test_the_local_account_logs_in_with_a_key_it_can_read_and_joins_the_vty_group(
    tmp_path: Path,
) -> None:
    conf = services.sshd_conf(SITES[0], tmp_path, tmp_path / "keys").splitlines()
    at = conf.index("Match User operador")
    assert conf[at + 1] == f"    AuthorizedKeysFile {services.ACCOUNT_KEYS}"
    assert f'install -m 0644 "$adds/authorized_keys" {services.ACCOUNT_KEYS}' in (
        services.SSHD_SCRIPT
    )
    shutil.copy("/etc/passwd", tmp_path / "passwd")
    group = "root:x:0:\nfrrvty:x:112:frr\nfrr:x:113:\n"
    (tmp_path / "group").write_text(group)
    (tmp_path / "gshadow").write_text("frrvty:!::\n")
    assert services.joins_vty_group(tmp_path)
    sed = ["sed", "-i", "-e", services.VTY_JOIN, str(tmp_path / "group"), str(tmp_path / "gshadow")]
    subprocess.run(sed, check=True)
    assert (tmp_path / "group").read_text().splitlines()[1] == "frrvty:x:112:frr,operador"
    assert (tmp_path / "gshadow").read_text() == "frrvty:!::operador\n"
    (tmp_path / "group").write_text("root:x:0:\n")  # no FRR on the machine
    assert not services.joins_vty_group(tmp_path)
    (tmp_path / "group").write_text(group)
    (tmp_path / "passwd").write_text("operador:x:1000:1000::/home/operador:/bin/sh\n")
    assert not services.joins_vty_group(tmp_path)  # the machine's own account: left alone
