"""The reference tools on a host: ``oscap xccdf eval`` (SCAP Security Guide) and ``lynis``.

Every command runs behind an argv prefix: empty on the local machine, or one that enters
the host (the lab gives ``lab.auditoria.nsenter_argv(lab, code)``; a remote host could be
``ssh host``). The prefix is a parameter, so this module never imports the lab. Inputs go
to the host on stdin and results come back on stdout, so the host's own filesystem (a mount
namespace with an overlay, a chroot) needs no shared folder with the machine.

Debian 12's ``ssg-debian`` has data streams for Debian 10 and 11 only. Their benchmark is
for the platform ``cpe:/o:debian:debian_linux:11``, so on Debian 12 every rule is
``notapplicable``. pukara passes ``oscap`` its own CPE dictionary (``--cpe``) in which that
platform, and ``cpe:/a:machine`` (SSG's "not a container": the lab's hosts are namespaces
on a machine that has ``/.dockerenv``), are checked by pukara's own OVAL definition "the
system is Debian" (``/etc/os-release`` says ``ID=debian``); and a tailoring profile that
selects only the rules in ``datos/openscap_compartidas.toml``, whose logic does not depend
on the Debian release.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from auditoria import importar
from auditoria.modelo import Result, Status
from pukara.errors import PukaraError
from pukara.files import write_atomically

CONTENT = Path("/usr/share/xml/scap/ssg/content")
DATASTREAM = CONTENT / "ssg-debian11-ds.xml"
PROFILE = "xccdf_pukara_profile_compartidas"
VALUE_PREFIX = "xccdf_org.ssgproject.content_value_"
# pukara's own OVAL inventory definition "the system is Debian", of any release.
DEBIAN_DEFINITION = "oval:pukara:def:1"
CPE_OVAL_FILE = "pukara-cpe-oval.xml"
_OVAL_NS = "http://oval.mitre.org/XMLSchema/oval-definitions-5"
TRUE_ON_DEBIAN = ("cpe:/o:debian:debian_linux:11", "cpe:/a:machine")
# Lynis tests that send traffic (DNS queries to the host's resolvers): never run.
LYNIS_NETWORK_TESTS = (
    "DNS-1600", "NETW-2400", "NETW-2600", "NETW-2704", "NETW-2705", "NETW-2706", "NETW-3200",
    "PKGS-7392", "PKGS-7393", "PKGS-7394", "PKGS-7395", "PKGS-7398",
)  # fmt: skip


class ReferenceRunError(PukaraError):
    """A reference tool could not run on a host or gave no results."""


@dataclass(frozen=True, slots=True)
class OpenscapRun:
    host: str
    results: Path  # the XCCDF results (--results)
    arf: Path  # the ARF report (--results-arf)
    returncode: int  # 0 all pass, 2 some fail
    seconds: float


@dataclass(frozen=True, slots=True)
class LynisRun:
    host: str
    report: Path  # lynis-report.dat
    log: Path
    seconds: float


@dataclass(frozen=True, slots=True)
class Disagreement:
    host: str
    check_id: str
    rule: str
    relation: str
    pukara: Status | None  # None: pukara has no result for it
    openscap: Status
    reason: str  # Spanish


def cpe_dictionary() -> str:
    """The CPE dictionary (XML) under which the Debian 11 rules apply to any Debian host.

    Its checks are in :func:`cpe_oval`, which oscap reads from the dictionary's own folder.
    """
    items = "".join(
        f"""  <cpe-item name="{name}">
    <title xml:lang="es">{escape(name)} (pukara: cualquier Debian)</title>
    <check system="{_OVAL_NS}" href="{CPE_OVAL_FILE}">{DEBIAN_DEFINITION}</check>
  </cpe-item>
