"""Errors of the system and of libraries reach the user as a Spanish sentence and the detail."""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import tomllib
from pathlib import Path

import pytest

import cli
from inventario.ansible_facts import take_event
from pukara.console import stderr_console
from pukara.errors import PukaraError, errno_reason, explain, os_reason, remote_reason
from pukara.labels import ansible_status_label
from pukara.store import SQLiteStore


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _raised(action: object) -> BaseException:
    try:
        action()  # type: ignore[operator]
    except BaseException as e:
        return e
    raise AssertionError("no error")


def _refused_port() -> int:
    with socket.socket() as s:  # a port nobody listens on any more
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_real_os_errors_get_a_spanish_sentence_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-existe.toml"
    plain = tmp_path / "archivo"
    plain.write_text("x")
    cases = {
        "no existe (No such file or directory)": _raised(missing.read_text),
        "es una carpeta, no un archivo (Is a directory)": _raised(tmp_path.read_text),
        "una parte de la ruta no es una carpeta": _raised((plain / "x").read_text),
    }
    for spanish, exc in cases.items():
        known = explain(exc)
        assert known is not None and spanish in known.message, known
        assert str(tmp_path) in known.message


def test_permission_denied_is_spanish(tmp_path: Path) -> None:
    locked = tmp_path / "cerrado"
    locked.write_text("x")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads it anyway: what an unprivileged user gets
        exc: BaseException = PermissionError(13, "Permission denied", str(locked))
    else:
        exc = _raised(locked.read_text)
    known = explain(exc)
    assert known is not None
    assert "permiso denegado" in known.message or "operación no permitida" in known.message


def test_network_errors_are_spanish() -> None:
    refused = _raised(lambda: _connect(_refused_port()))
    assert (
        os_reason(refused) == "conexión rechazada (nada escucha en ese puerto) (Connection refused)"
    )
    assert errno_reason(errno.ECONNREFUSED) == os_reason(refused)
    assert errno_reason(errno.EINVAL) == "argumento no válido (Invalid argument)"
    unknown = _raised(lambda: socket.getaddrinfo("no-es-una-ip", 22, flags=socket.AI_NUMERICHOST))
    assert isinstance(unknown, socket.gaierror)
    assert os_reason(unknown).startswith("no se pudo resolver el nombre (")


def test_parse_errors_are_spanish_with_the_position() -> None:
    toml = explain(_raised(lambda: tomllib.loads("clave = [\n")))
    assert toml is not None and toml.message.startswith("TOML mal formado (")
    bad_json = explain(_raised(lambda: json.loads('{"a": 1,\n}')))
    assert bad_json is not None
    assert "JSON mal formado en la línea 2, columna 1 (" in bad_json.message
    assert explain(ValueError("otra cosa")) is None


def _read_json(path: Path) -> object:
    return json.loads(path.read_text())


def test_a_json_error_names_its_input_and_keeps_the_debug_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"sites": [1,\n  ]}')
    known = explain(_raised(lambda: _read_json(bad)))
    assert known is not None
    assert known.message == (
        f"{bad}: JSON mal formado en la línea 2, columna 3 (Expecting value). "
        "Repita con --debug para ver la traza."
    )
    quiet = explain(_raised(lambda: _read_json(bad)), debug=True)  # the trace is shown
    assert quiet is not None and "--debug" not in quiet.message
    # a corrupt row of the store (orjson or json, read by the store itself)
    db = tmp_path / "p.db"
    with SQLiteStore(db) as store:
        store.upsert("asset", [{"name": "gw-lim", "kind": "router"}], key=["name"])
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE changes SET after = '{\"name\": ' WHERE seq = 1")
    code, out, err = run(capsys, "--base-datos", str(db), "cambios", "listar")
    assert (code, out) == (1, "")
    assert err.startswith("Error: registro del almacén: JSON mal formado en la línea 1"), err
    assert err.rstrip().endswith("Repita con --debug para ver la traza."), err
    code, _, err = run(capsys, "--debug", "--base-datos", str(db), "cambios", "listar")
    assert code == 1 and "Traceback" in err and "Repita con --debug" not in err


