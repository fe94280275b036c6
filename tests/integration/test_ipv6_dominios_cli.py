"""`pukara ipv6 dominios` (the CLI) against the internet lab: --raices-tls lets W6c see the
lab's chain faults, a name outside the lab or that does not exist is never a DNSSEC verdict,
and a bogus zone still fails N5.

Runs only with the lab (root): ``flock /tmp/pukara-lab.lock flock /tmp/pukara-lab-internet.lock
.venv/bin/pytest tests/integration/test_ipv6_dominios_cli.py -q``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import main
from lab import internet, manage
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manage.Lab]:
    if os.geteuid() != 0:
        skip_or_fail("el laboratorio necesita root")
    for tool in (internet.internet_dns.KNOTD, internet.internet_dns.UNBOUND):
        if not shutil.which(tool):
            skip_or_fail(f"falta {tool}")
    lab = manage.Lab(tmp_path_factory.mktemp("dominios-cli") / "lab", prefix="pkd")
    internet.up(lab)
    try:
        yield lab
    finally:
        internet.down(lab)


def _cli(capsys: pytest.CaptureFixture[str], lab: manage.Lab, tmp_path: Path,
         *args: str) -> tuple[int, dict[tuple[str, str], dict[str, object]], str]:  # fmt: skip
    code = main(["--base-datos", str(tmp_path / "p.db"), "ipv6", "dominios", *args,
                 "--resolutor", internet.resolver(lab)[0], "-f", "json"])  # fmt: skip
    out, err = capsys.readouterr()
    return code, {(r["subject"], r["check"]): r for r in json.loads(out)}, err


def test_the_cli_with_the_labs_roots_sees_the_chain_faults_and_never_a_false_dnssec_verdict(
    net: manage.Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    hint = internet.checker_settings(net)
    monkeypatch.setenv("PUKARA_IPV6_ANCLAS", ",".join(hint["anchors"]))
    monkeypatch.setenv("PUKARA_IPV6_PREFIJOS_GLOBALES", ",".join(hint["global_prefixes"]))
    monkeypatch.delenv("PUKARA_IPV6_RAICES_TLS", raising=False)
    assert hint["tls_roots"] == str(internet.web_roots(net))
    names = ("embperu-cu.test", "embperu-es.test", "noexiste.test", "sitio.example")
    code, got, _ = _cli(capsys, net, tmp_path, *names, "--raices-tls", hint["tls_roots"])
    assert code == 3
    assert got["punto-de-prueba", "C1"]["status"] == "pass"
    assert got["embperu-cu.test", "W6c"]["status"] == "fail"
    assert got["embperu-es.test", "N5"]["status"] == "fail"  # bogus: data with CD=1 only
    assert got["embperu-es.test", "N5"]["evidence"]["rcode_cd"] == "NOERROR"  # type: ignore[index]
    nx = got["noexiste.test", "N5"]
    assert nx["status"] == "not-tested" and nx["message"] == "el dominio no existe (NXDOMAIN)"
    outside = [r for (d, _c), r in got.items() if d == "sitio.example"]
    assert {r["status"] for r in outside} == {"not-tested"}
    assert all("DNSSEC" not in str(r["message"]) for r in outside)
    # the same through the setting, and without it the system's store cannot see the fault
    monkeypatch.setenv("PUKARA_IPV6_RAICES_TLS", hint["tls_roots"])
    _code, got, _ = _cli(capsys, net, tmp_path, "embperu-cu.test")
    assert got["embperu-cu.test", "W6c"]["status"] == "fail"
    monkeypatch.delenv("PUKARA_IPV6_RAICES_TLS")
    _code, got, _ = _cli(capsys, net, tmp_path, "embperu-cu.test")
    assert got["embperu-cu.test", "W6c"]["status"] != "fail"