"""
        for name in TRUE_ON_DEBIAN
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<cpe-list xmlns="http://cpe.mitre.org/dictionary/2.0">\n'
        f"{items}</cpe-list>\n"
    )


def cpe_oval() -> str:
    """One OVAL inventory definition: /etc/os-release says ``ID=debian`` (any release)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<oval_definitions xmlns="{_OVAL_NS}" xmlns:ind="{_OVAL_NS}#independent"
    xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5">
  <generator>
    <oval:product_name>pukara</oval:product_name>
    <oval:schema_version>5.11</oval:schema_version>
    <oval:timestamp>2026-12-01T00:00:00</oval:timestamp>
  </generator>
  <definitions>
    <definition class="inventory" id="{DEBIAN_DEFINITION}" version="1">
      <metadata>
        <title>El sistema es Debian (cualquier versión)</title>
        <description>/etc/os-release trae ID=debian</description>
      </metadata>
      <criteria>
        <criterion test_ref="oval:pukara:tst:1" comment="ID=debian en /etc/os-release"/>
      </criteria>
    </definition>
  </definitions>
  <tests>
    <ind:textfilecontent54_test id="oval:pukara:tst:1" version="1" check="all"
        check_existence="at_least_one_exists" comment="ID=debian en /etc/os-release">
      <ind:object object_ref="oval:pukara:obj:1"/>
    </ind:textfilecontent54_test>
  </tests>
  <objects>
    <ind:textfilecontent54_object id="oval:pukara:obj:1" version="1">
      <ind:filepath>/etc/os-release</ind:filepath>
      <ind:pattern operation="pattern match">^ID="?debian"?$</ind:pattern>
      <ind:instance datatype="int" operation="greater than or equal">1</ind:instance>
    </ind:textfilecontent54_object>
  </objects>
