"""The golden corpus of the Sigma rules and what each rule must find in it.

``tests/data/registros/corpus.jsonl``: ECS documents as registros writes them from real
sshd, sudo, su, useradd/usermod/gpasswd/userdel, passwd, nftables, kernel, crontab, systemd,
Cisco IOS and FRR vtysh lines, with mixed-case values (user "Root", "JPEREZ", app "SSHD",
host "LIMA-RTR1", "Invalid User TEST", "USER=ROOT", group "WHEEL"), near misses for every
rule, and one stored alert that no rule may read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "data" / "registros" / "corpus.jsonl"
SINCE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)


def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def _seq(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}-{i:02d}" for i in range(1, n + 1))


_BF = ("g-ssh-bf-01", "g-ssh-inv-01", *_seq("g-ssh-bf", 6)[1:])

# rule file -> the hits (each the matched event ids, in time order), in the order they come
EXPECTED: dict[str, list[tuple[str, ...]]] = {
    "cambio_configuracion_equipo": [("g-cfg-01",), ("g-cfg-02",), ("g-cfg-03",)],
    "contrasena_root_cambiada": [("g-passwd-01",)],
    "cron_modificado": [("g-cron-01",), ("g-cron-02",)],
    "cuenta_uid_0": [("g-uid0-01",), ("g-uid0-02",)],
    "equipo_login_fallido": [("g-login-01",)],
    "escaneo_puertos": [_seq("g-fw-scan", 22)],
    "firewall_rechazos_origen": [_seq("g-fw-scan", 22)],
    "fuente_silenciosa": [("g-quiet-01",)],
    "historial_borrado": [("g-hist-01",), ("g-hist-02",)],
    "kernel_oom": [("g-oom-01",)],
    "kernel_segfault": [("g-segv-01",)],
    "registro_auditoria_detenido": [("g-stop-01",), ("g-stop-02",)],
    "ssh_enumeracion_usuarios": [_BF],
    "ssh_fuerza_bruta": [_BF, _seq("g-ssh-adm", 7)],
    "ssh_password_fuera_red_admin": [("g-ssh-root-02",), ("g-ssh-pw-01",)],
    "ssh_root_aceptado": [("g-ssh-root-01",), ("g-ssh-root-02",)],
    "ssh_usuario_inexistente": [
        ("g-ssh-bf-01",),
        ("g-ssh-inv-01",),
        ("g-ssh-bf-03",),
        ("g-ssh-inv-02",),
        ("g-ssh-bf-05",),
    ],
    "su_fallo": [("g-su-fail-01",), ("g-su-fail-02",)],
    "sudo_fallo_autenticacion": [("g-sudo-fail-01",), ("g-sudo-fail-02",)],
    "sudo_shell_root": [("g-sudo-shell-01",), ("g-sudo-shell-02",)],
    "usuario_eliminado": [("g-userdel-01",)],
    "usuario_grupo_sudo": [("g-sudogrp-01",), ("g-sudogrp-02",)],
}

# rule file -> events made to look like a hit that must not be one
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "cambio_configuracion_equipo": ("g-cfg-nm-01", "g-cfg-nm-02"),
    "contrasena_root_cambiada": ("g-passwd-nm-01",),
    "cron_modificado": ("g-cron-nm-01", "g-cron-nm-02"),
    "cuenta_uid_0": ("g-uid0-nm-01", "g-uid0-nm-02"),
    "equipo_login_fallido": ("g-login-nm-01",),
    "escaneo_puertos": (*_seq("g-fw-telnet", 15), *_seq("g-fw-slow", 12), "g-fw-acc-01"),
    "firewall_rechazos_origen": (*_seq("g-fw-telnet", 15), *_seq("g-fw-slow", 12)),
    "fuente_silenciosa": _seq("g-alive", 6),
    "historial_borrado": ("g-hist-nm-01",),
    "kernel_oom": ("g-kern-nm-01", "g-segv-01"),
    "kernel_segfault": ("g-kern-nm-01", "g-kern-nm-02"),
    "registro_auditoria_detenido": ("g-stop-nm-01",),
    "ssh_enumeracion_usuarios": (*_seq("g-ssh-adm", 7), *_seq("g-ssh-nm", 5)),
    "ssh_fuerza_bruta": (*_seq("g-ssh-nm", 5), "g-ssh-inv-02", "g-ssh-nm-root", "g-alert-old"),
    "ssh_password_fuera_red_admin": ("g-ssh-ok-01", "g-ssh-ok-02", "g-ssh-root-01"),
    "ssh_root_aceptado": ("g-ssh-nm-root", "g-ssh-nm-rootkit", "g-alert-old"),
    "ssh_usuario_inexistente": ("g-ssh-bf-02", "g-ssh-bf-04"),
    "su_fallo": ("g-su-nm-01",),
    "sudo_fallo_autenticacion": ("g-sudo-nm-01", "g-sudo-nm-02"),
    "sudo_shell_root": ("g-sudo-nm-01", "g-hist-01"),
    "usuario_eliminado": ("g-userdel-nm-01",),
    "usuario_grupo_sudo": ("g-sudogrp-nm-01",),
}