def test_the_boundary_explains_instead_of_error_inesperado(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    err = stderr_console()
    code = cli._report(_raised((tmp_path / "falta.csv").read_text), err, debug=False)
    text = capsys.readouterr().err
    assert code == 1 and "Error inesperado" not in text
    assert f"Error: {tmp_path / 'falta.csv'}: no existe (No such file or directory)" in text
    code = cli._report(_raised(lambda: json.loads("{")), err, debug=False)
    text = capsys.readouterr().err
    assert code == 1 and "JSON mal formado" in text and "Repita con --debug" in text
    assert cli._report(ZeroDivisionError("x"), err, debug=False) == 1
    assert "Error inesperado (ZeroDivisionError)" in capsys.readouterr().err


def test_ansible_failed_to_connect_is_explained() -> None:
    msg = ("Failed to connect to the host via ssh: ssh: connect to host 198.18.0.9 port 22: "
           "Connection refused")  # fmt: skip
    errors: dict[str, str] = {}
    take_event({"event": "runner_on_unreachable",
                "event_data": {"host": "gw", "res": {"msg": msg}}}, {}, errors)  # fmt: skip
    assert (
        errors["gw"]
        == f"Ansible: inalcanzable: conexión rechazada (nada escucha en ese puerto) ({msg})"
    )
    assert remote_reason("Permission denied (publickey).").startswith("el equipo rechazó")
    assert remote_reason("algo nuevo") == "algo nuevo"
    sent = (
        'Data could not be sent to remote host "198.19.0.41". Make sure this host can be '
        "reached over ssh: ssh: connect to host 198.19.0.41 port 22: Invalid argument"
    )
    assert remote_reason(sent).startswith("no se pudo conectar por SSH con el equipo (Data")
    assert ansible_status_label("timeout") == "por tiempo agotado (timeout)"


BAD_OUTPUTS = [
    (["monitoreo", "informe", "--mes", "2026-11", "--html", "/no/existe/x.html"],
     "--html /no/existe/x.html: no existe la carpeta /no/existe"),
    (["inventario", "exportar", "--archivo", "{tmp}"], "--archivo {tmp}: es una carpeta"),
    (["inventario", "exportar", "-o", "{tmp}/falta/x.json"],
     "--archivo {tmp}/falta/x.json: no existe la carpeta {tmp}/falta"),
    (["inventario", "exportar", "-o", "{tmp}/archivo/x.json"],
     "--archivo {tmp}/archivo/x.json: {tmp}/archivo no es una carpeta"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "named"), BAD_OUTPUTS)
def test_a_bad_output_path_is_a_usage_error_that_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], named: str
) -> None:
    out_dir = tmp_path / "salida"
    out_dir.mkdir()
    (out_dir / "archivo").write_text("ya estaba")
    db = ["--base-datos", str(tmp_path / "p.db")]
    args = [a.replace("{tmp}", str(out_dir)) for a in args]
    code, out, err = run(capsys, *db, *args)
    assert code == 2 and out == "", err
    assert f"Error: {named.replace('{tmp}', str(out_dir))}" in " ".join(err.split())
    assert sorted(p.name for p in out_dir.iterdir()) == ["archivo"]
    assert (out_dir / "archivo").read_text() == "ya estaba"


def test_a_good_output_path_is_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "inventario.json"
    code, _, err = run(capsys, "--base-datos", str(tmp_path / "p.db"), "inventario", "exportar",
                       "-o", str(target))  # fmt: skip
    assert code == 0, err
    data = json.loads(target.read_text())
    assert data["assets"] == [] and data["sites"] == []


def test_pukara_error_is_what_explain_returns() -> None:
    assert isinstance(explain(FileNotFoundError(2, "No such file or directory", "x")), PukaraError)
