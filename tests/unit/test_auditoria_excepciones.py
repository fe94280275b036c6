"""Waiver files: parse errors name file, line and field; expired waivers stay FAIL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditoria import excepciones
from auditoria.excepciones import WaiverError
from auditoria.modelo import Result, Status

KNOWN = {"ssh_root_login", "ntp_sync"}

GOOD = """\
# excepciones aprobadas
[[waiver]]
id = "EXC-1"
check = "ssh_root_login"
host = "srv-aud3"
justification = "Equipo heredado"
approver = "Oficial de seguridad"
expires = 2027-03-31

[[waiver]]
id = "EXC-2"
check = "ntp_sync"
host = "*"
justification = "Servidor NTP en reemplazo"
approver = "Jefe de redes"
expires = "2026-11-30"
"""


def fail(check: str, host: str) -> Result:
    return Result(check, host, Status.FAIL, "falla", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")


def test_valid_waiver_waives_and_expired_one_stays_fail(tmp_path: Path) -> None:
    path = tmp_path / "exc.toml"
    path.write_text(GOOD)
    waivers = excepciones.load(path, KNOWN)
    assert [w.id for w in waivers] == ["EXC-1", "EXC-2"]
    results = [
        fail("ssh_root_login", "srv-aud3"),
        fail("ssh_root_login", "srv-aud4"),
        fail("ntp_sync", "srv-aud1"),
        Result("ntp_sync", "srv-aud2", Status.ERROR, "x", "2026-12-01T00:00:00Z", "z"),
    ]
    out = excepciones.apply(results, waivers, date(2026, 12, 1))
    assert out[0].status is Status.WAIVED and out[0].waiver == "EXC-1"
    assert "Oficial de seguridad" in out[0].message
    assert out[1].status is Status.FAIL and out[1].waiver is None
    assert out[2].status is Status.FAIL and out[2].waiver == "EXC-2"
    assert "venció el 2026-11-30" in out[2].message
    assert out[3].status is Status.ERROR  # an error is never waived
    # the last day still holds
    assert excepciones.apply([results[2]], waivers, date(2026, 11, 30))[0].status is Status.WAIVED


def test_a_waived_result_is_valid_no_longer_than_its_waiver(tmp_path: Path) -> None:
    path = tmp_path / "exc.toml"
    path.write_text(GOOD)
    waivers = excepciones.load(path, KNOWN)
    # the check is valid until 2026-12-31, EXC-2 only holds through 2026-11-30
    early = Result("ntp_sync", "srv-aud1", Status.FAIL, "falla", "2026-11-20T00:00:00Z",
                   "2026-12-20T00:00:00Z")  # fmt: skip
    out = excepciones.apply([early], waivers, date(2026, 11, 20))[0]
    assert out.status is Status.WAIVED
    assert out.valid_until == "2026-12-01T00:00:00Z"
    # a waiver that outlives the check's validity keeps the check's own
    long = excepciones.apply([fail("ssh_root_login", "srv-aud3")], waivers, date(2026, 12, 1))[0]
    assert long.valid_until == "2026-12-31T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace('expires = "2026-11-30"\n', ""),
            r"línea 10, campo «expires»: falta la fecha",
        ),
        (
            GOOD.replace('"ntp_sync"\nhost = "*"', '"ntp_sincro"\nhost = "*"'),
            r"línea 12, campo «check»: comprobación desconocida «ntp_sincro»",
        ),
        (
            GOOD.replace('"2026-11-30"', '"30/11/2026"'),
            r"línea 16, campo «expires»: fecha inválida",
        ),
        (
            GOOD.replace('id = "EXC-2"', 'id = "EXC-1"'),
            r"línea 11, campo «id»: id repetido «EXC-1» \(ya usado en la línea 3\)",
        ),
        (
            GOOD.replace('approver = "Jefe de redes"', 'aprobador = "Jefe"'),
            r"línea 15, campo «aprobador»: campo desconocido",
        ),
        (
            GOOD.replace('host = "srv-aud3"', 'host = ""'),
            r"línea 5, campo «host»: debe ser un texto no vacío",
        ),
        (
            GOOD.replace('[[waiver]]\nid = "EXC-2"', '[[waiver]\nid = "EXC-2"'),
            r"línea 10, columna \d+: TOML mal formado",
        ),
    ],
)
def test_bad_waiver_files_name_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "exc.toml"
    path.write_text(text)
    with pytest.raises(WaiverError, match=expected) as info:
        excepciones.load(path, KNOWN)
    assert str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match="no existe"):
        excepciones.load(tmp_path / "nada.toml", KNOWN)
