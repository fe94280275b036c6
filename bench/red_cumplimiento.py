"""Compliance of 300 router configurations plus the offline checks (issue 16: under 5 s).

The inventory is the lab's (``lab.sites.default_sites``: 149 missions plus headquarters'
gw-lima, 150 routers). Set A: each router's configuration as FRR 8.4 prints it on a
standard lab router (its golden rendering with FRR's own lines: ``frr version``, ``frr
defaults``, ``no ip forwarding``..., and a backup's ``show version`` header and secret
markers). Set B: each of the same 150 routers with one seeded deviation (random, seed 16) of
a dozen kinds: the lab's six non-standard kinds, a changed hostname, a missing enable
password, a changed description, an extra route-map line, two route-map lines swapped
(ordered rule) and, on headquarters, a neighbour with a wrong remote AS.

Timed, end to end as ``pukara red cumplimiento`` does it: for every device, render its golden
config from the inventory and check it; then the offline checks over each set of 150. Prints
the wall and CPU time, the per-device rate, and the detection: every deviation found by the
features (and offline checks) it must trip and by no other, no finding on set A.

    python bench/red_cumplimiento.py [--sitios 149] [--semilla 16]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inventario import catalog, files  # noqa: E402
from lab.sites import default_sites  # noqa: E402
from pukara.config import load_settings  # noqa: E402
from pukara.formats import number  # noqa: E402
from pukara.store.sqlite import SQLiteStore  # noqa: E402
from red import equipos, informe, intencion  # noqa: E402

HQ_ADDRESS = "198.19.192.1"
PREAMBLE = "frr version 8.4.4\nfrr defaults traditional\n"
FRR_LINES = "no ip forwarding\nno ipv6 forwarding\nservice integrated-vtysh-config\n!\n"


def inventory(store: SQLiteStore, folder: Path, count: int) -> None:
    sites = default_sites(count)
    sedes = ["code,name,kind,country,city,timezone,parent,vpn_kit,vpn_probe",
             "lima,Sede central,sede_central,PE,Lima,America/Lima,,no,"]  # fmt: skip
    activos = ["name,kind,site,mgmt_ipv4,mgmt_ipv6,os,status",
               f"gw-lima,router,lima,{HQ_ADDRESS},,FRRouting,activo"]  # fmt: skip
    for s in sites:
        sedes.append(f"{s.code},Misión {s.code},embajada,AR,Buenos Aires,"
                     f"America/Argentina/Buenos_Aires,lima,sí,{s.lan}")  # fmt: skip
        activos.append(f"{s.hostname},router,{s.code},{s.v4},{s.v6},FRRouting,activo")
    for kind, rows in (("site", sedes), ("asset", activos)):
        path = folder / f"{kind}.csv"
        path.write_text("\n".join(rows) + "\n", "utf-8")
        catalog.import_file(store, files.read_file(path, kind), dry_run=False)


def as_frr_prints(name: str, golden: str) -> str:
    """The golden text as a backup of a standard FRR 8.4 router stores it."""
    n = 0

    def marker(_: re.Match[str]) -> str:
        nonlocal n
        n += 1
        return (
            "<secreto:hmac-sha256:" + hashlib.sha256(f"{name}{n}".encode()).hexdigest()[:12] + ">"
        )

    body = re.sub(r"<secreto>", marker, golden)
    head, _, rest = body.partition("!\n")  # hostname and log lines come before the first "!"
    header = f"! {name} (frr): show version\n! FRRouting 8.4.4 ({name}).\n!\n"
    return header + PREAMBLE + head + FRR_LINES + rest


Mutator = Callable[[str, random.Random], str]


def _sub(pattern: str, repl: str) -> Mutator:
    def mutate(text: str, _: random.Random) -> str:
        out, count = re.subn(pattern, repl, text, count=1, flags=re.MULTILINE)
        if not count:
            raise ValueError(f"la variante {pattern!r} no se aplica")
        return out

    return mutate


def _swap_route_map(text: str, _: random.Random) -> str:
    return _sub(
        r"^(route-map RM-HACIA-CENTRAL permit 10\n)( match [^\n]+\n)",
        r"\1 set local-preference 200\n\2",
    )(text, _)


# kind -> (mutation, compliance features it must trip, offline checks it must trip)
SITE_VARIANTS: dict[str, tuple[Mutator, set[str], set[str]]] = {
    "sin-syslog": (_sub(r"^log syslog informational\n", ""), {"logging"}, set()),
    "ruta-extra": (
        _sub(r"^(ip prefix-list PL-CENTRAL)", r"ip route 198.19.0.53/32 198.18.0.1\n\1"),
        {"static-routes"},
        set(),
    ),
    "prefijo-abierto": (
        _sub(r"(PL-SEDE-\S+ seq 5 permit) \S+", r"\1 0.0.0.0/0 le 32"),
        {"prefix-lists"},
        set(),
    ),
    "ref-indefinida": (
        _sub(r"(match ip address prefix-list PL-SEDE-\S+)", r"\1-ANTERIOR"),
        {"route-maps"},
        {"undefined-reference"},
    ),
    "as-errado": (_sub(r"remote-as 65000", "remote-as 65001"), {"bgp"}, {"peering"}),
    "ip-duplicada": (
        _sub(r"^(interface wan0)", "interface lo\n ip address 198.18.0.6/32\nexit\n!\n\\1"),
        {"interfaces"},
        {"duplicate-address"},
    ),
    "hostname": (_sub(r"^hostname (\S+)", r"hostname \1-viejo"), {"hostname"}, set()),
    "sin-enable": (_sub(r"^enable password \S+\n", ""), {"passwords"}, set()),
    "descripcion": (
        _sub(r"description enlace a sede central", "description enlace"),
        {"interfaces"},
        set(),
    ),
    "route-map-extra": (
        _sub(r"^( match ip address prefix-list PL-CENTRAL\n)", r"\1 set metric 10\n"),
        {"route-maps"},
        set(),
    ),
    "route-map-orden": (_swap_route_map, {"route-maps"}, set()),
}
HQ_VARIANT = (_sub(r"remote-as 4200000003", "remote-as 4200000033"), {"bgp"}, {"peering"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sitios", type=int, default=149)
    parser.add_argument("--semilla", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        store = SQLiteStore(load_settings({"data_dir": data}, environ={}).db)
        inventory(store, Path(tmp), args.sitios)
        devices = equipos.select(store, [])
        standard = {d.path: as_frr_prints(d.name, intencion.render(d, store)) for d in devices}
        rng = random.Random(args.semilla)
        kinds = sorted(SITE_VARIANTS)
        variants: dict[str, str] = {}
        expected: dict[str, tuple[str, set[str], set[str]]] = {}
        for d in devices:
            kind = "hq-remote-as" if d.site_kind == "sede_central" else rng.choice(kinds)
            mutate, features, checks = HQ_VARIANT if kind == "hq-remote-as" else SITE_VARIANTS[kind]
            variants[d.path] = mutate(standard[d.path], rng)
            expected[d.name] = (kind, features, checks)
        when = datetime.now(UTC)
        cpu, wall = time.process_time(), time.perf_counter()
        report_a = informe.build(devices, standard, store, source="A", when=when)
        report_b = informe.build(devices, variants, store, source="B", when=when)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        store.close()
    checked = len(report_a.devices) + len(report_b.devices)
    false_a = [d.device for d in report_a.devices if d.status != informe.COMPLIANT]
    wrong: list[str] = []
    for d in report_b.devices:
        kind, features, checks = expected[d.device]
        failing = set(d.result.failing) if d.result else {"(sin resultado)"}
        found = {f.kind for f in report_b.findings if f.device == d.device}
        if failing != features or not checks <= found:
            wrong.append(f"{d.device} ({kind}): {sorted(failing)} {sorted(found)}")
    caught = len(report_b.devices) - len(wrong)
    print(f"configuraciones revisadas: {number(checked)} ({number(len(devices))} routers del "
          f"laboratorio, estándar y con una desviación sembrada)")  # fmt: skip
    print(f"tiempo: {number(wall, 2)} s de reloj, {number(cpu, 2)} s de CPU "
          f"(meta: menos de 5 s) -> {number(checked / wall)} equipos/s, "
          f"{number(1000 * wall / checked, 2)} ms por equipo")  # fmt: skip
    print(f"desviaciones detectadas: {number(caught)} de {number(len(report_b.devices))} "
          f"({number(100 * caught / len(report_b.devices), 1)} %); hallazgos sin conexión: "
          f"{number(len(report_b.findings))}")  # fmt: skip
    print(f"falsos positivos en las estándar: {number(len(false_a))} equipos, "
          f"{number(len(report_a.findings))} hallazgos sin conexión")  # fmt: skip
    for line in wrong[:10]:
        print("  mal:", line)
    ok = wall < 5.0 and not wrong and not false_a and not report_a.findings
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
