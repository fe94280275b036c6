"""A clean address plan and the seeded faults of the linter tests (one per rule)."""

from __future__ import annotations

CLEAN = """prefix,kind,site,name
2800:4f0::/32,allocation,,Asignación LACNIC
2800:4f0:10::/48,site,lima,Sede central
2800:4f0:10:1::/64,lan,lima,Usuarios
2800:4f0:10:2::/64,lan,lima,Servidores
2800:4f0:10:ff::/64,reserved-p2p,lima,Enlaces
2800:4f0:10:ff::/127,p2p,lima,lima-ar
2800:4f0:10:ff::2/127,p2p,lima,lima-bo
2800:4f0:10:fe::/64,reserved-loopback,lima,Loopbacks
2800:4f0:10:fe::1/128,loopback,lima,lo-gw-lima
2800:4f0:20::/48,site,emb-ar,Embajada en Argentina
2800:4f0:20:1::/64,lan,emb-ar,Usuarios
fd70:756b:6172::/48,ula,,Gestión
fd70:756b:6172:1::/64,lan,,Gestión Lima
"""
SITES = ["lima", "emb-ar"]

# rule -> (a row added to CLEAN, what the finding says); each is caught alone
FAULTS: dict[str, tuple[str, str]] = {
    "P01": ("2800:4f0:10:zz::/64,lan,lima,Mala", "no es un prefijo IPv6 válido"),
    "P02": ("2800:4f0:10:4::/63,lan,lima,Grande", "exactamente /64"),
    "P03": ("2800:4f0:30::/50,site,emb-bo,Bolivia", "límite de nibble"),
    "P04": ("2800:4f0:10:3::/127,p2p,lima,suelto", "reserved-p2p"),
    "P05": ("2800:4f0:10:5::1/128,loopback,lima,lo-suelta", "reserved-loopback"),
    "P06": ("2800:4f0:10:1::/80,lan,lima,Dentro", "se superpone"),
    "P07": ("2801:1::/64,lan,,Fuera", "fuera de la asignación"),
    "P08": ("2001:db8:5::/64,lan,,Documentación", "documentación"),
    "P09": ("fd12:3456:789a::/48,ula,,Obvia", "secuencia"),
    "P10": ("", "«emb-bo» del inventario"),
    "P11": ("2800:4f0:10:3::/64,lan,lima,usuarios", "ya se usa en la línea 4"),
    "P12": ("2800:4f0:40::/60,site,emb-cl,Chile", "/56"),
    "P13": ("2800:4f0:20:9::/64,lan,lima,Extraviada", "fuera de su bloque"),
}