</oval_definitions>
"""


def tailoring(datastream: Path = DATASTREAM) -> str:
    """An XCCDF 1.2 tailoring whose one profile selects the shared rules and sets their values."""
    table = importar.shared()
    selects = "".join(
        f'    <select idref="{importar.RULE_PREFIX}{rule}" selected="true"/>\n'
        for rule in sorted({*table.rules, *table.also_select})
    )
    values = "".join(
        f'    <set-value idref="{VALUE_PREFIX}{name}">{escape(value)}</set-value>\n'
        for name, value in sorted(table.values.items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Tailoring xmlns="http://checklists.nist.gov/xccdf/1.2" '
        'id="xccdf_pukara_tailoring_compartidas">\n'
        f"  <benchmark href={quoteattr(str(datastream))}/>\n"
        '  <version time="2026-12-01T00:00:00">1</version>\n'
        f'  <Profile id="{PROFILE}">\n'
        "    <title>pukara: reglas compartidas con sus comprobaciones</title>\n"
        f"{selects}{values}"
        "  </Profile>\n"
        "</Tailoring>\n"
    )


def lynis_profile() -> str:
    """A Lynis profile: no upgrade check, none of the tests that query the network."""
    skips = "".join(f"skip-test={test}\n" for test in LYNIS_NETWORK_TESTS)
    return f"# pukara: Lynis sin tráfico de red\nskip-upgrade-test=yes\ncolors=no\n{skips}"


class _Host:
    """Runs commands on one host behind ``prefix`` and moves files through stdin/stdout."""

    def __init__(self, host: str, prefix: Sequence[str], timeout: float) -> None:
        self.host = host
        self.prefix = list(prefix)
        self.timeout = timeout

    def run(
        self, argv: Sequence[str], data: bytes | None = None, label: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                [*self.prefix, *argv],
                input=data,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as e:
            raise ReferenceRunError(
                f"{self.host}: no se encontró el programa {e.filename}"
            ) from None
        except subprocess.TimeoutExpired:
            raise ReferenceRunError(
                f"{self.host}: {label or shlex.join(argv[:3])} no terminó en {self.timeout:.0f} s"
            ) from None

    def checked(self, argv: Sequence[str], data: bytes | None = None) -> bytes:
        done = self.run(argv, data)
        if done.returncode != 0:
            raise ReferenceRunError(
                f"{self.host}: {shlex.join(argv[:3])} salió con {done.returncode}: "
                f"{_tail(done.stderr)}"
            )
        return done.stdout

    def mkdtemp(self) -> str:
        # the host's own /tmp (not this process's TMPDIR, which the host may not have)
        argv = ["mktemp", "-d", "-p", "/tmp", "pukara-referencia.XXXXXX"]  # noqa: S108
        return self.checked(argv).decode().strip()

    def write(self, path: str, text: str) -> None:
        self.checked(["sh", "-c", 'umask 077 && cat > "$1"', "sh", path], text.encode())

    def fetch(self, path: str, dest: Path) -> None:
        # the host's configuration in detail: readable by this account only
        write_atomically(dest, self.checked(["cat", path]), mode=0o600)

    def remove(self, folder: str) -> None:
        self.run(["rm", "-rf", "--", folder])


def run_openscap(
    host: str,
    dest: Path,
    *,
    prefix: Sequence[str] = (),
    datastream: Path = DATASTREAM,
    timeout: float = 600.0,
) -> OpenscapRun:
    """``oscap xccdf eval`` of the shared rules on ``host``; results copied into ``dest``."""
    target = _Host(host, prefix, timeout)
    dest.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    folder = target.mkdtemp()
    try:
        target.write(f"{folder}/cpe.xml", cpe_dictionary())
        target.write(f"{folder}/{CPE_OVAL_FILE}", cpe_oval())
        target.write(f"{folder}/tailoring.xml", tailoring(datastream))
        oscap = [
            # in the folder: oscap finds the dictionary's OVAL relative to it or to the
            # working directory depending on the platform's form (name or CPE language)
            "sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", folder,
            "oscap", "xccdf", "eval",
            "--profile", PROFILE,
            "--tailoring-file", f"{folder}/tailoring.xml",
            "--cpe", f"{folder}/cpe.xml",
            "--results", f"{folder}/results.xml",
            "--results-arf", f"{folder}/arf.xml",
            str(datastream),
        ]  # fmt: skip
        done = target.run(oscap, label="oscap xccdf eval")
        if done.returncode not in (0, 2):  # 2: some rule failed
            raise ReferenceRunError(
                f"{host}: oscap salió con {done.returncode}: {_tail(done.stderr or done.stdout)}"
            )
        results, arf = dest / f"{host}-openscap.xml", dest / f"{host}-openscap-arf.xml"
        target.fetch(f"{folder}/results.xml", results)
        target.fetch(f"{folder}/arf.xml", arf)
    finally:
        target.remove(folder)
    return OpenscapRun(host, results, arf, done.returncode, time.monotonic() - started)


def run_lynis(
    host: str,
    dest: Path,
    *,
    prefix: Sequence[str] = (),
    tests: Sequence[str] = (),
    timeout: float = 900.0,
) -> LynisRun:
    """``lynis audit system`` on ``host`` (only ``tests`` when given); report into ``dest``."""
    target = _Host(host, prefix, timeout)
    dest.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    folder = target.mkdtemp()
    try:
        target.write(f"{folder}/pukara.prf", lynis_profile())
        argv = [
            "lynis", "audit", "system", "--quick", "--no-colors", "--quiet",
            "--profile", f"{folder}/pukara.prf",
            "--report-file", f"{folder}/lynis-report.dat",
            "--logfile", f"{folder}/lynis.log",
        ]  # fmt: skip
        if tests:
            argv += ["--tests", " ".join(tests)]
        done = target.run(argv, label="lynis audit system")
        if done.returncode != 0:
            raise ReferenceRunError(
                f"{host}: lynis salió con {done.returncode}: {_tail(done.stderr or done.stdout)}"
            )
        report, log = dest / f"{host}-lynis-report.dat", dest / f"{host}-lynis.log"
        target.fetch(f"{folder}/lynis-report.dat", report)
        target.fetch(f"{folder}/lynis.log", log)
    finally:
        target.remove(folder)
    return LynisRun(host, report, log, time.monotonic() - started)


def openscap_results(
    host: str, dest: Path, *, prefix: Sequence[str] = (), timeout: float = 600.0
) -> list[Result]:
    """Run OpenSCAP on ``host`` and read its ARF back as results named after ``host``."""
    run = run_openscap(host, dest, prefix=prefix, timeout=timeout)
    return importar.openscap(run.arf, host)


_VERDICTS = (Status.PASS, Status.FAIL)


def agreement(
    pukara_results: Iterable[Result], openscap_results: Iterable[Result]
) -> list[Disagreement]:
    """Where pukara's and OpenSCAP's verdicts on the shared rules contradict, per host.

    A rule OpenSCAP did not judge (error, not applicable) is not compared; a pukara check
    that was waived or not applicable neither. A missing pukara result, or a pukara error
    where OpenSCAP judged, is a disagreement. ``relation`` in the shared table says what
    contradicts: ``equal`` any difference; ``pukara-stricter`` OpenSCAP fails where pukara
    passes; ``openscap-stricter`` pukara fails where OpenSCAP passes.
    """
    table = importar.shared()
    ours = {(r.host, r.check_id): r.status for r in pukara_results if r.source == "pukara"}
    found: list[Disagreement] = []
    for theirs in openscap_results:
        rule = str(theirs.evidence.get("rule", ""))
        shared = table.rules.get(rule)
        if theirs.source != "openscap" or shared is None or theirs.status not in _VERDICTS:
            continue
        mine = ours.get((theirs.host, shared.check))
        reason = _contradiction(mine, theirs.status, shared.relation)
        if reason:
            found.append(
                Disagreement(
                    theirs.host, shared.check, rule, shared.relation, mine, theirs.status, reason
                )
            )
    return sorted(found, key=lambda d: (d.host, d.check_id, d.rule))


def compared(
    pukara_results: Iterable[Result], openscap_results: Iterable[Result]
) -> dict[str, int]:
    """How many shared rules :func:`agreement` really compared, per host: both sides gave a
    verdict (PASS or FAIL). An agreement over zero rules proves nothing."""
    table = importar.shared()
    ours = {(r.host, r.check_id): r.status for r in pukara_results if r.source == "pukara"}
    counts: dict[str, int] = {}
    for theirs in openscap_results:
        shared = table.rules.get(str(theirs.evidence.get("rule", "")))
        if theirs.source != "openscap" or shared is None or theirs.status not in _VERDICTS:
            continue
        counts.setdefault(theirs.host, 0)
        if ours.get((theirs.host, shared.check)) in (Status.PASS, Status.FAIL):
            counts[theirs.host] += 1
    return counts


def _contradiction(mine: Status | None, theirs: Status, relation: str) -> str:
    if mine is None:
        return "pukara no tiene resultado para esta comprobación"
    if mine in (Status.WAIVED, Status.NOT_APPLICABLE):
        return ""
    if mine is Status.ERROR:
        return "pukara no pudo evaluarla y OpenSCAP sí"
    if relation == "equal" and mine is not theirs:
        return f"pukara da {mine.value} y OpenSCAP {theirs.value}"
    if relation == "pukara-stricter" and (mine, theirs) == (Status.PASS, Status.FAIL):
        return "pukara aprueba lo que OpenSCAP, más laxo aquí, reprueba"
    if relation == "openscap-stricter" and (mine, theirs) == (Status.FAIL, Status.PASS):
        return "pukara reprueba lo que OpenSCAP, más estricto aquí, aprueba"
    return ""


def _tail(data: bytes, limit: int = 300) -> str:
    text = " ".join(data.decode("utf-8", "replace").split())
    return text[-limit:] or "sin mensaje"
