"""`pukara ipv6 dominios` without the lab: a resolver that does not answer, --resolutor with a
port, list files that are not text, the names a person reads, run id and scores in JSON/CSV,
--raices-tls and the setting ipv6_raices_tls, Ctrl-C after the save."""

from __future__ import annotations

import csv
import io
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from pukara.config import load_settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def silent() -> Iterator[str]:
    """A UDP port on 127.0.0.1 that takes queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("PUKARA_TIMEOUT_S", "0.3")
    monkeypatch.delenv("PUKARA_IPV6_RAICES_TLS", raising=False)
    return ["--base-datos", str(tmp_path / "p.db")]


def test_a_resolver_that_does_not_answer_is_said_once_and_the_summary_agrees(
    capsys: pytest.CaptureFixture[str], base: list[str], silent: str
) -> None:
    code, out, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "embperu-bo.test",
                         "--resolutor", silent)  # fmt: skip
    assert code == 3
    assert err.count(f"el resolutor {silent} no responde") == 1
    assert "2 dominios: 0 pruebas fallan, 50 sin probar; 2 dominios no se pudieron revisar" in err
    assert "(código de salida 3)." in err
    # one row per domain that did not resolve, not twenty
    detail = out[out.index("Pruebas que no cumplen") :]
    assert detail.count("rree.test") == 1 and "todas" in detail
    # --silencioso hides progress, never this error
    _code, _out, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", silent,
                           "-q")  # fmt: skip
    assert err.count(f"el resolutor {silent} no responde") == 1


def test_the_resolver_takes_a_port_and_a_bad_value_is_exit_2(
    capsys: pytest.CaptureFixture[str], base: list[str], silent: str
) -> None:
    port = silent.rsplit(":", 1)[1]
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor",
                       f"[::1]:{port}", "-f", "json")  # fmt: skip
    assert code == 3 and json.loads(out)[1]["evidence"]["error"] in ("timeout", "SERVFAIL")
    for bad in ("127.0.0.1:99999", "[127.0.0.1]:53", "resolutor.test:53"):
        code, out, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", bad)
        assert (code, out) == (2, "") and "[IPv6]:PUERTO" in err


def test_a_list_file_that_is_not_text_names_the_file_and_the_line(
    capsys: pytest.CaptureFixture[str], base: list[str], tmp_path: Path
) -> None:
    binary = tmp_path / "dominios.bin"
    binary.write_bytes(b"rree.test\nembperu-bo.test\n\x7fELF\x00\x01\x02\n")
    code, out, err = run(capsys, *base, "ipv6", "dominios", "--archivo", str(binary))
    assert (code, out) == (2, "")
    assert str(binary) in err and "no es un archivo de texto" in err and "línea 3" in err
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("rree.test\nmünchen.test\n".encode("latin-1"))
    code, out, err = run(capsys, *base, "ipv6", "dominios", "--archivo", str(latin))
    assert (code, out) == (2, "") and str(latin) in err and "UTF-8 (línea 2)" in err


def test_names_a_person_reads_and_an_ip_given_as_a_domain(
    capsys: pytest.CaptureFixture[str], base: list[str], silent: str
) -> None:
    long = "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + ".test"
    args = ["ipv6", "dominios", "münchen.test", long, "198.19.16.6", "--resolutor", silent]
    code, out, _ = run(capsys, *base, *args)
    assert code == 3
    assert "münchen.test" in out and "xn--mnchen-3ya.test" not in out
    assert long not in out and "aaaaaaaa…cccc" in out.replace("c.test", "")
    assert max(len(line) for line in out.splitlines()) < 200
    assert "es una dirección IP, no un nombre de dominio" in out
    code, out, _ = run(capsys, *base, *args, "-f", "json")
    rows = json.loads(out)
    subjects = {r["subject"] for r in rows}
    assert {"xn--mnchen-3ya.test", long, "198.19.16.6"} <= subjects  # JSON keeps the A-label
    ip = [r for r in rows if r["subject"] == "198.19.16.6"]
    assert [(r["check"], r["status"]) for r in ip] == [("IDNA", "fail")]


def test_json_and_csv_carry_the_stored_run_id_and_the_scores(
    capsys: pytest.CaptureFixture[str], base: list[str], silent: str, tmp_path: Path
) -> None:
    from ipv6.almacen import load_run
    from pukara.store import opened_store

    code, out, _ = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", silent,
                       "-f", "json")  # fmt: skip
    rows = json.loads(out)
    with opened_store(load_settings({"db": tmp_path / "p.db"}, environ={})) as store:
        stored = load_run(store, kind="dominios")
    assert {r["run_id"] for r in rows} == {stored.id}
    assert all("score.total" in r and "score.dnssec" in r for r in rows)
    # without C1 (no anchors here) the scores that need IPv6 are not figures, as in the table
    assert {(r["score.dns"], r["score.total"]) for r in rows} == {(None, None)}
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", silent,
                       "-f", "csv")  # fmt: skip
    table = list(csv.DictReader(io.StringIO(out)))
    assert table[0]["run_id"] and "score.total" in table[0]
    assert len({r["run_id"] for r in table}) == 1 and table[0]["run_id"] != stored.id
    # not stored: the run id is empty
    folder = tmp_path / "carpeta"
    folder.mkdir()
    code, out, _ = run(capsys, "--base-datos", str(folder), "ipv6", "dominios", "rree.test",
                         "--resolutor", silent, "-f", "json")  # fmt: skip
    assert code == 3 and {r["run_id"] for r in json.loads(out)} == {None}


def test_raices_tls_option_and_setting(
    capsys: pytest.CaptureFixture[str], base: list[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, silent: str,
) -> None:  # fmt: skip
    missing, text = tmp_path / "no-existe.pem", tmp_path / "texto.pem"
    text.write_text("esto no es un certificado\n")
    bad_pem = tmp_path / "malo.pem"
    bad_pem.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    for path in (missing, text, bad_pem):
        code, out, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "--raices-tls",
                             str(path), "--resolutor", silent)  # fmt: skip
        assert (code, out) == (2, "") and "--raices-tls" in err and str(path) in err
    monkeypatch.setenv("PUKARA_IPV6_RAICES_TLS", str(text))
    code, out, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", silent)
    assert (code, out) == (1, "") and "ipv6_raices_tls" in err and str(text) in err
    assert load_settings(environ={"PUKARA_IPV6_RAICES_TLS": str(text)}).ipv6_raices_tls == text
    code, out, _ = run(capsys, *base, "ipv6", "dominios", "--help")
    assert code == 0 and "--raices-tls" in out and "Ejemplos:" in out


def test_ctrl_c_after_the_save_says_the_run_was_kept(
    capsys: pytest.CaptureFixture[str], base: list[str], silent: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    from ipv6 import cli_dominios
    from ipv6.almacen import load_run
    from pukara.store import opened_store

    def interrupted(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_dominios, "_show", interrupted)  # Ctrl-C while the table prints
    before = signal.getsignal(signal.SIGINT)
    code, _, err = run(capsys, *base, "ipv6", "dominios", "rree.test", "--resolutor", silent)
    # main() gives the caller its Ctrl-C back (the tests after this one need it)
    assert signal.getsignal(signal.SIGINT) is before is not signal.SIG_IGN
    with opened_store(load_settings({"db": tmp_path / "p.db"}, environ={})) as store:
        stored = load_run(store, kind="dominios")
    assert code == 130 and "Interrumpido." in err
    assert f"la corrida {stored.id} ya quedó guardada" in err


@pytest.mark.parametrize(
    "command",
    [["equipos"], ["servidores"], ["dominios"], ["informe"], ["diff"], ["plan", "verificar"],
     ["plan", "delegaciones"]],
)  # fmt: skip
def test_every_ipv6_command_has_examples_in_its_help(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    code, out, _ = run(capsys, "ipv6", *command, "--help")
    assert code == 0 and "Ejemplos:" in out
    examples = out[out.index("Ejemplos:") :].splitlines()[1:3]
    assert all(f"pukara ipv6 {' '.join(command)}" in line for line in examples), examples
